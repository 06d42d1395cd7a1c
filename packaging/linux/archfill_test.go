package linux

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/goreleaser/nfpm/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
)

// TestWriteArchFill: the Arch package pkgctl writes from empty files holds,
// entry for entry, what nfpm writes from the files themselves (.PKGINFO and
// the .MTREE text included: sizes and digests), and its .MTREE has strict
// deflate blocks; a file that changes size during the build is an error.
func TestWriteArchFill(t *testing.T) {
	info, empty := fillFixture(t)
	np, err := nfpm.Get("archlinux")
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := np.Package(info(), &want); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := writeArch(context.Background(), np, info(), &got, empty); err != nil {
		t.Fatal(err)
	}
	g, w := archEntries(t, got.Bytes()), archEntries(t, want.Bytes())
	if len(g) != len(w) {
		t.Fatalf("%d entries, nfpm's package has %d", len(g), len(w))
	}
	for i := range w {
		if g[i].name != w[i].name || !bytes.Equal(g[i].body, w[i].body) {
			t.Errorf("entry %d: %s (%d bytes), nfpm's: %s (%d bytes)", i, g[i].name, len(g[i].body), w[i].name, len(w[i].body))
		}
		if g[i].name == ".MTREE" {
			if err := flatecheck.CheckGzip(bytes.NewReader(g[i].raw)); err != nil {
				t.Errorf(".MTREE: %v", err)
			}
		}
	}

	changed := info()
	changed.Contents[1].FileInfo.Size = 11
	if err := writeArch(context.Background(), np, changed, io.Discard, empty); err == nil {
		t.Error("a file whose size changed during the build: no error")
	}
}

type archEntry struct {
	name      string
	body, raw []byte // raw: as stored (.MTREE is gzipped; body is its text)
}

// archEntries lists a package's tar entries, .MTREE decompressed.
func archEntries(t *testing.T, pkg []byte) []archEntry {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(pkg))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []archEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		e := archEntry{name: hdr.Name, body: raw, raw: raw}
		if hdr.Name == ".MTREE" {
			gz, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if e.body, err = io.ReadAll(gz); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, e)
	}
}
