package gzseg

import (
	"bytes"
	"compress/gzip"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
)

func TestCRC32Combine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {3, 5}, {1000, 1 << 20}, {70000, 3}} {
		a, b := make([]byte, n[0]), make([]byte, n[1])
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		want := crc32.ChecksumIEEE(append(bytes.Clone(a), b...))
		if got := crc32Combine(crc32.ChecksumIEEE(a), crc32.ChecksumIEEE(b), int64(len(b))); got != want {
			t.Errorf("%v: combined %08x, want %08x", n, got, want)
		}
	}
}

// TestWriteSegment: a stream of own bytes and shared segments decodes to
// its content (CRC and size included), its deflate blocks are strict, and
// a segment reused by a second stream gives that stream the same bytes as a
// segment compressed for it.
func TestWriteSegment(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	big := bytes.Repeat([]byte("component bytes, much the same "), 100000)
	for i := 0; i < len(big); i += 97 {
		big[i] = byte(r.Uint32())
	}
	small := []byte("team-specific file: secret and URL\n")
	seg, err := NewSegment(bytes.NewReader(big), 6)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	build := func(s *Segment) []byte {
		var out bytes.Buffer
		z, err := NewWriter(&out, 6, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		z.Write(small)
		if err := z.WriteSegment(s); err != nil {
			t.Fatal(err)
		}
		z.Write(small)
		z.WriteSegment(s)
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	got := build(seg)
	want := append(append(append(bytes.Clone(small), big...), small...), big...)
	zr, err := gzip.NewReader(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, want) {
		t.Fatalf("decodes to %d bytes (err %v), want %d", len(plain), err, len(want))
	}
	if err := flatecheck.CheckGzip(bytes.NewReader(got)); err != nil {
		t.Errorf("strict check: %v", err)
	}
	again, err := NewSegment(bytes.NewReader(big), 6)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if !bytes.Equal(build(again), got) {
		t.Error("a segment compressed again gives other bytes")
	}
}
