package scratch

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// directChunk is the size of a directWriter's buffers; directDepth is how
// many it has: one filling while the others wait for or are being written.
// Measured on a matrix of 100 pkgs: one write in flight left the disk idle
// a third of the time.
const (
	directChunk = 4 << 20
	directDepth = 4
)

// directWriter writes a file with O_DIRECT from aligned buffers that a
// goroutine writes in order while the build fills the next, so the disk and
// the build work at the same time. Only the goroutine touches the file from
// the first queued chunk until finish.
type directWriter struct {
	f       *os.File
	fill    []byte      // being filled; len is what is pending
	queue   chan []byte // full buffers, written in order by the goroutine
	free    chan []byte // written buffers, to fill again
	done    chan error  // the goroutine's first error, once queue is closed
	failed  atomic.Bool // the goroutine has met an error: stop early
	buffers int         // buffers taken from the pool
	started bool        // the first chunk went out (synchronously)
	written int64       // bytes taken by write
}

// newDirectWriter turns O_DIRECT on for f, or returns nil where the file
// system does not take it.
func newDirectWriter(f *os.File) *directWriter {
	if setDirect(f, true) != nil {
		return nil
	}
	return &directWriter{f: f, fill: getBuffer(), buffers: 1}
}

// write takes p, submitting each full buffer, and returns how much of p it
// took.
func (d *directWriter) write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(d.fill[len(d.fill):cap(d.fill)], p[n:])
		d.fill, n = d.fill[:len(d.fill)+c], n+c
		d.written += int64(c)
		if len(d.fill) == cap(d.fill) {
			if err := d.submit(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// refuseDirect makes the first direct write fail as on a file system that
// takes no direct I/O (tests).
var refuseDirect = false

// errDirectRefused wraps the first write's error when the file system
// refused direct I/O: the caller writes buffered from then on.
type errDirectRefused struct {
	err     error
	pending []byte // the bytes not written, to write buffered
}

func (e *errDirectRefused) Error() string { return e.err.Error() }

// submit writes the full fill buffer: the first synchronously (a file system
// that refuses direct I/O says so there), the others through the goroutine.
func (d *directWriter) submit() error {
	chunk := d.fill
	if !d.started {
		d.started = true
		if refuseDirect {
			return &errDirectRefused{err: errors.New("direct I/O refused (test)"), pending: chunk}
		}
		if _, err := d.f.Write(chunk); err != nil {
			if directRefused(err) {
				return &errDirectRefused{err: err, pending: chunk}
			}
			return err
		}
		d.fill = chunk[:0]
		return nil
	}
	if d.queue == nil {
		d.queue, d.free, d.done = make(chan []byte, directDepth), make(chan []byte, directDepth), make(chan error, 1)
		go d.run()
	}
	if d.failed.Load() {
		return d.stop()
	}
	d.queue <- chunk
	if d.buffers < directDepth {
		d.buffers++
		d.fill = getBuffer()
		return nil
	}
	d.fill = (<-d.free)[:0]
	return nil
}

// run writes the queued buffers in order until the queue is closed; after
// an error it only hands buffers back.
func (d *directWriter) run() {
	var first error
	for chunk := range d.queue {
		if first == nil {
			if _, err := d.f.Write(chunk); err != nil {
				first = err
				d.failed.Store(true)
			}
		}
		d.free <- chunk
	}
	d.done <- first
}

// stop waits for the queued writes and returns the first error.
func (d *directWriter) stop() error {
	if d.queue == nil {
		return nil
	}
	close(d.queue)
	err := <-d.done
	d.queue = nil
	for len(d.free) > 0 {
		putBuffer(<-d.free)
	}
	return err
}

// finish writes what is pending (padded to the alignment, then the file
// truncated to its size), turns direct I/O off and frees the buffers: the
// file is then read, signed and synced like any other.
func (d *directWriter) finish() error {
	defer d.release()
	if err := d.stop(); err != nil {
		return err
	}
	if pending := len(d.fill); pending > 0 {
		padded := (pending + directAlign - 1) / directAlign * directAlign
		clear(d.fill[pending:padded])
		if _, err := d.f.Write(d.fill[:padded]); err != nil {
			return err
		}
		if err := d.f.Truncate(d.written); err != nil {
			return err
		}
	}
	if err := setDirect(d.f, false); err != nil {
		return err
	}
	_, err := d.f.Seek(d.written, io.SeekStart)
	return err
}

// release waits for the writes in flight and returns the buffers.
func (d *directWriter) release() {
	d.stop()
	putBuffer(d.fill)
	d.fill = nil
}

// Buffers are reused across outputs (a matrix writes hundreds) and kept out
// of the Go heap where the OS allows, so they neither need zeroing nor count
// towards the garbage collector's target.
var buffers struct {
	sync.Mutex
	free [][]byte
}

const keepBuffers = 4 * directDepth

func getBuffer() []byte {
	buffers.Lock()
	defer buffers.Unlock()
	if n := len(buffers.free); n > 0 {
		b := buffers.free[n-1]
		buffers.free = buffers.free[:n-1]
		return b[:0]
	}
	return allocAligned(directChunk)[:0]
}

func putBuffer(b []byte) {
	if b == nil {
		return
	}
	buffers.Lock()
	defer buffers.Unlock()
	if len(buffers.free) < keepBuffers {
		buffers.free = append(buffers.free, b[:0])
		return
	}
	freeAligned(b)
}
