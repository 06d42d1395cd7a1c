package cfb

import (
	"fmt"
	"io"
	"os"
	"sync"
	"unicode"

	"github.com/richardlehane/mscfb"
)

// StreamInfo describes one stream of a compound file.
type StreamInfo struct {
	Name string // full name, including a leading control character such as "\x05"
	Size int64
}

// Reader reads the streams under the root storage of a compound file.
type Reader struct {
	r       *mscfb.Reader
	files   map[string]*mscfb.File
	streams []StreamInfo
}

// Open parses the compound file in ra. When ra tells its size (Size or
// Stat, as *bytes.Reader and *os.File do), streams claiming more bytes than
// the file has are rejected: a damaged sector chain could otherwise be read
// in circles up to the claimed size.
func Open(ra io.ReaderAt) (*Reader, error) {
	r, err := mscfb.New(ra)
	if err != nil {
		return nil, fmt.Errorf("cfb: %w", err)
	}
	fileSize, known := sizeOf(ra)
	rd := &Reader{r: r, files: map[string]*mscfb.File{}}
	for i, f := range r.File {
		if i == 0 || len(f.Path) != 0 || f.FileInfo().IsDir() {
			continue // root, nested storages and their streams
		}
		name := f.Name
		// mscfb drops a non-printable first character (as in
		// "\x05SummaryInformation") from Name and keeps it in Initial.
		if f.Initial != 0 && !unicode.IsPrint(rune(f.Initial)) {
			name = string(rune(f.Initial)) + name
		}
		if known && f.Size > fileSize {
			return nil, fmt.Errorf("cfb: stream %q claims %d bytes, the file has %d", name, f.Size, fileSize)
		}
		if _, dup := rd.files[name]; dup {
			return nil, fmt.Errorf("cfb: duplicate stream %q", name)
		}
		rd.files[name] = f
		rd.streams = append(rd.streams, StreamInfo{Name: name, Size: f.Size})
	}
	return rd, nil
}

// CLSID returns the root storage's class id as mscfb formats it.
func (r *Reader) CLSID() string { return r.r.ID() }

// Streams lists the root's streams in directory (CFB name) order.
func (r *Reader) Streams() []StreamInfo { return append([]StreamInfo(nil), r.streams...) }

// Open returns a reader of the named stream. It is also an io.ReaderAt;
// reads are fast when they move forward (as reading a cabinet does): mscfb's
// own ReadAt walks the sector chain from the start on every call.
func (r *Reader) Open(name string) (*io.SectionReader, error) {
	f, ok := r.files[name]
	if !ok {
		return nil, fmt.Errorf("cfb: no stream %q", name)
	}
	return io.NewSectionReader(&streamAt{f: f}, 0, f.Size), nil
}

// streamAt reads an mscfb stream at offsets by seeking its shared position,
// which mscfb moves forward sector by sector from where it is.
type streamAt struct {
	mu sync.Mutex
	f  *mscfb.File
}

func (s *streamAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off >= s.f.Size {
		return 0, io.EOF
	}
	if _, err := s.f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	want := p
	if rest := s.f.Size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	n, err := io.ReadFull(s.f, want)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// ReadStream returns the whole named stream.
func (r *Reader) ReadStream(name string) ([]byte, error) {
	s, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(s)
	if err != nil {
		return nil, fmt.Errorf("cfb: read stream %q: %w", name, err)
	}
	return b, nil
}

func sizeOf(ra io.ReaderAt) (int64, bool) {
	switch x := ra.(type) {
	case interface{ Size() int64 }:
		return x.Size(), true
	case interface{ Stat() (os.FileInfo, error) }:
		if fi, err := x.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size(), true
		}
	}
	return 0, false
}
