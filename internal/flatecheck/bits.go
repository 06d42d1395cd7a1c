package flatecheck

import (
	"errors"
	"io"
)

var errTruncated = errors.New("stream ends inside a block")

// bitReader reads a deflate bit stream (least significant bit first) one
// byte at a time, so nothing past the last bit asked for is taken from r
// beyond what peek needed; pos counts the bits consumed.
type bitReader struct {
	r   io.ByteReader
	buf uint64
	n   uint  // valid bits in buf
	pos int64 // bits consumed from the stream
	eof bool
}

// fill tops buf up to at least want bits, or as many as the stream has.
func (b *bitReader) fill(want uint) error {
	for b.n < want && !b.eof {
		c, err := b.r.ReadByte()
		if err == io.EOF {
			b.eof = true
			break
		}
		if err != nil {
			return err
		}
		b.buf |= uint64(c) << b.n
		b.n += 8
	}
	return nil
}

// bits consumes n (≤ 32) bits.
func (b *bitReader) bits(n uint) (uint32, error) {
	if err := b.fill(n); err != nil {
		return 0, err
	}
	if b.n < n {
		return 0, errTruncated
	}
	v := uint32(b.buf & (1<<n - 1))
	b.buf >>= n
	b.n -= n
	b.pos += int64(n)
	return v, nil
}

// peek returns up to n bits without consuming them, and how many are valid.
func (b *bitReader) peek(n uint) (uint32, uint, error) {
	if err := b.fill(n); err != nil {
		return 0, 0, err
	}
	return uint32(b.buf & (1<<n - 1)), min(n, b.n), nil
}

func (b *bitReader) drop(n uint) {
	b.buf >>= n
	b.n -= n
	b.pos += int64(n)
}

// align drops the bits left in the current byte.
func (b *bitReader) align() {
	b.drop(uint(-b.pos) & 7)
}

// atEnd reports whether every byte of the stream has been consumed.
func (b *bitReader) atEnd() (bool, error) {
	if err := b.fill(1); err != nil {
		return false, err
	}
	return b.n == 0, nil
}

// bitWriter packs bits least significant first into out.
type bitWriter struct {
	out []byte
	acc uint64
	n   uint
}

// put appends the low n (≤ 32) bits of v.
func (w *bitWriter) put(v uint32, n uint) {
	w.acc |= uint64(v&(1<<n-1)) << w.n
	w.n += n
	for w.n >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// align pads with zero bits to a byte boundary.
func (w *bitWriter) align() {
	if w.n > 0 {
		w.put(0, 8-w.n)
	}
}

// copyBits appends bits [from, to) of src.
func (w *bitWriter) copyBits(src []byte, from, to int64) {
	for from < to {
		i, sh := from>>3, uint(from&7)
		var v uint64
		for k := int64(0); k < 5 && i+k < int64(len(src)); k++ {
			v |= uint64(src[i+k]) << (8 * k)
		}
		n := uint(min(to-from, 32))
		w.put(uint32(v>>sh), n)
		from += int64(n)
	}
}
