package rpmpayload

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/pkgctl/pkgctl/internal/gzseg"
	"github.com/pkgctl/pkgctl/internal/iox"
)

// Main header tags of the file list.
const (
	tagSize        = 1009 // int32: total size of the files
	tagFileSizes   = 1028 // int32 array
	tagFileDigests = 1035 // string array: hex SHA-256 of each regular file
	tagDirIndexes  = 1116 // int32 array
	tagBasenames   = 1117 // string array
	tagDirNames    = 1118 // string array
)

// emptyDigest is the file digest rpmpack writes for an empty file.
var emptyDigest = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// Body is the content of a file the rpm was built with empty: nfpm
// (rpmpack) reads every file into memory and compresses the payload,
// work Rewrite does again anyway, so pkgctl gives it empty files and
// Rewrite streams each one's content into the payload, then sets its size
// and digest in the header.
type Body struct {
	Path string // the file with the content
	Size int64  // its size, as the build saw it
}

// filled is what Rewrite put in for one Body.
type filled struct {
	size   int64
	digest string // hex SHA-256
}

// filler streams Bodies into cpio members and remembers what it put in.
type filler struct {
	bodies  map[string]Body // by installed path ("/opt/...")
	done    map[string]filled
	count   func(n int64)       // progress, or nil
	segment SegmentFunc         // or nil: bodies compressed in the stream
	zw      *gzseg.Writer       // the payload's compressor (segments go there)
	raw     hash.Hash           // the uncompressed payload's digest
	cw      *iox.CountingWriter // the uncompressed payload's size
}

// SegmentFunc returns the content of b compressed on its own at level
// (shared by the installers of a matrix) and its hex SHA-256.
type SegmentFunc func(b Body, level int) (*gzseg.Segment, string, error)

// fill writes the content of the member name, an empty regular file in the
// archive, to w when name has a Body. It returns whether it did, and the
// content size (for the member's header, which the caller writes first:
// so it asks sizeOf before).
func (f *filler) sizeOf(name string, mode int, size int) (int64, bool) {
	b, ok := f.bodies[name]
	if !ok || mode&0o170000 != 0o100000 || size != 0 {
		return 0, false
	}
	return b.Size, true
}

func (f *filler) write(w io.Writer, name string) error {
	b := f.bodies[name]
	if f.segment != nil {
		seg, digest, err := f.segment(b, gzipLevel)
		if err != nil {
			return fmt.Errorf("content of %s: %w", name, err)
		}
		if seg.Size != b.Size {
			return fmt.Errorf("content of %s: %s changed during the build (%d bytes, was %d)", name, b.Path, seg.Size, b.Size)
		}
		if err := f.zw.WriteSegment(seg); err != nil {
			return err
		}
		// The uncompressed payload's digest still reads every byte.
		if err := copyBody(f.raw, b, name); err != nil {
			return err
		}
		f.cw.N += b.Size
		f.fill(name, b.Size, digest)
		return nil
	}
	h := sha256.New()
	if err := copyBody(io.MultiWriter(w, h), b, name); err != nil {
		return err
	}
	f.fill(name, b.Size, hex.EncodeToString(h.Sum(nil)))
	return nil
}

// fill records what write put in for name.
func (f *filler) fill(name string, size int64, digest string) {
	f.done[name] = filled{size: size, digest: digest}
	if f.count != nil {
		f.count(size)
	}
}

// copyBody copies b's content to w: exactly b.Size bytes, or an error
// naming the member.
func copyBody(w io.Writer, b Body, name string) error {
	src, err := os.Open(b.Path)
	if err != nil {
		return fmt.Errorf("content of %s: %w", name, err)
	}
	defer src.Close()
	n, err := io.Copy(w, io.LimitReader(src, b.Size+1))
	if err != nil {
		return fmt.Errorf("content of %s: %w", name, err)
	}
	if n != b.Size {
		return fmt.Errorf("content of %s: %s changed during the build (%d bytes, was %d)", name, b.Path, n, b.Size)
	}
	return nil
}

// patchBodies sets, in place in the main header hdr, the size and digest of
// every file f filled and the total size. Each value keeps its length.
func (f *filler) patchBodies(hdr []byte, main *header) error {
	if len(f.done) != len(f.bodies) {
		for name := range f.bodies {
			if _, ok := f.done[name]; !ok {
				return fmt.Errorf("rpm payload has no empty file %s to fill", name)
			}
		}
	}
	if len(f.done) == 0 {
		return nil
	}
	names, err := fileNames(main)
	if err != nil {
		return err
	}
	sizes, digests, total := main.get(tagFileSizes), main.get(tagFileDigests), main.get(tagSize)
	if sizes == nil || sizes.typ != typeInt32 || sizes.count != len(names) || digests == nil || digests.count != len(names) || total == nil || total.typ != typeInt32 {
		return errors.New("rpm main header: file sizes, digests or total size missing or not as rpmpack writes them")
	}
	offs := stringOffsets(digests.data, digests.count)
	sum := int64(binary.BigEndian.Uint32(total.data))
	seen := 0
	for i, name := range names {
		d, ok := f.done[name]
		if !ok {
			continue
		}
		seen++
		if binary.BigEndian.Uint32(sizes.data[4*i:]) != 0 || string(digests.data[offs[i]:offs[i]+len(emptyDigest)]) != emptyDigest {
			return fmt.Errorf("rpm main header: %s is not the empty file it was built with", name)
		}
		if d.size >= 1<<31 || sum+d.size >= 1<<31 {
			return fmt.Errorf("%s: files of 2 GiB and more are not handled", name)
		}
		binary.BigEndian.PutUint32(hdr[main.dataAt+sizes.off+4*i:], uint32(d.size))
		copy(hdr[main.dataAt+digests.off+offs[i]:], d.digest)
		sum += d.size
	}
	if seen != len(f.done) {
		return errors.New("rpm main header lists fewer of the filled files than the payload holds")
	}
	binary.BigEndian.PutUint32(hdr[main.dataAt+total.off:], uint32(sum))
	return nil
}

// fileNames lists the header's files, dirname + basename, in index order.
func fileNames(main *header) ([]string, error) {
	base, idx, dirs := main.get(tagBasenames), main.get(tagDirIndexes), main.get(tagDirNames)
	if base == nil || idx == nil || dirs == nil || idx.typ != typeInt32 || idx.count != base.count {
		return nil, errors.New("rpm main header: no file list")
	}
	bases := splitStrings(base.data, base.count)
	dirNames := splitStrings(dirs.data, dirs.count)
	names := make([]string, len(bases))
	for i, b := range bases {
		d := int(binary.BigEndian.Uint32(idx.data[4*i:]))
		if d < 0 || d >= len(dirNames) {
			return nil, fmt.Errorf("rpm main header: file %d has directory index %d", i, d)
		}
		names[i] = dirNames[d] + b
	}
	return names, nil
}

func splitStrings(data []byte, n int) []string {
	var out []string
	for _, off := range stringOffsets(data, n) {
		end := bytes.IndexByte(data[off:], 0)
		out = append(out, string(data[off:off+end]))
	}
	return out
}

// stringOffsets returns where each of the n NUL-terminated strings of data
// starts (parseHeader checked that they are there).
func stringOffsets(data []byte, n int) []int {
	offs := make([]int, 0, n)
	for off := 0; len(offs) < n; {
		offs = append(offs, off)
		off += bytes.IndexByte(data[off:], 0) + 1
	}
	return offs
}
