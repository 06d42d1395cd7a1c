// Package strictflate writes deflate chunks and zlib streams whose every
// dynamic block has complete Huffman codes, as strict decoders (libmspack,
// Windows' inflate) require. klauspost/compress/flate compresses (it has no
// option against its one-bit single distance code); flatecheck.Fix then
// re-encodes the few blocks whose codes are not complete, which changes only
// their headers.
//
// Streams are cut into chunks of ChunkSize input bytes, each compressed by
// Chunk with the 32 KiB before it as preset dictionary and ended by a sync
// flush, so chunks can be compressed in any order or in parallel and give
// the same bytes.
package strictflate

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
)

// ChunkSize is the input size of each chunk of the zlib writer and of
// internal/gzseg's gzip members.
const ChunkSize = 1 << 20

// WindowSize is the deflate window: the most of the previous data a chunk
// can refer to, and so the longest useful dictionary.
const WindowSize = 32 << 10

type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// pools holds *flate.Writer by level (index level+2, for -2..9).
var pools [12]sync.Pool

// getWriter returns a pooled flate writer at level (flate's levels: -2..9)
// writing to out, with dict (its last WindowSize bytes) as preset
// dictionary.
func getWriter(out io.Writer, level int, dict []byte) (*flate.Writer, error) {
	if level < -2 || level > 9 {
		return nil, fmt.Errorf("deflate level %d out of range -2..9", level)
	}
	if len(dict) > WindowSize {
		dict = dict[len(dict)-WindowSize:]
	}
	if fw, _ := pools[level+2].Get().(*flate.Writer); fw != nil {
		fw.ResetDict(out, dict)
		return fw, nil
	}
	return flate.NewWriterDict(out, level, dict)
}

// putWriter returns fw, of level, to its pool.
func putWriter(fw *flate.Writer, level int) {
	fw.Reset(nil) // drop the reference to the output
	pools[level+2].Put(fw)
}

// Chunk appends to dst data compressed at level (flate's levels: 1..9,
// -1 default, -2 Huffman only, 0 stored) as deflate blocks that may refer
// to dict, the data before it (only its last WindowSize bytes matter).
// With final the blocks end the stream; otherwise they end with a sync
// flush, on a byte boundary, and more blocks may follow. Every block has
// complete codes. The same arguments give the same bytes; Chunk is safe for
// concurrent use.
func Chunk(dst, data, dict []byte, level int, final bool) ([]byte, error) {
	start := len(dst)
	out := &appender{b: dst}
	fw, err := getWriter(out, level, dict)
	if err != nil {
		return dst, err
	}
	if _, err := fw.Write(data); err != nil {
		return dst, err
	}
	if final {
		err = fw.Close()
	} else {
		err = fw.Flush()
	}
	if err != nil {
		return dst, err
	}
	putWriter(fw, level)
	raw := out.b[start:]
	fixed, err := flatecheck.Fix(raw)
	if err != nil {
		return dst, fmt.Errorf("re-encode deflate blocks: %w", err)
	}
	if len(fixed) != len(raw) || &fixed[0] != &raw[0] {
		return append(out.b[:start], fixed...), nil
	}
	return out.b, nil
}

// Pieces compresses data as one deflate stream that continues dict (the
// data before it), cut by a sync flush after every pieceSize input bytes,
// and hands each piece to emit, in order, as a complete stream (its last
// block final, every code complete: flatecheck.FixFinal) with the number of
// input bytes it holds. Decoders that keep their window from one piece to
// the next (MSZIP) read the pieces in turn; the dictionary is hashed once
// per call, not once per piece. Safe for concurrent use; the same arguments
// give the same pieces.
func Pieces(data, dict []byte, pieceSize, level int, emit func(comp []byte, plain int) error) error {
	out := &appender{b: make([]byte, 0, pieceSize+pieceSize/16+64)}
	fw, err := getWriter(out, level, dict)
	if err != nil {
		return err
	}
	defer putWriter(fw, level)
	for len(data) > 0 {
		n := min(pieceSize, len(data))
		out.b = out.b[:0]
		if _, err := fw.Write(data[:n]); err != nil {
			return err
		}
		if err := fw.Flush(); err != nil {
			return err
		}
		piece, err := flatecheck.FixFinal(out.b)
		if err != nil {
			return fmt.Errorf("re-encode deflate blocks: %w", err)
		}
		if err := emit(piece, n); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}
