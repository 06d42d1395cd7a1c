package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"time"
)

// Component is one file of a sample component as Fleet publishes it.
type Component struct {
	Name     string // target name: orbit, osqueryd or desktop
	Platform string // linux, linux-arm64, macos, macos-app, windows or windows-arm64
	File     string // file name in the repository
	Exec     string // for tarballs, the executable inside the archive; empty otherwise
}

// Path returns the repository path of c on channel: <name>/<platform>/<channel>/<file>.
func (c Component) Path(channel string) string {
	return TargetPath(c.Name, c.Platform, channel, c.File)
}

// Components lists the files of orbit, osqueryd and desktop that Fleet publishes for every
// platform, with Fleet's file names.
var Components = []Component{
	{Name: "orbit", Platform: "linux", File: "orbit"},
	{Name: "osqueryd", Platform: "linux", File: "osqueryd"},
	{Name: "desktop", Platform: "linux", File: "desktop.tar.gz", Exec: "fleet-desktop/fleet-desktop"},
	{Name: "orbit", Platform: "linux-arm64", File: "orbit"},
	{Name: "osqueryd", Platform: "linux-arm64", File: "osqueryd"},
	{Name: "desktop", Platform: "linux-arm64", File: "desktop.tar.gz", Exec: "fleet-desktop/fleet-desktop"},
	{Name: "orbit", Platform: "macos", File: "orbit"},
	{Name: "desktop", Platform: "macos", File: "desktop.app.tar.gz", Exec: "Fleet Desktop.app/Contents/MacOS/fleet-desktop"},
	{Name: "osqueryd", Platform: "macos-app", File: "osqueryd.app.tar.gz", Exec: "osquery.app/Contents/MacOS/osqueryd"},
	{Name: "orbit", Platform: "windows", File: "orbit.exe"},
	{Name: "osqueryd", Platform: "windows", File: "osqueryd.exe"},
	{Name: "desktop", Platform: "windows", File: "fleet-desktop.exe"},
	{Name: "orbit", Platform: "windows-arm64", File: "orbit.exe"},
	{Name: "osqueryd", Platform: "windows-arm64", File: "osqueryd.exe"},
	{Name: "desktop", Platform: "windows-arm64", File: "fleet-desktop.exe"},
}

// SampleMTime is the modification time of every entry in the sample tarballs.
var SampleMTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// SampleComponents adds orbit, osqueryd and desktop for every platform Fleet uses (see
// Components), on the given channel, with version, exactly with Fleet's file names.
// Executables are small deterministic files that say what they are: on Unix platforms a
// shell script ("#!/bin/sh\necho orbit linux stable 1.2.3\n"), on Windows a line of text.
// Tarballs are gzip tars with 0755 directories and executables, fixed mtimes and uid/gid 0.
// It does not call Publish.
func SampleComponents(r *Repo, channel, version string) error {
	for _, c := range Components {
		data, err := sampleFile(c, channel, version, nil)
		if err != nil {
			return fmt.Errorf("sample components: %w", err)
		}
		if err := r.AddTarget(c.Name, c.Platform, channel, c.File, data, version); err != nil {
			return fmt.Errorf("sample components: %w", err)
		}
	}
	return nil
}

// SampleComponentsSized is SampleComponents for one OS's agent only, with orbit, osqueryd
// and desktop executables of the given sizes in bytes (for a tarball, the size of the
// executable inside it). agent is "linux", "linux-arm64", "windows", "windows-arm64", or
// "macos" (orbit and desktop.app.tar.gz on "macos", osqueryd.app.tar.gz on "macos-app").
// Each payload starts with a header that prints what it is and exits, then half
// compressible text and half random bytes (seeded, deterministic). Used by benchmarks. It
// does not call Publish.
func SampleComponentsSized(r *Repo, agent, channel, version string, orbitSize, osquerydSize, desktopSize int) error {
	platforms := map[string][]string{
		"linux": {"linux"}, "linux-arm64": {"linux-arm64"},
		"windows": {"windows"}, "windows-arm64": {"windows-arm64"},
		"macos": {"macos", "macos-app"},
	}[agent]
	if platforms == nil {
		return fmt.Errorf("sample components sized: agent %q is not linux, linux-arm64, windows, windows-arm64 or macos", agent)
	}
	sizes := map[string]int{"orbit": orbitSize, "osqueryd": osquerydSize, "desktop": desktopSize}
	for _, c := range Components {
		if !slices.Contains(platforms, c.Platform) {
			continue
		}
		size := sizes[c.Name]
		data, err := sampleFile(c, channel, version, &size)
		if err != nil {
			return fmt.Errorf("sample components sized: %w", err)
		}
		if err := r.AddTarget(c.Name, c.Platform, channel, c.File, data, version); err != nil {
			return fmt.Errorf("sample components sized: %w", err)
		}
	}
	return nil
}

// sampleFile returns the repository file for c: the executable, or a tarball holding it.
// With size != nil the executable is padded to *size bytes.
func sampleFile(c Component, channel, version string, size *int) ([]byte, error) {
	label := fmt.Sprintf("%s %s %s %s", c.Name, c.Platform, channel, version)
	var exe []byte
	if strings.HasPrefix(c.Platform, "windows") {
		exe = []byte("pkgctl testenv fake executable: " + label + "\n")
	} else {
		exe = []byte("#!/bin/sh\necho " + label + "\n")
	}
	if size != nil {
		exe = padPayload(append(exe, "exit 0\n"...), label, *size)
	}
	if c.Exec == "" {
		return exe, nil
	}
	return tarGz(c.Exec, exe)
}

// padPayload extends head to size bytes: half compressible text, then random bytes seeded
// from label. A size smaller than head truncates head.
func padPayload(head []byte, label string, size int) []byte {
	if size <= len(head) {
		return head[:max(size, 0)]
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	buf.Write(head)
	textEnd := size / 2
	for i := 0; buf.Len() < textEnd; i++ {
		fmt.Fprintf(buf, "# %s filler line %08d\n", label, i)
	}
	buf.Truncate(max(textEnd, len(head)))
	seed := sha256.Sum256([]byte(label))
	rng := rand.NewChaCha8(seed)
	random := make([]byte, size-buf.Len())
	_, _ = rng.Read(random) // ChaCha8.Read never fails
	buf.Write(random)
	return buf.Bytes()
}

// tarGz returns a gzip tar holding exe at exePath (mode 0755) and its parent directories
// (mode 0755), with fixed mtimes and uid/gid 0.
func tarGz(exePath string, exe []byte) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf) // zero ModTime: the gzip header has no timestamp
	tw := tar.NewWriter(gz)
	var dirs []string
	for d := path.Dir(exePath); d != "."; d = path.Dir(d) {
		dirs = append([]string{d + "/"}, dirs...)
	}
	for _, d := range dirs {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: SampleMTime}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", d, err)
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: exePath, Mode: 0o755, Size: int64(len(exe)), ModTime: SampleMTime}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("tar %s: %w", exePath, err)
	}
	if _, err := tw.Write(exe); err != nil {
		return nil, fmt.Errorf("tar %s: %w", exePath, err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}
