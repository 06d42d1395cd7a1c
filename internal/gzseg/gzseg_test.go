package gzseg

import (
	"bytes"
	"compress/gzip"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// input is every deflate test input, concatenated: more than a few chunks.
func input(t *testing.T) []byte {
	var all []byte
	for _, in := range testenv.DeflateInputs(t, 2<<20) {
		all = append(all, in.Data...)
	}
	return all
}

func compress(t *testing.T, level int, parts ...[]byte) []byte {
	t.Helper()
	var out bytes.Buffer
	z, err := NewWriter(&out, level, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if _, err := z.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func checkGzip(t *testing.T, gz, want []byte) {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	r.Multistream(false)
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("gunzip gives %d bytes, want the %d written", len(got), len(want))
	}
	if r.Header.ModTime.Unix() != 1700000000 {
		t.Errorf("MTIME %v", r.Header.ModTime)
	}
	if err := flatecheck.CheckGzip(bytes.NewReader(gz)); err != nil {
		t.Fatalf("strict check: %v", err)
	}
}

func TestRoundTripStrict(t *testing.T) {
	data := input(t)
	for _, level := range []int{1, 5, 6, 9} {
		checkGzip(t, compress(t, level, data), data)
	}
	checkGzip(t, compress(t, 6), nil)
}

// The bytes must not depend on how many cores compress the chunks.
func TestSameBytesWhateverGOMAXPROCS(t *testing.T) {
	data := input(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var ref []byte
	for _, procs := range []int{1, 2, 5} {
		runtime.GOMAXPROCS(procs)
		got := compress(t, 6, data[:1000], data[1000:]) // writes not on chunk boundaries
		if ref == nil {
			ref = got
		} else if !bytes.Equal(got, ref) {
			t.Fatalf("GOMAXPROCS=%d: different bytes (%d vs %d)", procs, len(got), len(ref))
		}
	}
}

// Files resumed from one checkpoint after a copy of the prefix are valid
// gzip files of the prefix's input and their own; the same rest gives the
// same bytes; the checkpointed Writer takes no more input, and no goroutine
// is left behind.
func TestCheckpointResume(t *testing.T) {
	data := input(t)
	a, b := data[:len(data)/3+7], data[len(data)/3+7:]
	goroutines := runtime.NumGoroutine()

	var pre bytes.Buffer
	z, err := NewWriter(&pre, 6, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	z.Write(a)
	st, err := z.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if st.Out != int64(pre.Len()) || st.Size != int64(len(a)) {
		t.Fatalf("checkpoint state Out %d Size %d; wrote %d bytes of output, %d of input", st.Out, st.Size, pre.Len(), len(a))
	}
	if _, err := z.Write(b); err == nil {
		t.Error("Write after Checkpoint accepted")
	}
	var first []byte
	for _, rest := range [][]byte{b, b, []byte("another team")} {
		out := bytes.NewBuffer(bytes.Clone(pre.Bytes()))
		r, err := Resume(out, st)
		if err != nil {
			t.Fatal(err)
		}
		r.Write(rest)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		checkGzip(t, out.Bytes(), append(bytes.Clone(a), rest...))
		if first == nil {
			first = out.Bytes()
		} else if bytes.Equal(rest, b) && !bytes.Equal(out.Bytes(), first) {
			t.Fatal("the same rest resumed twice gives different bytes")
		}
	}
	time.Sleep(10 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines left behind", n-goroutines)
	}
}
