package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestDistHost builds the host target twice, as `make dist` does, and checks
// the archive's contents, SHA256SUMS, reproducibility and the binary itself.
func TestDistHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pkgctl twice; -short given")
	}
	mtime := time.Unix(1700000000, 0).UTC()
	cfg := config{version: "v9.8.7-test", commit: "0123abc", targets: []string{runtime.GOOS + "/" + runtime.GOARCH}, mtime: mtime}
	outs := [2]string{t.TempDir(), t.TempDir()}
	for _, out := range outs {
		cfg.out = out
		if err := build(cfg); err != nil {
			t.Fatal(err)
		}
	}
	name := fmt.Sprintf("pkgctl_%s_%s_%s.tar.gz", cfg.version, runtime.GOOS, runtime.GOARCH)
	bin := "pkgctl"
	if runtime.GOOS == "windows" {
		name = strings.TrimSuffix(name, ".tar.gz") + ".zip"
		bin += ".exe"
	}
	for _, f := range []string{name, "SHA256SUMS"} {
		a, errA := os.ReadFile(filepath.Join(outs[0], f))
		b, errB := os.ReadFile(filepath.Join(outs[1], f))
		if errA != nil || errB != nil {
			t.Fatalf("read %s: %v %v", f, errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", f)
		}
	}
	archive, err := os.ReadFile(filepath.Join(outs[0], name))
	if err != nil {
		t.Fatal(err)
	}
	sums, _ := os.ReadFile(filepath.Join(outs[0], "SHA256SUMS"))
	sum := sha256.Sum256(archive)
	if want := hex.EncodeToString(sum[:]) + "  " + name + "\n"; string(sums) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sums, want)
	}

	entries := readArchive(t, name, archive)
	for n, e := range entries {
		if !e.mtime.Equal(mtime) {
			t.Errorf("%s: mtime %v, want %v", n, e.mtime, mtime)
		}
	}
	// The binary runs and reports the version linked in.
	exe := filepath.Join(t.TempDir(), bin)
	if err := os.WriteFile(exe, entries[bin].data, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(exe, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(got), cfg.version) {
		t.Errorf("%s --version = %q, %v; want it to name %s", bin, got, err, cfg.version)
	}
	// Every man page the binary writes is in the archive, byte for byte.
	manDir := t.TempDir()
	if out, err := exec.Command(exe, "man", "--dir", manDir).CombinedOutput(); err != nil {
		t.Fatalf("pkgctl man: %v: %s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(manDir, "*.1"))
	if len(pages) < 2 {
		t.Fatalf("pkgctl man wrote %d pages", len(pages))
	}
	want := map[string]int64{bin: 0o755, "README.md": 0o644}
	for _, p := range pages {
		want["man/man1/"+filepath.Base(p)] = 0o644
	}
	for _, c := range completions {
		want[c.name] = 0o644
	}
	for n, mode := range want {
		e, ok := entries[n]
		switch {
		case !ok:
			t.Errorf("archive lacks %s", n)
		case e.mode != mode:
			t.Errorf("%s: mode %o, want %o", n, e.mode, mode)
		case len(e.data) == 0:
			t.Errorf("%s is empty", n)
		}
	}
	for n := range entries {
		if _, ok := want[n]; !ok {
			t.Errorf("archive has unexpected %s", n)
		}
	}
	for _, c := range completions {
		if !bytes.Contains(entries[c.name].data, []byte("pkgctl")) {
			t.Errorf("%s does not complete pkgctl", c.name)
		}
	}
}

type entry struct {
	mode  int64
	mtime time.Time
	data  []byte
}

// readArchive returns the regular files of a .tar.gz or .zip, checking that
// directories and files come sorted and owned by root.
func readArchive(t *testing.T, name string, data []byte) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	var order []string
	if strings.HasSuffix(name, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			order = append(order, f.Name)
			if f.FileInfo().IsDir() {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[f.Name] = entry{mode: int64(f.Mode().Perm()), mtime: f.Modified.UTC(), data: b}
		}
	} else {
		gz, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if gz.Name != "" || !gz.ModTime.IsZero() {
			t.Errorf("gzip header names %q, time %v; want neither", gz.Name, gz.ModTime)
		}
		tr := tar.NewReader(gz)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			order = append(order, h.Name)
			if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
				t.Errorf("%s: owner %d:%d %q:%q, want 0:0", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
			}
			if h.Typeflag == tar.TypeDir {
				continue
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = entry{mode: h.Mode, mtime: h.ModTime.UTC(), data: b}
		}
	}
	// Directories first, then files, each sorted.
	var ds, fs []string
	for _, n := range order {
		if strings.HasSuffix(n, "/") {
			ds = append(ds, n)
		} else {
			fs = append(fs, n)
		}
	}
	if !sort.StringsAreSorted(ds) || !sort.StringsAreSorted(fs) || len(ds) > 0 && order[len(ds)-1] != ds[len(ds)-1] {
		t.Errorf("entries not in order: %q", order)
	}
	return out
}

// TestWriteArchives checks both formats without building: the entries, modes
// and mtimes round-trip and the bytes do not depend on the run.
func TestWriteArchives(t *testing.T) {
	mtime := time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)
	files := []file{
		{name: "README.md", mode: 0o644, data: []byte("readme")},
		{name: "completions/_pkgctl", mode: 0o644, data: []byte("#compdef pkgctl")},
		{name: "man/man1/pkgctl.1", mode: 0o644, data: []byte(".TH PKGCTL")},
		{name: "pkgctl", mode: 0o755, data: []byte("\x7fELF")},
	}
	for _, tc := range []struct {
		name  string
		write func(io.Writer, []file, time.Time) error
	}{
		{"x.tar.gz", writeTarGz},
		{"x.zip", writeZip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := tc.write(&a, files, mtime); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(&b, files, mtime); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Error("two writes differ")
			}
			got := readArchive(t, tc.name, a.Bytes())
			if len(got) != len(files) {
				t.Errorf("%d files, want %d", len(got), len(files))
			}
			for _, f := range files {
				e := got[f.name]
				if e.mode != f.mode || !e.mtime.Equal(mtime) || !bytes.Equal(e.data, f.data) {
					t.Errorf("%s: mode %o mtime %v data %q; want %o %v %q", f.name, e.mode, e.mtime, e.data, f.mode, mtime, f.data)
				}
			}
		})
	}
}

// TestBadInput: a version or target that would make a bad file name is refused
// before anything is built or written.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config
		want string
	}{
		{"slash in version", config{version: "../x", targets: allTargets}, "-version"},
		{"empty version", config{version: "", targets: allTargets}, "-version"},
		{"bad target", config{version: "v1", targets: []string{"linux"}}, "-targets"},
		{"target with path", config{version: "v1", targets: []string{"linux/../amd64"}}, "-targets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.out = filepath.Join(t.TempDir(), "out")
			err := build(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to name %s", err, tc.want)
			}
			if _, err := os.Stat(tc.cfg.out); !os.IsNotExist(err) {
				t.Errorf("%s was created", tc.cfg.out)
			}
		})
	}
}
