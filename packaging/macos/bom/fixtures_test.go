package bom_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/packaging/macos/bom"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// appleFixtures is the directory of the real Apple-built packages: the
// project's shared fixtures beside the repository (PKGCTL_APPLE_FIXTURES
// overrides it).
func appleFixtures(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PKGCTL_APPLE_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "fixtures", "apple-pkg")
	}
	if _, err := os.Stat(filepath.Join(dir, "XZ.pkg")); err != nil {
		t.Fatalf("Apple fixtures not found (set PKGCTL_APPLE_FIXTURES to the apple-pkg directory): %v", err)
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
			var got bytes.Buffer
			if err := bom.Lsbom(&got, entries); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, tc.pkg+".lsbom.txt"))
			if err != nil {
				t.Fatal(err)
			}
			gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
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
		})
	}
}
