package flatecheck_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestZlibAndGzipPass: the checker is not stricter than zlib's and GNU
// gzip's own writers, which always send at least two codes per tree, at
// every level and strategy.
func TestZlibAndGzipPass(t *testing.T) {
	python := testenv.NeedTool(t, "python3", "python3")
	gzip := testenv.NeedTool(t, "gzip", "gzip")
	dir := t.TempDir()
	for _, in := range testenv.DeflateInputs(t, 256<<10) {
		src := filepath.Join(dir, "in")
		if err := os.WriteFile(src, in.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		// zlib: raw deflate (wbits -15), levels 1, 6, 9 with each strategy.
		out, err := exec.Command(python, "-c", `
import sys, zlib
data = open(sys.argv[1], "rb").read()
for level in (1, 6, 9):
    for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FILTERED, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE):
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
        raw = c.compress(data) + c.flush()
        open("%s.%d.%d" % (sys.argv[1], level, strategy), "wb").write(raw)
`, src).CombinedOutput()
		if err != nil {
			t.Fatalf("python3 zlib: %v\n%s", err, out)
		}
		streams, _ := filepath.Glob(src + ".*")
		if len(streams) != 12 {
			t.Fatalf("zlib wrote %d streams, want 12", len(streams))
		}
		for _, s := range streams {
			b, err := os.ReadFile(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := flatecheck.CheckRaw(bytes.NewReader(b)); err != nil {
				t.Errorf("%s, zlib %s: %v", in.Name, filepath.Ext(s), err)
			}
			os.Remove(s)
		}
		for _, level := range []string{"-1", "-6", "-9"} {
			gz, err := exec.Command(gzip, "-c", "-n", level, src).Output()
			if err != nil {
				t.Fatalf("gzip: %v", err)
			}
			if err := flatecheck.CheckGzip(bytes.NewReader(gz)); err != nil {
				t.Errorf("%s, gzip %s: %v", in.Name, level, err)
			}
		}
	}
}
