package gzseg

import (
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/pkgctl/pkgctl/internal/scratch"
)

// Segment is content compressed on its own: its first chunk has no preset
// dictionary and its last ends with a sync flush, so WriteSegment can put it
// into any stream at a chunk boundary. Installers of one matrix hold the
// same component files between their own small files: each file is
// compressed once, kept in a nameless temporary file, and spliced into
// every installer's stream. The bytes depend only on the content and level.
type Segment struct {
	f    *os.File
	comp int64  // compressed bytes in f
	CRC  uint32 // CRC-32 (IEEE) of the content
	Size int64  // content bytes
	tail []byte // the content's last WindowSize bytes
}

// NewSegment compresses what r holds at level, in parallel chunks.
func NewSegment(r io.Reader, level int) (*Segment, error) {
	f, err := scratch.File("", "segment")
	if err != nil {
		return nil, fmt.Errorf("gzseg: segment file: %w", err)
	}
	z, err := Resume(f, State{Level: level})
	if err != nil {
		scratch.Close(f)
		return nil, err
	}
	if _, err := io.Copy(z, r); err != nil {
		z.Checkpoint()
		scratch.Close(f)
		return nil, err
	}
	st, err := z.Checkpoint()
	if err != nil {
		scratch.Close(f)
		return nil, err
	}
	return &Segment{f: f, comp: st.Out, CRC: st.CRC, Size: st.Size, tail: st.Dict}, nil
}

// Close frees the segment's file.
func (s *Segment) Close() error { return scratch.Close(s.f) }

// WriteSegment ends the current chunk and puts s's compressed content in
// the stream, as if its content had been written (the CRC, size and
// dictionary of what follows carry on from it).
func (z *Writer) WriteSegment(s *Segment) error {
	if z.done {
		return fmt.Errorf("gzseg: write after Close")
	}
	if z.err != nil {
		return z.err
	}
	if s.Size == 0 {
		return nil
	}
	if len(z.buf) > 0 {
		z.submit(false)
	}
	done := make(chan struct{})
	close(done)
	z.queue <- &job{src: io.NewSectionReader(s.f, 0, s.comp), done: done}
	z.st.CRC = crc32Combine(z.st.CRC, s.CRC, s.Size)
	z.st.Size += s.Size
	z.st.Dict = append(make([]byte, 0, len(s.tail)), s.tail...)
	return nil
}

// crc32Combine returns the CRC-32 (IEEE) of A followed by B from the CRC of
// A, the CRC of B and B's length: appending len2 zero bits to A's CRC is a
// linear map over GF(2), applied by repeated squaring of the one-zero-bit
// operator.
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	if len2 <= 0 {
		return crc1
	}
	var even, odd [32]uint32
	odd[0] = crc32.IEEE // the operator for one zero bit
	for n, row := 1, uint32(1); n < 32; n, row = n+1, row<<1 {
		odd[n] = row
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // one zero byte, then 4, 16, ... (the next power)
		if len2&1 != 0 {
			crc1 = gf2Times(&even, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
		gf2Square(&odd, &even)
		if len2&1 != 0 {
			crc1 = gf2Times(&odd, crc1)
		}
		if len2 >>= 1; len2 == 0 {
			break
		}
	}
	return crc1 ^ crc2
}

func gf2Times(mat *[32]uint32, vec uint32) uint32 {
	var sum uint32
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

func gf2Square(square, mat *[32]uint32) {
	for n := range 32 {
		square[n] = gf2Times(mat, mat[n])
	}
}
