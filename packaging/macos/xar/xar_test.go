package xar_test

import (
	"github.com/pkgctl/pkgctl/internal/testenv"

	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

var epoch = time.Unix(1_700_000_000, 0).UTC()

// testFiles returns the members of a product archive; the Payload comes
// from a file on disk (streamed).
func testFiles(t *testing.T) ([]xar.File, map[string][]byte) {
	t.Helper()
	payload := make([]byte, 3<<20+17)
	rand.Read(payload)
	p := filepath.Join(t.TempDir(), "Payload")
	if err := os.WriteFile(p, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	content := map[string][]byte{
		"Distribution":         []byte("<?xml version=\"1.0\"?>\n<installer-gui-script minSpecVersion=\"2\"/>\n"),
		"base.pkg/PackageInfo": []byte(strings.Repeat("<pkg-info identifier=\"com.fleetdm.orbit\"/>\n", 20)),
		"base.pkg/Bom":         bytes.Repeat([]byte("BOMStore\x00\x01"), 500),
		"base.pkg/Payload":     payload,
		"base.pkg/Scripts":     []byte("070707 scripts"),
		"Resources/empty":      {},
	}
	files := []xar.File{
		{Name: "Distribution", Open: xar.Bytes(content["Distribution"])},
		{Name: "base.pkg", Dir: true},
		{Name: "base.pkg/PackageInfo", Open: xar.Bytes(content["base.pkg/PackageInfo"]), Compress: true},
		{Name: "base.pkg/Bom", Open: xar.Bytes(content["base.pkg/Bom"]), Compress: true},
		{Name: "base.pkg/Payload", Open: xar.Path(p)},
		{Name: "base.pkg/Scripts", Open: xar.Bytes(content["base.pkg/Scripts"]), Mode: 0o600, UID: 501, GID: 20, User: "a&b", Group: "<staff>"},
		{Name: "Resources/empty", Open: xar.Bytes(nil)}, // parent added implicitly
	}
	return files, content
}

func writeXar(t *testing.T, files []xar.File) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.pkg")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := xar.Write(f, files, xar.Options{CreationTime: epoch}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func openXar(t *testing.T, path string) *xar.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := xar.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("xar.Open %s: %v", path, err)
	}
	return x
}

func wantNames(content map[string][]byte) []string {
	names := []string{"Resources", "base.pkg"}
	for n := range content {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestBsdtarAnd7zReadOurXar(t *testing.T) {
	files, content := testFiles(t)
	path := writeXar(t, files)
	bsdtar := testenv.NeedTool(t, "bsdtar", "libarchive-tools")
	sevenZ := testenv.NeedTool(t, "7z", "p7zip-full")

	out, err := exec.Command(bsdtar, "-tf", path).CombinedOutput()
	if err != nil {
		t.Fatalf("bsdtar -tf: %v\n%s", err, out)
	}
	got := strings.Fields(strings.ReplaceAll(string(out), "/\n", "\n"))
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(wantNames(content), " ") {
		t.Errorf("bsdtar -tf lists %q, want %q", got, wantNames(content))
	}

	out, err = exec.Command(sevenZ, "l", path).CombinedOutput()
	if err != nil {
		t.Fatalf("7z l: %v\n%s", err, out)
	}
	for n := range content {
		if !strings.Contains(string(out), n) {
			t.Errorf("7z l does not list %s:\n%s", n, out)
		}
	}
	if strings.Contains(string(out), "ERROR") {
		t.Errorf("7z l reports an error:\n%s", out)
	}

	dir := t.TempDir()
	if out, err := testenv.Command(bsdtar, "-xf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("bsdtar -xf: %v\n%s", err, out)
	}
	for n, want := range content {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("bsdtar extracted %s with %d bytes (%v), want %d equal bytes", n, len(b), err, len(want))
		}
	}
	st, err := os.Stat(filepath.Join(dir, "base.pkg/Scripts"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("Scripts extracted with mode %v (%v), want 0600", st.Mode(), err)
	}
}

func TestOneChangedHeapByteIsRejected(t *testing.T) {
	files, _ := testFiles(t)
	path := writeXar(t, files)
	x := openXar(t, path)
	e := x.File("base.pkg/Payload")
	b, _ := os.ReadFile(path)
	heap := headerAndTOCSize(b)
	b[heap+e.Offset+e.Length/2] ^= 0x01
	bad := filepath.Join(t.TempDir(), "bad.pkg")
	os.WriteFile(bad, b, 0o644)

	out, err := testenv.Command(testenv.NeedTool(t, "bsdtar", "libarchive-tools"), "-xf", bad, "-C", t.TempDir()).CombinedOutput()
	if err == nil {
		t.Errorf("bsdtar -xf accepted a xar with a changed heap byte:\n%s", out)
	}
	xb, err := xar.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err) // the TOC is intact
	}
	if err := xb.Verify(); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("Verify = %v, want a checksum mismatch", err)
	}
	// A changed compressed member fails too, and so does a changed TOC.
	b2, _ := os.ReadFile(path)
	eb := x.File("base.pkg/Bom")
	b2[heap+eb.Offset+eb.Length-1] ^= 0x80
	xb2, err := xar.Open(bytes.NewReader(b2), int64(len(b2)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xb2.ReadFile("base.pkg/Bom"); err == nil {
		t.Error("ReadFile of a changed compressed Bom succeeded")
	}
	b3, _ := os.ReadFile(path)
	b3[40] ^= 0x01
	if _, err := xar.Open(bytes.NewReader(b3), int64(len(b3))); err == nil {
		t.Error("Open accepted a changed TOC")
	}
}

func headerAndTOCSize(b []byte) int64 {
	return 28 + int64(binary.BigEndian.Uint64(b[8:]))
}

func TestReadBack(t *testing.T) {
	files, content := testFiles(t)
	x := openXar(t, writeXar(t, files))
	if x.CreationTime != "2023-11-14T22:13:20" {
		t.Errorf("creation-time %q", x.CreationTime)
	}
	var names []string
	ids := map[string]bool{}
	for _, e := range x.Files {
		names = append(names, e.Path)
		if ids[e.ID] {
			t.Errorf("duplicate id %s", e.ID)
		}
		ids[e.ID] = true
	}
	if got := strings.Join(names, " "); got != "Distribution Resources Resources/empty base.pkg base.pkg/Bom base.pkg/PackageInfo base.pkg/Payload base.pkg/Scripts" {
		t.Errorf("TOC order %s", got)
	}
	for n, want := range content {
		got, err := x.ReadFile(n)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v", n, len(got), err)
		}
	}
	if err := x.Verify(); err != nil {
		t.Error(err)
	}
	enc := map[string]string{"base.pkg/Bom": "application/x-gzip", "base.pkg/PackageInfo": "application/x-gzip", "base.pkg/Payload": "application/octet-stream"}
	for n, want := range enc {
		if e := x.File(n); e.Encoding != want || e.ArchivedChecksum.Style != "sha1" || e.ExtractedChecksum.Style != "sha1" {
			t.Errorf("%s: encoding %s checksums %s/%s", n, e.Encoding, e.ArchivedChecksum.Style, e.ExtractedChecksum.Style)
		}
	}
	s := x.File("base.pkg/Scripts")
	if s.Mode != 0o600 || s.UID != 501 || s.GID != 20 || s.User != "a&b" || s.Group != "<staff>" || !s.ModTime.Equal(epoch) {
		t.Errorf("Scripts metadata %+v", s)
	}
	if d := x.File("base.pkg"); d.Type != "directory" || !d.Mode.IsDir() {
		t.Errorf("base.pkg %+v", d)
	}
	// The TOC checksum sits at heap offset 0 and is SHA-1 (bsdtar 3.6 cannot
	// open SHA-256 TOC checksums).
	if x.HashFunc.String() != "SHA-1" || len(x.TOCHash) != sha1.Size {
		t.Errorf("TOC checksum %v", x.HashFunc)
	}
}

func TestWriteIsReproducible(t *testing.T) {
	files, _ := testFiles(t)
	a, _ := os.ReadFile(writeXar(t, files))
	rev := append([]xar.File(nil), files...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	b, _ := os.ReadFile(writeXar(t, rev))
	if !bytes.Equal(a, b) {
		t.Error("the same files in another order gave different bytes")
	}
}

func TestPrecomputedChecksums(t *testing.T) {
	data := []byte("payload bytes")
	sum := sha1.Sum(data)
	opens := 0
	open := func() (io.ReadCloser, error) { opens++; return io.NopCloser(bytes.NewReader(data)), nil }
	var buf bytes.Buffer
	err := xar.Write(&buf, []xar.File{{Name: "Payload", Open: open, Size: int64(len(data)), SHA1: sum[:]}}, xar.Options{CreationTime: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if opens != 1 {
		t.Errorf("data opened %d times, want 1 with precomputed checksums", opens)
	}
	x, err := xar.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Verify(); err != nil {
		t.Error(err)
	}
	bad := sha1.Sum([]byte("other"))
	err = xar.Write(io.Discard, []xar.File{{Name: "Payload", Open: xar.Bytes(data), Size: int64(len(data)), SHA1: bad[:]}}, xar.Options{})
	if err == nil || !strings.Contains(err.Error(), "Payload") {
		t.Errorf("wrong precomputed SHA1: err = %v", err)
	}
}

// A Trusted file's precomputed SHA-1 is not computed again (the caller
// hashed the bytes as it wrote them); its length is still checked.
func TestTrustedChecksum(t *testing.T) {
	data := []byte("payload bytes")
	sum := sha1.Sum(data)
	var buf bytes.Buffer
	err := xar.Write(&buf, []xar.File{{Name: "Payload", Open: xar.Bytes(data), Size: int64(len(data)), SHA1: sum[:], Trusted: true}}, xar.Options{CreationTime: epoch})
	if err != nil {
		t.Fatal(err)
	}
	x, err := xar.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Verify(); err != nil {
		t.Error(err)
	}
	err = xar.Write(io.Discard, []xar.File{{Name: "Payload", Open: xar.Bytes(data), Size: int64(len(data)) + 1, SHA1: sum[:], Trusted: true}}, xar.Options{})
	if err == nil || !strings.Contains(err.Error(), "Payload") {
		t.Errorf("wrong precomputed Size of a trusted file: err = %v", err)
	}
}

func TestWriteRejects(t *testing.T) {
	d := xar.Bytes([]byte("x"))
	for _, tc := range []struct {
		name  string
		files []xar.File
		want  string
	}{
		{"absolute", []xar.File{{Name: "/etc/x", Open: d}}, "invalid member name"},
		{"dotdot", []xar.File{{Name: "../x", Open: d}}, "invalid member name"},
		{"trailing slash", []xar.File{{Name: "a/", Open: d}}, "invalid member name"},
		{"duplicate", []xar.File{{Name: "a", Open: d}, {Name: "a", Open: d}}, "duplicate"},
		{"file as dir", []xar.File{{Name: "a", Open: d}, {Name: "a/b", Open: d}}, "file and a directory"},
		{"no data", []xar.File{{Name: "a"}}, "no data source"},
		{"open fails", []xar.File{{Name: "a", Open: xar.Path("/nonexistent/file")}}, "/nonexistent/file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := xar.Write(io.Discard, tc.files, xar.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestOpenRejectsTruncated(t *testing.T) {
	files, _ := testFiles(t)
	b, _ := os.ReadFile(writeXar(t, files))
	for _, n := range []int{0, 10, 28, 100, int(headerAndTOCSize(b)) + 5} {
		if _, err := xar.Open(bytes.NewReader(b[:n]), int64(n)); err == nil {
			t.Errorf("Open of the first %d bytes succeeded", n)
		}
	}
}

// TestReadForeignChecksums reads archives bsdtar writes with an md5 TOC
// checksum, with no checksums at all, and with md5 member checksums.
func TestReadForeignChecksums(t *testing.T) {
	bsdtar := testenv.NeedTool(t, "bsdtar", "libarchive-tools")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello xar"), 0o755)
	for _, tc := range []struct {
		opts string
		hash crypto.Hash
	}{
		{"xar:toc-checksum=md5", crypto.MD5},
		{"xar:toc-checksum=none,xar:checksum=none", 0},
		{"xar:toc-checksum=sha1,xar:checksum=md5", crypto.SHA1},
	} {
		out := filepath.Join(dir, "t.xar")
		cmd := exec.Command(bsdtar, "--format", "xar", "--options", tc.opts, "-cf", out, "-C", src, "a.txt")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bsdtar %s: %v\n%s", tc.opts, err, b)
		}
		data, _ := os.ReadFile(out)
		x, err := xar.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", tc.opts, err)
		}
		if x.HashFunc != tc.hash {
			t.Errorf("%s: TOC hash %v", tc.opts, x.HashFunc)
		}
		got, err := x.ReadFile("a.txt")
		if err != nil || string(got) != "hello xar" {
			t.Errorf("%s: %q %v", tc.opts, got, err)
		}
		if e := x.File("a.txt"); e.Mode.Perm() != 0o755 {
			t.Errorf("%s: mode %v", tc.opts, e.Mode)
		}
		if tc.hash == 0 {
			continue
		}
		// The TOC checksum still guards the TOC.
		data[30] ^= 1
		if _, err := xar.Open(bytes.NewReader(data), int64(len(data))); err == nil {
			t.Errorf("%s: a changed TOC byte opens", tc.opts)
		}
	}
}

// TestReadLargeModes reads a TOC whose <mode> holds a whole st_mode (type
// bits included, as some writers put it) and setuid/sticky bits.
func TestReadLargeModes(t *testing.T) {
	toc := `<?xml version="1.0" encoding="UTF-8"?><xar><toc>` +
		`<checksum style="sha1"><offset>0</offset><size>20</size></checksum>` +
		`<file id="1"><name>bin</name><type>directory</type><mode>0041777</mode></file>` +
		`<file id="2"><name>tool</name><type>file</type><mode>0104755</mode></file>` +
		`</toc></xar>`
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(toc))
	zw.Close()
	sum := sha1.Sum(z.Bytes())
	hdr := make([]byte, 28)
	copy(hdr, "xar!")
	binary.BigEndian.PutUint16(hdr[4:], 28)
	binary.BigEndian.PutUint16(hdr[6:], 1)
	binary.BigEndian.PutUint64(hdr[8:], uint64(z.Len()))
	binary.BigEndian.PutUint64(hdr[16:], uint64(len(toc)))
	binary.BigEndian.PutUint32(hdr[24:], 1)
	data := append(append(hdr, z.Bytes()...), sum[:]...)
	x, err := xar.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if d := x.File("bin"); d == nil || !d.Mode.IsDir() || d.Mode.Perm() != 0o777 || d.Mode&fs.ModeSticky == 0 {
		t.Errorf("bin: %+v", d)
	}
	if f := x.File("tool"); f == nil || f.Mode.Perm() != 0o755 || f.Mode&fs.ModeSetuid == 0 {
		t.Errorf("tool: %+v", f)
	}
}
