package flatecheck_test

import (
	"bytes"
	stdflate "compress/flate"
	stdgzip "compress/gzip"
	"io"
	"testing"

	kflate "github.com/klauspost/compress/flate"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

type compressor struct {
	name string
	new  func(io.Writer) (io.WriteCloser, error)
}

var compressors = []compressor{
	{"klauspost -6", func(w io.Writer) (io.WriteCloser, error) { return kflate.NewWriter(w, 6) }},
	{"klauspost -9", func(w io.Writer) (io.WriteCloser, error) { return kflate.NewWriter(w, 9) }},
	{"klauspost -1", func(w io.Writer) (io.WriteCloser, error) { return kflate.NewWriter(w, 1) }},
	{"klauspost huffman-only", func(w io.Writer) (io.WriteCloser, error) { return kflate.NewWriter(w, kflate.HuffmanOnly) }},
	{"compress/flate -6", func(w io.Writer) (io.WriteCloser, error) { return stdflate.NewWriter(w, 6) }},
}

func compress(t *testing.T, c compressor, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := c.new(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFixLibraryOutput: what Go's deflate writers produce for ordinary data
// passes the strict check once fixed, and still inflates to the input.
func TestFixLibraryOutput(t *testing.T) {
	for _, in := range testenv.DeflateInputs(t, 1<<20) {
		for _, c := range compressors {
			t.Run(in.Name+"/"+c.name, func(t *testing.T) {
				raw := compress(t, c, in.Data)
				blocks, bad := 0, 0
				if err := flatecheck.Walk(bytes.NewReader(raw), func(b flatecheck.Block) error {
					blocks++
					if b.Err != nil {
						bad++
					}
					return nil
				}); err != nil {
					t.Fatalf("Walk: %v", err)
				}
				fixed, err := flatecheck.Fix(raw)
				if err != nil {
					t.Fatalf("Fix: %v", err)
				}
				if err := flatecheck.CheckRaw(bytes.NewReader(fixed)); err != nil {
					t.Fatalf("CheckRaw after Fix: %v", err)
				}
				if bad == 0 && !bytes.Equal(fixed, raw) {
					t.Fatal("Fix changed a stream with complete codes")
				}
				got, err := io.ReadAll(stdflate.NewReader(bytes.NewReader(fixed)))
				if err != nil || !bytes.Equal(got, in.Data) {
					t.Fatalf("fixed stream inflates to %d bytes (%v), want the %d input bytes", len(got), err, len(in.Data))
				}
				t.Logf("%d of %d blocks refused; %d → %d bytes", bad, blocks, len(raw), len(fixed))
			})
		}
	}
}

func TestFixGzip(t *testing.T) {
	var buf bytes.Buffer
	for _, in := range [][]byte{make([]byte, 100000), []byte("hello, hello, hello")} {
		zw := stdgzip.NewWriter(&buf) // two members
		zw.Name = "x"
		zw.Write(in)
		zw.Close()
	}
	src := buf.Bytes()
	if err := flatecheck.CheckGzip(bytes.NewReader(src)); err == nil {
		t.Log("compress/gzip wrote complete codes for zeros")
	}
	fixed, err := flatecheck.FixGzip(src)
	if err != nil {
		t.Fatalf("FixGzip: %v", err)
	}
	if err := flatecheck.CheckGzip(bytes.NewReader(fixed)); err != nil {
		t.Fatalf("CheckGzip after FixGzip: %v", err)
	}
	zr, err := stdgzip.NewReader(bytes.NewReader(fixed))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || len(got) != 100000+19 {
		t.Fatalf("fixed gzip reads %d bytes, %v", len(got), err)
	}
}

// TestFixFinal cuts one klauspost stream into sync-flushed pieces, as the
// cabinet writer does for MSZIP: each piece, after FixFinal, must be a
// complete stream the strict checker accepts that decodes, with the pieces
// before it as dictionary, to exactly its input; and zeros (whose blocks
// have a one-code distance tree) must take the re-encoding path.
func TestFixFinal(t *testing.T) {
	text := bytes.Repeat([]byte("pkgctl builds installers; orbit reads them. "), 3000)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"text", text},
		{"zeros", make([]byte, 200_000)},
		{"mixed", append(append(bytes.Clone(text[:50_000]), make([]byte, 70_000)...), text...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			fw, _ := kflate.NewWriter(&out, 6)
			var history []byte
			reencoded := false
			for off := 0; off < len(tc.data); off += 32 << 10 {
				piece := tc.data[off:min(off+32<<10, len(tc.data))]
				out.Reset()
				fw.Write(piece)
				fw.Flush()
				raw := bytes.Clone(out.Bytes())
				plain, _ := flatecheck.Fix(raw)
				reencoded = reencoded || !bytes.Equal(plain, raw)
				got, err := flatecheck.FixFinal(raw)
				if err != nil {
					t.Fatal(err)
				}
				if err := flatecheck.CheckRaw(bytes.NewReader(got)); err != nil {
					t.Fatalf("piece at %d: %v", off, err)
				}
				dec, err := io.ReadAll(stdflate.NewReaderDict(bytes.NewReader(got), history[max(0, len(history)-32<<10):]))
				if err != nil || !bytes.Equal(dec, piece) {
					t.Fatalf("piece at %d decodes to %d bytes (err %v), want its %d", off, len(dec), err, len(piece))
				}
				history = append(history, piece...)
			}
			if tc.name == "zeros" && !reencoded {
				t.Error("no piece of zeros needed re-encoding: the re-encode path is not tested")
			}
		})
	}
}
