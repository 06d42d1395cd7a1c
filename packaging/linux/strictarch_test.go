package linux

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
)

func tarOf(t *testing.T, entries ...[2][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: string(e[0]), Mode: 0o644, Size: int64(len(e[1])), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(e[1])
	}
	tw.Close()
	return b.Bytes()
}

func gz(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w, _ := kgzip.NewWriterLevel(&b, 6)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// TestPatchTar: a .MTREE whose gzip has incomplete codes is re-encoded in
// place; the tar stays valid (Go and bsdtar read it) and every other member
// is unchanged. A good .MTREE leaves the bytes as they were.
func TestPatchTar(t *testing.T) {
	bsdtar := testenv.NeedTool(t, "bsdtar", "libarchive-tools")
	zeros := make([]byte, 200000)
	bad := gz(t, zeros)
	if flatecheck.CheckGzip(bytes.NewReader(bad)) == nil {
		t.Fatal("klauspost gzip of zeros has complete codes: the test needs another input")
	}
	in := tarOf(t, [2][]byte{[]byte("a"), []byte("odd size")}, [2][]byte{[]byte(".MTREE"), bad}, [2][]byte{[]byte("b"), zeros[:1000]})
	var out bytes.Buffer
	changed, err := patchTar(bytes.NewReader(in), &out)
	if err != nil || !changed {
		t.Fatalf("patchTar = %v, %v", changed, err)
	}
	tr := tar.NewReader(bytes.NewReader(out.Bytes()))
	got := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name], _ = io.ReadAll(tr)
	}
	if string(got["a"]) != "odd size" || !bytes.Equal(got["b"], zeros[:1000]) {
		t.Errorf("other members changed: %q, %d bytes", got["a"], len(got["b"]))
	}
	if err := flatecheck.CheckGzip(bytes.NewReader(got[".MTREE"])); err != nil {
		t.Errorf(".MTREE: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(got[".MTREE"]))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(zr); err != nil || !bytes.Equal(b, zeros) {
		t.Errorf(".MTREE gunzips to %d bytes, %v", len(b), err)
	}
	p := filepath.Join(t.TempDir(), "t.tar")
	os.WriteFile(p, out.Bytes(), 0o600)
	if o, err := testenv.Command(bsdtar, "-tvf", p).CombinedOutput(); err != nil {
		t.Errorf("bsdtar -t: %v\n%s", err, o)
	}

	good := tarOf(t, [2][]byte{[]byte(".MTREE"), gz(t, []byte("#mtree\n./a time=1.0 mode=644 type=file\n./b time=1.0 mode=644 type=file\n"))})
	out.Reset()
	if changed, err := patchTar(bytes.NewReader(good), &out); err != nil || changed || !bytes.Equal(out.Bytes(), good) {
		t.Errorf("patchTar changed a good archive: %v, %v", changed, err)
	}
	bad[len(bad)/2] ^= 0xff
	if _, err := patchTar(bytes.NewReader(tarOf(t, [2][]byte{[]byte(".MTREE"), bad})), io.Discard); err == nil {
		t.Error("patchTar accepted a corrupt .MTREE")
	}
}

// TestArchStrictDeflate: a real Arch package's .MTREE has complete codes
// and bsdtar reads every file back.
func TestArchStrictDeflate(t *testing.T) {
	bsdtar := testenv.NeedTool(t, "bsdtar", "libarchive-tools")
	data, inputs := strictInputs(t, packaging.TypeArchZst)
	dec, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == ".MTREE" {
			found = true
			if err := flatecheck.CheckGzip(tr); err != nil {
				t.Errorf(".MTREE: %v", err)
			}
		}
	}
	if !found {
		t.Fatal("no .MTREE")
	}
	p := filepath.Join(t.TempDir(), "t.pkg.tar.zst")
	os.WriteFile(p, data, 0o600)
	for i, in := range inputs {
		b, err := testenv.Command(bsdtar, "-xOf", p, "opt/orbit/test/"+strconv.Itoa(i)).Output()
		if err != nil || !bytes.Equal(b, in.Data) {
			t.Errorf("%s: bsdtar -xO gave %d bytes (%v), want the %d packaged", in.Name, len(b), err, len(in.Data))
		}
	}
}
