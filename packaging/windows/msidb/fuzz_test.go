package msidb

import (
	"bytes"
	"testing"
)

// FuzzRead feeds damaged databases to the reader: errors are fine, panics
// are not.
func FuzzRead(f *testing.F) {
	good := buildDB(f, f.TempDir())
	f.Add(good)
	for _, at := range []int{0, 600, 1100, len(good) / 2, len(good) - 200} {
		bad := append([]byte(nil), good...)
		bad[at] ^= 0xFF
		f.Add(bad)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		db.Check()
	})
}

func FuzzSummary(f *testing.F) {
	b, _ := encodeSummary(&SummaryInfo{Title: "t", Created: testTime, PageCount: 500}, CodepageUTF8)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) { decodeSummary(data) })
}

func FuzzStreamNames(f *testing.F) {
	f.Add("Binary.Helper", true)
	f.Fuzz(func(t *testing.T, name string, table bool) {
		dec, isTable := DecodeStreamName(EncodeStreamName(name, table))
		if table != isTable || (isTable && dec != name) && !containsPacked(name) {
			// Names that already hold packed characters cannot round-trip.
			t.Errorf("%q %v -> %q %v", name, table, dec, isTable)
		}
	})
}

func containsPacked(s string) bool {
	for _, r := range s {
		if r >= packedPairBase && r <= tablePrefix || r == 0xFFFD {
			return true
		}
	}
	return false
}
