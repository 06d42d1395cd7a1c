package linux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The deb is signed after strictDeb re-encoded it, so that the signature
// covers the final bytes (nfpm would sign what it wrote, before the
// re-encoding). The rpm is signed by rpmpayload.Relativize for the same reason.

// signDeb appends the debsign-style _gpgorigin member nfpm writes when it
// signs: an armored detached signature of debian-binary, control.tar.* and
// data.tar.* concatenated, in member order.
func signDeb(deb []byte, mtime time.Time, sign func(io.Reader, bool) ([]byte, error)) ([]byte, error) {
	if !bytes.HasPrefix(deb, []byte(arMagic)) {
		return nil, errors.New("deb: not an ar archive")
	}
	var signed [][]byte
	for off := len(arMagic); off < len(deb); {
		if off+arHeaderLen > len(deb) {
			return nil, errors.New("deb: truncated ar member header")
		}
		hdr := deb[off : off+arHeaderLen]
		name := strings.TrimRight(string(hdr[:16]), " ")
		size, err := strconv.Atoi(strings.TrimRight(string(hdr[48:58]), " "))
		if err != nil || size < 0 || off+arHeaderLen+size > len(deb) {
			return nil, fmt.Errorf("deb: bad ar header for member %q", name)
		}
		if strings.HasPrefix(name, "_gpg") {
			return nil, fmt.Errorf("deb: already signed (%s)", name)
		}
		signed = append(signed, deb[off+arHeaderLen:off+arHeaderLen+size])
		off += arHeaderLen + size + size%2
	}
	if len(signed) != 3 {
		return nil, fmt.Errorf("deb: %d members, want debian-binary, control and data", len(signed))
	}
	sig, err := sign(io.MultiReader(bytes.NewReader(signed[0]), bytes.NewReader(signed[1]), bytes.NewReader(signed[2])), true)
	if err != nil {
		return nil, fmt.Errorf("sign deb: %w", err)
	}
	out := append(deb[:len(deb):len(deb)], fmt.Sprintf("%-16s%-12d%-6d%-6d%-8o%-10d`\n", "_gpgorigin", mtime.Unix(), 0, 0, 0o100644, len(sig))...)
	out = append(out, sig...)
	if len(sig)%2 == 1 {
		out = append(out, '\n')
	}
	return out, nil
}
