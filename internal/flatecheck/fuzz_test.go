package flatecheck

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"
)

// FuzzFix: any input is checked and fixed without panicking; what Fix
// returns passes the check and inflates as the input did.
func FuzzFix(f *testing.F) {
	f.Add(stream(hand{final: true, lit: lens(258, 'a', 2, 'b', 2, 256, 2, 257, 2), dist: lens(2, 1, 1), tokens: abTokens}))
	f.Add(stream(hand{final: true, lit: lens(257, 'a', 1, 256, 1), dist: lens(1), tokens: []token{{sym: 'a'}}}))
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, 6)
	w.Write(make([]byte, 70000))
	w.Write([]byte("some text, some text, some text"))
	w.Close()
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		CheckRaw(bytes.NewReader(data))
		CheckGzip(bytes.NewReader(data))
		CheckZlib(bytes.NewReader(data))
		CheckMSZIP(data)
		fixed, err := Fix(data)
		if err != nil {
			return
		}
		final := CheckRaw(bytes.NewReader(fixed)) == nil
		if !final {
			// a run of blocks without a final one: it must check once closed
			if err := CheckRaw(bytes.NewReader(append(append([]byte(nil), fixed...), 3, 0))); err != nil {
				t.Fatalf("Fix returned blocks that fail the check: %v", err)
			}
			return
		}
		want, werr := io.ReadAll(flate.NewReader(bytes.NewReader(data)))
		got, gerr := io.ReadAll(flate.NewReader(bytes.NewReader(fixed)))
		if werr == nil && (gerr != nil || !bytes.Equal(got, want)) {
			t.Fatalf("fixed stream inflates to %d bytes (%v), the input to %d", len(got), gerr, len(want))
		}
	})
}
