package cab

import (
	"bytes"
	"testing"
)

// FuzzOpen feeds damaged cabinets to the reader: errors are fine, panics and
// hangs are not.
func FuzzOpen(f *testing.F) {
	good := buildCab(f, testFiles(), Options{ModTime: testTime})
	f.Add(good)
	for _, at := range []int{0, 8, 26, 36, 40, 60, len(good) / 2} {
		bad := append([]byte(nil), good...)
		bad[at] ^= 0xFF
		f.Add(bad)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		c.ReadAll()
	})
}
