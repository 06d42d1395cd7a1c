package inspect

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen feeds damaged installers to every reader: Open and Verify may
// refuse them but must not panic or hang.
func FuzzOpen(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "apple-pkg", "Product-signed.pkg")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"))
	f.Add([]byte{0xed, 0xab, 0xee, 0xdb, 3, 0})
	f.Add([]byte{0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0})
	f.Add([]byte("xar!\x00\x1c\x00\x01"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "in")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if r, err := Open(p, Options{}); err == nil {
			Verify(r, VerifyOptions{})
		}
	})
}
