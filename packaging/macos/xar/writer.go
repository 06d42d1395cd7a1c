// Package xar writes and reads xar archives, the container of macOS flat
// packages (.pkg), and signs them with relic.
//
// Writing a product archive (files in any order; parent directories are
// added when missing; ids and heap order follow the sorted paths):
//
//	err := xar.Write(out, []xar.File{
//		{Name: "Distribution", Open: xar.Bytes(dist)},
//		{Name: "base.pkg", Dir: true},
//		{Name: "base.pkg/PackageInfo", Open: xar.Bytes(info), Compress: true},
//		{Name: "base.pkg/Bom", Open: xar.Bytes(bom), Compress: true},
//		{Name: "base.pkg/Payload", Open: xar.Path(payloadPath)}, // streamed, hashed in a first pass
//		{Name: "base.pkg/Scripts", Open: xar.Path(scriptsPath)},
//	}, xar.Options{CreationTime: sourceDateEpoch})
//
// Signing in place, then checking:
//
//	err = xar.Sign(ctx, path, chain, key, nil) // RSA key, leaf certificate first
//	r, _ := xar.Open(f, size)
//	chain, err := r.VerifySignature(roots)
//
// The TOC checksum is always SHA-1: bsdtar 3.6 cannot open xars whose TOC
// checksum is SHA-256.
package xar

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/pkgctl/pkgctl/internal/strictflate"
)

// File is one member of an archive being written.
type File struct {
	// Name is the slash-separated path inside the archive ("base.pkg/Payload").
	Name string
	Dir  bool
	// Mode holds the permission bits; zero means 0644 (files) or 0755 (dirs).
	Mode        fs.FileMode
	UID, GID    int
	User, Group string // default "root" and "wheel"
	// ModTime is zero for Options.CreationTime.
	ModTime time.Time
	// Compress stores the data zlib-compressed (encoding application/x-gzip),
	// as Apple stores Bom and PackageInfo. Otherwise it is stored as is
	// (application/octet-stream), as Apple stores Payload.
	Compress bool
	// Open returns the data; it is called twice (hash, then copy) unless Size
	// and SHA1 are both given for an uncompressed file.
	Open func() (io.ReadCloser, error)
	// Size and SHA1 are the data's precomputed length and SHA-1 (optional).
	Size int64
	SHA1 []byte
	// Trusted says SHA1 was computed over exactly the bytes Open returns,
	// from a file nobody else writes (the pkg's private temporary files):
	// the copy then checks only the length, and no byte is hashed twice.
	Trusted bool
}

// Options are the archive-wide settings.
type Options struct {
	// CreationTime goes into the TOC and is the default ModTime
	// (SOURCE_DATE_EPOCH for reproducible builds).
	CreationTime time.Time
}

// Bytes returns an Open function serving b.
func Bytes(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// Path returns an Open function reading the file at p.
func Path(p string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return os.Open(p) }
}

const (
	headerSize  = 28
	magic       = 0x78617221 // "xar!"
	cksumSHA1   = 1
	encRaw      = "application/octet-stream"
	encZlib     = "application/x-gzip"
	timeFormat  = "2006-01-02T15:04:05Z"
	ctimeFormat = "2006-01-02T15:04:05"
)

// node is a File placed in the tree, with what the first pass measured.
type node struct {
	File
	base     string
	id       int
	children []*node
	// data facts
	size, length, offset int64
	extracted, archived  []byte
}

// Write writes a complete xar archive to w. Data is streamed: nothing larger
// than a copy buffer is held in memory.
func Write(w io.Writer, files []File, opt Options) error {
	root, err := buildTree(files)
	if err != nil {
		return err
	}
	var order []*node
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.children {
			order = append(order, c)
			walk(c)
		}
	}
	walk(root)
	// Heap: TOC checksum first, then data in id order.
	offset := int64(sha1.Size)
	for i, n := range order {
		n.id = i + 1
		if n.Dir {
			continue
		}
		if err := measure(n); err != nil {
			return err
		}
		n.offset = offset
		offset += n.length
	}
	toc := tocXML(root, opt)
	var ztoc bytes.Buffer
	zw := strictflate.NewZlibWriter(&ztoc, 9)
	zw.Write(toc)
	if err := zw.Close(); err != nil {
		return fmt.Errorf("xar: compress TOC: %w", err)
	}
	var hdr [headerSize]byte
	binary.BigEndian.PutUint32(hdr[0:], magic)
	binary.BigEndian.PutUint16(hdr[4:], headerSize)
	binary.BigEndian.PutUint16(hdr[6:], 1)
	binary.BigEndian.PutUint64(hdr[8:], uint64(ztoc.Len()))
	binary.BigEndian.PutUint64(hdr[16:], uint64(len(toc)))
	binary.BigEndian.PutUint32(hdr[24:], cksumSHA1)
	sum := sha1.Sum(ztoc.Bytes())
	for _, b := range [][]byte{hdr[:], ztoc.Bytes(), sum[:]} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("xar: write: %w", err)
		}
	}
	for _, n := range order {
		if n.Dir {
			continue
		}
		if err := copyData(w, n); err != nil {
			return err
		}
	}
	return nil
}

func buildTree(files []File) (*node, error) {
	root := &node{File: File{Dir: true}}
	byPath := map[string]*node{"": root}
	// Sort by path so that ids and heap order never depend on input order.
	sorted := append([]File(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, f := range sorted {
		name := f.Name
		if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." || name == "." {
			return nil, fmt.Errorf("xar: invalid member name %q", f.Name)
		}
		if _, dup := byPath[name]; dup {
			if f.Dir && byPath[name].Dir && byPath[name].Open == nil {
				// An implicit directory made explicit: take its metadata.
				byPath[name].File = f
				continue
			}
			return nil, fmt.Errorf("xar: duplicate member %q", name)
		}
		parent, err := ensureDir(byPath, root, path.Dir(name))
		if err != nil {
			return nil, err
		}
		if !f.Dir && f.Open == nil {
			return nil, fmt.Errorf("xar: %s: no data source (Open)", name)
		}
		n := &node{File: f, base: path.Base(name)}
		byPath[name] = n
		parent.children = append(parent.children, n)
	}
	var sortKids func(n *node)
	sortKids = func(n *node) {
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].base < n.children[j].base })
		for _, c := range n.children {
			sortKids(c)
		}
	}
	sortKids(root)
	return root, nil
}

func ensureDir(byPath map[string]*node, root *node, dir string) (*node, error) {
	if dir == "." {
		return root, nil
	}
	if n, ok := byPath[dir]; ok {
		if !n.Dir {
			return nil, fmt.Errorf("xar: %s is both a file and a directory", dir)
		}
		return n, nil
	}
	parent, err := ensureDir(byPath, root, path.Dir(dir))
	if err != nil {
		return nil, err
	}
	n := &node{File: File{Name: dir, Dir: true}, base: path.Base(dir)}
	byPath[dir] = n
	parent.children = append(parent.children, n)
	return n, nil
}

// countHash counts and hashes what is written to it.
type countHash struct {
	h hash.Hash
	n int64
}

func (c *countHash) Write(p []byte) (int, error) {
	c.h.Write(p)
	c.n += int64(len(p))
	return len(p), nil
}

// nopHash counts nothing: the length check of data whose SHA-1 was given.
type nopHash struct{ hash.Hash }

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }

// measure learns a file's sizes and checksums, streaming its data once
// (unless they were given).
func measure(n *node) error {
	if !n.Compress && n.SHA1 != nil {
		if len(n.SHA1) != sha1.Size {
			return fmt.Errorf("xar: %s: precomputed SHA1 has %d bytes", n.Name, len(n.SHA1))
		}
		n.size, n.length = n.Size, n.Size
		n.extracted, n.archived = n.SHA1, n.SHA1
		return nil
	}
	ext := &countHash{h: sha1.New()}
	arch := &countHash{h: sha1.New()}
	if err := stream(n, ext, arch); err != nil {
		return err
	}
	n.size, n.length = ext.n, arch.n
	n.extracted, n.archived = ext.h.Sum(nil), arch.h.Sum(nil)
	return nil
}

// stream reads n's data once: the plain bytes go to plain, the stored
// (possibly compressed) bytes to stored.
func stream(n *node, plain, stored io.Writer) error {
	rc, err := n.Open()
	if err != nil {
		return fmt.Errorf("xar: open %s: %w", n.Name, err)
	}
	defer rc.Close()
	if !n.Compress {
		if _, err := io.Copy(io.MultiWriter(plain, stored), rc); err != nil {
			return fmt.Errorf("xar: read %s: %w", n.Name, err)
		}
		return nil
	}
	zw := strictflate.NewZlibWriter(stored, 9)
	if _, err := io.Copy(io.MultiWriter(plain, zw), rc); err != nil {
		return fmt.Errorf("xar: read %s: %w", n.Name, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("xar: compress %s: %w", n.Name, err)
	}
	return nil
}

// copyData writes n's stored bytes and checks they are what the TOC says:
// their length, and their SHA-1 unless the File is Trusted. Uncompressed
// data is hashed once, its plain and stored bytes being the same.
func copyData(w io.Writer, n *node) error {
	if !n.Compress {
		out := &countHash{h: nopHash{}}
		trusted := n.Trusted && n.SHA1 != nil
		if !trusted {
			out.h = sha1.New()
		}
		if err := stream(n, io.Discard, io.MultiWriter(w, out)); err != nil {
			return err
		}
		if out.n != n.length || !trusted && !bytes.Equal(out.h.Sum(nil), n.archived) {
			return fmt.Errorf("xar: %s changed while it was archived (or its precomputed Size/SHA1 are wrong)", n.Name)
		}
		return nil
	}
	plain := &countHash{h: sha1.New()}
	out := &countHash{h: sha1.New()}
	if err := stream(n, plain, io.MultiWriter(w, out)); err != nil {
		return err
	}
	if out.n != n.length || !bytes.Equal(out.h.Sum(nil), n.archived) || plain.n != n.size || !bytes.Equal(plain.h.Sum(nil), n.extracted) {
		return fmt.Errorf("xar: %s changed while it was archived (or its precomputed Size/SHA1 are wrong)", n.Name)
	}
	return nil
}

func tocXML(root *node, opt Options) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<xar>\n <toc>\n")
	fmt.Fprintf(&b, "  <creation-time>%s</creation-time>\n", opt.CreationTime.UTC().Format(ctimeFormat))
	fmt.Fprintf(&b, "  <checksum style=\"sha1\">\n   <offset>0</offset>\n   <size>%d</size>\n  </checksum>\n", sha1.Size)
	for _, c := range root.children {
		writeNode(&b, c, "  ", opt)
	}
	b.WriteString(" </toc>\n</xar>\n")
	return b.Bytes()
}

func writeNode(b *bytes.Buffer, n *node, ind string, opt Options) {
	in := ind + " "
	fmt.Fprintf(b, "%s<file id=\"%d\">\n", ind, n.id)
	if !n.Dir {
		enc := encRaw
		if n.Compress {
			enc = encZlib
		}
		fmt.Fprintf(b, "%s<data>\n", in)
		fmt.Fprintf(b, "%s <length>%d</length>\n%s <offset>%d</offset>\n%s <size>%d</size>\n", in, n.length, in, n.offset, in, n.size)
		fmt.Fprintf(b, "%s <encoding style=%q/>\n", in, enc)
		fmt.Fprintf(b, "%s <archived-checksum style=\"sha1\">%s</archived-checksum>\n", in, hex.EncodeToString(n.archived))
		fmt.Fprintf(b, "%s <extracted-checksum style=\"sha1\">%s</extracted-checksum>\n", in, hex.EncodeToString(n.extracted))
		fmt.Fprintf(b, "%s</data>\n", in)
	}
	mt := n.ModTime
	if mt.IsZero() {
		mt = opt.CreationTime
	}
	ts := mt.UTC().Format(timeFormat)
	user, group := n.User, n.Group
	if user == "" {
		user = "root"
	}
	if group == "" {
		group = "wheel"
	}
	mode, typ := n.Mode.Perm(), "file"
	if n.Dir {
		typ = "directory"
		if mode == 0 {
			mode = 0o755
		}
	} else if mode == 0 {
		mode = 0o644
	}
	fmt.Fprintf(b, "%s<ctime>%s</ctime>\n%s<mtime>%s</mtime>\n%s<atime>%s</atime>\n", in, ts, in, ts, in, ts)
	fmt.Fprintf(b, "%s<group>%s</group>\n%s<gid>%d</gid>\n", in, esc(group), in, n.GID)
	fmt.Fprintf(b, "%s<user>%s</user>\n%s<uid>%d</uid>\n", in, esc(user), in, n.UID)
	fmt.Fprintf(b, "%s<mode>%04o</mode>\n%s<type>%s</type>\n", in, uint32(mode), in, typ)
	fmt.Fprintf(b, "%s<name>%s</name>\n", in, esc(n.base))
	for _, c := range n.children {
		writeNode(b, c, in, opt)
	}
	fmt.Fprintf(b, "%s</file>\n", ind)
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
