package cpio_test

import (
	"github.com/pkgctl/pkgctl/internal/testenv"

	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/packaging/macos/cpio"
)

type member struct {
	h    cpio.Header
	data string
}

var mt = time.Unix(1_700_000_000, 0).UTC()

// payload is shaped like a macOS Payload: ".", "./opt/...", 0:80.
func payload() []member {
	return []member{
		{h: cpio.Header{Name: ".", Mode: fs.ModeDir | 0o755, GID: 80}},
		{h: cpio.Header{Name: "./opt", Mode: fs.ModeDir | 0o755, GID: 80}},
		{h: cpio.Header{Name: "./opt/orbit", Mode: fs.ModeDir | 0o755, GID: 80}},
		{h: cpio.Header{Name: "./opt/orbit/secret.txt", Mode: 0o600, GID: 80}, data: "s3cr3t & <x>\n"},
		{h: cpio.Header{Name: "./opt/orbit/bin", Mode: fs.ModeDir | 0o750, UID: 501, GID: 20}},
		{h: cpio.Header{Name: "./opt/orbit/bin/orbit", Mode: 0o755 | fs.ModeSetuid, GID: 80}, data: strings.Repeat("binary\x00\xff", 5000)},
		{h: cpio.Header{Name: "./opt/orbit/bin/empty", Mode: 0o644, GID: 80}},
		{h: cpio.Header{Name: "./opt/orbit/name with spaces é", Mode: 0o644, GID: 80}, data: "x"},
		{h: cpio.Header{Name: "./opt/orbit/orbit", Mode: fs.ModeSymlink | 0o755, GID: 80, Linkname: "bin/orbit"}},
	}
}

func write(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	for _, m := range ms {
		h := m.h
		h.Size = int64(len(m.data))
		h.ModTime = mt
		if err := w.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipThenGunzip gzips the archive in Go and gunzips it with gzip(1), as a
// Payload is checked.
func gzipThenGunzip(t *testing.T, raw []byte) string {
	t.Helper()
	dir := t.TempDir()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	p := filepath.Join(dir, "Payload")
	if err := os.WriteFile(p, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testenv.NeedTool(t, "gzip", "gzip"), "-dc", p).Output()
	if err != nil {
		t.Fatalf("gzip -dc: %v", err)
	}
	if !bytes.Equal(out, raw) {
		t.Fatal("gunzipped payload differs")
	}
	cp := filepath.Join(dir, "payload.cpio")
	os.WriteFile(cp, out, 0o644)
	return cp
}

func modeString(m fs.FileMode) string {
	s := []byte(m.Perm().String()) // "-rwxr-xr-x"
	switch {
	case m.IsDir():
		s[0] = 'd'
	case m&fs.ModeSymlink != 0:
		s[0] = 'l'
	}
	if m&fs.ModeSetuid != 0 {
		s[3] = 's'
	}
	return string(s)
}

func TestGNUCpioListsPayload(t *testing.T) {
	ms := payload()
	path := gzipThenGunzip(t, write(t, ms))
	cpioBin := testenv.NeedTool(t, "cpio", "cpio")

	out, err := exec.Command(cpioBin, "-it", "-F", path).Output()
	if err != nil {
		t.Fatalf("cpio -it: %v", err)
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.h.Name)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.Join(got, "\n") != strings.Join(names, "\n") {
		t.Errorf("cpio -it lists\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(names, "\n"))
	}

	out, err = exec.Command(cpioBin, "-itvn", "-F", path).Output()
	if err != nil {
		t.Fatalf("cpio -itvn: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(ms) {
		t.Fatalf("cpio -itvn printed %d lines, want %d:\n%s", len(lines), len(ms), out)
	}
	for i, m := range ms {
		f := strings.Fields(lines[i])
		// mode nlink uid gid size month day year name... [-> target]
		size := fmt.Sprint(len(m.data))
		if m.h.Linkname != "" {
			size = fmt.Sprint(len(m.h.Linkname))
		}
		if f[0] != modeString(m.h.Mode) || f[2] != fmt.Sprint(m.h.UID) || f[3] != fmt.Sprint(m.h.GID) || f[4] != size {
			t.Errorf("cpio -itvn line %q: want mode %s uid %d gid %d size %s", lines[i], modeString(m.h.Mode), m.h.UID, m.h.GID, size)
		}
		if m.h.Linkname != "" && !strings.HasSuffix(lines[i], m.h.Name+" -> "+m.h.Linkname) {
			t.Errorf("cpio -itvn line %q: want target %s", lines[i], m.h.Linkname)
		}
	}
}

func TestBsdtarExtractsPayload(t *testing.T) {
	ms := payload()
	path := gzipThenGunzip(t, write(t, ms))
	bsdtar := testenv.NeedTool(t, "bsdtar", "libarchive-tools")
	out, err := exec.Command(bsdtar, "-tvf", path).CombinedOutput()
	if err != nil {
		t.Fatalf("bsdtar -tvf: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "./opt/orbit/orbit -> bin/orbit") {
		t.Errorf("bsdtar -tvf output lacks the symlink:\n%s", out)
	}
	dir := t.TempDir()
	if out, err := testenv.Command(bsdtar, "-xpf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("bsdtar -xpf: %v\n%s", err, out)
	}
	for _, m := range ms {
		p := filepath.Join(dir, m.h.Name)
		st, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s not extracted: %v", m.h.Name, err)
			continue
		}
		// Linux symlinks are always 0777.
		if st.Mode().Type() != m.h.Mode.Type() || m.h.Linkname == "" && st.Mode().Perm() != m.h.Mode.Perm() {
			t.Errorf("%s extracted with mode %v, want %v", m.h.Name, st.Mode(), m.h.Mode)
		}
		if m.h.Mode.IsRegular() {
			b, _ := os.ReadFile(p)
			if string(b) != m.data {
				t.Errorf("%s extracted with other content", m.h.Name)
			}
		}
	}
}

func TestReadBack(t *testing.T) {
	ms := payload()
	raw := write(t, ms)
	r := cpio.NewReader(bytes.NewReader(raw))
	for i, m := range ms {
		h, err := r.Next()
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		want := m.h
		want.ModTime = mt
		want.Size = int64(len(m.data))
		if m.h.Linkname != "" {
			want.Size = int64(len(m.h.Linkname))
		}
		want.Inode = int64(i + 1)
		if *h != want || string(data) != m.data {
			t.Errorf("member %d:\n got %+v %q\nwant %+v %q", i, *h, data, want, m.data)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last member: %v, want io.EOF", err)
	}
	// Skipping data without reading it works too.
	r = cpio.NewReader(bytes.NewReader(raw))
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != len(ms) {
		t.Errorf("skipped through %d members, want %d", n, len(ms))
	}
}

func TestReproducible(t *testing.T) {
	if !bytes.Equal(write(t, payload()), write(t, payload())) {
		t.Error("two writes of the same members differ")
	}
}

func TestWriterRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(w *cpio.Writer) error
		want string
	}{
		{"too much data", func(w *cpio.Writer) error {
			w.WriteHeader(&cpio.Header{Name: "a", Mode: 0o644, Size: 1})
			_, err := w.Write([]byte("ab"))
			return err
		}, "exceeds"},
		{"short member", func(w *cpio.Writer) error {
			w.WriteHeader(&cpio.Header{Name: "a", Mode: 0o644, Size: 2})
			return w.Close()
		}, "missing"},
		{"uid too large", func(w *cpio.Writer) error {
			return w.WriteHeader(&cpio.Header{Name: "a", Mode: 0o644, UID: 1 << 20})
		}, "uid"},
		{"file too large", func(w *cpio.Writer) error {
			return w.WriteHeader(&cpio.Header{Name: "a", Mode: 0o644, Size: 1 << 34})
		}, "size"},
		{"symlink without target", func(w *cpio.Writer) error {
			return w.WriteHeader(&cpio.Header{Name: "l", Mode: fs.ModeSymlink | 0o777})
		}, "target"},
		{"empty name", func(w *cpio.Writer) error {
			return w.WriteHeader(&cpio.Header{Mode: 0o644})
		}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do(cpio.NewWriter(io.Discard))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReaderRejectsTruncatedAndNewc(t *testing.T) {
	raw := write(t, payload())
	for _, n := range []int{5, 80, len(raw) / 2, len(raw) - 10} {
		r := cpio.NewReader(bytes.NewReader(raw[:n]))
		var err error
		for err == nil {
			_, err = r.Next()
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
		}
		if errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("truncated to %d bytes: clean EOF, want an error", n)
		}
	}
	if _, err := cpio.NewReader(strings.NewReader("070701" + strings.Repeat("0", 200))).Next(); err == nil || !strings.Contains(err.Error(), "magic") {
		t.Errorf("newc header: %v, want a magic error", err)
	}
}
