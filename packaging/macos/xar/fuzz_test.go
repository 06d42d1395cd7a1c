package xar_test

import (
	"bytes"
	"testing"

	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// FuzzOpen: arbitrary input never panics, in Open or in reading members.
func FuzzOpen(f *testing.F) {
	var buf bytes.Buffer
	xar.Write(&buf, []xar.File{
		{Name: "a/b", Open: xar.Bytes([]byte("hello")), Compress: true},
		{Name: "c", Open: xar.Bytes([]byte("world"))},
	}, xar.Options{})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := xar.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		x.Verify()
		x.VerifySignature(nil)
	})
}
