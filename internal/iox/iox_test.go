package iox

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestCounting(t *testing.T) {
	for _, s := range []string{"", "a", strings.Repeat("x", 100000)} {
		var buf bytes.Buffer
		w := &CountingWriter{W: &buf}
		r := &CountingReader{R: strings.NewReader(s)}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
		if w.N != int64(len(s)) || r.N != int64(len(s)) || buf.String() != s {
			t.Errorf("len %d: wrote %d, read %d", len(s), w.N, r.N)
		}
	}
}
