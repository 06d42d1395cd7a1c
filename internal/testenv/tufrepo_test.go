package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestRepoLayout(t *testing.T) {
	e := NewTB(t)
	dir := e.Repo.Dir
	for _, name := range []string{"root.json", "1.root.json", "targets.json", "snapshot.json", "timestamp.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "2.root.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("2.root.json exists before a rotation: %v", err)
	}
	root, err := metadata.Root().FromFile(filepath.Join(dir, "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if root.Signed.ConsistentSnapshot {
		t.Error("consistent_snapshot is true")
	}
	if !bytes.Equal(e.RootJSON, e.Repo.RootJSON()) {
		t.Error("Env.RootJSON differs from Repo.RootJSON")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "1.root.json")); !bytes.Equal(data, e.RootJSON) {
		t.Error("1.root.json differs from RootJSON")
	}
	for _, role := range topLevelRoles {
		r := root.Signed.Roles[role]
		if r == nil || len(r.KeyIDs) != 1 || r.Threshold != 1 {
			t.Fatalf("role %s: %+v", role, r)
		}
		if k := root.Signed.Keys[r.KeyIDs[0]]; k.Type != metadata.KeyTypeEd25519 || k.Scheme != metadata.KeySchemeEd25519 {
			t.Errorf("role %s key type %s scheme %s, want ed25519", role, k.Type, k.Scheme)
		}
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		t.Errorf("root.json: %v", err)
	}

	targets, err := metadata.Targets().FromFile(filepath.Join(dir, "targets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := root.VerifyDelegate(metadata.TARGETS, targets); err != nil {
		t.Errorf("targets.json: %v", err)
	}
	if got, want := len(targets.Signed.Targets), 2*len(Components); got != want {
		t.Errorf("%d targets, want %d", got, want)
	}
	for _, channel := range []struct{ name, version string }{{StableChannel, StableVersion}, {EdgeChannel, EdgeVersion}} {
		for _, c := range Components {
			p := c.Path(channel.name)
			tf := targets.Signed.Targets[p]
			if tf == nil {
				t.Errorf("%s: not in targets.json", p)
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, "targets", filepath.FromSlash(p)))
			if err != nil {
				t.Error(err)
				continue
			}
			if err := tf.VerifyLengthHashes(data); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			if len(tf.Hashes) != 2 || tf.Hashes["sha256"] == nil || tf.Hashes["sha512"] == nil {
				t.Errorf("%s: hashes %v, want sha256 and sha512", p, tf.Hashes)
			}
			if got := customVersion(t, tf); got != channel.version {
				t.Errorf("%s: custom version %q, want %q", p, got, channel.version)
			}
		}
	}

	snapshot, err := metadata.Snapshot().FromFile(filepath.Join(dir, "snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	timestamp, err := metadata.Timestamp().FromFile(filepath.Join(dir, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	targetsJSON, _ := os.ReadFile(filepath.Join(dir, "targets.json"))
	snapshotJSON, _ := os.ReadFile(filepath.Join(dir, "snapshot.json"))
	if m := snapshot.Signed.Meta["targets.json"]; m.Version != targets.Signed.Version || m.VerifyLengthHashes(targetsJSON) != nil {
		t.Errorf("snapshot does not describe targets.json: %+v", m)
	}
	if m := timestamp.Signed.Meta["snapshot.json"]; m.Version != snapshot.Signed.Version || m.VerifyLengthHashes(snapshotJSON) != nil {
		t.Errorf("timestamp does not describe snapshot.json: %+v", m)
	}
	if targets.Signed.Version != 2 || snapshot.Signed.Version != 2 || timestamp.Signed.Version != 2 {
		t.Errorf("versions targets %d snapshot %d timestamp %d, want 2 (NewRepo, then one Publish)",
			targets.Signed.Version, snapshot.Signed.Version, timestamp.Signed.Version)
	}
}

// readTarGz returns the headers and contents of a gzip tar.
func readTarGz(t *testing.T, data []byte) ([]*tar.Header, map[string][]byte) {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var hdrs []*tar.Header
	contents := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, hdr)
		if contents[hdr.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	return hdrs, contents
}

func TestSampleComponentFiles(t *testing.T) {
	e := NewTB(t)
	wantNames := map[string][]string{
		"linux":         {"desktop.tar.gz", "orbit", "osqueryd"},
		"linux-arm64":   {"desktop.tar.gz", "orbit", "osqueryd"},
		"macos":         {"desktop.app.tar.gz", "orbit"},
		"macos-app":     {"osqueryd.app.tar.gz"},
		"windows":       {"fleet-desktop.exe", "orbit.exe", "osqueryd.exe"},
		"windows-arm64": {"fleet-desktop.exe", "orbit.exe", "osqueryd.exe"},
	}
	for platform, want := range wantNames {
		var got []string
		for _, name := range []string{"orbit", "osqueryd", "desktop"} {
			entries, _ := os.ReadDir(filepath.Join(e.Repo.Dir, "targets", name, platform, "stable"))
			for _, entry := range entries {
				got = append(got, entry.Name())
			}
		}
		if strings.Join(sortedCopy(got), " ") != strings.Join(want, " ") {
			t.Errorf("%s: files %q, want %q", platform, got, want)
		}
	}

	tarballs := []struct {
		path      string
		wantNames []string
		wantExe   string
	}{
		{"desktop/linux/stable/desktop.tar.gz", []string{"fleet-desktop/", "fleet-desktop/fleet-desktop"},
			"#!/bin/sh\necho desktop linux stable 1.2.3\n"},
		{"desktop/linux-arm64/edge/desktop.tar.gz", []string{"fleet-desktop/", "fleet-desktop/fleet-desktop"},
			"#!/bin/sh\necho desktop linux-arm64 edge 1.3.0\n"},
		{"desktop/macos/stable/desktop.app.tar.gz", []string{"Fleet Desktop.app/", "Fleet Desktop.app/Contents/", "Fleet Desktop.app/Contents/MacOS/", "Fleet Desktop.app/Contents/MacOS/fleet-desktop"},
			"#!/bin/sh\necho desktop macos stable 1.2.3\n"},
		{"osqueryd/macos-app/stable/osqueryd.app.tar.gz", []string{"osquery.app/", "osquery.app/Contents/", "osquery.app/Contents/MacOS/", "osquery.app/Contents/MacOS/osqueryd"},
			"#!/bin/sh\necho osqueryd macos-app stable 1.2.3\n"},
	}
	for _, tt := range tarballs {
		t.Run(tt.path, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(e.Repo.Dir, "targets", tt.path))
			if err != nil {
				t.Fatal(err)
			}
			hdrs, contents := readTarGz(t, data)
			var names []string
			for _, h := range hdrs {
				names = append(names, h.Name)
				if h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(SampleMTime) {
					t.Errorf("%s: mode %o uid %d gid %d mtime %v", h.Name, h.Mode, h.Uid, h.Gid, h.ModTime)
				}
				if wantDir := strings.HasSuffix(h.Name, "/"); wantDir != (h.Typeflag == tar.TypeDir) {
					t.Errorf("%s: type %c", h.Name, h.Typeflag)
				}
			}
			if strings.Join(names, "|") != strings.Join(tt.wantNames, "|") {
				t.Errorf("entries %q, want %q", names, tt.wantNames)
			}
			exe := tt.wantNames[len(tt.wantNames)-1]
			if got := string(contents[exe]); got != tt.wantExe {
				t.Errorf("%s: %q, want %q", exe, got, tt.wantExe)
			}
		})
	}

	// Deterministic: another repository gets identical files.
	other, err := NewRepo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := SampleComponents(other, StableChannel, StableVersion); err != nil {
		t.Fatal(err)
	}
	for _, c := range Components {
		p := filepath.Join("targets", filepath.FromSlash(c.Path(StableChannel)))
		a, _ := os.ReadFile(filepath.Join(e.Repo.Dir, p))
		b, err := os.ReadFile(filepath.Join(other.Dir, p))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between repositories (%v)", p, err)
		}
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestSampleComponentsSized(t *testing.T) {
	const orbitSize, osquerydSize, desktopSize = 300_000, 200_000, 100_000
	build := func() *Repo {
		r, err := NewRepo(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if err := SampleComponentsSized(r, "linux-arm64", "stable", "9.9.9", orbitSize, osquerydSize, desktopSize); err != nil {
			t.Fatal(err)
		}
		if err := r.Publish(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r1, r2 := build(), build()
	read := func(r *Repo, p string) []byte {
		data, err := os.ReadFile(filepath.Join(r.Dir, "targets", p))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tt := range []struct {
		path string
		size int
	}{
		{"orbit/linux-arm64/stable/orbit", orbitSize},
		{"osqueryd/linux-arm64/stable/osqueryd", osquerydSize},
		{"desktop/linux-arm64/stable/desktop.tar.gz", desktopSize},
	} {
		t.Run(tt.path, func(t *testing.T) {
			data := read(r1, tt.path)
			if !bytes.Equal(data, read(r2, tt.path)) {
				t.Error("not deterministic")
			}
			exe := data
			if strings.HasSuffix(tt.path, ".tar.gz") {
				_, contents := readTarGz(t, data)
				exe = contents["fleet-desktop/fleet-desktop"]
			}
			if len(exe) != tt.size {
				t.Fatalf("size %d, want %d", len(exe), tt.size)
			}
			if !bytes.HasPrefix(exe, []byte("#!/bin/sh\necho ")) {
				t.Errorf("payload starts %q", exe[:20])
			}
			// Half text, half random: gzip gets it to a bit more than half.
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			gz.Write(exe)
			gz.Close()
			if ratio := float64(buf.Len()) / float64(len(exe)); ratio < 0.45 || ratio > 0.6 {
				t.Errorf("compression ratio %.2f, want about 0.5", ratio)
			}
		})
	}
	// Other platforms are refused.
	if err := SampleComponentsSized(r1, "plan9", "stable", "1.0.0", 10, 10, 10); err == nil {
		t.Error("plan9 accepted")
	}
	var targets map[string]any
	data, _ := os.ReadFile(filepath.Join(r1.Dir, "targets.json"))
	if err := json.Unmarshal(data, &targets); err != nil {
		t.Fatal(err)
	}
	if n := len(targets["signed"].(map[string]any)["targets"].(map[string]any)); n != 3 {
		t.Errorf("%d targets, want 3", n)
	}
}
