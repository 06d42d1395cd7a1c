package update

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tarEntry struct {
	name     string
	typ      byte
	mode     int64
	body     string
	linkname string
}

func writeTarGz(t *testing.T, entries []tarEntry) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.linkname}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	must(t, tw.Close())
	must(t, gz.Close())
	p := filepath.Join(t.TempDir(), "x.tar.gz")
	must(t, os.WriteFile(p, buf.Bytes(), 0o600))
	return p
}

func TestExtractTarGz(t *testing.T) {
	archive := writeTarGz(t, []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "Fleet Desktop.app/", typ: tar.TypeDir, mode: 0o755},
		{name: "Fleet Desktop.app/Contents/MacOS/fleet-desktop", typ: tar.TypeReg, mode: 0o755, body: "#!/bin/sh\n"},
		{name: "Fleet Desktop.app/Contents/Info.plist", typ: tar.TypeReg, mode: 0o644, body: "<plist/>"},
		{name: "private/", typ: tar.TypeDir, mode: 0o700},
		{name: "private/secret", typ: tar.TypeReg, mode: 0o600, body: "s"},
		{name: "readonly/", typ: tar.TypeDir, mode: 0o555},
		{name: "readonly/file", typ: tar.TypeReg, mode: 0o444, body: "r"},
		{name: "Fleet Desktop.app/Contents/Current", typ: tar.TypeSymlink, linkname: "MacOS"},
		{name: "Fleet Desktop.app/Contents/Resources", typ: tar.TypeSymlink, linkname: "../../private"},
		{name: "dup", typ: tar.TypeReg, mode: 0o644, body: "first"},
		{name: "dup", typ: tar.TypeReg, mode: 0o640, body: "second"},
		{name: "world/", typ: tar.TypeDir, mode: 0o777},
		{name: "world/writable", typ: tar.TypeReg, mode: 0o666, body: "w"},
		{name: "world/osqueryd", typ: tar.TypeReg, mode: 0o4777, body: "x"},
		{name: "world/group-exec", typ: tar.TypeReg, mode: 0o610, body: "g"},
	})
	dest := filepath.Join(t.TempDir(), "out")
	names, err := ExtractTarGz(archive, dest)
	if err != nil {
		t.Fatalf("ExtractTarGz: %v", err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(dest, "readonly"), 0o755) })
	wantNames := []string{
		"Fleet Desktop.app",
		"Fleet Desktop.app/Contents/MacOS/fleet-desktop",
		"Fleet Desktop.app/Contents/Info.plist",
		"private",
		"private/secret",
		"readonly",
		"readonly/file",
		"Fleet Desktop.app/Contents/Current",
		"Fleet Desktop.app/Contents/Resources",
		"dup",
		"dup",
		"world",
		"world/writable",
		"world/osqueryd",
		"world/group-exec",
	}
	if strings.Join(names, "|") != strings.Join(wantNames, "|") {
		t.Errorf("names\n got %q\nwant %q", names, wantNames)
	}
	modes := []struct {
		path string
		mode fs.FileMode
	}{
		{"", 0o755},
		{"Fleet Desktop.app", fs.ModeDir | 0o755},
		{"Fleet Desktop.app/Contents", fs.ModeDir | 0o755}, // implicit parent
		{"Fleet Desktop.app/Contents/MacOS/fleet-desktop", 0o755},
		{"Fleet Desktop.app/Contents/Info.plist", 0o644},
		// Modes are normalised: 0755 for directories and executables, else 0644.
		{"private", fs.ModeDir | 0o755},
		{"private/secret", 0o644},
		{"readonly", fs.ModeDir | 0o755},
		{"readonly/file", 0o644},
		{"Fleet Desktop.app/Contents/Current", fs.ModeSymlink},
		{"dup", 0o644},
		{"world", fs.ModeDir | 0o755},
		{"world/writable", 0o644},
		{"world/osqueryd", 0o755},
		{"world/group-exec", 0o755},
	}
	for _, m := range modes {
		st, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(m.path)))
		if err != nil {
			t.Errorf("%s: %v", m.path, err)
			continue
		}
		got := st.Mode()
		if m.mode&fs.ModeSymlink != 0 {
			got &= fs.ModeType
		}
		if m.path == "" {
			got = got.Perm()
		}
		if got != m.mode {
			t.Errorf("%s: mode %v, want %v", m.path, got, m.mode)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dest, "dup")); string(data) != "second" {
		t.Errorf("dup = %q, want the later entry", data)
	}
	if data, _ := os.ReadFile(filepath.Join(dest, "Fleet Desktop.app/Contents/Resources/secret")); string(data) != "s" {
		t.Errorf("symlink inside the tree does not resolve: %q", data)
	}
}

func TestExtractTarGzRefuses(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		wantMsg string
	}{
		{"parent path", []tarEntry{{name: "../x", typ: tar.TypeReg, mode: 0o644, body: "x"}}, "escapes the destination"},
		{"nested parent path", []tarEntry{{name: "a/../../x", typ: tar.TypeReg, mode: 0o644, body: "x"}}, "escapes the destination"},
		{"absolute path", []tarEntry{{name: "/abs", typ: tar.TypeReg, mode: 0o644, body: "x"}}, "absolute path"},
		{"absolute directory", []tarEntry{{name: "/tmp/", typ: tar.TypeDir, mode: 0o755}}, "absolute path"},
		{"windows drive path", []tarEntry{{name: `C:\Windows\x`, typ: tar.TypeReg, mode: 0o644, body: "x"}}, "absolute path"},
		{"symlink escaping", []tarEntry{{name: "lnk", typ: tar.TypeSymlink, linkname: "../outside"}}, "escapes the destination"},
		{"symlink to absolute path", []tarEntry{{name: "lnk", typ: tar.TypeSymlink, linkname: "/etc/passwd"}}, "absolute path"},
		{"write through symlink", []tarEntry{
			{name: "sub/", typ: tar.TypeDir, mode: 0o755},
			{name: "lnk", typ: tar.TypeSymlink, linkname: "sub"},
			{name: "lnk/x", typ: tar.TypeReg, mode: 0o644, body: "x"},
		}, "is a symbolic link"},
		{"symlink chain escaping", []tarEntry{
			// Each link is lexically inside, but sub2/x resolves through sub/l1 (= dest) to dest/..
			{name: "sub/", typ: tar.TypeDir, mode: 0o755},
			{name: "sub/l1", typ: tar.TypeSymlink, linkname: ".."},
			{name: "sub2/", typ: tar.TypeDir, mode: 0o755},
			{name: "sub2/x", typ: tar.TypeSymlink, linkname: "../sub/l1/.."},
		}, "resolves outside the destination"},
		{"dangling symlink", []tarEntry{{name: "lnk", typ: tar.TypeSymlink, linkname: "missing"}}, "does not resolve"},
		{"hard link", []tarEntry{
			{name: "a", typ: tar.TypeReg, mode: 0o644, body: "x"},
			{name: "b", typ: tar.TypeLink, linkname: "a"},
		}, "unsupported entry type"},
		{"device", []tarEntry{{name: "dev", typ: tar.TypeChar, mode: 0o644}}, "unsupported entry type"},
		{"file over directory", []tarEntry{
			{name: "d/", typ: tar.TypeDir, mode: 0o755},
			{name: "d", typ: tar.TypeReg, mode: 0o644, body: "x"},
		}, "a directory with that name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := writeTarGz(t, tt.entries)
			base := t.TempDir()
			dest := filepath.Join(base, "out")
			_, err := ExtractTarGz(archive, dest)
			if err == nil {
				t.Fatal("ExtractTarGz succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), "refusing entry") {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			// Nothing was written next to the destination.
			entries, err := os.ReadDir(base)
			must(t, err)
			for _, e := range entries {
				if e.Name() != "out" {
					t.Errorf("extraction wrote %s outside the destination", e.Name())
				}
			}
		})
	}
}

func TestExtractTarGzBadInput(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.tar.gz")
	must(t, os.WriteFile(p, []byte("not gzip"), 0o600))
	if _, err := ExtractTarGz(p, t.TempDir()); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v does not name the archive", err)
	}
	if _, err := ExtractTarGz(filepath.Join(t.TempDir(), "missing.tar.gz"), t.TempDir()); err == nil {
		t.Error("missing archive extracted")
	}
}

// TestExtractLimits: a tarball that unpacks past the size or entry limit is
// refused with an error naming the limit, before the data is written.
func TestExtractLimits(t *testing.T) {
	defer func(b int64, n int) { MaxUnpackedBytes, MaxEntries = b, n }(MaxUnpackedBytes, MaxEntries)
	MaxUnpackedBytes, MaxEntries = 1<<30, 4
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	// A 2 GiB file of zeros compresses to a few MB; only its header is needed.
	must(t, tw.WriteHeader(&tar.Header{Name: "bomb", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2 << 30}))
	gz.Close()
	bomb := filepath.Join(t.TempDir(), "bomb.tar.gz")
	must(t, os.WriteFile(bomb, buf.Bytes(), 0o600))
	dest := t.TempDir()
	if _, err := ExtractTarGz(bomb, dest); err == nil || !strings.Contains(err.Error(), "unpacks to more than 1 GiB") {
		t.Errorf("size bomb: err = %v", err)
	}
	if st, err := os.Stat(filepath.Join(dest, "bomb")); err == nil {
		t.Errorf("size bomb: %d bytes written before refusing", st.Size())
	}

	var many []tarEntry
	for i := 0; i < 5; i++ {
		many = append(many, tarEntry{name: strings.Repeat("f", i+1), typ: tar.TypeReg, mode: 0o644})
	}
	if _, err := ExtractTarGz(writeTarGz(t, many), t.TempDir()); err == nil || !strings.Contains(err.Error(), "more than 4 entries") {
		t.Errorf("entry flood: err = %v", err)
	}
	if _, err := ExtractTarGz(writeTarGz(t, many[:4]), t.TempDir()); err != nil {
		t.Errorf("4 entries: %v", err)
	}
}

func TestExtractRefusesControlCharacters(t *testing.T) {
	for _, name := range []string{"a\x1b[2J", "b\nc", "d\u009be"} {
		_, err := ExtractTarGz(writeTarGz(t, []tarEntry{{name: name, typ: tar.TypeReg, mode: 0o644}}), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "control character") || strings.ContainsAny(err.Error(), "\x1b\n\u009b") {
			t.Errorf("%q: err = %v", name, err)
		}
	}
}

// FuzzExtractTarGz: whatever a tarball holds, extraction never panics and
// never puts anything outside its destination.
func FuzzExtractTarGz(f *testing.F) {
	seed := func(entries []tarEntry) []byte {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		for _, e := range entries {
			tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.linkname, Size: int64(len(e.body))})
			tw.Write([]byte(e.body))
		}
		tw.Close()
		gz.Close()
		return buf.Bytes()
	}
	f.Add(seed([]tarEntry{{name: "a/", typ: tar.TypeDir, mode: 0o755}, {name: "a/b", typ: tar.TypeReg, mode: 0o4777, body: "x"}}))
	f.Add(seed([]tarEntry{{name: "l", typ: tar.TypeSymlink, linkname: "../../x"}, {name: "l/f", typ: tar.TypeReg, body: "y"}}))
	f.Add(seed([]tarEntry{{name: "../x", typ: tar.TypeReg, body: "z"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		src := filepath.Join(root, "in.tar.gz")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		dest := filepath.Join(root, "out", "dest")
		ExtractTarGz(src, dest)
		// Only in.tar.gz and out/dest may exist at the top.
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			if e.Name() != "in.tar.gz" && e.Name() != "out" {
				t.Fatalf("extraction wrote %s outside its destination", e.Name())
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(root, "out")); len(ents) > 1 {
			t.Fatalf("extraction wrote beside its destination: %v", ents)
		}
		filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil && fi.Mode().Perm()&0o022 != 0 {
					t.Fatalf("%s unpacked with mode %v", p, fi.Mode())
				}
			}
			return nil
		})
	})
}
