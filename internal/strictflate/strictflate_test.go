package strictflate

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"io"
	"sync"
	"testing"

	kflate "github.com/klauspost/compress/flate"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestChunks: MSZIP-style 32 KiB chunks, each with the previous one as
// dictionary, concatenated into one stream: every block passes the strict
// check and the stream inflates to the input; the size stays within a few
// bytes per re-encoded block of what klauspost alone writes.
func TestChunks(t *testing.T) {
	for _, in := range testenv.DeflateInputs(t, 4<<20) {
		t.Run(in.Name, func(t *testing.T) {
			var stream []byte
			var plain, fixed, bad int
			for off := 0; off < len(in.Data); off += WindowSize {
				end := min(off+WindowSize, len(in.Data))
				dict := in.Data[max(0, off-WindowSize):off]
				final := end == len(in.Data)
				before := len(stream)
				var err error
				if stream, err = Chunk(stream, in.Data[off:end], dict, 6, final); err != nil {
					t.Fatal(err)
				}
				raw := klauspost(t, in.Data[off:end], dict, final)
				plain += len(raw)
				fixed += len(stream) - before
				if flatecheck.CheckRaw(bytes.NewReader(closeStream(raw, final))) != nil {
					bad++
				}
			}
			if err := flatecheck.CheckRaw(bytes.NewReader(stream)); err != nil {
				t.Fatalf("CheckRaw: %v", err)
			}
			got, err := io.ReadAll(flate.NewReader(bytes.NewReader(stream)))
			if err != nil || !bytes.Equal(got, in.Data) {
				t.Fatalf("inflated %d bytes (%v), want the %d input bytes", len(got), err, len(in.Data))
			}
			if fixed > plain+16*bad {
				t.Errorf("%d bytes, klauspost alone %d: more than 16 bytes for each of the %d re-encoded chunks", fixed, plain, bad)
			}
			t.Logf("%d chunks with incomplete codes re-encoded; %d bytes, klauspost alone %d (%+d)", bad, fixed, plain, fixed-plain)
		})
	}
}

func klauspost(t *testing.T, data, dict []byte, final bool) []byte {
	var b bytes.Buffer
	w, err := kflate.NewWriterDict(&b, 6, dict)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if final {
		w.Close()
	} else {
		w.Flush()
	}
	return b.Bytes()
}

// closeStream makes a flushed run of blocks a complete stream for CheckRaw.
func closeStream(raw []byte, final bool) []byte {
	if final {
		return raw
	}
	return append(append([]byte(nil), raw...), 3, 0) // an empty final fixed block
}

// TestChunkDeterministic: pooled writers give the same bytes as fresh ones,
// also when called concurrently.
func TestChunkDeterministic(t *testing.T) {
	in := testenv.DeflateInputs(t, 256<<10)
	want := make([][]byte, len(in))
	for i, x := range in {
		var err error
		if want[i], err = Chunk(nil, x.Data[WindowSize:], x.Data[:WindowSize], 6, i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		for i, x := range in {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := Chunk([]byte("CK"), x.Data[WindowSize:], x.Data[:WindowSize], 6, i%2 == 0)
				if err != nil || !bytes.Equal(got[2:], want[i]) {
					t.Errorf("%s: concurrent Chunk gave other bytes (%v)", x.Name, err)
				}
			}()
		}
	}
	wg.Wait()
}

func TestZlibWriter(t *testing.T) {
	data := bytes.Repeat(testenv.DeflateInputs(t, 0)[3].Data, 10) // text, > 2 chunks
	for _, level := range []int{-1, 1, 6, 9} {
		for _, n := range []int{0, 10, ChunkSize, ChunkSize + 1, len(data)} {
			var b bytes.Buffer
			z := NewZlibWriter(&b, level)
			if _, err := z.Write(data[:n]); err != nil {
				t.Fatal(err)
			}
			if err := z.Close(); err != nil {
				t.Fatal(err)
			}
			if err := flatecheck.CheckZlib(bytes.NewReader(b.Bytes())); err != nil {
				t.Fatalf("level %d, %d bytes: CheckZlib: %v", level, n, err)
			}
			zr, err := zlib.NewReader(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatalf("level %d, %d bytes: %v", level, n, err)
			}
			got, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(got, data[:n]) {
				t.Fatalf("level %d, %d bytes: read %d, %v", level, n, len(got), err)
			}
		}
	}
}
