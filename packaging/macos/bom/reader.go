package bom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

var be = binary.BigEndian

// store is a parsed BOMStore: its block table and named variables.
type store struct {
	data   []byte
	blocks [][2]uint32 // address, length
	vars   map[string]uint32
}

// maxBom bounds what Read loads into memory.
const maxBom = 256 << 20

func openStore(r io.ReaderAt, size int64) (*store, error) {
	if size < 32 || size > maxBom {
		return nil, fmt.Errorf("bom: file of %d bytes", size)
	}
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF)) {
		return nil, fmt.Errorf("bom: read: %w", err)
	}
	if string(data[:8]) != "BOMStore" {
		return nil, errors.New("bom: not a BOMStore file")
	}
	if v := be.Uint32(data[8:]); v != 1 {
		return nil, fmt.Errorf("bom: unsupported version %d", v)
	}
	s := &store{data: data, vars: map[string]uint32{}}
	idx, err := s.span(be.Uint32(data[16:]), be.Uint32(data[20:]))
	if err != nil {
		return nil, fmt.Errorf("bom: block table: %w", err)
	}
	if len(idx) < 4 {
		return nil, errors.New("bom: block table too short")
	}
	n := be.Uint32(idx)
	if uint64(n)*8+4 > uint64(len(idx)) {
		return nil, fmt.Errorf("bom: block table of %d entries does not fit %d bytes", n, len(idx))
	}
	for i := range n {
		p := idx[4+8*i:]
		a, l := be.Uint32(p), be.Uint32(p[4:])
		if uint64(a)+uint64(l) > uint64(len(data)) {
			return nil, fmt.Errorf("bom: block %d (%d+%d) lies outside the file", i, a, l)
		}
		s.blocks = append(s.blocks, [2]uint32{a, l})
	}
	vars, err := s.span(be.Uint32(data[24:]), be.Uint32(data[28:]))
	if err != nil || len(vars) < 4 {
		return nil, fmt.Errorf("bom: vars: bad range")
	}
	count, p := be.Uint32(vars), vars[4:]
	for range count {
		if len(p) < 5 || len(p) < 5+int(p[4]) {
			return nil, errors.New("bom: vars list truncated")
		}
		s.vars[string(p[5:5+int(p[4])])] = be.Uint32(p)
		p = p[5+int(p[4]):]
	}
	return s, nil
}

func (s *store) span(off, n uint32) ([]byte, error) {
	if uint64(off)+uint64(n) > uint64(len(s.data)) {
		return nil, fmt.Errorf("range %d+%d outside the file", off, n)
	}
	return s.data[off : off+n], nil
}

func (s *store) block(i uint32) ([]byte, error) {
	if i == 0 || int(i) >= len(s.blocks) {
		return nil, fmt.Errorf("bom: block index %d out of range", i)
	}
	b := s.blocks[i]
	return s.data[b[0] : b[0]+b[1]], nil
}

// treePairs returns the leaf pairs of the tree in block i, in leaf order.
func (s *store) treePairs(i uint32) ([][2]uint32, error) {
	t, err := s.block(i)
	if err != nil {
		return nil, err
	}
	if len(t) < 21 || string(t[:4]) != "tree" {
		return nil, fmt.Errorf("bom: block %d is not a tree", i)
	}
	var out [][2]uint32
	seen := map[uint32]bool{}
	var walk func(page uint32, depth int) error
	walk = func(page uint32, depth int) error {
		if depth > 16 || seen[page] {
			return fmt.Errorf("bom: tree page %d loops", page)
		}
		seen[page] = true
		p, err := s.block(page)
		if err != nil {
			return err
		}
		if len(p) < 12 {
			return fmt.Errorf("bom: tree page %d too short", page)
		}
		leaf, n := be.Uint16(p), int(be.Uint16(p[2:]))
		if 12+8*n > len(p) {
			return fmt.Errorf("bom: tree page %d: %d entries overflow it", page, n)
		}
		for k := range n {
			a, b := be.Uint32(p[12+8*k:]), be.Uint32(p[16+8*k:])
			if leaf == 1 {
				out = append(out, [2]uint32{a, b})
			} else if err := walk(a, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(be.Uint32(t[8:]), 0); err != nil {
		return nil, err
	}
	if want := be.Uint32(t[16:]); int(want) != len(out) {
		return nil, fmt.Errorf("bom: tree %d says %d entries, its leaves hold %d", i, want, len(out))
	}
	return out, nil
}

// Read parses the Bom in r (size bytes) and returns its Paths entries in
// leaf order, the order lsbom prints them.
func Read(r io.ReaderAt, size int64) ([]Entry, error) {
	s, err := openStore(r, size)
	if err != nil {
		return nil, err
	}
	pi, ok := s.vars["Paths"]
	if !ok {
		return nil, errors.New("bom: no Paths variable")
	}
	pairs, err := s.treePairs(pi)
	if err != nil {
		return nil, fmt.Errorf("bom: Paths: %w", err)
	}
	type node struct {
		parent uint32
		name   string
	}
	nodes := map[uint32]node{}
	entries := make([]Entry, 0, len(pairs))
	ids := make([]uint32, 0, len(pairs))
	for _, pr := range pairs {
		key, err := s.block(pr[0])
		if err != nil {
			return nil, err
		}
		val, err := s.block(pr[1])
		if err != nil {
			return nil, err
		}
		if len(key) < 8 || len(val) < 5 {
			return nil, errors.New("bom: Paths entry blocks too short")
		}
		id := be.Uint32(key)
		name, _, ok := bytes.Cut(val[4:], []byte{0})
		if !ok {
			return nil, errors.New("bom: path name not NUL-terminated")
		}
		nodes[id] = node{be.Uint32(val), string(name)}
		meta, err := s.block(be.Uint32(key[4:]))
		if err != nil {
			return nil, err
		}
		e, err := parseMeta(meta)
		if err != nil {
			return nil, fmt.Errorf("bom: %s: %w", name, err)
		}
		entries = append(entries, e)
		ids = append(ids, id)
	}
	for i, id := range ids {
		p, err := fullPath(id, func(id uint32) (uint32, string, bool) {
			n, ok := nodes[id]
			return n.parent, n.name, ok
		})
		if err != nil {
			return nil, err
		}
		entries[i].Path = p
	}
	return entries, nil
}

func fullPath(id uint32, get func(uint32) (uint32, string, bool)) (string, error) {
	var parts []string
	for depth := 0; id != 0; depth++ {
		parent, name, ok := get(id)
		if !ok {
			return "", fmt.Errorf("bom: path id %d has no entry", id)
		}
		if depth > 4096 {
			return "", errors.New("bom: path parents loop")
		}
		parts = append(parts, name)
		id = parent
	}
	var b bytes.Buffer
	for i := len(parts) - 1; i >= 0; i-- {
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(parts[i])
	}
	return b.String(), nil
}

// parseMeta decodes a metadata block: type, 1, flags, mode, uid, gid, mtime,
// size, 1, then CRC or device (not for directories), then a link's target.
func parseMeta(m []byte) (Entry, error) {
	if len(m) < 23 {
		return Entry{}, fmt.Errorf("metadata block of %d bytes", len(m))
	}
	e := Entry{
		Kind:    Kind(m[0]),
		Mode:    be.Uint16(m[4:]),
		UID:     be.Uint32(m[6:]),
		GID:     be.Uint32(m[10:]),
		ModTime: time.Unix(int64(be.Uint32(m[14:])), 0).UTC(),
		Size:    be.Uint32(m[18:]),
	}
	if e.Kind == Dir {
		return e, nil
	}
	if len(m) < 27 {
		return Entry{}, fmt.Errorf("metadata block of %d bytes", len(m))
	}
	if e.Kind == Device {
		e.Dev = be.Uint32(m[23:])
		return e, nil
	}
	e.Checksum = be.Uint32(m[23:])
	if e.Kind == Symlink {
		if len(m) < 31 {
			return Entry{}, errors.New("symlink metadata without a target")
		}
		n := be.Uint32(m[27:])
		if n == 0 || uint64(n) > uint64(len(m)-31) {
			return Entry{}, fmt.Errorf("symlink target of %d bytes", n)
		}
		t := m[31 : 31+n]
		e.Linkname = string(bytes.TrimRight(t, "\x00"))
	}
	return e, nil
}
