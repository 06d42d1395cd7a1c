package msidb

import (
	"strings"
	"unicode/utf16"
)

// Stream names inside an installer database are packed: characters of the
// 64-letter alphabet 0-9 A-Z a-z . _ go two to a UTF-16 unit in
// U+3800..U+47FF, a lone one to U+4800..U+483F; table streams start with
// U+4840. Anything else is kept as it is.
const (
	packedPairBase   = 0x3800
	packedSingleBase = 0x4800
	tablePrefix      = 0x4840
	maxEncodedName   = 31 // a compound file's name limit, in UTF-16 units
)

func alphabetIndex(c rune) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	case c == '.':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

func alphabetChar(i int) rune {
	switch {
	case i < 10:
		return '0' + rune(i)
	case i < 36:
		return 'A' + rune(i-10)
	case i < 62:
		return 'a' + rune(i-36)
	case i == 62:
		return '.'
	}
	return '_'
}

// EncodeStreamName packs name as installer databases store it; table is true
// for a table's own stream (and _StringPool/_StringData), which get the
// U+4840 prefix.
func EncodeStreamName(name string, table bool) string {
	var out []rune
	if table {
		out = append(out, tablePrefix)
	}
	in := []rune(name)
	for i := 0; i < len(in); i++ {
		a := alphabetIndex(in[i])
		if a < 0 {
			out = append(out, in[i])
			continue
		}
		if i+1 < len(in) {
			if b := alphabetIndex(in[i+1]); b >= 0 {
				out = append(out, rune(packedPairBase+b<<6+a))
				i++
				continue
			}
		}
		out = append(out, rune(packedSingleBase+a))
	}
	return string(out)
}

// DecodeStreamName reverses EncodeStreamName and reports whether the name had
// the table prefix.
func DecodeStreamName(enc string) (name string, table bool) {
	var b strings.Builder
	for i, c := range []rune(enc) {
		switch {
		case i == 0 && c == tablePrefix:
			table = true
		case c >= packedPairBase && c < packedSingleBase:
			v := int(c - packedPairBase)
			b.WriteRune(alphabetChar(v & 0x3f))
			b.WriteRune(alphabetChar(v >> 6))
		case c >= packedSingleBase && c < tablePrefix:
			b.WriteRune(alphabetChar(int(c - packedSingleBase)))
		default:
			b.WriteRune(c)
		}
	}
	return b.String(), table
}

func encodedLen(s string) int { return len(utf16.Encode([]rune(s))) }
