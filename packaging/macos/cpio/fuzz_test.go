package cpio_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/pkgctl/pkgctl/packaging/macos/cpio"
)

// FuzzReader: arbitrary input never panics and never loops.
func FuzzReader(f *testing.F) {
	var buf bytes.Buffer
	w := cpio.NewWriter(&buf)
	w.WriteHeader(&cpio.Header{Name: ".", Mode: 0o755 | 1<<31})
	w.WriteHeader(&cpio.Header{Name: "./a", Mode: 0o644, Size: 3})
	w.Write([]byte("abc"))
	w.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r := cpio.NewReader(bytes.NewReader(b))
		for range 1000 {
			if _, err := r.Next(); err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
		}
	})
}
