// Package rpmpayload rewrites the cpio payload of a binary rpm so that its member
// names are "./"-relative, as rpmbuild writes them, and recomputes every size and
// digest the rpm headers carry. nfpm (through rpmpack) writes absolute member
// names, so `rpm2cpio x.rpm | cpio -idm` writes into the real /
// (goreleaser/nfpm#1122). rpm itself installs from the header's file list, which
// is left unchanged.
package rpmpayload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Header entry types (rpm's rpmTagType).
const (
	typeChar        = 1
	typeInt8        = 2
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

// Region tags: the first index entry of a header points at a 16-byte trailer
// that closes the header's immutable region.
const (
	tagHeaderSignatures = 62
	tagHeaderImmutable  = 63
)

var headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}

// entry is one index entry with its data.
type entry struct {
	tag, typ, count int
	data            []byte
	off             int // offset of data in the parsed header's data store
}

// header is a parsed rpm header: its region tag and its other entries.
type header struct {
	region  int // tagHeaderSignatures or tagHeaderImmutable
	entries []*entry
	size    int // bytes the header took in the file (without padding)
	dataAt  int // offset of the data store from the header's start
}

// align is the alignment rpm wants for an entry's data.
func align(typ int) int {
	switch typ {
	case typeInt16:
		return 2
	case typeInt32:
		return 4
	case typeInt64:
		return 8
	}
	return 1
}

// parseHeader parses the header at the start of b.
func parseHeader(b []byte) (*header, error) {
	if len(b) < 16 || !bytes.Equal(b[:8], headerMagic) {
		return nil, errors.New("no header magic")
	}
	n := int(binary.BigEndian.Uint32(b[8:]))
	dl := int(binary.BigEndian.Uint32(b[12:]))
	if n < 1 || n > 1<<16 || dl > 256<<20 || len(b) < 16+16*n+dl {
		return nil, fmt.Errorf("header of %d entries and %d data bytes does not fit in %d bytes", n, dl, len(b))
	}
	index, data := b[16:16+16*n], b[16+16*n:16+16*n+dl]
	h := &header{size: 16 + 16*n + dl, dataAt: 16 + 16*n}
	for i := range n {
		e := index[16*i:]
		tag := int(binary.BigEndian.Uint32(e))
		typ := int(binary.BigEndian.Uint32(e[4:]))
		off := int(int32(binary.BigEndian.Uint32(e[8:])))
		count := int(binary.BigEndian.Uint32(e[12:]))
		if i == 0 {
			if (tag != tagHeaderSignatures && tag != tagHeaderImmutable) || typ != typeBin || count != 16 || off != dl-16 {
				return nil, fmt.Errorf("header region entry (tag %d) is not the one this reader handles", tag)
			}
			h.region = tag
			continue
		}
		if off < 0 || off > dl-16 {
			return nil, fmt.Errorf("tag %d: offset %d outside the data", tag, off)
		}
		size, err := dataSize(typ, count, data[off:dl-16])
		if err != nil {
			return nil, fmt.Errorf("tag %d: %w", tag, err)
		}
		h.entries = append(h.entries, &entry{tag: tag, typ: typ, count: count, data: bytes.Clone(data[off : off+size]), off: off})
	}
	return h, nil
}

// dataSize is the byte length of count values of type typ at the start of b.
func dataSize(typ, count int, b []byte) (int, error) {
	var size int
	switch typ {
	case typeChar, typeInt8, typeBin:
		size = count
	case typeInt16, typeInt32, typeInt64:
		size = count * align(typ)
	case typeString, typeStringArray, typeI18NString:
		for range count {
			i := bytes.IndexByte(b[size:], 0)
			if i < 0 {
				return 0, errors.New("unterminated string")
			}
			size += i + 1
		}
	default:
		return 0, fmt.Errorf("unknown type %d", typ)
	}
	if size < 0 || size > len(b) {
		return 0, fmt.Errorf("%d values of type %d overrun the data", count, typ)
	}
	return size, nil
}

func (h *header) get(tag int) *entry {
	for _, e := range h.entries {
		if e.tag == tag {
			return e
		}
	}
	return nil
}

// set replaces or adds the entry of e.tag.
func (h *header) set(e *entry) {
	for i, old := range h.entries {
		if old.tag == e.tag {
			h.entries[i] = e
			return
		}
	}
	h.entries = append(h.entries, e)
}

// bytes serializes h: entries sorted by tag, data aligned by type, the region
// trailer last, as rpm and rpmpack lay headers out.
func (h *header) bytes() []byte {
	sort.SliceStable(h.entries, func(i, j int) bool { return h.entries[i].tag < h.entries[j].tag })
	var data bytes.Buffer
	offsets := make([]int, len(h.entries))
	for i, e := range h.entries {
		if pad := (align(e.typ) - data.Len()%align(e.typ)) % align(e.typ); pad > 0 {
			data.Write(make([]byte, pad))
		}
		offsets[i] = data.Len()
		data.Write(e.data)
	}
	n := len(h.entries) + 1
	regionOff := data.Len()
	data.Write(indexEntry(h.region, typeBin, -16*n, 16))

	var out bytes.Buffer
	out.Write(headerMagic)
	out.Write(be32(n, data.Len()))
	out.Write(indexEntry(h.region, typeBin, regionOff, 16))
	for i, e := range h.entries {
		out.Write(indexEntry(e.tag, e.typ, offsets[i], e.count))
	}
	out.Write(data.Bytes())
	return out.Bytes()
}

func indexEntry(tag, typ, off, count int) []byte {
	return be32(tag, typ, off, count)
}

func be32(v ...int) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.BigEndian.PutUint32(b[4*i:], uint32(int32(x)))
	}
	return b
}

func int32Entry(tag int, v int64) *entry {
	return &entry{tag: tag, typ: typeInt32, count: 1, data: be32(int(v))}
}

func int64Entry(tag int, v int64) *entry {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(v))
	return &entry{tag: tag, typ: typeInt64, count: 1, data: b}
}

func stringEntry(tag int, s string) *entry {
	return &entry{tag: tag, typ: typeString, count: 1, data: append([]byte(s), 0)}
}

func binEntry(tag int, b []byte) *entry {
	return &entry{tag: tag, typ: typeBin, count: len(b), data: b}
}
