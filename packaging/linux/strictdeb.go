package linux

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
)

const (
	arMagic     = "!<arch>\n"
	arHeaderLen = 60
)

// strictDeb re-encodes the deflate blocks of a deb's gzip members
// (control.tar.gz, data.tar.gz) whose Huffman codes are not complete: nfpm
// compresses them with compress/gzip, which has no option against them.
// Only those blocks' headers change; the tar contents, the member order and
// every other ar header field stay as nfpm wrote them. A signed deb is
// refused: its signature covers the members.
func strictDeb(deb []byte) ([]byte, error) {
	if !bytes.HasPrefix(deb, []byte(arMagic)) {
		return nil, errors.New("deb: not an ar archive")
	}
	out := append(make([]byte, 0, len(deb)+256), arMagic...)
	for off := len(arMagic); off < len(deb); {
		if off+arHeaderLen > len(deb) {
			return nil, errors.New("deb: truncated ar member header")
		}
		hdr := deb[off : off+arHeaderLen]
		name := strings.TrimRight(string(hdr[:16]), " ")
		size, err := strconv.Atoi(strings.TrimRight(string(hdr[48:58]), " "))
		if err != nil || size < 0 || string(hdr[58:60]) != "`\n" || off+arHeaderLen+size > len(deb) {
			return nil, fmt.Errorf("deb: bad ar header for member %q", name)
		}
		body := deb[off+arHeaderLen : off+arHeaderLen+size]
		off += arHeaderLen + size + size%2
		if strings.HasPrefix(name, "_gpg") {
			return nil, fmt.Errorf("deb: member %s: a signed deb cannot have its compressed members re-encoded", name)
		}
		if strings.HasSuffix(name, ".gz") {
			if body, err = flatecheck.FixGzip(body); err != nil {
				return nil, fmt.Errorf("deb: member %s: %w", name, err)
			}
		}
		field := strconv.Itoa(len(body))
		if len(field) > 10 {
			return nil, fmt.Errorf("deb: member %s too large", name)
		}
		out = append(out, hdr[:48]...)
		out = append(out, field+strings.Repeat(" ", 10-len(field))...)
		out = append(out, hdr[58:]...)
		out = append(out, body...)
		if len(body)%2 == 1 {
			out = append(out, '\n')
		}
	}
	return out, nil
}
