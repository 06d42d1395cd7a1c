// Package cab writes and reads Microsoft cabinet files ([MS-CAB]) with MSZIP
// compression ([MS-MCI]), as Windows Installer embeds them.
//
// The writer puts all files in one folder, cut into 32 KiB uncompressed
// blocks; each block is "CK" plus a complete raw deflate stream that may
// refer to the blocks before it (MSZIP decoders keep their window), with
// complete Huffman codes only: libmspack (cabextract) and Windows' inflate
// refuse the one-bit single distance code that klauspost/compress writes for
// some blocks, so internal/strictflate re-encodes those. Runs of segmentBlocks
// blocks are compressed in parallel, each as one stream cut by sync flushes
// whose preset dictionary is the previous run's last block (hashing a
// dictionary per block cost a quarter of the time), and written to a
// temporary file, because the header's sizes are known only at the end; the
// cabinet is then read back from Open or copied by WriteTo. Memory stays flat
// whatever the payload size. Output is deterministic: same files, names,
// attributes and time give the same bytes.
//
//	w, err := cab.NewWriter(cab.Options{TempDir: dir, ModTime: sourceDateEpoch})
//	defer w.Close()
//	err = w.Add("orbit.exe", f, 0)   // name = the MSI File table key
//	size, err := w.Finish()
//	err = db.AddStream("cab1.cab", size, w.Open)
//
// Open reads a cabinet: its file list, and Walk, which inflates and checks
// every block's checksum while handing out each file's content.
package cab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pkgctl/pkgctl/internal/scratch"
	"github.com/pkgctl/pkgctl/internal/strictflate"
)

// File attributes ([MS-CAB] CFFILE.attribs).
const (
	AttrReadOnly  = 0x01
	AttrHidden    = 0x02
	AttrSystem    = 0x04
	AttrArchive   = 0x20
	AttrExec      = 0x40
	AttrNameIsUTF = 0x80
)

const (
	blockSize     = 32768
	segmentBlocks = 32 // blocks compressed as one stream by one goroutine
	maxFiles      = 0xFFFF
	maxBlocks     = 0xFFFF
	maxFolderSize = 0x7FFF8000
	headerSize    = 36
	folderSize    = 8
	compMSZIP     = 1
	compNone      = 0
)

// Options configure a Writer.
type Options struct {
	// TempDir holds the temporary file of compressed blocks ("" = os.TempDir).
	TempDir string
	// ModTime is every file's DOS date and time (local fields of the given
	// time; seconds rounded down to even). Zero means 1980-01-01 00:00.
	ModTime time.Time
	// Level is the deflate level 1..9; 0 means 6.
	Level int
}

type entry struct {
	name   string
	size   uint32
	offset uint32
	attrs  uint16
}

type job struct {
	data, dict []byte
	out        *bytes.Buffer // the blocks' compressed data ("CK" and deflate), back to back
	blocks     [][2]int      // each block's compressed and uncompressed size
	done       chan struct{}
	err        error
}

// Writer builds a cabinet. It is not safe for concurrent use.
type Writer struct {
	opts   Options
	tmp    *os.File
	files  []entry
	names  map[string]bool
	total  int64
	buf    []byte
	prev   []byte
	blocks int
	comp   int64

	queue  chan *job
	sem    chan struct{}
	wg     sync.WaitGroup
	werr   error     // set by the ordering goroutine
	bufs   sync.Pool // segment data, cap segmentBlocks*blockSize
	outs   sync.Pool // *bytes.Buffer
	head   []byte
	closed bool

	pre *Folder // reused first folder (AddFolder), or nil
}

// NewWriter starts a cabinet, creating its temporary file.
func NewWriter(opts Options) (*Writer, error) {
	if opts.Level == 0 {
		opts.Level = 6
	}
	if opts.Level < 1 || opts.Level > 9 {
		return nil, fmt.Errorf("cab: deflate level %d out of range 1..9", opts.Level)
	}
	tmp, err := scratch.File(opts.TempDir, "cab") // no name: nothing left if killed
	if err != nil {
		return nil, fmt.Errorf("cab: temporary file: %w", err)
	}
	n := runtime.GOMAXPROCS(0)
	w := &Writer{opts: opts, tmp: tmp, names: map[string]bool{}, buf: make([]byte, 0, segmentBlocks*blockSize),
		queue: make(chan *job, n+1), sem: make(chan struct{}, n)}
	w.wg.Add(1)
	go w.writeBlocks()
	return w, nil
}

// writeBlocks writes compressed blocks to the temporary file in order and
// recycles each segment's buffers.
func (w *Writer) writeBlocks() {
	defer w.wg.Done()
	for j := range w.queue {
		<-j.done
		if w.werr == nil && j.err != nil {
			w.werr = j.err
		}
		b := j.out.Bytes()
		for _, blk := range j.blocks {
			if w.werr == nil {
				w.werr = w.writeBlock(b[:blk[0]], blk[1])
			}
			b = b[blk[0]:]
		}
		w.bufs.Put(j.data[:0])
		j.out.Reset()
		w.outs.Put(j.out)
	}
}

// writeBlock writes one CFDATA: its header, then b, plain bytes compressed.
func (w *Writer) writeBlock(b []byte, plain int) error {
	var hdr [8]byte
	binary.LittleEndian.PutUint16(hdr[4:], uint16(len(b)))
	binary.LittleEndian.PutUint16(hdr[6:], uint16(plain))
	binary.LittleEndian.PutUint32(hdr[0:], checksum(hdr[4:8], checksum(b, 0)))
	if _, err := w.tmp.Write(hdr[:]); err != nil {
		return fmt.Errorf("cab: write temporary file: %w", err)
	}
	if _, err := w.tmp.Write(b); err != nil {
		return fmt.Errorf("cab: write temporary file: %w", err)
	}
	w.comp += int64(len(hdr) + len(b))
	return nil
}

// compress compresses a segment into its MSZIP blocks: "CK" and a complete
// deflate stream each, with complete Huffman codes only (libmspack and
// Windows refuse others). The same segment and dictionary give the same
// bytes.
func (w *Writer) compress(j *job) {
	defer func() { <-w.sem; close(j.done) }()
	j.out.Grow(len(j.data) + len(j.data)/16 + 64*segmentBlocks)
	j.err = strictflate.Pieces(j.data, j.dict, blockSize, w.opts.Level, func(comp []byte, plain int) error {
		if len(comp)+2 > 0xFFFF {
			return fmt.Errorf("cab: compress block: block compressed to %d bytes", len(comp)+2)
		}
		j.out.WriteString("CK")
		j.out.Write(comp)
		j.blocks = append(j.blocks, [2]int{len(comp) + 2, plain})
		return nil
	})
	if j.err != nil {
		j.err = fmt.Errorf("cab: compress block: %w", j.err)
	}
}

// flushBlock queues the current segment for compression.
func (w *Writer) flushBlock() error {
	if len(w.buf) == 0 {
		return nil
	}
	n := (len(w.buf) + blockSize - 1) / blockSize
	if w.blocks+n > maxBlocks {
		return errors.New("cab: too many data blocks (the folder would exceed 2 GB)")
	}
	out, _ := w.outs.Get().(*bytes.Buffer)
	if out == nil {
		out = new(bytes.Buffer)
	}
	j := &job{data: w.buf, dict: w.prev, out: out, done: make(chan struct{})}
	// The next segment's dictionary: this one's last block (a copy, as the
	// buffer is recycled once written).
	last := w.buf[(n-1)*blockSize:]
	w.prev = append(make([]byte, 0, blockSize), last...)
	w.buf, _ = w.bufs.Get().([]byte)
	if w.buf == nil {
		w.buf = make([]byte, 0, segmentBlocks*blockSize)
	}
	w.blocks += n
	w.sem <- struct{}{}
	w.queue <- j
	go w.compress(j)
	return nil
}

// Add appends a file read from r until EOF. Its name is stored as given
// (UTF-8 names get the NAME_IS_UTF attribute); attrs 0 means AttrArchive.
func (w *Writer) Add(name string, r io.Reader, attrs uint16) error {
	if w.head != nil || w.closed {
		return errors.New("cab: Add after Finish or Close")
	}
	if name == "" || len(name) > 255 || !utf8.ValidString(name) {
		return fmt.Errorf("cab: file name %q must be 1..255 bytes of UTF-8", name)
	}
	if w.names[name] {
		return fmt.Errorf("cab: duplicate file name %q", name)
	}
	if len(w.files)+w.preFiles() == maxFiles {
		return errors.New("cab: too many files (65535)")
	}
	if attrs == 0 {
		attrs = AttrArchive
	}
	attrs &^= AttrNameIsUTF
	for _, c := range []byte(name) {
		if c >= 0x80 {
			attrs |= AttrNameIsUTF
			break
		}
	}
	start := w.total
	for {
		if len(w.buf) == cap(w.buf) {
			if err := w.flushBlock(); err != nil {
				return err
			}
		}
		n, err := r.Read(w.buf[len(w.buf):cap(w.buf)])
		w.buf = w.buf[:len(w.buf)+n]
		w.total += int64(n)
		if w.total > maxFolderSize {
			return fmt.Errorf("cab: file %q: the cabinet's content would exceed %d bytes", name, maxFolderSize)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("cab: read %q: %w", name, err)
		}
	}
	w.names[name] = true
	w.files = append(w.files, entry{name: name, size: uint32(w.total - start), offset: uint32(start), attrs: attrs})
	return nil
}

// dosDateTime converts t as CAB stores it.
func dosDateTime(t time.Time) (date, tm uint16) {
	if t.IsZero() || t.Year() < 1980 {
		return 1<<5 | 1, 0
	}
	if t.Year() > 2107 {
		t = time.Date(2107, 12, 31, 23, 59, 58, 0, time.UTC)
	}
	date = uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	tm = uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	return date, tm
}

// Finish compresses what is left and returns the cabinet's size.
func (w *Writer) Finish() (int64, error) {
	if w.closed {
		return 0, errors.New("cab: Finish after Close")
	}
	if w.head == nil {
		if err := w.flushBlock(); err != nil {
			return 0, err
		}
		close(w.queue)
		w.wg.Wait()
		if w.werr != nil {
			return 0, w.werr
		}
		if len(w.files)+w.preFiles() == 0 {
			return 0, errors.New("cab: no files")
		}
		w.head = w.header()
	}
	return int64(len(w.head)) + w.preComp() + w.comp, nil
}

func (w *Writer) preFiles() int {
	if w.pre == nil {
		return 0
	}
	return len(w.pre.files)
}

func (w *Writer) preComp() int64 {
	if w.pre == nil {
		return 0
	}
	return w.pre.comp
}

// folderRow is a CFFOLDER entry.
type folderRow struct {
	comp   int64
	blocks int
	files  []entry
}

// folders are the cabinet's folders: the reused one, then the Writer's own
// (omitted when it holds no file).
func (w *Writer) folders() []folderRow {
	var out []folderRow
	if w.pre != nil {
		out = append(out, folderRow{w.pre.comp, w.pre.blocks, w.pre.files})
	}
	if w.pre == nil || len(w.files) > 0 {
		out = append(out, folderRow{w.comp, w.blocks, w.files})
	}
	return out
}

func (w *Writer) header() []byte {
	var files bytes.Buffer
	date, tm := dosDateTime(w.opts.ModTime)
	le := binary.LittleEndian
	folders := w.folders()
	nFiles := 0
	for i, fo := range folders {
		for _, f := range fo.files {
			binary.Write(&files, le, f.size)
			binary.Write(&files, le, f.offset)
			binary.Write(&files, le, uint16(i))
			binary.Write(&files, le, date)
			binary.Write(&files, le, tm)
			binary.Write(&files, le, f.attrs)
			files.WriteString(f.name)
			files.WriteByte(0)
			nFiles++
		}
	}
	coffFiles := headerSize + folderSize*len(folders)
	dataStart := coffFiles + files.Len()
	h := make([]byte, coffFiles, dataStart)
	copy(h, "MSCF")
	le.PutUint32(h[8:], uint32(int64(dataStart)+w.preComp()+w.comp)) // cbCabinet
	le.PutUint32(h[16:], uint32(coffFiles))
	h[24], h[25] = 3, 1 // version 1.3
	le.PutUint16(h[26:], uint16(len(folders)))
	le.PutUint16(h[28:], uint16(nFiles))
	// flags 0, setID 0, iCabinet 0
	start := int64(dataStart)
	for i, fo := range folders {
		row := h[headerSize+folderSize*i:]
		le.PutUint32(row, uint32(start))
		le.PutUint16(row[4:], uint16(fo.blocks))
		le.PutUint16(row[6:], compMSZIP)
		start += fo.comp
	}
	return append(h, files.Bytes()...)
}

type nopCloser struct{ io.Reader }

func (nopCloser) Close() error { return nil }

// Open returns the finished cabinet's bytes; it may be called many times
// until Close, and fits msidb.Database.AddStream.
func (w *Writer) Open() (io.ReadCloser, error) {
	if _, err := w.Finish(); err != nil {
		return nil, err
	}
	parts := []io.Reader{bytes.NewReader(w.head)}
	if w.pre != nil {
		parts = append(parts, io.NewSectionReader(w.pre.data, 0, w.pre.comp))
	}
	parts = append(parts, io.NewSectionReader(w.tmp, 0, w.comp))
	return nopCloser{io.MultiReader(parts...)}, nil
}

// WriteTo finishes the cabinet and copies it to out.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	r, err := w.Open()
	if err != nil {
		return 0, err
	}
	return io.Copy(out, r)
}

// Close removes the temporary file.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	if w.head == nil {
		w.flushBlock()
		close(w.queue)
		w.wg.Wait()
	}
	w.closed = true
	return scratch.Close(w.tmp)
}

// checksum is the CFDATA checksum: XOR of little-endian 32-bit words, the
// trailing bytes packed big-end first.
func checksum(b []byte, seed uint32) uint32 {
	s := seed
	n := len(b) &^ 3
	for i := 0; i < n; i += 4 {
		s ^= binary.LittleEndian.Uint32(b[i:])
	}
	var t uint32
	for _, c := range b[n:] {
		t = t<<8 | uint32(c)
	}
	return s ^ t
}
