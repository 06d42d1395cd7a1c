package bom_test

import (
	"bytes"
	"compress/gzip"
	"github.com/pkgctl/pkgctl/packaging/macos/cpio"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/packaging/macos/bom"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// appleFixtures is the directory of the real Apple-built packages, kept in
// the repository's testdata/apple-pkg.
func appleFixtures(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "testdata", "apple-pkg")
	if _, err := os.Stat(filepath.Join(dir, "XZ.pkg")); err != nil {
		t.Fatalf("Apple fixtures not found (testdata/apple-pkg at the repository root): %v", err)
	}
	return dir
}

// extractBom returns the Bom member of the package at path, read and checked
// with our xar reader.
func extractBom(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	x, err := xar.Open(f, st.Size())
	if err != nil {
		t.Fatalf("xar.Open %s: %v", path, err)
	}
	var boms []string
	for _, e := range x.Files {
		if strings.HasSuffix(e.Path, ".pkg/Bom") {
			boms = append(boms, e.Path)
		}
	}
	if len(boms) != 1 {
		t.Fatalf("%s: want one component Bom, found %q", path, boms)
	}
	b, err := x.ReadFile(boms[0])
	if err != nil {
		t.Fatalf("%s: %v", boms[0], err)
	}
	return b
}

func TestAppleBomsListLikeLsbom(t *testing.T) {
	dir := appleFixtures(t)
	for _, tc := range []struct{ pkg string }{{"XZ.pkg"}, {"Product-signed.pkg"}} {
		t.Run(tc.pkg, func(t *testing.T) {
			data := extractBom(t, filepath.Join(dir, tc.pkg))
			entries, err := bom.Read(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, tc.pkg+".lsbom.txt"))
			if err != nil {
				t.Fatal(err)
			}
			t.Run("apple", func(t *testing.T) { compareListing(t, entries, string(want)) })
			// Our writer, given Apple's entries in reverse, must order them as Apple did.
			rev := append([]bom.Entry(nil), entries...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			var ours bytes.Buffer
			if err := bom.Write(&ours, rev); err != nil {
				t.Fatal(err)
			}
			again, err := bom.Read(bytes.NewReader(ours.Bytes()), int64(ours.Len()))
			if err != nil {
				t.Fatal(err)
			}
			t.Run("rewritten", func(t *testing.T) { compareListing(t, again, string(want)) })
		})
	}
}

func compareListing(t *testing.T, entries []bom.Entry, want string) {
	t.Helper()
	var got bytes.Buffer
	if err := bom.Lsbom(&got, entries); err != nil {
		t.Fatal(err)
	}
	{
		{
			gl, wl := strings.Split(got.String(), "\n"), strings.Split(want, "\n")
			for i := 0; i < len(gl) || i < len(wl); i++ {
				var g, w string
				if i < len(gl) {
					g = gl[i]
				}
				if i < len(wl) {
					w = wl[i]
				}
				if g != w {
					t.Errorf("line %d:\n got %q\nwant %q", i+1, g, w)
				}
			}
		}
	}
}

// TestApplePayloadsMatchTheirBoms reads each Apple package's Payload
// (gzip + cpio odc) with our readers and checks it against its Bom: the
// same paths, modes, owners, sizes and cksum CRCs.
func TestApplePayloadsMatchTheirBoms(t *testing.T) {
	dir := appleFixtures(t)
	for _, pkg := range []string{"XZ.pkg", "Product-signed.pkg"} {
		t.Run(pkg, func(t *testing.T) {
			x, f := openXar(t, filepath.Join(dir, pkg))
			defer f.Close()
			comp := ""
			for _, e := range x.Files {
				if strings.HasSuffix(e.Path, ".pkg/Payload") {
					comp = strings.TrimSuffix(e.Path, "Payload")
				}
			}
			bomData, err := x.ReadFile(comp + "Bom")
			if err != nil {
				t.Fatal(err)
			}
			entries, err := bom.Read(bytes.NewReader(bomData), int64(len(bomData)))
			if err != nil {
				t.Fatal(err)
			}
			byPath := map[string]bom.Entry{}
			for _, e := range entries {
				byPath[e.Path] = e
			}
			pr, err := x.Open(x.File(comp + "Payload"))
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(pr)
			if err != nil {
				t.Fatal(err)
			}
			cr := cpio.NewReader(zr)
			seen := 0
			for {
				h, err := cr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				seen++
				want, ok := byPath[h.Name]
				if !ok {
					t.Errorf("payload member %s is not in the Bom", h.Name)
					continue
				}
				got := bom.Entry{Path: h.Name, Kind: want.Kind, Mode: uint16(cpio.UnixMode(h.Mode)), UID: uint32(h.UID), GID: uint32(h.GID), ModTime: want.ModTime}
				switch {
				case h.Mode.IsRegular():
					crc, size, err := bom.Cksum(cr)
					if err != nil {
						t.Fatal(err)
					}
					got.Size, got.Checksum = uint32(size), crc
				case h.Mode&fs.ModeSymlink != 0:
					crc, _, _ := bom.Cksum(strings.NewReader(h.Linkname))
					got.Size, got.Checksum, got.Linkname = uint32(len(h.Linkname)), crc, h.Linkname
				default:
					got.Size = want.Size // a directory's Bom size is its st_size
				}
				if h.Name == "." && want.Mode == 0 {
					got.Mode = 0 // Product-signed.pkg's Bom records the root with mode 0
				}
				if got != want {
					t.Errorf("%s:\npayload %+v\n    bom %+v", h.Name, got, want)
				}
			}
			if seen != len(entries) {
				t.Errorf("payload has %d members, Bom %d entries", seen, len(entries))
			}
		})
	}
}

func openXar(t *testing.T, path string) (*xar.Reader, *os.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	x, err := xar.Open(f, st.Size())
	if err != nil {
		t.Fatalf("xar.Open %s: %v", path, err)
	}
	return x, f
}
