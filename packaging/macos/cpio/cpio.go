// Package cpio writes and reads cpio archives in the portable ASCII "odc"
// format (magic 070707), the format of a macOS package's Payload and Scripts.
//
// Writing a Payload (gzip it yourself):
//
//	cw := cpio.NewWriter(gz)
//	cw.WriteHeader(&cpio.Header{Name: ".", Mode: fs.ModeDir | 0o755, GID: 80, ModTime: t})
//	cw.WriteHeader(&cpio.Header{Name: "./opt/orbit/secret.txt", Mode: 0o600, GID: 80, Size: int64(len(b)), ModTime: t})
//	cw.Write(b)
//	cw.WriteHeader(&cpio.Header{Name: "./opt/orbit/bin/orbit/orbit", Mode: fs.ModeSymlink | 0o755, Linkname: "macos/stable/orbit", ModTime: t})
//	cw.Close() // writes TRAILER!!!
//
// Inode numbers are assigned 1, 2, 3... in write order, so the same entries
// give the same bytes. Reading:
//
//	cr := cpio.NewReader(r)
//	for { h, err := cr.Next(); if err == io.EOF { break }; io.Copy(dst, cr) }
package cpio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Header is one archive member. Mode carries the file type (fs.ModeDir,
// fs.ModeSymlink, or none for a regular file) and the permission bits,
// including fs.ModeSetuid/ModeSetgid/ModeSticky. A symlink's target is
// Linkname; its Size is ignored by the writer (the target is the data).
type Header struct {
	Name     string
	Mode     fs.FileMode
	UID, GID int
	Size     int64
	ModTime  time.Time
	Linkname string

	Inode int64 // set by the reader; the writer assigns its own
}

const (
	magic      = "070707"
	headerLen  = 76
	trailer    = "TRAILER!!!"
	max6       = 0o777777
	max11      = 0o77777777777
	sIFMT      = 0o170000
	sIFDIR     = 0o040000
	sIFREG     = 0o100000
	sIFLNK     = 0o120000
	sIFIFO     = 0o010000
	sIFCHR     = 0o020000
	sIFBLK     = 0o060000
	sIFSOCK    = 0o140000
	modeSetuid = 0o4000
	modeSetgid = 0o2000
	modeSticky = 0o1000
)

// UnixMode converts m to a Unix st_mode with the type bits.
func UnixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= modeSetuid
	}
	if m&fs.ModeSetgid != 0 {
		u |= modeSetgid
	}
	if m&fs.ModeSticky != 0 {
		u |= modeSticky
	}
	switch {
	case m&fs.ModeDir != 0:
		u |= sIFDIR
	case m&fs.ModeSymlink != 0:
		u |= sIFLNK
	case m&fs.ModeNamedPipe != 0:
		u |= sIFIFO
	case m&fs.ModeSocket != 0:
		u |= sIFSOCK
	case m&fs.ModeCharDevice != 0:
		u |= sIFCHR
	case m&fs.ModeDevice != 0:
		u |= sIFBLK
	default:
		u |= sIFREG
	}
	return u
}

// FileMode converts a Unix st_mode to an fs.FileMode.
func FileMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&modeSetuid != 0 {
		m |= fs.ModeSetuid
	}
	if u&modeSetgid != 0 {
		m |= fs.ModeSetgid
	}
	if u&modeSticky != 0 {
		m |= fs.ModeSticky
	}
	switch u & sIFMT {
	case sIFDIR:
		m |= fs.ModeDir
	case sIFLNK:
		m |= fs.ModeSymlink
	case sIFIFO:
		m |= fs.ModeNamedPipe
	case sIFSOCK:
		m |= fs.ModeSocket
	case sIFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case sIFBLK:
		m |= fs.ModeDevice
	}
	return m
}

// Writer writes an odc cpio stream.
type Writer struct {
	w      io.Writer
	ino    int64
	remain int64 // bytes of the current member still to be written
	closed bool
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// ResumeWriter carries on an archive after members written by another
// Writer, whose Inode was ino: w continues that Writer's output.
func ResumeWriter(w io.Writer, ino int64) *Writer { return &Writer{w: w, ino: ino} }

// Inode is the inode number of the last member written (0: none).
func (w *Writer) Inode() int64 { return w.ino }

// WriteHeader starts a new member. A regular file's Size bytes must follow
// through Write; a symlink's target is written here.
func (w *Writer) WriteHeader(h *Header) error {
	if w.closed {
		return errors.New("cpio: write after close")
	}
	if w.remain != 0 {
		return fmt.Errorf("cpio: %d bytes missing from the previous member", w.remain)
	}
	if h.Name == "" || h.Name == trailer {
		return fmt.Errorf("cpio: invalid member name %q", h.Name)
	}
	w.ino++
	size := h.Size
	var data []byte
	switch {
	case h.Mode&fs.ModeSymlink != 0:
		if h.Linkname == "" {
			return fmt.Errorf("cpio: %s: symlink without a target", h.Name)
		}
		data = []byte(h.Linkname)
		size = int64(len(data))
	case h.Mode.IsDir():
		size = 0
	case !h.Mode.IsRegular():
		return fmt.Errorf("cpio: %s: unsupported file type %v", h.Name, h.Mode.Type())
	}
	var mtime int64 // a zero ModTime is the epoch
	if !h.ModTime.IsZero() {
		mtime = h.ModTime.Unix()
	}
	if err := w.writeRaw(h.Name, UnixMode(h.Mode), h.UID, h.GID, nlink(h.Mode), mtime, size); err != nil {
		return err
	}
	if data != nil {
		_, err := w.w.Write(data)
		return err
	}
	w.remain = size
	return nil
}

func nlink(m fs.FileMode) int {
	if m.IsDir() {
		return 2
	}
	return 1
}

func (w *Writer) writeRaw(name string, mode uint32, uid, gid, nlink int, mtime, size int64) error {
	fields := []struct {
		what  string
		v     int64
		width int
	}{
		{"dev", 0, 6}, {"inode", w.ino, 6}, {"mode", int64(mode), 6},
		{"uid", int64(uid), 6}, {"gid", int64(gid), 6}, {"nlink", int64(nlink), 6},
		{"rdev", 0, 6}, {"mtime", mtime, 11}, {"name size", int64(len(name) + 1), 6},
		{"size", size, 11},
	}
	b := make([]byte, 0, headerLen+len(name)+1)
	b = append(b, magic...)
	for _, f := range fields {
		limit := int64(max6)
		if f.width == 11 {
			limit = max11
		}
		if f.v < 0 || f.v > limit {
			return fmt.Errorf("cpio: %s: %s %d does not fit the odc format", name, f.what, f.v)
		}
		b = fmt.Appendf(b, "%0*o", f.width, f.v)
	}
	b = append(b, name...)
	b = append(b, 0)
	_, err := w.w.Write(b)
	return err
}

// Write writes data of the current regular file.
func (w *Writer) Write(p []byte) (int, error) {
	if int64(len(p)) > w.remain {
		return 0, fmt.Errorf("cpio: write of %d bytes exceeds the header's size (%d left)", len(p), w.remain)
	}
	n, err := w.w.Write(p)
	w.remain -= int64(n)
	return n, err
}

// Close writes the TRAILER!!! member. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	if w.remain != 0 {
		return fmt.Errorf("cpio: %d bytes missing from the last member", w.remain)
	}
	w.closed = true
	w.ino = 0
	return w.writeRaw(trailer, 0, 0, 0, 1, 0, 0)
}

// Reader reads an odc cpio stream.
type Reader struct {
	r      io.Reader
	remain int64
	done   bool
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// Next skips the rest of the current member and returns the next header, or
// io.EOF after the trailer.
func (r *Reader) Next() (*Header, error) {
	if r.done {
		return nil, io.EOF
	}
	if r.remain > 0 {
		if _, err := io.CopyN(io.Discard, r.r, r.remain); err != nil {
			return nil, fmt.Errorf("cpio: skip member data: %w", noEOF(err))
		}
		r.remain = 0
	}
	var b [headerLen]byte
	if _, err := io.ReadFull(r.r, b[:]); err != nil {
		return nil, fmt.Errorf("cpio: read header: %w", noEOF(err))
	}
	if string(b[:6]) != magic {
		return nil, fmt.Errorf("cpio: bad magic %q, want odc %q", b[:6], magic)
	}
	var v [10]int64
	off := 6
	for i, width := range []int{6, 6, 6, 6, 6, 6, 6, 11, 6, 11} {
		n, err := parseOctal(b[off : off+width])
		if err != nil {
			return nil, fmt.Errorf("cpio: header field %d: %w", i, err)
		}
		v[i] = n
		off += width
	}
	nameLen := v[8]
	if nameLen < 1 || nameLen > 1<<16 {
		return nil, fmt.Errorf("cpio: bad name size %d", nameLen)
	}
	name := make([]byte, nameLen)
	if _, err := io.ReadFull(r.r, name); err != nil {
		return nil, fmt.Errorf("cpio: read name: %w", noEOF(err))
	}
	if name[nameLen-1] != 0 {
		return nil, errors.New("cpio: name not NUL-terminated")
	}
	h := &Header{
		Name:    string(name[:nameLen-1]),
		Inode:   v[1],
		Mode:    FileMode(uint32(v[2])),
		UID:     int(v[3]),
		GID:     int(v[4]),
		ModTime: time.Unix(v[7], 0).UTC(),
		Size:    v[9],
	}
	if h.Name == trailer {
		r.done = true
		return nil, io.EOF
	}
	if h.Mode&fs.ModeSymlink != 0 {
		if h.Size > 4096 {
			return nil, fmt.Errorf("cpio: %s: symlink target of %d bytes", h.Name, h.Size)
		}
		t := make([]byte, h.Size)
		if _, err := io.ReadFull(r.r, t); err != nil {
			return nil, fmt.Errorf("cpio: read symlink target: %w", noEOF(err))
		}
		h.Linkname = string(t)
		return h, nil
	}
	r.remain = h.Size
	return h, nil
}

// Read reads the current member's data.
func (r *Reader) Read(p []byte) (int, error) {
	if r.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.remain -= int64(n)
	if err == io.EOF && r.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func parseOctal(b []byte) (int64, error) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '7' {
			return 0, fmt.Errorf("not octal: %q", b)
		}
		n = n<<3 | int64(c-'0')
	}
	return n, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
