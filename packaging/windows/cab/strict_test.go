package cab

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestStrictDecoders: every MSZIP block of cabinets of zero runs, a short
// pattern, random bytes, text and real PE files uses complete Huffman
// codes only, and libmspack (cabextract -t), which refuses anything else,
// reads the cabinet.
func TestStrictDecoders(t *testing.T) {
	cabextract := testenv.NeedTool(t, "cabextract", "cabextract")
	var files []testFile
	for _, in := range testenv.DeflateInputs(t, 0) {
		files = append(files, testFile{strings.NewReplacer(" ", "_", "+", "_").Replace(in.Name), in.Data})
	}
	data := buildCab(t, files, Options{ModTime: testTime})
	c, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	c.Strict = true
	got, err := c.ReadAll()
	if err != nil {
		t.Fatalf("strict read: %v", err)
	}
	for _, f := range files {
		if !bytes.Equal(got[f.name], f.data) {
			t.Errorf("%s: read %d bytes, want the %d written", f.name, len(got[f.name]), len(f.data))
		}
	}
	path := filepath.Join(t.TempDir(), "t.cab")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := testenv.Command(cabextract, "-t", path).CombinedOutput(); err != nil {
		t.Fatalf("cabextract -t: %v\n%s", err, out)
	}
}
