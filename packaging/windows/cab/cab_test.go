package cab

import (
	"github.com/pkgctl/pkgctl/internal/testenv"

	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

type testFile struct {
	name string
	data []byte
}

// testFiles mixes compressible and random data: one file well over 32 KiB,
// an empty file, a tiny one and > 64 KiB in total, so blocks span files and
// chain their dictionaries.
func testFiles() []testFile {
	rnd := rand.New(rand.NewSource(1))
	random := make([]byte, 50_000)
	rnd.Read(random)
	var text bytes.Buffer
	for i := 0; text.Len() < 150_000; i++ {
		fmt.Fprintf(&text, "line %d of a repetitive text file, ORBIT_FLEET_URL=https://fleet.example.com\n", i%977)
	}
	return []testFile{
		{"orbit.exe", text.Bytes()},
		{"empty.txt", nil},
		{"random.bin", random},
		{"secret.txt", []byte("s3cr3t")},
		{"osqueryd.exe", append(append([]byte{}, random[:40_000]...), text.Bytes()[:30_000]...)},
	}
}

var testTime = time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)

// writerWith starts a Writer with opts and adds files to it.
func writerWith(t testing.TB, files []testFile, opts Options) *Writer {
	t.Helper()
	w, err := NewWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := w.Add(f.name, bytes.NewReader(f.data), 0); err != nil {
			w.Close()
			t.Fatal(err)
		}
	}
	return w
}

func buildCab(t testing.TB, files []testFile, opts Options) []byte {
	t.Helper()
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	w := writerWith(t, files, opts)
	defer w.Close()
	size, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != size {
		t.Fatalf("Finish said %d bytes, WriteTo wrote %d", size, buf.Len())
	}
	return buf.Bytes()
}

func TestGcabListsAndExtracts(t *testing.T) {
	testenv.NeedTool(t, "gcab", "gcab")
	files := testFiles()
	data := buildCab(t, files, Options{ModTime: testTime})
	dir := t.TempDir()
	path := filepath.Join(dir, "test.cab")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command("gcab", "-t", path).CombinedOutput()
	if err != nil {
		t.Fatalf("gcab -t: %v\n%s", err, out)
	}
	var got, want []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		got = append(got, strings.TrimSpace(l))
	}
	for _, f := range files {
		want = append(want, f.name)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("gcab -t lists %q, want %q", got, want)
	}

	out, err = exec.Command("gcab", "-l", path).CombinedOutput()
	if err != nil {
		t.Fatalf("gcab -l: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "2024-05-06 07:08:10") {
		t.Errorf("gcab -l does not show the DOS time 2024-05-06 07:08:10:\n%s", out)
	}

	xdir := filepath.Join(dir, "x")
	os.Mkdir(xdir, 0o755)
	if out, err := testenv.Command("gcab", "-x", "-C", xdir, path).CombinedOutput(); err != nil {
		t.Fatalf("gcab -x: %v\n%s", err, out)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(xdir, f.name))
		if err != nil {
			t.Errorf("gcab did not extract %s: %v", f.name, err)
			continue
		}
		if !bytes.Equal(b, f.data) {
			t.Errorf("gcab extracted %s with %d bytes, want %d equal bytes", f.name, len(b), len(f.data))
		}
	}
}

func TestReaderRoundTrip(t *testing.T) {
	files := testFiles()
	data := buildCab(t, files, Options{ModTime: testTime, Level: 9})
	c, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Files) != len(files) {
		t.Fatalf("reader sees %d files, want %d", len(c.Files), len(files))
	}
	for i, f := range c.Files {
		if f.Name != files[i].name || f.Size != int64(len(files[i].data)) || f.Attrs != AttrArchive || !f.Modified.Equal(testTime) {
			t.Errorf("file %d = %+v, want %s size %d archive, time %v", i, f, files[i].name, len(files[i].data), testTime)
		}
	}
	got, err := c.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !bytes.Equal(got[f.name], f.data) {
			t.Errorf("reader: %s differs", f.name)
		}
	}
	if len(c.folders) != 1 || c.folders[0].blocks < 3 {
		t.Errorf("want one folder with several blocks, got %+v", c.folders)
	}
}

// TestCorruptionDetected flips one byte in every region of the data blocks
// and expects both our reader and gcab to fail.
func TestCorruptionDetected(t *testing.T) {
	testenv.NeedTool(t, "gcab", "gcab")
	files := testFiles()
	data := buildCab(t, files, Options{ModTime: testTime})
	c, _ := Open(bytes.NewReader(data), int64(len(data)))
	start := int(c.folders[0].start)
	for _, at := range []int{start + 8 + 10, start + (len(data)-start)/2, len(data) - 3} {
		bad := append([]byte(nil), data...)
		bad[at] ^= 0x40
		c, err := Open(bytes.NewReader(bad), int64(len(bad)))
		if err == nil {
			_, err = c.ReadAll()
		}
		if err == nil {
			t.Errorf("byte %d flipped: our reader did not notice", at)
		}
		path := filepath.Join(t.TempDir(), "bad.cab")
		os.WriteFile(path, bad, 0o644)
		xdir := t.TempDir()
		if out, err := testenv.Command("gcab", "-x", "-C", xdir, path).CombinedOutput(); err == nil {
			t.Errorf("byte %d flipped: gcab -x succeeded:\n%s", at, out)
		}
	}
}

func TestReproducible(t *testing.T) {
	files := testFiles()
	a := buildCab(t, files, Options{ModTime: testTime})
	b := buildCab(t, files, Options{ModTime: testTime})
	if !bytes.Equal(a, b) {
		t.Fatal("same input gave different cabinets")
	}
	c := buildCab(t, files, Options{ModTime: testTime.Add(2 * time.Second)})
	if bytes.Equal(a, c) {
		t.Fatal("a different time gave the same cabinet")
	}
}

func TestOnlyEmptyFiles(t *testing.T) {
	testenv.NeedTool(t, "gcab", "gcab")
	data := buildCab(t, []testFile{{"a", nil}, {"b", nil}}, Options{})
	path := filepath.Join(t.TempDir(), "e.cab")
	os.WriteFile(path, data, 0o644)
	if out, err := testenv.Command("gcab", "-x", "-C", t.TempDir(), path).CombinedOutput(); err != nil {
		t.Fatalf("gcab -x of a cabinet of empty files: %v\n%s", err, out)
	}
	c, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := c.ReadAll(); err != nil || len(m) != 2 {
		t.Fatalf("ReadAll = %v, %v", m, err)
	}
}

func TestWriterErrors(t *testing.T) {
	w, err := NewWriter(Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Add("a", strings.NewReader("x"), 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, want string }{
		{"a", "duplicate"},
		{"", "1..255"},
		{strings.Repeat("n", 256), "1..255"},
	} {
		if err := w.Add(tc.name, strings.NewReader(""), 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%q) = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewWriter(Options{Level: 12}); err == nil {
		t.Error("level 12 accepted")
	}
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("b", strings.NewReader(""), 0); err == nil {
		t.Error("Add after Finish accepted")
	}
	dir := t.TempDir()
	w2, _ := NewWriter(Options{TempDir: dir})
	w2.Add("x", strings.NewReader("data"), 0)
	w2.Close()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Close left %d temporary files", len(ents))
	}
}

func TestChecksum(t *testing.T) {
	// Trailing bytes are packed big-end first ([MS-CAB] 2.6).
	if got := checksum([]byte{1, 2, 3, 4, 5, 6, 7}, 0); got != 0x04030201^0x050607 {
		t.Errorf("checksum = %08x", got)
	}
}

func TestDOSDateTime(t *testing.T) {
	for _, tc := range []struct {
		t        time.Time
		date, tm uint16
	}{
		{time.Time{}, 0x21, 0},
		{time.Date(2024, 5, 6, 7, 8, 11, 0, time.UTC), (44 << 9) | (5 << 5) | 6, (7 << 11) | (8 << 5) | 5},
	} {
		d, tm := dosDateTime(tc.t)
		if d != tc.date || tm != tc.tm {
			t.Errorf("dosDateTime(%v) = %x %x, want %x %x", tc.t, d, tm, tc.date, tc.tm)
		}
	}
}

// BenchmarkWriter50MB compresses 50 MB of mixed data (half compressible text,
// half random), like agent binaries.
func BenchmarkWriter50MB(b *testing.B) {
	const size = 50 << 20
	data := make([]byte, size)
	rnd := rand.New(rand.NewSource(1))
	rnd.Read(data[:size/2])
	for i := size / 2; i < size; i += 64 {
		copy(data[i:], fmt.Sprintf("%063d\n", i%4099))
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, err := NewWriter(Options{TempDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Add("payload", bytes.NewReader(data), 0); err != nil {
			b.Fatal(err)
		}
		if _, err := w.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		w.Close()
	}
}

// TestReadGcabCabinet reads a cabinet gcab made (MSZIP), so the reader is
// checked against another implementation too.
func TestReadGcabCabinet(t *testing.T) {
	testenv.NeedTool(t, "gcab", "gcab")
	dir := t.TempDir()
	files := testFiles()
	var args []string
	for _, f := range files {
		os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644)
		args = append(args, f.name)
	}
	cmd := exec.Command("gcab", append([]string{"-c", "-z", "g.cab"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcab -c: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "g.cab"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !bytes.Equal(got[f.name], f.data) {
			t.Errorf("%s from gcab's cabinet differs (%d bytes, want %d)", f.name, len(got[f.name]), len(f.data))
		}
	}
}

// TestBsdtarExtracts has libarchive (which checks CFDATA checksums) extract
// our cabinet too.
func TestBsdtarExtracts(t *testing.T) {
	testenv.NeedTool(t, "bsdtar", "libarchive-tools")
	files := testFiles()
	data := buildCab(t, files, Options{ModTime: testTime})
	dir := t.TempDir()
	path := filepath.Join(dir, "t.cab")
	os.WriteFile(path, data, 0o644)
	x := filepath.Join(dir, "x")
	os.Mkdir(x, 0o755)
	if out, err := testenv.Command("bsdtar", "-xf", path, "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("bsdtar -x: %v\n%s", err, out)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(x, f.name))
		if err != nil || !bytes.Equal(b, f.data) {
			t.Errorf("bsdtar extracted %s: %d bytes, %v; want %d equal bytes", f.name, len(b), err, len(f.data))
		}
	}
	bad := append([]byte(nil), data...)
	bad[len(bad)-100] ^= 1
	os.WriteFile(path, bad, 0o644)
	if out, err := testenv.Command("bsdtar", "-xf", path, "-C", t.TempDir()).CombinedOutput(); err == nil {
		t.Errorf("bsdtar extracted a cabinet with a flipped byte:\n%s", out)
	}
}

// TestSignedCabinetTrailingData reads a cabinet signed with osslsigncode:
// the signature follows the size the header gives.
func TestSignedCabinetTrailingData(t *testing.T) {
	testenv.NeedTool(t, "gcab", "gcab")
	testenv.NeedTool(t, "osslsigncode", "osslsigncode")
	dir := t.TempDir()
	files := testFiles()
	args := []string{"-c", "-z", "g.cab"}
	for _, f := range files {
		os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644)
		args = append(args, f.name)
	}
	ca, err := testenv.NewCA("cab test CA")
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := ca.IssueCodeSigning("cab signer")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "c.pem"), crt, 0o600)
	os.WriteFile(filepath.Join(dir, "k.pem"), key, 0o600)
	for _, c := range [][]string{append([]string{"gcab"}, args...), {"osslsigncode", "sign", "-certs", "c.pem", "-key", "k.pem", "-in", "g.cab", "-out", "s.cab"}} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "s.cab"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("signed cabinet: %v", err)
	}
	if c.Trailing == 0 {
		t.Errorf("no trailing data seen after the signed cabinet")
	}
	got, err := c.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !bytes.Equal(got[f.name], f.data) {
			t.Errorf("%s differs", f.name)
		}
	}
	if _, err := Open(bytes.NewReader(data[:len(data)/2]), int64(len(data)/2)); err == nil {
		t.Error("a truncated cabinet opens")
	}
}
