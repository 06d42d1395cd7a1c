package flatecheck

import (
	"errors"
	"math/bits"
)

const (
	maxCodeBits = 15
	fastBits    = 10
	numLitLen   = 286 // symbols a block may give lengths for (zlib refuses more)
	numDist     = 30
	numCodeLen  = 19
)

var errBadCode = errors.New("invalid Huffman code in block data")

// code is a canonical Huffman code, given by its code lengths, that can
// decode symbols and say whether it is complete.
type code struct {
	count [maxCodeBits + 1]uint16
	sym   []uint16 // symbols ordered by (length, symbol)
	fast  [1 << fastBits]uint16
	// skip is fast with each symbol's extra bits folded in, for the parser
	// pass that keeps no tokens: see skipEntry.
	skip [1 << fastBits]uint32
	used int
	left int // Kraft deficit in units of 2^-15: 0 complete, > 0 incomplete, < 0 oversubscribed
}

// problem names what a strict decoder refuses in the code, or "".
func (c *code) problem() string {
	switch {
	case c.used == 0:
		return "empty"
	case c.left < 0:
		return "oversubscribed"
	case c.left > 0:
		return "incomplete"
	}
	return ""
}

func (c *code) init(lens []uint8) {
	c.count = [maxCodeBits + 1]uint16{}
	c.sym = c.sym[:0]
	c.used = 0
	c.left = 1 << maxCodeBits
	for _, l := range lens {
		if l != 0 {
			c.count[l]++
			c.used++
			c.left -= 1 << (maxCodeBits - l)
		}
	}
	for l := uint8(1); l <= maxCodeBits; l++ {
		for s, sl := range lens {
			if sl == l {
				c.sym = append(c.sym, uint16(s))
			}
		}
	}
	c.fast = [1 << fastBits]uint16{}
	c.skip = [1 << fastBits]uint32{}
	if c.left < 0 {
		return // not decodable; the slow path is never reached either
	}
	codes := canonical(lens)
	for s, l := range lens {
		if l == 0 || l > fastBits {
			continue
		}
		for k := int(codes[s]); k < 1<<fastBits; k += 1 << l {
			c.fast[k] = uint16(s)<<4 | uint16(l)
		}
	}
}

// initSkip fills c.skip for a literal/length code (extra: lenExtra, after
// symbol 257) or a distance code (distExtra, from symbol 0). Symbols that
// are not valid stay 0, which sends the parser to the checked path.
func (c *code) initSkip(distance bool) {
	for k, e := range c.fast {
		if e == 0 {
			continue
		}
		sym, l := int(e>>4), uint32(e&15)
		var extra uint32
		switch {
		case distance && sym < numDist:
			extra = uint32(distExtra[sym])
		case distance:
			continue
		case sym > 256 && sym <= 285:
			extra = uint32(lenExtra[sym-257])
		case sym > 285:
			continue
		}
		c.skip[k] = skipEntry(sym, l, extra)
	}
}

// skipEntry packs a symbol (bits 9 up), its code length (5–8) and its code
// length plus extra bits (0–4); never 0 for a code of at least one bit.
func skipEntry(sym int, codeLen, extra uint32) uint32 {
	return uint32(sym)<<9 | codeLen<<5 | (codeLen + extra)
}

// decode reads one symbol.
func (c *code) decode(b *bitReader) (int, error) {
	if b.n < maxCodeBits {
		if err := b.fill(maxCodeBits); err != nil {
			return 0, err
		}
	}
	if e := c.fast[b.buf&(1<<fastBits-1)]; e != 0 && uint(e&15) <= b.n {
		b.drop(uint(e & 15))
		return int(e >> 4), nil
	}
	return c.slow(b)
}

// slow decodes a code longer than fastBits (or fails): canonical decoding
// one bit at a time, where the codes of each length are consecutive
// integers following those of the shorter lengths.
func (c *code) slow(b *bitReader) (int, error) {
	v, avail := b.buf, min(b.n, maxCodeBits)
	code, first, index := 0, 0, 0
	for l := uint(1); l <= avail; l++ {
		code |= int(v>>(l-1)) & 1
		n := int(c.count[l])
		if code-first < n {
			b.drop(l)
			return int(c.sym[index+code-first]), nil
		}
		index += n
		first = (first + n) << 1
		code <<= 1
	}
	if avail < maxCodeBits {
		return 0, errTruncated
	}
	return 0, errBadCode
}

// canonical returns each symbol's code, bit-reversed as deflate sends it.
func canonical(lens []uint8) []uint16 {
	var count, next [maxCodeBits + 2]uint16
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	for l := 1; l <= maxCodeBits; l++ {
		next[l] = (next[l-1] + count[l-1]) << 1
	}
	codes := make([]uint16, len(lens))
	for s, l := range lens {
		if l != 0 {
			codes[s] = bits.Reverse16(next[l]) >> (16 - l)
			next[l]++
		}
	}
	return codes
}

// fixedLit and fixedDist are the lengths of the fixed codes (RFC 1951 3.2.6).
var fixedLit, fixedDist = func() ([]uint8, []uint8) {
	lit := make([]uint8, 288)
	for i := range lit {
		switch {
		case i < 144:
			lit[i] = 8
		case i < 256:
			lit[i] = 9
		case i < 280:
			lit[i] = 7
		default:
			lit[i] = 8
		}
	}
	dist := make([]uint8, 32)
	for i := range dist {
		dist[i] = 5
	}
	return lit, dist
}()

// Extra bits after length symbols 257..285 and distance symbols 0..29.
var lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}

var lenBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}

var distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

// codeLenOrder is the order in which a dynamic header gives the code-length
// code's lengths.
var codeLenOrder = [numCodeLen]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
