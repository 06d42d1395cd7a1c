package xar_test

import (
	"context"
	"crypto/sha1"
	"os"
	"path/filepath"
	"testing"

	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// payloadFile writes n bytes of incompressible-looking data to a file
// without holding them in memory.
func payloadFile(b *testing.B, n int64) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "Payload")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	h := sha1.New()
	for w := int64(0); w < n; w += int64(len(chunk)) {
		h.Write(chunk[:8]) // a cheap changing pattern
		copy(chunk, h.Sum(nil))
		if _, err := f.Write(chunk[:min(int64(len(chunk)), n-w)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkWriteAndSign150MB archives a 150 MB Payload (hashing pass, then
// copy) and signs the result in place. Run with /usr/bin/time -v to see that
// peak RSS does not grow with the payload.
func BenchmarkWriteAndSign150MB(b *testing.B) {
	const size = 150 << 20
	src := payloadFile(b, size)
	out := filepath.Join(b.TempDir(), "out.pkg")
	var id *identity
	b.SetBytes(size)
	for b.Loop() {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		err = xar.Write(f, []xar.File{
			{Name: "Distribution", Open: xar.Bytes([]byte("<installer-gui-script/>"))},
			{Name: "base.pkg/Payload", Open: xar.Path(src)},
		}, xar.Options{CreationTime: epoch})
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		if os.Getenv("XAR_BENCH_SIGN") != "" {
			if id == nil {
				b.StopTimer()
				id = newIdentity(b)
				b.StartTimer()
			}
			if err := xar.Sign(context.Background(), out, id.chain, id.key, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}
