package flatecheck

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// hand builds a dynamic block from code lengths; cl, when set, replaces
// the code-length code (it must still code every run-length symbol used).
type hand struct {
	final     bool
	lit, dist []uint8
	cl        func(*[numCodeLen]uint8)
	tokens    []token
}

func (h hand) write(w *bitWriter) {
	nlit, ndist := len(h.lit), len(h.dist)
	seq := append(append([]uint8(nil), h.lit...), h.dist...)
	rle := runLengths(seq)
	var freq [numCodeLen]int
	for _, r := range rle {
		freq[r.sym]++
	}
	cl := balanced(freq)
	if h.cl != nil {
		h.cl(&cl)
	}
	w.put(finalBit(h.final)|uint32(Dynamic)<<1, 3)
	w.put(uint32(nlit-257), 5)
	w.put(uint32(ndist-1), 5)
	w.put(numCodeLen-4, 4)
	for _, s := range codeLenOrder {
		w.put(uint32(cl[s]), 3)
	}
	codes := canonical(cl[:])
	for _, r := range rle {
		w.put(uint32(codes[r.sym]), uint(cl[r.sym]))
		w.put(uint32(r.extra), map[uint8]uint{16: 2, 17: 3, 18: 7}[r.sym])
	}
	writeTokens(w, h.tokens, h.lit, h.dist)
}

func stream(blocks ...hand) []byte {
	var w bitWriter
	for _, b := range blocks {
		b.write(&w)
	}
	w.align()
	return w.out
}

// lens returns n code lengths, zero but for the given symbol: length pairs.
func lens(n int, set ...int) []uint8 {
	l := make([]uint8, n)
	for i := 0; i < len(set); i += 2 {
		l[set[i]] = uint8(set[i+1])
	}
	return l
}

// "ab" and a match of length 3 at distance 2: "ababa".
var abTokens = []token{{sym: 'a'}, {sym: 'b'}, {sym: 257, dsym: 1}}

func TestCheckRawHandBuilt(t *testing.T) {
	good := hand{final: true, lit: lens(258, 'a', 2, 'b', 2, 256, 2, 257, 2), dist: lens(2, 0, 1, 1, 1), tokens: abTokens}
	oneDist := good
	oneDist.dist = lens(2, 1, 1)
	noDist := hand{final: true, lit: lens(257, 'a', 1, 256, 1), dist: lens(1), tokens: []token{{sym: 'a'}}}
	litIncomplete := good
	litIncomplete.lit = lens(258, 'a', 2, 'b', 2, 256, 2, 257, 3)
	litOver := good
	litOver.lit = lens(258, 'a', 1, 'b', 2, 256, 2, 257, 2)
	onlyEOB := hand{final: true, lit: lens(257, 256, 1), dist: lens(2, 0, 1, 1, 1)}
	clIncomplete := good
	clIncomplete.cl = func(cl *[numCodeLen]uint8) { lengthen(cl, 1) }
	clOver := good
	clOver.cl = func(cl *[numCodeLen]uint8) { lengthen(cl, -1) }
	secondBad := good
	secondBad.final = false
	for _, tc := range []struct {
		name          string
		data          []byte
		block         int
		code, problem string
	}{
		{"complete codes", stream(good), -1, "", ""},
		{"one distance code of one bit", stream(oneDist), 0, "distance", "incomplete"},
		{"no distance code", stream(noDist), 0, "distance", "empty"},
		{"literal/length code incomplete", stream(litIncomplete), 0, "literal/length", "incomplete"},
		{"literal/length code oversubscribed", stream(litOver), 0, "literal/length", "oversubscribed"},
		{"only the end of block", stream(onlyEOB), 0, "literal/length", "incomplete"},
		{"code-length code incomplete", stream(clIncomplete), 0, "code length", "incomplete"},
		{"code-length code oversubscribed", stream(clOver), 0, "code length", "oversubscribed"},
		{"second block", stream(secondBad, oneDist), 1, "distance", "incomplete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRaw(bytes.NewReader(tc.data))
			if tc.block < 0 {
				if err != nil {
					t.Fatalf("CheckRaw: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("CheckRaw = %v, want an *Error", err)
			}
			if e.Block != tc.block || e.Code != tc.code || e.Problem != tc.problem {
				t.Fatalf("CheckRaw = %v, want block %d %s %s", err, tc.block, tc.code, tc.problem)
			}
			if !strings.Contains(err.Error(), tc.code+" code is "+tc.problem) {
				t.Fatalf("message %q does not name the code", err)
			}
			if tc.problem == "oversubscribed" {
				return // not decodable: nothing to fix
			}
			// Fix must keep the symbols and make every code complete.
			want := tokensOf(t, tc.data)
			fixed, err := Fix(tc.data)
			if err != nil {
				t.Fatalf("Fix: %v", err)
			}
			if err := CheckRaw(bytes.NewReader(fixed)); err != nil {
				t.Fatalf("CheckRaw after Fix: %v", err)
			}
			if got := tokensOf(t, fixed); !reflect.DeepEqual(got, want) {
				t.Fatalf("Fix changed the data: %v, want %v", got, want)
			}
			inflate(t, fixed)
		})
	}
}

// lengthen moves the Kraft sum of a code-length code off 1: d = +1 adds a
// bit to the shortest code (incomplete), d = -1 takes one from the
// longest (oversubscribed).
func lengthen(cl *[numCodeLen]uint8, d int) {
	best := -1
	for s, l := range cl {
		if l == 0 {
			continue
		}
		if best < 0 || (d > 0 && l < cl[best]) || (d < 0 && l > cl[best]) {
			best = s
		}
	}
	cl[best] = uint8(int(cl[best]) + d)
}

func TestCheckRawMalformed(t *testing.T) {
	var hlit bitWriter
	hlit.put(1|2<<1, 3)
	hlit.put(30, 5) // 287 literal/length codes
	hlit.put(0, 9)
	hlit.align()
	var reserved bitWriter
	reserved.put(1|3<<1, 3)
	reserved.align()
	var stored bitWriter
	stored.put(1, 3)
	stored.align()
	stored.put(5, 16)
	stored.put(5, 16) // NLEN must be ^LEN
	stored.align()
	noEOB := stream(hand{final: true, lit: lens(258, 'a', 1, 257, 1), dist: lens(2, 0, 1, 1, 1)})
	good := stream(hand{final: true, lit: lens(258, 'a', 2, 'b', 2, 256, 2, 257, 2), dist: lens(2, 0, 1, 1, 1), tokens: abTokens})
	notFinal := stream(hand{lit: lens(258, 'a', 2, 'b', 2, 256, 2, 257, 2), dist: lens(2, 0, 1, 1, 1), tokens: abTokens})
	for _, tc := range []struct {
		name, data, want string
	}{
		{"too many literal/length codes", string(hlit.out), "287 literal/length"},
		{"reserved block type", string(reserved.out), "reserved block type"},
		{"stored length complement", string(stored.out), "complement"},
		{"no end-of-block code", string(noEOB), "end of block"},
		{"truncated", string(good[:len(good)-2]), "ends inside a block"},
		{"no final block", string(notFinal), "ends inside a block"},
		{"empty", "", "ends inside a block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRaw(strings.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckRaw = %v, want an error with %q", err, tc.want)
			}
			var e *Error
			if errors.As(err, &e) {
				t.Fatalf("CheckRaw = %v: a malformed stream is not a code error", err)
			}
		})
	}
}

func inflate(t *testing.T, raw []byte) []byte {
	t.Helper()
	b, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return b
}

// tokensOf decodes every block's symbols.
func tokensOf(t *testing.T, raw []byte) [][]token {
	t.Helper()
	var out [][]token
	br := bytesBitReader(raw)
	if _, err := walk(&br, true, false, func(b *block) error {
		out = append(out, append([]token(nil), b.tokens...))
		return nil
	}); err != nil {
		t.Fatalf("walk: %v", err)
	}
	return out
}
