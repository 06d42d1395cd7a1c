package flatecheck

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"sort"
)

// Fix returns src, a raw deflate stream or a run of blocks that ends on a
// byte boundary (as a sync flush leaves it), with every dynamic block whose
// codes are not complete re-encoded: its codes are completed with unused
// symbols, so the data costs the same bits and only the header changes; if
// an alphabet has no room for that, the block becomes a fixed-Huffman
// block. Other blocks are copied bit for bit. The result decodes to the same
// bytes. When no block needs it, src itself is returned. Fix keeps no state:
// it is safe to call concurrently.
func Fix(src []byte) ([]byte, error) { return fix(src, false) }

// FixFinal is Fix for a run of blocks that ends on a byte boundary (a piece
// of a sync-flushed stream), with its last block marked final as well: the
// piece becomes a complete deflate stream, as an MSZIP block must be, while
// the encoder's history carried on across pieces. The result is always a
// new slice.
func FixFinal(src []byte) ([]byte, error) { return fix(src, true) }

func fix(src []byte, markFinal bool) ([]byte, error) {
	br := bytesBitReader(src)
	bad := false
	var last BlockType
	var lastIndex int
	var lastOffset int64
	final, err := walk(&br, false, true, func(b *block) error {
		bad = bad || b.Err != nil
		last, lastIndex, lastOffset = b.Type, b.Index, b.Offset
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !final && last != Stored {
		return nil, errors.New("deflate data ends neither with a final block nor on a byte boundary")
	}
	if !bad && !markFinal {
		return src, nil
	}
	if !bad {
		out := bytes.Clone(src)
		out[lastOffset>>3] |= 1 << (lastOffset & 7)
		return out, nil
	}
	w := bitWriter{out: make([]byte, 0, len(src)+64)}
	br = bytesBitReader(src)
	_, err = walk(&br, true, true, func(b *block) error {
		if markFinal && b.Index == lastIndex {
			b.Final = true
		}
		switch {
		case b.Err != nil:
			reencode(&w, b)
		case b.Type == Stored:
			// The data is byte-aligned after the header: realign, not shift.
			w.put(finalBit(b.Final), 3)
			w.align()
			w.out = append(w.out, src[b.stored:b.stored+4+b.Size]...)
		default:
			at := int64(len(w.out))*8 + int64(w.n)
			w.copyBits(src, b.Offset, b.Offset+b.Bits)
			if b.Final {
				w.setBit(at)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	w.align()
	return w.out, nil
}

// FixGzip applies Fix to the deflate stream of every member of a gzip file;
// headers and trailers (CRC-32 and size of the uncompressed data) stay as
// they are. When nothing needs fixing, src itself is returned.
func FixGzip(src []byte) ([]byte, error) {
	var out []byte
	changed := false
	for off, m := 0, 0; off < len(src); m++ {
		br := bytesBitReader(src[off:])
		if err := gzipHeader(&br); err != nil {
			return nil, fmt.Errorf("gzip member %d: %w", m, err)
		}
		start := off + int(br.pos/8)
		if _, err := walk(&br, false, false, func(*block) error { return nil }); err != nil {
			return nil, fmt.Errorf("gzip member %d: %w", m, err)
		}
		br.align()
		end := off + int(br.pos/8)
		if end+8 > len(src) {
			return nil, fmt.Errorf("gzip member %d: %w", m, errTruncated)
		}
		fixed, err := Fix(src[start:end])
		if err != nil {
			return nil, fmt.Errorf("gzip member %d: %w", m, err)
		}
		out = append(append(append(out, src[off:start]...), fixed...), src[end:end+8]...)
		changed = changed || len(fixed) != end-start || &fixed[0] != &src[start]
		off = end + 8
	}
	if !changed {
		return src, nil
	}
	return out, nil
}

func finalBit(f bool) uint32 {
	if f {
		return 1
	}
	return 0
}

// reencode writes b with complete codes.
func reencode(w *bitWriter, b *block) {
	lit, dist := complete(b.lit, numLitLen), complete(b.dist, numDist)
	if lit == nil || dist == nil {
		w.put(finalBit(b.Final)|uint32(Fixed)<<1, 3)
		writeTokens(w, b.tokens, fixedLit, fixedDist)
		return
	}
	nlit, ndist := trim(lit, 257), trim(dist, 1)
	seq := append(append([]uint8(nil), lit[:nlit]...), dist[:ndist]...)
	rle := runLengths(seq)
	var freq [numCodeLen]int
	for _, r := range rle {
		freq[r.sym]++
	}
	cl := balanced(freq)
	ncl := numCodeLen
	for ncl > 4 && cl[codeLenOrder[ncl-1]] == 0 {
		ncl--
	}
	w.put(finalBit(b.Final)|uint32(Dynamic)<<1, 3)
	w.put(uint32(nlit-257), 5)
	w.put(uint32(ndist-1), 5)
	w.put(uint32(ncl-4), 4)
	for _, s := range codeLenOrder[:ncl] {
		w.put(uint32(cl[s]), 3)
	}
	clCodes := canonical(cl[:])
	for _, r := range rle {
		w.put(uint32(clCodes[r.sym]), uint(cl[r.sym]))
		switch r.sym {
		case 16:
			w.put(uint32(r.extra), 2)
		case 17:
			w.put(uint32(r.extra), 3)
		case 18:
			w.put(uint32(r.extra), 7)
		}
	}
	writeTokens(w, b.tokens, lit[:nlit], dist[:ndist])
}

// complete returns lens over n symbols with the Kraft deficit filled by
// unused symbols (lowest first), or nil when too few symbols are unused.
// The used symbols keep their lengths.
func complete(lens []uint8, n int) []uint8 {
	out := make([]uint8, n)
	copy(out, lens)
	left := 1 << maxCodeBits
	for _, l := range out {
		if l != 0 {
			left -= 1 << (maxCodeBits - l)
		}
	}
	var add []uint8
	if left == 1<<maxCodeBits {
		add = []uint8{1, 1} // no code at all: two one-bit codes, as zlib sends
	} else {
		for l := maxCodeBits; l >= 1; l-- {
			if left&(1<<(maxCodeBits-l)) != 0 {
				add = append(add, uint8(l))
			}
		}
	}
	s := 0
	for _, l := range add {
		for s < n && out[s] != 0 {
			s++
		}
		if s == n {
			return nil
		}
		out[s] = l
	}
	return out
}

// trim is the number of lengths to send: up to the last non-zero one.
func trim(lens []uint8, least int) int {
	n := len(lens)
	for n > least && lens[n-1] == 0 {
		n--
	}
	return n
}

type rleSym struct{ sym, extra uint8 }

// runLengths codes a sequence of code lengths with the repeat symbols
// 16 (previous length 3..6 times), 17 (zero 3..10 times), 18 (zero 11..138).
func runLengths(seq []uint8) []rleSym {
	var out []rleSym
	for i := 0; i < len(seq); {
		v, run := seq[i], 1
		for i+run < len(seq) && seq[i+run] == v {
			run++
		}
		i += run
		if v != 0 {
			out = append(out, rleSym{sym: v})
			run--
			for ; run >= 3; run -= min(run, 6) {
				out = append(out, rleSym{16, uint8(min(run, 6) - 3)})
			}
		} else {
			for ; run >= 11; run -= min(run, 138) {
				out = append(out, rleSym{18, uint8(min(run, 138) - 11)})
			}
			if run >= 3 {
				out = append(out, rleSym{17, uint8(run - 3)})
				run = 0
			}
		}
		for ; run > 0; run-- {
			out = append(out, rleSym{sym: v})
		}
	}
	return out
}

// balanced returns complete code lengths for the used symbols (at least
// two: an unused one is added to a single one), differing by at most one
// bit, the shorter ones for the most frequent symbols. With 19 symbols at
// most, no length exceeds 5 of the 7 bits allowed.
func balanced(freq [numCodeLen]int) [numCodeLen]uint8 {
	var used []int
	for s, f := range freq {
		if f > 0 {
			used = append(used, s)
		}
	}
	if len(used) < 2 {
		extra := 0
		for len(used) == 1 && used[0] == extra {
			extra++
		}
		used = append(used, extra)
	}
	sort.SliceStable(used, func(i, j int) bool { return freq[used[i]] > freq[used[j]] })
	n := len(used)
	l := bits.Len(uint(n - 1)) // ceil(log2 n)
	short := 1<<l - n          // codes one bit shorter keep the sum at exactly 1
	var lens [numCodeLen]uint8
	for i, s := range used {
		lens[s] = uint8(l)
		if i < short {
			lens[s] = uint8(l - 1)
		}
	}
	return lens
}

// writeTokens writes block data and the end of block with the given codes.
func writeTokens(w *bitWriter, tokens []token, lit, dist []uint8) {
	lc, dc := canonical(lit), canonical(dist)
	for _, t := range tokens {
		w.put(uint32(lc[t.sym]), uint(lit[t.sym]))
		if t.sym < 257 {
			continue
		}
		w.put(uint32(t.extra), uint(lenExtra[t.sym-257]))
		w.put(uint32(dc[t.dsym]), uint(dist[t.dsym]))
		w.put(uint32(t.dextra), uint(distExtra[t.dsym]))
	}
	w.put(uint32(lc[256]), uint(lit[256]))
}
