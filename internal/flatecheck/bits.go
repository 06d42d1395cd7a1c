package flatecheck

import (
	"encoding/binary"
	"errors"
	"io"
)

var errTruncated = errors.New("stream ends inside a block")

// bitReader reads a deflate bit stream, least significant bit first, from
// data and then, when r is set, from r in chunks (so it may read r past the
// end of the stream). pos counts the bits consumed.
type bitReader struct {
	r    io.Reader
	data []byte // data[i:] is not read yet
	i    int
	buf  uint64 // bits above n are zero
	n    uint   // valid bits in buf
	pos  int64  // bits consumed from the stream
	eof  bool   // r is exhausted
}

func newBitReader(r io.Reader) bitReader { return bitReader{r: r} }

func bytesBitReader(b []byte) bitReader { return bitReader{data: b} }

// more refills data from r; false when nothing is left.
func (b *bitReader) more() (bool, error) {
	for tries := 0; b.r != nil && !b.eof && tries < 100; tries++ {
		if b.data == nil || cap(b.data) == 0 {
			b.data = make([]byte, 0, 64<<10)
		}
		n, err := b.r.Read(b.data[:cap(b.data)])
		b.data, b.i = b.data[:n], 0
		if err == io.EOF {
			b.eof = true
		} else if err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
	return false, nil
}

// fill tops buf up to at least want (≤ 56) bits, or as many as are left.
func (b *bitReader) fill(want uint) error {
	for b.n < want {
		if len(b.data)-b.i >= 8 {
			k := (64 - b.n) / 8
			v := binary.LittleEndian.Uint64(b.data[b.i:])
			if k < 8 {
				v &= 1<<(8*k) - 1
			}
			b.buf |= v << b.n
			b.i += int(k)
			b.n += 8 * k
			continue
		}
		if b.i < len(b.data) {
			b.buf |= uint64(b.data[b.i]) << b.n
			b.i++
			b.n += 8
			continue
		}
		if ok, err := b.more(); err != nil || !ok {
			return err
		}
	}
	return nil
}

// bits consumes n (≤ 32) bits.
func (b *bitReader) bits(n uint) (uint32, error) {
	if b.n < n {
		if err := b.fill(n); err != nil {
			return 0, err
		}
		if b.n < n {
			return 0, errTruncated
		}
	}
	v := uint32(b.buf & (1<<n - 1))
	b.buf >>= n
	b.n -= n
	b.pos += int64(n)
	return v, nil
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

// skip consumes k whole bytes from a byte-aligned position.
func (b *bitReader) skip(k int) error {
	for ; k > 0 && b.n >= 8; k-- {
		b.drop(8)
	}
	for k > 0 {
		if b.i == len(b.data) {
			if ok, err := b.more(); err != nil || !ok {
				return errors.Join(err, errTruncated)
			}
		}
		m := min(k, len(b.data)-b.i)
		b.i += m
		b.pos += 8 * int64(m)
		k -= m
	}
	return nil
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

// setBit sets bit at (counted from the start of out) to 1, in out or in the
// bits not yet flushed.
func (w *bitWriter) setBit(at int64) {
	if i := at >> 3; i < int64(len(w.out)) {
		w.out[i] |= 1 << (at & 7)
		return
	}
	w.acc |= 1 << uint(at-int64(len(w.out))*8)
}
