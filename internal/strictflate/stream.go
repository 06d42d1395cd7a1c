package strictflate

import (
	"encoding/binary"
	"errors"
	"hash"
	"hash/adler32"
	"io"
)

// chunker feeds Chunk with ChunkSize pieces of what is written and writes
// the compressed chunks to w.
type chunker struct {
	w      io.Writer
	level  int
	sum    hash.Hash32
	size   uint32
	buf    []byte // pending input
	dict   []byte // the WindowSize bytes before buf
	out    []byte
	err    error
	closed bool
}

func (c *chunker) Write(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("write after Close")
	}
	if c.err != nil {
		return 0, c.err
	}
	n := len(p)
	c.sum.Write(p)
	c.size += uint32(n)
	for len(p) > 0 {
		k := min(len(p), ChunkSize-len(c.buf))
		c.buf = append(c.buf, p[:k]...)
		p = p[k:]
		if len(c.buf) == ChunkSize {
			if err := c.flush(false); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (c *chunker) flush(final bool) error {
	var err error
	c.out, err = Chunk(c.out[:0], c.buf, c.dict, c.level, final)
	if err == nil {
		_, err = c.w.Write(c.out)
	}
	if err != nil {
		c.err = err
		return err
	}
	keep := c.buf[max(0, len(c.buf)-WindowSize):]
	c.dict = append(c.dict[:0], keep...)
	c.buf = c.buf[:0]
	return nil
}

// finish writes the last chunk and the trailer.
func (c *chunker) finish(trailer []byte) error {
	if c.closed {
		return c.err
	}
	c.closed = true
	if c.err != nil {
		return c.err
	}
	if err := c.flush(true); err != nil {
		return err
	}
	if _, err := c.w.Write(trailer); err != nil {
		c.err = err
	}
	return c.err
}

// ZlibWriter writes a zlib stream (RFC 1950) whose deflate blocks all have
// complete codes. Close must be called; it does not close the underlying
// writer.
type ZlibWriter struct {
	c      chunker
	header []byte
}

// NewZlibWriter starts a zlib stream with the given level (flate's).
func NewZlibWriter(w io.Writer, level int) *ZlibWriter {
	flevel := uint16(2)
	switch {
	case level == 9:
		flevel = 3
	case level >= 1 && level <= 5:
		flevel = 1
	case level < -1 || level == 0:
		flevel = 0
	}
	h := uint16(0x78)<<8 | flevel<<6
	h += 31 - h%31
	return &ZlibWriter{c: chunker{w: w, level: level, sum: adler32.New()}, header: []byte{byte(h >> 8), byte(h)}}
}

func (z *ZlibWriter) Write(p []byte) (int, error) {
	if err := z.writeHeader(); err != nil {
		return 0, err
	}
	return z.c.Write(p)
}

func (z *ZlibWriter) writeHeader() error {
	if z.header == nil {
		return nil
	}
	_, err := z.c.w.Write(z.header)
	z.header = nil
	if err != nil {
		z.c.err = err
	}
	return err
}

// Close writes the rest and the Adler-32 trailer.
func (z *ZlibWriter) Close() error {
	if err := z.writeHeader(); err != nil {
		return err
	}
	var t [4]byte
	binary.BigEndian.PutUint32(t[:], z.c.sum.Sum32())
	return z.c.finish(t[:])
}
