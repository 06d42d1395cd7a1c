package bom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"path"
	"sort"
	"strings"
)

const (
	headerLen   = 512
	pageSize    = 4096
	vPageSize   = 128
	leafEntries = 256 // per Paths leaf page (a 4096-byte page holds at most 510)
	maxBranch   = (pageSize - 12) / 8
)

// Write writes a Bom listing entries to w. Paths are "." and "./a/b"; the
// root and every parent must be among the entries. Entries may come in any
// order: ids are numbered depth-first with names sorted byte by byte, and the
// Paths leaves are ordered by (parent id, name), as Apple's Boms are.
// A symlink's Size and Checksum are computed from Linkname.
func Write(w io.Writer, entries []Entry) error {
	nodes, err := buildTree(entries)
	if err != nil {
		return err
	}
	var s storeWriter
	s.add(nil) // block 0 is null

	info := make([]byte, 12+16)
	be.PutUint32(info[0:], 1)
	be.PutUint32(info[4:], uint32(len(nodes)+1))
	be.PutUint32(info[8:], 1)
	infoIdx := s.add(info)

	// Paths: one key, value and metadata block per entry, in leaf order.
	type pair struct{ key, val uint32 }
	pairs := make([]pair, len(nodes))
	for i, n := range nodes {
		meta := metaBlock(n.Entry)
		mi := s.add(meta)
		key := make([]byte, 8)
		be.PutUint32(key, n.id)
		be.PutUint32(key[4:], mi)
		val := make([]byte, 4, 5+len(n.name))
		be.PutUint32(val, n.parentID)
		val = append(append(val, n.name...), 0)
		pairs[i] = pair{s.add(key), s.add(val)}
	}
	// Leaf pages, linked forward and backward; a branch page above them
	// when there is more than one.
	nLeaves := max(1, (len(pairs)+leafEntries-1)/leafEntries)
	if nLeaves > maxBranch {
		return fmt.Errorf("bom: %d paths is more than one branch page can index", len(pairs))
	}
	leafIdx := make([]uint32, nLeaves)
	for i := range leafIdx {
		leafIdx[i] = s.reserve()
	}
	var branch [][2]uint32
	for i := range nLeaves {
		chunk := pairs[min(i*leafEntries, len(pairs)):min((i+1)*leafEntries, len(pairs))]
		var fwd, bwd uint32
		if i+1 < nLeaves {
			fwd = leafIdx[i+1]
		}
		if i > 0 {
			bwd = leafIdx[i-1]
		}
		ps := make([][2]uint32, len(chunk))
		for k, p := range chunk {
			ps[k] = [2]uint32{p.key, p.val}
		}
		s.set(leafIdx[i], page(pageSize, true, fwd, bwd, ps))
		if len(chunk) > 0 {
			branch = append(branch, [2]uint32{leafIdx[i], chunk[len(chunk)-1].val})
		}
	}
	root := leafIdx[0]
	if nLeaves > 1 {
		root = s.add(page(pageSize, false, 0, 0, branch))
	}
	pathsIdx := s.add(tree(root, pageSize, uint32(len(pairs))))

	emptyTree := func(ps int) uint32 {
		return s.add(tree(s.add(page(ps, true, 0, 0, nil)), uint32(ps), 0))
	}
	hlIdx := emptyTree(pageSize)
	vTree := emptyTree(vPageSize)
	vindex := make([]byte, 13)
	be.PutUint32(vindex, 1)
	be.PutUint32(vindex[4:], vTree)
	vIdx := s.add(vindex)
	sizeIdx := emptyTree(pageSize)

	vars := []struct {
		name string
		idx  uint32
	}{{"BomInfo", infoIdx}, {"Paths", pathsIdx}, {"HLIndex", hlIdx}, {"VIndex", vIdx}, {"Size64", sizeIdx}}
	var vb bytes.Buffer
	binary.Write(&vb, be, uint32(len(vars)))
	for _, v := range vars {
		binary.Write(&vb, be, v.idx)
		vb.WriteByte(byte(len(v.name)))
		vb.WriteString(v.name)
	}
	return s.writeTo(w, vb.Bytes())
}

type treeNode struct {
	Entry
	name         string
	id, parentID uint32
	children     []*treeNode
}

// buildTree checks entries, numbers them depth-first and returns them in
// leaf order.
func buildTree(entries []Entry) ([]*treeNode, error) {
	byPath := make(map[string]*treeNode, len(entries))
	for _, e := range entries {
		p := e.Path
		if !validPath(p) {
			return nil, fmt.Errorf("bom: invalid path %q (want \".\" or \"./a/b\")", p)
		}
		if _, dup := byPath[p]; dup {
			return nil, fmt.Errorf("bom: duplicate path %q", p)
		}
		if e.Kind == 0 {
			k, err := kindOf(e.Mode)
			if err != nil {
				return nil, fmt.Errorf("bom: %s: %w", p, err)
			}
			e.Kind = k
		}
		switch e.Kind {
		case Symlink:
			if e.Linkname == "" {
				return nil, fmt.Errorf("bom: %s: symlink without a target", p)
			}
			d := NewCksum()
			d.Write([]byte(e.Linkname))
			e.Size, e.Checksum = uint32(len(e.Linkname)), d.Sum32()
		case Dir, File, Device:
		default:
			return nil, fmt.Errorf("bom: %s: unknown kind %d", p, e.Kind)
		}
		byPath[p] = &treeNode{Entry: e, name: path.Base(p)}
	}
	root, ok := byPath["."]
	if !ok {
		return nil, fmt.Errorf("bom: the root entry \".\" is missing")
	}
	if root.Kind != Dir {
		return nil, fmt.Errorf("bom: the root entry \".\" is not a directory")
	}
	root.name = "."
	for p, n := range byPath {
		if p == "." {
			continue
		}
		dir := path.Dir(p[2:])
		parentPath := "."
		if dir != "." {
			parentPath = "./" + dir
		}
		parent, ok := byPath[parentPath]
		if !ok {
			return nil, fmt.Errorf("bom: %s: parent %s is not listed", p, parentPath)
		}
		if parent.Kind != Dir {
			return nil, fmt.Errorf("bom: %s: parent %s is not a directory", p, parentPath)
		}
		parent.children = append(parent.children, n)
	}
	var id uint32
	var number func(n *treeNode)
	number = func(n *treeNode) {
		id++
		n.id = id
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
		for _, c := range n.children {
			c.parentID = n.id
			number(c)
		}
	}
	number(root)
	out := make([]*treeNode, 0, len(byPath))
	for _, n := range byPath {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].parentID != out[j].parentID {
			return out[i].parentID < out[j].parentID
		}
		return out[i].name < out[j].name
	})
	return out, nil
}

// metaBlock encodes an entry's metadata as Apple's newer Boms do, with the
// 8 trailing zero bytes.
func metaBlock(e Entry) []byte {
	b := make([]byte, 0, 48+len(e.Linkname))
	b = append(b, byte(e.Kind), 1)
	b = be.AppendUint16(b, 0x000F)
	b = be.AppendUint16(b, e.Mode)
	b = be.AppendUint32(b, e.UID)
	b = be.AppendUint32(b, e.GID)
	mt := e.ModTime.Unix()
	if e.ModTime.IsZero() || mt < 0 {
		mt = 0
	}
	b = be.AppendUint32(b, uint32(min(mt, math.MaxUint32)))
	b = be.AppendUint32(b, e.Size)
	b = append(b, 1)
	switch e.Kind {
	case File:
		b = be.AppendUint32(b, e.Checksum)
	case Device:
		b = be.AppendUint32(b, e.Dev)
	case Symlink:
		b = be.AppendUint32(b, e.Checksum)
		b = be.AppendUint32(b, uint32(len(e.Linkname)+1))
		b = append(append(b, e.Linkname...), 0)
	}
	return append(b, make([]byte, 8)...)
}

func tree(child, pageSize, count uint32) []byte {
	b := []byte("tree")
	b = be.AppendUint32(b, 1)
	b = be.AppendUint32(b, child)
	b = be.AppendUint32(b, pageSize)
	b = be.AppendUint32(b, count)
	return append(b, 0)
}

// page returns a full, zero-padded tree page.
func page(size int, leaf bool, fwd, bwd uint32, pairs [][2]uint32) []byte {
	b := make([]byte, 12, size)
	if leaf {
		be.PutUint16(b, 1)
	}
	be.PutUint16(b[2:], uint16(len(pairs)))
	be.PutUint32(b[4:], fwd)
	be.PutUint32(b[8:], bwd)
	for _, p := range pairs {
		b = be.AppendUint32(b, p[0])
		b = be.AppendUint32(b, p[1])
	}
	return b[:size]
}

// storeWriter collects blocks and lays out the file: header, blocks in
// index order, vars, then the block table and free list at the end.
type storeWriter struct{ blocks [][]byte }

func (s *storeWriter) add(b []byte) uint32 {
	s.blocks = append(s.blocks, b)
	return uint32(len(s.blocks) - 1)
}

func (s *storeWriter) reserve() uint32        { return s.add(nil) }
func (s *storeWriter) set(i uint32, b []byte) { s.blocks[i] = b }

func (s *storeWriter) writeTo(w io.Writer, vars []byte) error {
	var body bytes.Buffer
	off := uint32(headerLen)
	table := be.AppendUint32(nil, uint32(len(s.blocks)))
	nonNull := 0
	for i, b := range s.blocks {
		if i == 0 {
			table = append(table, make([]byte, 8)...)
			continue
		}
		table = be.AppendUint32(table, off)
		table = be.AppendUint32(table, uint32(len(b)))
		body.Write(b)
		off += uint32(len(b))
		nonNull++
	}
	varsOff := off
	body.Write(vars)
	off += uint32(len(vars))
	// Free list: empty, followed by two zero pointers (as mkbom writes it).
	table = be.AppendUint32(table, 0)
	table = append(table, make([]byte, 16)...)
	hdr := make([]byte, headerLen)
	copy(hdr, "BOMStore")
	be.PutUint32(hdr[8:], 1)
	be.PutUint32(hdr[12:], uint32(nonNull))
	be.PutUint32(hdr[16:], off)
	be.PutUint32(hdr[20:], uint32(len(table)))
	be.PutUint32(hdr[24:], varsOff)
	be.PutUint32(hdr[28:], uint32(len(vars)))
	for _, b := range [][]byte{hdr, body.Bytes(), table} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("bom: write: %w", err)
		}
	}
	return nil
}

func validPath(p string) bool {
	if p == "." {
		return true
	}
	rest, ok := strings.CutPrefix(p, "./")
	return ok && rest != "" && rest != "." && rest != ".." && path.Clean(rest) == rest &&
		!strings.HasPrefix(rest, "../") && !strings.HasPrefix(rest, "/")
}
