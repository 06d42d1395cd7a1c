package msidb

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// Codepages the database strings can be stored in.
const (
	CodepageNeutral = 0     // ASCII only
	CodepageUTF8    = 65001 // any Unicode text
	CodepageWestern = 1252
)

var singleByte = map[int]*charmap.Charmap{
	874: charmap.Windows874, 1250: charmap.Windows1250, 1251: charmap.Windows1251,
	1252: charmap.Windows1252, 1253: charmap.Windows1253, 1254: charmap.Windows1254,
	1255: charmap.Windows1255, 1256: charmap.Windows1256, 1257: charmap.Windows1257,
	1258: charmap.Windows1258,
}

func checkCodepage(cp int) error {
	if cp == CodepageNeutral || cp == CodepageUTF8 || singleByte[cp] != nil {
		return nil
	}
	return fmt.Errorf("codepage %d is not supported (use 0, 65001 or one of 874, 1250-1258)", cp)
}

// encodeString converts s to the bytes stored for codepage cp.
func encodeString(s string, cp int) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("string %q is not valid UTF-8", s)
	}
	switch cp {
	case CodepageUTF8:
		return []byte(s), nil
	case CodepageNeutral:
		for _, r := range s {
			if r >= 0x80 {
				return nil, fmt.Errorf("string %q has non-ASCII characters; the neutral codepage 0 holds ASCII only (use 65001)", s)
			}
		}
		return []byte(s), nil
	}
	strict, err := singleByte[cp].NewEncoder().String(s)
	if err != nil {
		return nil, fmt.Errorf("string %q cannot be written in codepage %d (use 65001)", s, cp)
	}
	return []byte(strict), nil
}

// decodeString converts stored bytes of codepage cp back to UTF-8.
func decodeString(b []byte, cp int) (string, error) {
	switch cp {
	case CodepageUTF8, CodepageNeutral:
		if !utf8.Valid(b) {
			return "", fmt.Errorf("string %q is not valid UTF-8", b)
		}
		return string(b), nil
	}
	m := singleByte[cp]
	if m == nil {
		return "", fmt.Errorf("codepage %d is not supported", cp)
	}
	s, err := m.NewDecoder().Bytes(b)
	return string(s), err
}
