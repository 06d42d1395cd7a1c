package cab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
)

// FileInfo is one file of a cabinet.
type FileInfo struct {
	Name     string
	Size     int64
	Attrs    uint16
	Modified time.Time // DOS date and time, as UTC fields
	Folder   int
	Offset   int64 // in the folder's uncompressed data
}

type folder struct {
	start  int64
	blocks int
	comp   uint16
}

// Cabinet is a cabinet opened for reading.
type Cabinet struct {
	Files []FileInfo
	// Trailing is the number of bytes after the cabinet (a signature, or
	// padding); they are not read.
	Trailing int64
	// Strict makes Walk also refuse MSZIP blocks with Huffman codes that
	// strict decoders (libmspack, Windows) refuse (see flatecheck).
	Strict  bool
	r       io.ReaderAt
	size    int64
	folders []folder
	resData int
}

// Open parses the cabinet header and file list.
func Open(r io.ReaderAt, size int64) (*Cabinet, error) {
	le := binary.LittleEndian
	h := make([]byte, headerSize+4)
	if _, err := r.ReadAt(h[:headerSize], 0); err != nil {
		return nil, fmt.Errorf("cab: read header: %w", err)
	}
	if string(h[:4]) != "MSCF" {
		return nil, errors.New("cab: not a cabinet (no MSCF signature)")
	}
	// A signed cabinet (or one a tool padded) carries data after the size
	// the header gives: the cabinet is that prefix.
	got := int64(le.Uint32(h[8:]))
	if got > size || got < headerSize {
		return nil, fmt.Errorf("cab: header says %d bytes, file has %d", got, size)
	}
	trailing := size - got
	size = got
	if h[25] != 1 || h[24] != 3 {
		return nil, fmt.Errorf("cab: version %d.%d, want 1.3", h[25], h[24])
	}
	flags := le.Uint16(h[30:])
	if flags&3 != 0 {
		return nil, errors.New("cab: multi-cabinet sets are not supported")
	}
	c := &Cabinet{r: r, size: size, Trailing: trailing}
	off := int64(headerSize)
	resFolder := 0
	if flags&4 != 0 {
		if _, err := r.ReadAt(h[headerSize:headerSize+4], headerSize); err != nil {
			return nil, fmt.Errorf("cab: read header: %w", err)
		}
		resFolder, c.resData = int(h[headerSize+2]), int(h[headerSize+3])
		off += 4 + int64(le.Uint16(h[headerSize:]))
	}
	nFolders, nFiles := int(le.Uint16(h[26:])), int(le.Uint16(h[28:]))
	fb := make([]byte, folderSize+resFolder)
	for i := 0; i < nFolders; i++ {
		if _, err := r.ReadAt(fb, off); err != nil {
			return nil, fmt.Errorf("cab: read folder %d: %w", i, err)
		}
		c.folders = append(c.folders, folder{start: int64(le.Uint32(fb)), blocks: int(le.Uint16(fb[4:])), comp: le.Uint16(fb[6:]) & 0xF})
		off += int64(len(fb))
	}
	off = int64(le.Uint32(h[16:]))
	sr := io.NewSectionReader(r, off, size-off)
	buf := make([]byte, 16)
	for i := 0; i < nFiles; i++ {
		if _, err := io.ReadFull(sr, buf); err != nil {
			return nil, fmt.Errorf("cab: read file entry %d: %w", i, err)
		}
		var name []byte
		var one [1]byte
		for {
			if _, err := io.ReadFull(sr, one[:]); err != nil {
				return nil, fmt.Errorf("cab: read file name %d: %w", i, err)
			}
			if one[0] == 0 {
				break
			}
			if len(name) > 256 {
				return nil, fmt.Errorf("cab: file name %d too long", i)
			}
			name = append(name, one[0])
		}
		d, t := le.Uint16(buf[10:]), le.Uint16(buf[12:])
		fi := FileInfo{
			Name: string(name), Size: int64(le.Uint32(buf)), Offset: int64(le.Uint32(buf[4:])),
			Folder: int(le.Uint16(buf[8:])), Attrs: le.Uint16(buf[14:]),
			Modified: time.Date(1980+int(d>>9), time.Month(d>>5&0xF), int(d&0x1F), int(t>>11), int(t>>5&0x3F), int(t&0x1F)*2, 0, time.UTC),
		}
		if fi.Folder >= nFolders {
			return nil, fmt.Errorf("cab: file %q in folder %d of %d", fi.Name, fi.Folder, nFolders)
		}
		c.Files = append(c.Files, fi)
	}
	return c, nil
}

// folderReader yields a folder's uncompressed data, checking every block.
type folderReader struct {
	c     *Cabinet
	f     folder
	index int
	off   int64
	cur   []byte
	dict  []byte
	zr    io.ReadCloser
}

func (fr *folderReader) Read(p []byte) (int, error) {
	for len(fr.cur) == 0 {
		if fr.index == fr.f.blocks {
			return 0, io.EOF
		}
		if err := fr.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, fr.cur)
	fr.cur = fr.cur[n:]
	return n, nil
}

func (fr *folderReader) next() error {
	le := binary.LittleEndian
	hdr := make([]byte, 8+fr.c.resData)
	if _, err := fr.c.r.ReadAt(hdr, fr.off); err != nil {
		return fmt.Errorf("cab: block %d header: %w", fr.index, err)
	}
	cb, ucb := int(le.Uint16(hdr[4:])), int(le.Uint16(hdr[6:]))
	data := make([]byte, cb)
	if _, err := fr.c.r.ReadAt(data, fr.off+int64(len(hdr))); err != nil {
		return fmt.Errorf("cab: block %d data: %w", fr.index, err)
	}
	if sum := le.Uint32(hdr); sum != 0 {
		if got := checksum(hdr[4:], checksum(data, 0)); got != sum {
			return fmt.Errorf("cab: block %d: checksum %08x, stored %08x", fr.index, got, sum)
		}
	}
	if ucb > blockSize {
		return fmt.Errorf("cab: block %d: %d uncompressed bytes", fr.index, ucb)
	}
	var out []byte
	switch fr.f.comp {
	case compNone:
		out = data
	case compMSZIP:
		if len(data) < 2 || data[0] != 'C' || data[1] != 'K' {
			return fmt.Errorf("cab: block %d: no MSZIP CK signature", fr.index)
		}
		if fr.c.Strict {
			if err := flatecheck.CheckMSZIP(data); err != nil {
				return fmt.Errorf("cab: block %d: %w", fr.index, err)
			}
		}
		if fr.zr == nil {
			fr.zr = flate.NewReaderDict(bytes.NewReader(data[2:]), fr.dict)
		} else {
			fr.zr.(flate.Resetter).Reset(bytes.NewReader(data[2:]), fr.dict)
		}
		out = make([]byte, ucb)
		if _, err := io.ReadFull(fr.zr, out); err != nil {
			return fmt.Errorf("cab: block %d: inflate: %w", fr.index, err)
		}
	default:
		return fmt.Errorf("cab: compression type %d is not supported", fr.f.comp)
	}
	if len(out) != ucb {
		return fmt.Errorf("cab: block %d: %d bytes, header says %d", fr.index, len(out), ucb)
	}
	fr.dict, fr.cur = out, out
	fr.off += int64(len(hdr) + cb)
	fr.index++
	return nil
}

// Block is one data block of a folder, as stored.
type Block struct {
	Folder, Index int
	Compression   uint16 // 0 none, 1 MSZIP
	Data          []byte // compressed bytes (MSZIP: "CK" + deflate)
	Uncompressed  int
}

// Blocks calls fn with every data block of every folder, in order, without
// inflating them (for strict format checks). fn must not keep Data.
func (c *Cabinet) Blocks(fn func(b Block) error) error {
	le := binary.LittleEndian
	hdr := make([]byte, 8+c.resData)
	for fi, f := range c.folders {
		off := f.start
		for i := 0; i < f.blocks; i++ {
			if _, err := c.r.ReadAt(hdr, off); err != nil {
				return fmt.Errorf("cab: folder %d block %d header: %w", fi, i, err)
			}
			cb := int(le.Uint16(hdr[4:]))
			if off+int64(len(hdr)+cb) > c.size {
				return fmt.Errorf("cab: folder %d block %d lies outside the cabinet", fi, i)
			}
			data := make([]byte, cb)
			if _, err := c.r.ReadAt(data, off+int64(len(hdr))); err != nil {
				return fmt.Errorf("cab: folder %d block %d data: %w", fi, i, err)
			}
			if err := fn(Block{Folder: fi, Index: i, Compression: f.comp, Data: data, Uncompressed: int(le.Uint16(hdr[6:]))}); err != nil {
				return err
			}
			off += int64(len(hdr) + cb)
		}
	}
	return nil
}

// Walk reads every folder once, in order, and calls fn with each file and a
// reader of its content (valid only during the call). Checksums are verified
// and a damaged block is an error.
func (c *Cabinet) Walk(fn func(f FileInfo, r io.Reader) error) error {
	for fi, f := range c.folders {
		var files []FileInfo
		for _, x := range c.Files {
			if x.Folder == fi {
				files = append(files, x)
			}
		}
		sort.SliceStable(files, func(i, j int) bool { return files[i].Offset < files[j].Offset })
		fr := &folderReader{c: c, f: f, off: f.start}
		var pos int64
		for _, x := range files {
			if x.Offset < pos {
				return fmt.Errorf("cab: file %q overlaps the previous one", x.Name)
			}
			if _, err := io.CopyN(io.Discard, fr, x.Offset-pos); err != nil {
				return fmt.Errorf("cab: skip to %q: %w", x.Name, err)
			}
			lr := &io.LimitedReader{R: fr, N: x.Size}
			if err := fn(x, lr); err != nil {
				return err
			}
			if _, err := io.Copy(io.Discard, lr); err != nil {
				return err
			}
			if lr.N != 0 {
				return fmt.Errorf("cab: file %q: data ends %d bytes early", x.Name, lr.N)
			}
			pos = x.Offset + x.Size
		}
		// Read (and so check) any remaining blocks.
		if _, err := io.Copy(io.Discard, fr); err != nil {
			return err
		}
	}
	return nil
}

// ReadAll returns every file's content by name (for tests and small cabinets).
func (c *Cabinet) ReadAll() (map[string][]byte, error) {
	m := map[string][]byte{}
	err := c.Walk(func(f FileInfo, r io.Reader) error {
		b, err := io.ReadAll(r)
		m[f.Name] = b
		return err
	})
	return m, err
}
