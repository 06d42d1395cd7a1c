package flatecheck_test

import (
	"bytes"
	"os"
	"testing"

	kflate "github.com/klauspost/compress/flate"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// BenchmarkWalk measures the strict check over klauspost's output for
// Wine's shell32.dll (bytes/s of uncompressed data).
func BenchmarkWalk(b *testing.B) {
	pe, err := os.ReadFile(testenv.DebianFile(b, "libwine", "x86_64-windows/shell32.dll"))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := kflate.NewWriter(&buf, 6)
	w.Write(pe)
	w.Close()
	b.SetBytes(int64(len(pe)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := flatecheck.Walk(bytes.NewReader(buf.Bytes()), func(flatecheck.Block) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
