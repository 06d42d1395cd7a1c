package macos

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// TestStrictDeflate: the Payload and Scripts gzip, the zlib TOC and every
// zlib member of a pkg carrying zero runs, a short pattern, random bytes,
// text and real PE files use complete Huffman codes only.
func TestStrictDeflate(t *testing.T) {
	l := testLayout(t, nil)
	dir := t.TempDir()
	l.Entries = append(l.Entries, packaging.Entry{Path: "/opt/orbit/test", Kind: packaging.KindDir, Mode: 0o755, Owner: "root", Group: "wheel"})
	for i, in := range testenv.DeflateInputs(t, 0) {
		p := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(p, in.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		l.Entries = append(l.Entries, packaging.Entry{Path: "/opt/orbit/test/" + strconv.Itoa(i), Kind: packaging.KindFile,
			Mode: 0o644, Owner: "root", Group: "wheel", Source: p})
	}
	pkg := build(t, l)
	x, err := xar.Open(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	if err := flatecheck.CheckZlib(x.StoredTOC()); err != nil {
		t.Errorf("TOC: %v", err)
	}
	checked := 0
	for _, e := range x.Files {
		var err error
		switch {
		case e.Path == "base.pkg/Payload" || e.Path == "base.pkg/Scripts":
			err = flatecheck.CheckGzip(x.Stored(e))
		case e.Encoding == "application/x-gzip": // xar's name for zlib
			err = flatecheck.CheckZlib(x.Stored(e))
		default:
			continue
		}
		checked++
		if err != nil {
			t.Errorf("%s: %v", e.Path, err)
		}
	}
	if checked < 4 {
		t.Errorf("checked %d compressed members, want Payload, Scripts, Bom and PackageInfo", checked)
	}
	if err := x.Verify(); err != nil {
		t.Fatal(err)
	}
}
