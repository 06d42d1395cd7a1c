package scratch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Output is an installer being written beside its final path. On Linux it
// has no name until Commit (O_TMPFILE), so a crash leaves nothing; elsewhere
// it is a hidden file named by OutputPattern, which Sweep removes after a crash.
//
// Installers are large and written once, so Output keeps them out of the
// page cache: on Linux it writes with O_DIRECT from an aligned buffer where
// the file system allows it; elsewhere, or when it does not, it starts the
// writeback of each completed writebackChunk at once and Sync drops the
// synced pages. Without that, a matrix of 100 installers (10 GB) fills the
// page cache and every write pays for the kernel's reclaim: measured 16 s of
// system time for 100 × 104 MB, against 3 s (writeback) and 1 s (direct).
type Output struct {
	*os.File
	path    string        // final path
	tmp     string        // the temporary name, "" while the file has none
	written int64         // bytes written through Write
	flushed int64         // bytes whose writeback has been started (buffered)
	direct  *directWriter // nil: buffered
}

// writebackChunk is how much a buffered Output collects before it starts
// writing it back.
const writebackChunk = 8 << 20

// useDirect lets tests take the buffered path where direct I/O works.
var useDirect = true

// CreateOutput starts the file that Commit will put at path.
func CreateOutput(path string) (*Output, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var o *Output
	if f, err := anonymousIn(dir); err == nil {
		o = &Output{File: f, path: path}
	} else {
		f, err := os.CreateTemp(dir, OutputPattern(base))
		if err != nil {
			return nil, err
		}
		o = &Output{File: f, path: path, tmp: f.Name()}
	}
	if useDirect {
		o.direct = newDirectWriter(o.File)
	}
	return o, nil
}

// Write writes p at the end of what was written.
func (o *Output) Write(p []byte) (int, error) {
	if o.direct != nil {
		n, err := o.direct.write(p)
		var refused *errDirectRefused
		if !errors.As(err, &refused) {
			return n, err
		}
		// The file system takes no direct I/O: what the buffer holds and
		// the rest of p go out buffered, and so does everything after.
		d := o.direct
		o.direct = nil
		defer d.release()
		if err := setDirect(o.File, false); err != nil {
			return n, err
		}
		if _, err := o.writeBuffered(refused.pending); err != nil {
			return n, err
		}
		m, err := o.writeBuffered(p[n:])
		return n + m, err
	}
	return o.writeBuffered(p)
}

func (o *Output) writeBuffered(p []byte) (int, error) {
	n, err := o.File.Write(p)
	o.written += int64(n)
	if o.written-o.flushed >= writebackChunk {
		startWriteback(o.File, o.flushed, o.written-o.flushed)
		o.flushed = o.written
	}
	return n, err
}

// finishDirect ends direct writing: what is pending goes out and the file is
// then read, signed and synced like any other.
func (o *Output) finishDirect() error {
	if o.direct == nil {
		return nil
	}
	d := o.direct
	o.direct = nil
	o.written = d.written
	return d.finish()
}

// WriteString writes s through Write (the embedded *os.File's would go
// around the buffer).
func (o *Output) WriteString(s string) (int, error) { return o.Write([]byte(s)) }

// ReadFrom copies through Write, so that the buffering above applies (the
// embedded *os.File would otherwise copy around it).
func (o *Output) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(struct{ io.Writer }{o}, r)
}

// Sync commits the file to disk, then lets the kernel drop its pages: an
// installer is read again rarely, and then from disk at disk speed.
func (o *Output) Sync() error {
	if err := o.finishDirect(); err != nil {
		return err
	}
	if err := o.File.Sync(); err != nil {
		return err
	}
	dropCache(o.File)
	return nil
}

// Named gives the file a temporary name beside path, for a step that needs
// one (signing), and returns it. The file stays open.
func (o *Output) Named() (string, error) {
	if err := o.finishDirect(); err != nil {
		return "", err
	}
	if o.tmp != "" {
		return o.tmp, nil
	}
	dir, base := filepath.Split(o.path)
	if dir == "" {
		dir = "."
	}
	for i := 0; ; i++ {
		name := filepath.Join(dir, fmt.Sprintf(".%s.pkgctl-%d-%d", base, os.Getpid(), i))
		err := linkAnonymous(o.File, name)
		if err == nil {
			o.tmp = name
			return name, nil
		}
		if !os.IsExist(err) || i > 100 {
			return "", err
		}
	}
}

// Commit closes the file and puts it at the final path, replacing what was
// there, atomically: the path holds the old file or the complete new one.
func (o *Output) Commit() error {
	if err := o.finishDirect(); err != nil {
		o.File.Close()
		return err
	}
	if o.tmp == "" {
		// No name yet: link it straight to the final path when nothing is
		// there, else through a temporary name and a rename.
		err := linkAnonymous(o.File, o.path)
		if err == nil {
			return o.File.Close()
		}
		if !os.IsExist(err) {
			o.File.Close()
			return err
		}
		if _, err := o.Named(); err != nil {
			o.File.Close()
			return err
		}
	}
	if err := o.File.Close(); err != nil {
		os.Remove(o.tmp)
		return err
	}
	if err := os.Rename(o.tmp, o.path); err != nil {
		os.Remove(o.tmp)
		return err
	}
	return nil
}

// Abort closes and removes the file.
func (o *Output) Abort() {
	if o.direct != nil {
		o.direct.release()
		o.direct = nil
	}
	o.File.Close()
	if o.tmp != "" {
		os.Remove(o.tmp)
	}
}

// Reopen replaces the open file with the one now at its temporary name (a
// signing step may have renamed another file over it).
func (o *Output) Reopen() error {
	if o.tmp == "" {
		return nil
	}
	o.File.Close()
	f, err := os.OpenFile(o.tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	o.File = f
	return nil
}
