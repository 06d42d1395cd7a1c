package bom_test

import (
	"bytes"
	"testing"

	"github.com/pkgctl/pkgctl/packaging/macos/bom"
)

// FuzzRead: arbitrary input never panics.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	bom.Write(&buf, []bom.Entry{
		{Path: ".", Mode: 0o40755},
		{Path: "./a", Mode: 0o100644, Size: 3, Checksum: 1},
		{Path: "./l", Mode: 0o120755, Linkname: "a"},
	})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		bom.Read(bytes.NewReader(b), int64(len(b)))
	})
}
