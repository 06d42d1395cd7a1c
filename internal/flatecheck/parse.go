package flatecheck

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// BlockType is a deflate block's BTYPE.
type BlockType uint8

// Block types (RFC 1951 3.2.3).
const (
	Stored  BlockType = 0
	Fixed   BlockType = 1
	Dynamic BlockType = 2
)

func (t BlockType) String() string {
	switch t {
	case Stored:
		return "stored"
	case Fixed:
		return "fixed"
	case Dynamic:
		return "dynamic"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Block describes one block of a deflate stream.
type Block struct {
	Index  int       // position in the stream, from 0
	Offset int64     // bit offset of the block header from the stream's start
	Bits   int64     // size of the block in bits, header included
	Final  bool      // BFINAL
	Type   BlockType //
	Size   int64     // uncompressed bytes the block produces
	// Err is the first code of a dynamic block that a strict decoder
	// refuses (an *Error), nil when every code is complete.
	Err error
}

// Error is a dynamic block with a Huffman code that strict decoders
// (libmspack, Windows' inflate) refuse.
type Error struct {
	Block   int    // index of the block in its stream, from 0
	Offset  int64  // bit offset of the block header from the stream's start
	Code    string // "literal/length", "distance" or "code length"
	Problem string // "incomplete", "oversubscribed" or "empty"
	Used    int    // symbols with a non-zero code length
}

func (e *Error) Error() string {
	return fmt.Sprintf("deflate block %d at bit %d (byte %d): %s code is %s (%d symbols with a length)",
		e.Block, e.Offset, e.Offset/8, e.Code, e.Problem, e.Used)
}

// token is one symbol of block data as it was coded: a literal, the end
// of block, or a length symbol with its extra bits and distance.
type token struct {
	sym    uint16 // literal/length symbol
	extra  uint16 // the length's extra bits
	dsym   uint16 // distance symbol
	dextra uint16 // the distance's extra bits
}

// block is what the parser keeps of a block.
type block struct {
	Block
	lit, dist []uint8 // code lengths of a dynamic block
	tokens    []token // when the parser keeps them; without the end of block
	stored    int64   // byte offset of a stored block's LEN field
}

// parser walks a deflate stream block by block, decoding every symbol
// (distances are not resolved, so no dictionary is needed).
type parser struct {
	br       bitReader
	keep     bool // collect tokens
	index    int
	lit      code
	dist     code
	cl       code
	lens     [numLitLen + numDist]uint8
	fixedLit code
	fixedDst code
}

func newParser(br bitReader, keep bool) *parser {
	p := &parser{br: br, keep: keep}
	p.fixedLit.init(fixedLit)
	p.fixedDst.init(fixedDist)
	if !keep {
		p.fixedLit.initSkip(false)
		p.fixedDst.initSkip(true)
	}
	return p
}

// next parses one block. Malformed streams are errors; codes that are
// merely not complete are reported in the block's Err.
func (p *parser) next(b *block) error {
	b.Block = Block{Index: p.index, Offset: p.br.pos}
	b.lit, b.dist, b.tokens = nil, nil, b.tokens[:0]
	p.index++
	h, err := p.br.bits(3)
	if err != nil {
		return err
	}
	b.Final, b.Type = h&1 == 1, BlockType(h>>1)
	switch b.Type {
	case Stored:
		err = p.stored(b)
	case Fixed:
		err = p.data(b, &p.fixedLit, &p.fixedDst)
	case Dynamic:
		if err = p.header(b); err == nil {
			err = p.data(b, &p.lit, &p.dist)
		}
	default:
		err = errors.New("reserved block type 3")
	}
	b.Bits = p.br.pos - b.Offset
	return err
}

func (p *parser) stored(b *block) error {
	p.br.align()
	b.stored = p.br.pos / 8
	v, err := p.br.bits(32)
	if err != nil {
		return err
	}
	n, nn := v&0xFFFF, v>>16
	if n != ^nn&0xFFFF {
		return fmt.Errorf("stored block length %#04x does not match its complement %#04x", n, nn)
	}
	if err := p.br.skip(int(n)); err != nil {
		return err
	}
	b.Size = int64(n)
	return nil
}

// header reads a dynamic block's code lengths and checks each code.
func (p *parser) header(b *block) error {
	v, err := p.br.bits(14)
	if err != nil {
		return err
	}
	nlit, ndist, ncl := int(v&31)+257, int(v>>5&31)+1, int(v>>10)+4
	if nlit > numLitLen || ndist > numDist {
		return fmt.Errorf("header gives %d literal/length and %d distance codes (at most %d and %d)", nlit, ndist, numLitLen, numDist)
	}
	var cl [numCodeLen]uint8
	for i := 0; i < ncl; i++ {
		l, err := p.br.bits(3)
		if err != nil {
			return err
		}
		cl[codeLenOrder[i]] = uint8(l)
	}
	p.cl.init(cl[:])
	if pr := p.cl.problem(); pr != "" {
		b.Err = &Error{Block: b.Index, Offset: b.Offset, Code: "code length", Problem: pr, Used: p.cl.used}
		if pr != "incomplete" {
			return b.Err
		}
	}
	lens := p.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		sym, err := p.cl.decode(&p.br)
		if err != nil {
			return fmt.Errorf("code lengths: %w", err)
		}
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep, val uint32
		switch sym {
		case 16:
			if i == 0 {
				return errors.New("code lengths: repeat with no previous length")
			}
			rep, err = p.br.bits(2)
			rep, val = rep+3, uint32(lens[i-1])
		case 17:
			rep, err = p.br.bits(3)
			rep += 3
		default:
			rep, err = p.br.bits(7)
			rep += 11
		}
		if err != nil {
			return err
		}
		if i+int(rep) > len(lens) {
			return errors.New("code lengths: repeat runs past the last code")
		}
		for ; rep > 0; rep-- {
			lens[i] = uint8(val)
			i++
		}
	}
	if lens[256] == 0 {
		return errors.New("no code for the end of block")
	}
	b.lit = append([]uint8(nil), lens[:nlit]...)
	b.dist = append([]uint8(nil), lens[nlit:]...)
	p.lit.init(b.lit)
	p.dist.init(b.dist)
	if !p.keep {
		p.lit.initSkip(false)
		p.dist.initSkip(true)
	}
	for _, c := range []struct {
		name string
		c    *code
	}{{"literal/length", &p.lit}, {"distance", &p.dist}} {
		pr := c.c.problem()
		if pr == "" {
			continue
		}
		if b.Err == nil {
			b.Err = &Error{Block: b.Index, Offset: b.Offset, Code: c.name, Problem: pr, Used: c.c.used}
		}
		if pr == "oversubscribed" {
			return &Error{Block: b.Index, Offset: b.Offset, Code: c.name, Problem: pr, Used: c.c.used}
		}
	}
	return nil
}

// data decodes symbols up to the end of block.
func (p *parser) data(b *block, lit, dist *code) error {
	if !p.keep {
		return p.skipData(b, lit, dist)
	}
	for {
		end, err := p.token(b, lit, dist)
		if end || err != nil {
			return err
		}
	}
}

// skipData is data for the pass that keeps no tokens: while at least 8
// bytes of input are in memory, each literal or match is one table lookup
// per code with its extra bits, after one refill; anything else (long codes,
// invalid symbols, the end of the input) takes the checked path of token.
func (p *parser) skipData(b *block, lit, dist *code) error {
	const mask = 1<<fastBits - 1
	br := &p.br
	for {
		// The bit reader's state lives in locals (registers) in this loop.
		buf, n, i, data, dropped, size := br.buf, br.n, br.i, br.data, uint(0), b.Size
		end := false
		for len(data)-i >= 8 {
			if n < 56 {
				k := (63 - n) / 8
				buf |= binary.LittleEndian.Uint64(data[i:]) << n
				i += int(k)
				n += 8 * k
				buf &= 1<<n - 1
			}
			e := lit.skip[buf&mask]
			sym := e >> 9
			if e == 0 {
				break
			}
			if sym < 256 {
				t := uint(e & 31)
				buf >>= t
				n -= t
				dropped += t
				size++
				continue
			}
			if sym == 256 {
				t := uint(e & 31)
				buf >>= t
				n -= t
				dropped += t
				end = true
				break
			}
			t := uint(e & 31)
			d := dist.skip[(buf>>t)&mask]
			if d == 0 {
				break
			}
			codeLen := uint(e>>5) & 15
			size += int64(lenBase[sym-257]) + int64((buf>>codeLen)&(1<<(t-codeLen)-1))
			t += uint(d & 31)
			buf >>= t
			n -= t
			dropped += t
		}
		br.buf, br.n, br.i, br.pos, b.Size = buf, n, i, br.pos+int64(dropped), size
		if end {
			return nil
		}
		end, err := p.token(b, lit, dist)
		if end || err != nil {
			return err
		}
	}
}

// token decodes one literal, match or the end of block, checking every step.
func (p *parser) token(b *block, lit, dist *code) (end bool, err error) {
	sym, err := lit.decode(&p.br)
	if err != nil {
		return false, err
	}
	switch {
	case sym < 256:
		b.Size++
		if p.keep {
			b.tokens = append(b.tokens, token{sym: uint16(sym)})
		}
		return false, nil
	case sym == 256:
		return true, nil
	case sym > 285:
		return false, fmt.Errorf("invalid length symbol %d", sym)
	}
	t := token{sym: uint16(sym)}
	x, err := p.br.bits(uint(lenExtra[sym-257]))
	if err != nil {
		return false, err
	}
	t.extra = uint16(x)
	b.Size += int64(lenBase[sym-257]) + int64(x)
	if dist.used == 0 {
		return false, errors.New("a match in a block without distance codes")
	}
	d, err := dist.decode(&p.br)
	if err != nil {
		return false, err
	}
	if d >= numDist {
		return false, fmt.Errorf("invalid distance symbol %d", d)
	}
	if x, err = p.br.bits(uint(distExtra[d])); err != nil {
		return false, err
	}
	t.dsym, t.dextra = uint16(d), uint16(x)
	if p.keep {
		b.tokens = append(b.tokens, t)
	}
	return false, nil
}
