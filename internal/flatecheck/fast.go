package flatecheck

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// dataFast is data for a stream held in memory whose tokens are not kept
// (Fix's first pass, over every chunk we compress): the same checks, with
// the bit buffer refilled eight bytes at a time and the short codes looked
// up inline. It falls back to the general decoder for long codes and near
// the end of the stream.
func (p *parser) dataFast(b *block, lit, dist *code) error {
	br := &p.br
	for {
		if br.n < 48 && br.off+8 <= len(br.src) {
			// Bits above n are zero or already the stream's: OR-ing the
			// same bytes at the same place keeps them.
			br.buf |= binary.LittleEndian.Uint64(br.src[br.off:]) << br.n
			k := (63 - br.n) >> 3
			br.off += int(k)
			br.n += k * 8
		}
		sym, err := fastSym(br, lit)
		if err != nil {
			return err
		}
		switch {
		case sym < 256:
			b.Size++
			continue
		case sym == 256:
			return nil
		case sym > 285:
			return fmt.Errorf("invalid length symbol %d", sym)
		}
		x, err := fastBitsN(br, uint(lenExtra[sym-257]))
		if err != nil {
			return err
		}
		b.Size += int64(lenBase[sym-257]) + int64(x)
		if dist.used == 0 {
			return errors.New("a match in a block without distance codes")
		}
		d, err := fastSym(br, dist)
		if err != nil {
			return err
		}
		if d >= numDist {
			return fmt.Errorf("invalid distance symbol %d", d)
		}
		if _, err := fastBitsN(br, uint(distExtra[d])); err != nil {
			return err
		}
	}
}

// fastSym decodes one symbol of c, inline when its code is short.
func fastSym(br *bitReader, c *code) (int, error) {
	if e := c.fast[br.buf&(1<<fastBits-1)]; e != 0 && uint(e&15) <= br.n {
		l := uint(e & 15)
		br.buf >>= l
		br.n -= l
		br.pos += int64(l)
		return int(e >> 4), nil
	}
	return c.decode(br)
}

// fastBitsN consumes n bits, inline when they are buffered.
func fastBitsN(br *bitReader, n uint) (uint32, error) {
	if n <= br.n {
		v := uint32(br.buf & (1<<n - 1))
		br.buf >>= n
		br.n -= n
		br.pos += int64(n)
		return v, nil
	}
	return br.bits(n)
}
