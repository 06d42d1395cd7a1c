// Package gzseg writes one-member gzip files (RFC 1952) whose deflate data is
// cut into chunks compressed in parallel, as pigz does: each chunk of
// strictflate.ChunkSize input bytes is compressed by strictflate.Chunk (complete
// Huffman codes only) with the 32 KiB before it as preset dictionary and ends
// with a sync flush, on a byte boundary; an empty final block closes the
// stream. The bytes depend only on the input and the level, never on
// GOMAXPROCS or timing.
//
// A Writer can stop at a chunk boundary (Checkpoint) and others can carry on
// from there after a copy of the bytes written so far (Resume): a prefix that
// many files share is compressed once, and its CRC-32 combined with the rest.
package gzseg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/pkgctl/pkgctl/internal/strictflate"
)

// State is where a Writer stopped at a Checkpoint: enough to resume.
type State struct {
	Level int
	CRC   uint32 // CRC-32 (IEEE) of the input so far
	Size  int64  // input bytes so far
	Out   int64  // output bytes so far (header included)
	Dict  []byte // the last WindowSize input bytes
}

type job struct {
	data, dict []byte
	final      bool
	out        []byte
	src        io.Reader // already compressed (WriteSegment): copied as it is
	err        error
	done       chan struct{}
}

// Writer compresses what is written to it. It is not safe for concurrent use.
type Writer struct {
	w     io.Writer
	st    State
	buf   []byte
	queue chan *job
	sem   chan struct{}
	wg    sync.WaitGroup
	werr  error // set by the ordering goroutine, read after wg.Wait
	out   int64 // bytes it wrote, read after wg.Wait
	err   error
	done  bool
}

// NewWriter starts a gzip file at level (flate's levels) with MTIME (zero:
// none) and writes its header.
func NewWriter(w io.Writer, level int, mtime time.Time) (*Writer, error) {
	h := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255} // OS 255: unknown
	if !mtime.IsZero() && mtime.Unix() > 0 && mtime.Unix() < 1<<32 {
		binary.LittleEndian.PutUint32(h[4:], uint32(mtime.Unix()))
	}
	switch level {
	case 9:
		h[8] = 2
	case 1:
		h[8] = 4
	}
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return Resume(w, State{Level: level, Out: int64(len(h))})
}

// Resume carries on a file after a Checkpoint: w must continue a copy of the
// st.Out bytes written up to it.
func Resume(w io.Writer, st State) (*Writer, error) {
	if st.Level < -2 || st.Level > 9 {
		return nil, fmt.Errorf("gzseg: deflate level %d out of range -2..9", st.Level)
	}
	n := runtime.GOMAXPROCS(0)
	st.Dict = append([]byte(nil), st.Dict...)
	z := &Writer{w: w, st: st, out: st.Out, buf: getBuf(&inPool, strictflate.ChunkSize),
		queue: make(chan *job, n+1), sem: make(chan struct{}, n+1)}
	z.start()
	return z, nil
}

func (z *Writer) start() {
	z.wg.Add(1)
	go func() {
		defer z.wg.Done()
		for j := range z.queue {
			<-j.done
			if z.werr == nil {
				z.werr = j.err
			}
			if z.werr == nil && j.src != nil {
				var n int64
				n, z.werr = io.Copy(z.w, j.src)
				z.out += n
			} else if z.werr == nil {
				var n int
				n, z.werr = z.w.Write(j.out)
				z.out += int64(n)
			}
			putBuf(&outPool, j.out)
		}
	}()
}

// Write compresses p.
func (z *Writer) Write(p []byte) (int, error) {
	if z.done {
		return 0, errors.New("gzseg: write after Close")
	}
	if z.err != nil {
		return 0, z.err
	}
	n := len(p)
	z.st.CRC = crc32.Update(z.st.CRC, crc32.IEEETable, p)
	z.st.Size += int64(n)
	for len(p) > 0 {
		k := min(len(p), strictflate.ChunkSize-len(z.buf))
		z.buf = append(z.buf, p[:k]...)
		p = p[k:]
		if len(z.buf) == strictflate.ChunkSize {
			z.submit(false)
		}
	}
	return n, nil
}

// submit queues the pending input as one chunk, compressed in the background.
func (z *Writer) submit(final bool) {
	j := &job{data: z.buf, dict: z.st.Dict, final: final, done: make(chan struct{})}
	keep := z.buf[max(0, len(z.buf)-strictflate.WindowSize):]
	z.st.Dict = append(make([]byte, 0, strictflate.WindowSize), keep...)
	z.buf = getBuf(&inPool, strictflate.ChunkSize)
	z.sem <- struct{}{}
	z.queue <- j
	go func() {
		defer func() { <-z.sem; close(j.done) }()
		j.out, j.err = strictflate.Chunk(getBuf(&outPool, outCap), j.data, j.dict, z.st.Level, j.final)
		putBuf(&inPool, j.data)
	}()
}

// Chunk buffers are reused: a build compresses hundreds of them, and
// allocating each made the garbage collector's target, and so the peak
// memory, grow with the payload (measured: 175 MB allocated for a 161 MB
// deb payload).
var inPool, outPool sync.Pool

// outCap holds a chunk's compressed form even when it does not compress
// (stored blocks add 5 bytes per 64 KiB).
const outCap = strictflate.ChunkSize + strictflate.ChunkSize/64 + 1024

func getBuf(p *sync.Pool, size int) []byte {
	if b, ok := p.Get().(*[]byte); ok && cap(*b) >= size {
		return (*b)[:0]
	}
	return make([]byte, 0, size)
}

func putBuf(p *sync.Pool, b []byte) {
	if cap(b) == 0 {
		return
	}
	b = b[:0]
	p.Put(&b)
}

// drain waits for everything queued to be written and stops the pipeline.
func (z *Writer) drain() error {
	close(z.queue)
	z.wg.Wait()
	if z.werr != nil && z.err == nil {
		z.err = z.werr
	}
	return z.err
}

// Checkpoint ends the current chunk (if any input is pending), waits until
// every byte is written to the underlying writer and returns the state to
// Resume from. It ends the Writer: what follows is written by Resume's.
func (z *Writer) Checkpoint() (State, error) {
	if z.done {
		return State{}, errors.New("gzseg: Checkpoint after Close")
	}
	z.done = true
	if len(z.buf) > 0 {
		z.submit(false)
	}
	if err := z.drain(); err != nil {
		return State{}, err
	}
	st := z.st
	st.Out = z.out
	st.Dict = append([]byte(nil), z.st.Dict...)
	return st, nil
}

// Close writes the last chunk, an empty final block and the trailer (CRC-32
// and size). It does not close the underlying writer.
func (z *Writer) Close() error {
	if z.done {
		return z.err
	}
	z.done = true
	if z.err != nil {
		z.drain()
		return z.err
	}
	if len(z.buf) > 0 {
		z.submit(false)
	}
	// The final block is empty: every chunk ends the same way, final or not.
	z.submit(true)
	if err := z.drain(); err != nil {
		return err
	}
	var t [8]byte
	binary.LittleEndian.PutUint32(t[:], z.st.CRC)
	binary.LittleEndian.PutUint32(t[4:], uint32(z.st.Size))
	_, z.err = z.w.Write(t[:])
	return z.err
}
