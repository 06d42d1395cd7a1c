package flatecheck

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/flate"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// The in-memory fast decoder sees the same blocks as the general one:
// offsets, lengths, sizes and verdicts, on every test input, whole and
// truncated (where both must fail).
func TestFastPathSameBlocks(t *testing.T) {
	type seen struct {
		Block
		bits int64
		err  string
	}
	blocks := func(br bitReader) ([]seen, error) {
		var out []seen
		_, err := walk(&br, false, true, func(b *block) error {
			s := seen{b.Block, b.Bits, ""}
			if b.Err != nil {
				s.err, s.Err = b.Err.Error(), nil
			}
			out = append(out, s)
			return nil
		})
		return out, err
	}
	for _, in := range testenv.DeflateInputs(t, 1<<20) {
		for _, level := range []int{1, 5, 6, 9} {
			var buf bytes.Buffer
			fw, _ := flate.NewWriter(&buf, level)
			fw.Write(in.Data)
			fw.Flush()
			raw := buf.Bytes()
			for _, n := range []int{len(raw), len(raw) / 2, 7} {
				fast, ferr := blocks(bitReader{src: raw[:n]})
				slow, serr := blocks(bitReader{r: bytes.NewReader(raw[:n])})
				if (ferr == nil) != (serr == nil) || len(fast) != len(slow) {
					t.Fatalf("%s level %d, %d bytes: fast %d blocks (%v), general %d blocks (%v)", in.Name, level, n, len(fast), ferr, len(slow), serr)
				}
				for i := range fast {
					if fast[i] != slow[i] {
						t.Fatalf("%s level %d: block %d: fast %+v, general %+v", in.Name, level, i, fast[i], slow[i])
					}
				}
			}
		}
	}
}
