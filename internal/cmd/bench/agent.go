package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"

	"github.com/pkgctl/pkgctl/internal/repodir"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// The agent is made of real executables, one set per OS, in the three roles
// Fleet ships: orbit and Fleet Desktop are Go programs (pkgctl and the demo
// command, built for the OS), osqueryd is large C/C++ machine code from Debian
// packages. Their statistics, not their function, are what a compressor sees.
const (
	agentOrbit    = "orbit"
	agentOsqueryd = "osqueryd"
	agentDesktop  = "desktop"
)

// osqueryd sources: Debian files concatenated into one osqueryd of the OS.
var osquerydSources = map[string][]debFile{
	"linux": {{"libllvm14", "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1"}},
	"macos": {{"libllvm15", "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1"}},
	// Wine's largest PE DLLs: real Windows machine code and resources.
	"windows": {
		{"libwine", "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/mshtml.dll"},
		{"libwine", "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/wined3d.dll"},
		{"libwine", "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/shell32.dll"},
		{"libwine", "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/msxml3.dll"},
	},
}

// debFile is a file a Debian package installs.
type debFile struct{ pkg, path string }

// goTargets are the GOOS/GOARCH orbit and Fleet Desktop are built for.
var goTargets = map[string][2]string{"linux": {"linux", "amd64"}, "macos": {"darwin", "amd64"}, "windows": {"windows", "amd64"}}

// agentFile is where bench keeps one role's executable of one OS.
func agentFile(work, goos, role string) string {
	return filepath.Join(work, "agent", goos, role)
}

// repoFile is a component file as the repository serves it.
func repoFile(work, name, platform, file string) string {
	return filepath.Join(work, "repo", "targets", filepath.FromSlash(testenv.TargetPath(name, platform, channel, file)))
}

// platformOS maps a Fleet platform to the agent OS whose executables it holds.
var platformOS = map[string]string{"linux": "linux", "macos": "macos", "macos-app": "macos", "windows": "windows"}

// rebuildAgent makes prepareRepo build the Go programs again.
var rebuildAgent bool

// osquerydCopies scales the agent: osqueryd is its sources this many times.
var osquerydCopies = 1

// prepareRepo (run in a child process, so that the payload never inflates the
// parent's RSS) builds the executables, gathers osqueryd from Debian files and
// publishes them, tarballs as Fleet ships them, on a TUF repository in work/repo.
func prepareRepo(work string) error {
	root, err := repodir.Root()
	if err != nil {
		return err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return err
	}
	for goos, t := range goTargets {
		for role, pkg := range map[string]string{agentOrbit: "./cmd/pkgctl", agentDesktop: "./internal/cmd/demo"} {
			// Built once per machine (-rebuild-agent: again): a Go program's
			// statistics, not its version, are what the compressors see.
			cached := filepath.Join(cache, "pkgctl-bench", "agent", goos, role)
			if _, err := os.Stat(cached); err != nil || rebuildAgent {
				build := exec.Command("go", "build", "-trimpath", "-o", cached, pkg)
				build.Dir = root
				build.Env = append(os.Environ(), "GOOS="+t[0], "GOARCH="+t[1], "CGO_ENABLED=0")
				if err := runQuiet(build); err != nil {
					return fmt.Errorf("go build %s for %s: %w", pkg, goos, err)
				}
			}
			if err := concat(agentFile(work, goos, role), []debFile{{"", cached}}); err != nil {
				return err
			}
		}
		var srcs []debFile
		for range max(osquerydCopies, 1) {
			srcs = append(srcs, osquerydSources[goos]...)
		}
		if err := concat(agentFile(work, goos, agentOsqueryd), srcs); err != nil {
			return err
		}
	}
	repo, err := testenv.NewRepo(filepath.Join(work, "repo"))
	if err != nil {
		return err
	}
	for _, c := range testenv.Components {
		goos, ok := platformOS[c.Platform]
		if !ok {
			continue
		}
		data, err := os.ReadFile(agentFile(work, goos, c.Name))
		if err != nil {
			return err
		}
		if c.Exec != "" {
			if data, err = tarGz(c.Exec, data); err != nil {
				return err
			}
		}
		if err := repo.AddTarget(c.Name, c.Platform, channel, c.File, data, version); err != nil {
			return err
		}
	}
	return repo.Publish()
}

// concat writes the Debian files, one after another, to dst.
func concat(dst string, srcs []debFile) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	for _, s := range srcs {
		if err := appendFile(out, s.path); err != nil {
			out.Close()
			if s.pkg == "" {
				return err
			}
			return fmt.Errorf("%s (Debian package %s): %w", s.path, s.pkg, err)
		}
	}
	return out.Close()
}

func appendFile(w io.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// tarGz is a tarball as Fleet's release jobs make them: parent directories and
// the executable (0755), gzip at its default level.
func tarGz(exePath string, exe []byte) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	var dirs []string
	for d := path.Dir(exePath); d != "."; d = path.Dir(d) {
		dirs = append([]string{d + "/"}, dirs...)
	}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: testenv.SampleMTime}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: exePath, Mode: 0o755, Size: int64(len(exe)), ModTime: testenv.SampleMTime}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(exe); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// debianPackages lists the Debian packages the agent and the reference tools
// come from.
func debianPackages() []string {
	seen := map[string]bool{}
	var out []string
	for _, os := range []string{"linux", "macos", "windows"} {
		for _, f := range osquerydSources[os] {
			if !seen[f.pkg] {
				seen[f.pkg] = true
				out = append(out, f.pkg)
			}
		}
	}
	return append(out, "gzip", "pigz", "wixl")
}
