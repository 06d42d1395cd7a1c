package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The deb and rpm are signed after strictDeb/strictRPM re-encoded them, so
// that the signatures cover the final bytes (nfpm would sign what it wrote,
// before the re-encoding).

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

// rpm signature header tags and types.
const (
	rpmTagRegionSigs = 62   // RPMTAG_HEADERSIGNATURES: the immutable region
	rpmSigRSA        = 268  // OpenPGP signature of the header
	rpmSigPGP        = 1002 // OpenPGP signature of the header and payload
	rpmTypeBin       = 7
)

type rpmSigEntry struct {
	tag, typ uint32
	count    uint32
	data     []byte
}

// signRPM rebuilds the signature header of an unsigned rpm with the two
// OpenPGP signatures rpm verifies (as rpmpack writes them: RSA-header over
// the header, PGP over header and payload), keeping its size and digests. The
// header and payload are not touched.
func signRPM(rpm []byte, sign func(io.Reader, bool) ([]byte, error)) ([]byte, error) {
	if len(rpm) < rpmLeadSize || !bytes.Equal(rpm[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, errors.New("rpm: not an rpm file")
	}
	sig, err := parseRPMHeader(rpm[rpmLeadSize:])
	if err != nil {
		return nil, fmt.Errorf("rpm: signature header: %w", err)
	}
	hdrStart := rpmLeadSize + (len(sig.raw)+7)&^7
	hdr, err := parseRPMHeader(rpm[hdrStart:])
	if err != nil {
		return nil, fmt.Errorf("rpm: header: %w", err)
	}
	header := rpm[hdrStart : hdrStart+len(hdr.raw)]
	headerSig, err := sign(bytes.NewReader(header), false)
	if err != nil {
		return nil, fmt.Errorf("sign rpm header: %w", err)
	}
	bodySig, err := sign(bytes.NewReader(rpm[hdrStart:]), false)
	if err != nil {
		return nil, fmt.Errorf("sign rpm: %w", err)
	}
	entries := []rpmSigEntry{{tag: rpmSigRSA, typ: rpmTypeBin, count: uint32(len(headerSig)), data: headerSig},
		{tag: rpmSigPGP, typ: rpmTypeBin, count: uint32(len(bodySig)), data: bodySig}}
	for _, e := range sig.entries {
		switch e.tag {
		case rpmTagRegionSigs:
			continue
		case rpmSigSize, rpmSigPayloadSize:
			v, err := sig.value(e.tag, rpmTypeInt32)
			if err != nil {
				return nil, fmt.Errorf("rpm: signature header: %w", err)
			}
			entries = append(entries, rpmSigEntry{tag: e.tag, typ: rpmTypeInt32, count: 1, data: v})
		case rpmSigSHA256:
			v, err := sig.value(e.tag, rpmTypeString)
			if err != nil {
				return nil, fmt.Errorf("rpm: signature header: %w", err)
			}
			entries = append(entries, rpmSigEntry{tag: e.tag, typ: rpmTypeString, count: 1, data: append(bytes.Clone(v), 0)})
		default:
			return nil, fmt.Errorf("rpm: signature tag %d: only an unsigned rpm can be signed", e.tag)
		}
	}
	newSig := encodeRPMSigHeader(entries)
	out := make([]byte, 0, len(rpm)+len(newSig)+8)
	out = append(out, rpm[:rpmLeadSize]...)
	out = append(out, newSig...)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	return append(out, rpm[hdrStart:]...), nil
}

// encodeRPMSigHeader writes a header structure whose entries all sit in one
// immutable region (tag 62), in tag order, int32 values 4-byte aligned.
func encodeRPMSigHeader(entries []rpmSigEntry) []byte {
	sort.Slice(entries, func(i, j int) bool { return entries[i].tag < entries[j].tag })
	n := len(entries) + 1 // and the region entry
	var store bytes.Buffer
	index := make([]byte, 0, 16*n)
	put := func(tag, typ uint32, off int, count uint32) {
		index = binary.BigEndian.AppendUint32(index, tag)
		index = binary.BigEndian.AppendUint32(index, typ)
		index = binary.BigEndian.AppendUint32(index, uint32(off))
		index = binary.BigEndian.AppendUint32(index, count)
	}
	var body []byte
	for _, e := range entries {
		if e.typ == rpmTypeInt32 {
			for store.Len()%4 != 0 {
				store.WriteByte(0)
			}
		}
		off := store.Len()
		store.Write(e.data)
		body = binary.BigEndian.AppendUint32(body, e.tag)
		body = binary.BigEndian.AppendUint32(body, e.typ)
		body = binary.BigEndian.AppendUint32(body, uint32(off))
		body = binary.BigEndian.AppendUint32(body, e.count)
	}
	for store.Len()%4 != 0 {
		store.WriteByte(0)
	}
	trailerOff := store.Len()
	binary.Write(&store, binary.BigEndian, []int32{rpmTagRegionSigs, rpmTypeBin, int32(-16 * n), 16})
	put(rpmTagRegionSigs, rpmTypeBin, trailerOff, 16)
	index = append(index, body...)
	out := []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}
	out = binary.BigEndian.AppendUint32(out, uint32(n))
	out = binary.BigEndian.AppendUint32(out, uint32(store.Len()))
	out = append(out, index...)
	return append(out, store.Bytes()...)
}
