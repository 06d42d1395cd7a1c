package linux

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
)

// rpm header tags that strictRPM rewrites or refuses.
const (
	rpmLeadSize        = 96
	rpmSigSize         = 1000 // int32: header + payload bytes
	rpmSigSHA256       = 273  // string: SHA-256 of the header
	rpmSigPayloadSize  = 1007 // int32: uncompressed payload bytes (unchanged)
	rpmTagPayloadDigst = 5092 // string array: SHA-256 of the compressed payload
	rpmTypeInt32       = 4
	rpmTypeString      = 6
	rpmTypeStringArray = 8
)

// rpmHeader is one header structure of an rpm file: its bytes and index.
type rpmHeader struct {
	raw     []byte // the whole structure: preamble, index, data store
	entries []rpmEntry
}

type rpmEntry struct{ tag, typ, off, count uint32 }

func parseRPMHeader(b []byte) (*rpmHeader, error) {
	if len(b) < 16 || !bytes.Equal(b[:4], []byte{0x8e, 0xad, 0xe8, 0x01}) {
		return nil, errors.New("no rpm header magic")
	}
	n, size := binary.BigEndian.Uint32(b[8:]), binary.BigEndian.Uint32(b[12:])
	if n > 1<<16 || size > 1<<28 || 16+16*int(n)+int(size) > len(b) {
		return nil, errors.New("rpm header larger than the file")
	}
	h := &rpmHeader{raw: b[:16+16*int(n)+int(size)]}
	for i := 0; i < int(n); i++ {
		e := b[16+16*i:]
		h.entries = append(h.entries, rpmEntry{binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:]),
			binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])})
	}
	return h, nil
}

// value returns the data-store bytes of tag's value (a string without its
// NUL, or count int32s), checking its type.
func (h *rpmHeader) value(tag, typ uint32) ([]byte, error) {
	store := h.raw[16+16*len(h.entries):]
	for _, e := range h.entries {
		if e.tag != tag {
			continue
		}
		if e.typ != typ || int(e.off) >= len(store) {
			return nil, fmt.Errorf("rpm tag %d: type %d at %d", tag, e.typ, e.off)
		}
		v := store[e.off:]
		if typ == rpmTypeInt32 {
			if e.count != 1 || len(v) < 4 {
				return nil, fmt.Errorf("rpm tag %d: %d values", tag, e.count)
			}
			return v[:4], nil
		}
		end := bytes.IndexByte(v, 0)
		if end < 0 || (typ == rpmTypeStringArray && e.count != 1) {
			return nil, fmt.Errorf("rpm tag %d: not one string", tag)
		}
		return v[:end], nil
	}
	return nil, fmt.Errorf("rpm tag %d missing", tag)
}

// strictRPM re-encodes the deflate blocks of a gzip rpm payload whose
// Huffman codes are not complete (rpmpack compresses with klauspost/pgzip,
// which has no option against them), then updates in place the values that
// cover the payload: the header's payload digest, the signature header's
// header digest and size. Nothing moves: the digests keep their length. A
// signed rpm, or one with digests this does not know, is refused.
func strictRPM(rpm []byte) ([]byte, error) {
	if len(rpm) < rpmLeadSize || !bytes.Equal(rpm[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, errors.New("rpm: not an rpm file")
	}
	sig, err := parseRPMHeader(rpm[rpmLeadSize:])
	if err != nil {
		return nil, fmt.Errorf("rpm: signature header: %w", err)
	}
	hdrStart := rpmLeadSize + (len(sig.raw)+7)&^7
	if hdrStart > len(rpm) {
		return nil, errors.New("rpm: truncated after the signature header")
	}
	hdr, err := parseRPMHeader(rpm[hdrStart:])
	if err != nil {
		return nil, fmt.Errorf("rpm: header: %w", err)
	}
	payStart := hdrStart + len(hdr.raw)
	payload, err := flatecheck.FixGzip(rpm[payStart:])
	if err != nil {
		return nil, fmt.Errorf("rpm: payload: %w", err)
	}
	if len(payload) == len(rpm)-payStart && &payload[0] == &rpm[payStart] {
		return rpm, nil
	}
	for _, e := range sig.entries {
		switch e.tag {
		case rpmSigSize, rpmSigSHA256, rpmSigPayloadSize, 62: // 62: the region tag
		default:
			return nil, fmt.Errorf("rpm: signature tag %d: only unsigned rpms with a SHA-256 header digest can have their payload re-encoded", e.tag)
		}
	}
	out := make([]byte, 0, payStart+len(payload))
	out = append(append(out, rpm[:payStart]...), payload...)
	sig, _ = parseRPMHeader(out[rpmLeadSize:])
	hdr, _ = parseRPMHeader(out[hdrStart:])
	sum := sha256.Sum256(payload)
	if err := setHex(hdr, rpmTagPayloadDigst, rpmTypeStringArray, sum[:]); err != nil {
		return nil, fmt.Errorf("rpm: header: %w", err)
	}
	sum = sha256.Sum256(hdr.raw)
	if err := setHex(sig, rpmSigSHA256, rpmTypeString, sum[:]); err != nil {
		return nil, fmt.Errorf("rpm: signature header: %w", err)
	}
	v, err := sig.value(rpmSigSize, rpmTypeInt32)
	if err != nil {
		return nil, fmt.Errorf("rpm: signature header: %w", err)
	}
	n := len(hdr.raw) + len(payload)
	if n > 1<<31-1 {
		return nil, errors.New("rpm: header and payload exceed 2 GiB")
	}
	binary.BigEndian.PutUint32(v, uint32(n))
	return out, nil
}

// setHex overwrites a hex digest value with sum, of the same length.
func setHex(h *rpmHeader, tag, typ uint32, sum []byte) error {
	v, err := h.value(tag, typ)
	if err != nil {
		return err
	}
	if len(v) != hex.EncodedLen(len(sum)) {
		return fmt.Errorf("rpm tag %d: a %d-character digest, want %d", tag, len(v), hex.EncodedLen(len(sum)))
	}
	hex.Encode(v, sum)
	return nil
}
