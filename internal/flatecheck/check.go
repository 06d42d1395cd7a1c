// Package flatecheck holds deflate streams (RFC 1951) to what strict
// decoders accept: every Huffman code of every dynamic block must be
// complete. libmspack (cabextract) and Windows' inflate refuse an
// incomplete code, such as the single one-bit distance code that Go's
// compress/flate and klauspost/compress write for a block with one
// distance symbol or none; zlib itself always sends at least two codes in
// each tree (trees.c, build_tree), so its output passes.
//
// Check* walk a stream block by block, decoding every symbol to find where
// each block ends (distances are not resolved, so a preset dictionary does
// not matter), and return an *Error naming the first offending block and
// code. Fix rewrites the offending blocks of a stream in memory.
package flatecheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Walk calls fn for every block of the raw deflate stream read from r, up
// to and including the final block. r is read in chunks: bytes after the
// stream may be consumed too. It stops at the first malformed block
// or error from fn; a block whose codes are not complete is not an error
// here: its Block.Err says so.
func Walk(r io.Reader, fn func(Block) error) error {
	br := newBitReader(r)
	_, err := walk(&br, false, false, func(b *block) error { return fn(b.Block) })
	return err
}

// CheckRaw checks every block of the raw deflate stream read from r (in
// chunks, like Walk) and returns the first *Error, or why the stream
// cannot be read.
func CheckRaw(r io.Reader) error {
	br := newBitReader(r)
	_, err := checkStream(&br)
	return err
}

// CheckMSZIP checks one MSZIP block as a cabinet's CFDATA holds it: "CK"
// followed by a raw deflate stream (whose preset dictionary, the previous
// block, does not matter here).
func CheckMSZIP(data []byte) error {
	if !bytes.HasPrefix(data, []byte("CK")) {
		return errors.New("MSZIP block does not start with CK")
	}
	br := bytesBitReader(data[2:])
	_, err := checkStream(&br)
	return err
}

// CheckGzip checks every member of the gzip file read from r (RFC 1952),
// including that each member's ISIZE matches its deflate stream.
func CheckGzip(r io.Reader) error {
	br := newBitReader(r)
	for m := 0; ; m++ {
		if m > 0 {
			end, err := br.atEnd()
			if err != nil || end {
				return err
			}
		}
		if err := gzipHeader(&br); err != nil {
			return fmt.Errorf("gzip member %d: %w", m, err)
		}
		size, err := checkStream(&br)
		if err != nil {
			return fmt.Errorf("gzip member %d: %w", m, err)
		}
		br.align()
		trailer, err := readBytes(&br, 8)
		if err != nil {
			return fmt.Errorf("gzip member %d trailer: %w", m, err)
		}
		if isize := binary.LittleEndian.Uint32(trailer[4:]); isize != uint32(size) {
			return fmt.Errorf("gzip member %d: ISIZE %d, but the deflate stream holds %d bytes", m, isize, size)
		}
	}
}

// CheckZlib checks the zlib stream read from r (RFC 1950), which must end
// after its Adler-32 trailer.
func CheckZlib(r io.Reader) error {
	br := newBitReader(r)
	h, err := readBytes(&br, 2)
	if err != nil {
		return fmt.Errorf("zlib header: %w", err)
	}
	if h[0]&15 != 8 || (uint16(h[0])<<8|uint16(h[1]))%31 != 0 {
		return fmt.Errorf("not a zlib deflate header: % x", h)
	}
	if h[1]&0x20 != 0 {
		if _, err := readBytes(&br, 4); err != nil {
			return fmt.Errorf("zlib dictionary id: %w", err)
		}
	}
	if _, err := checkStream(&br); err != nil {
		return err
	}
	br.align()
	if _, err := readBytes(&br, 4); err != nil {
		return fmt.Errorf("zlib trailer: %w", err)
	}
	if end, err := br.atEnd(); err != nil || !end {
		return errors.Join(err, errors.New("data after the zlib stream"))
	}
	return nil
}

// checkStream walks to the final block, returns the uncompressed size and
// the first block error.
func checkStream(br *bitReader) (int64, error) {
	var size int64
	_, err := walk(br, false, false, func(b *block) error {
		size += b.Size
		return b.Err
	})
	return size, err
}

// walk parses blocks up to the final one; with segment it also stops
// cleanly where the input ends on a block boundary (a run of blocks from a
// sync flush). It returns whether a final block was seen. keep collects
// each block's tokens.
func walk(br *bitReader, keep, segment bool, fn func(*block) error) (final bool, err error) {
	p := newParser(*br, keep)
	defer func() { *br = p.br }()
	var b block
	for {
		if err := p.next(&b); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return false, err
			}
			return false, fmt.Errorf("deflate block %d at bit %d (%s): %w", b.Index, b.Offset, b.Type, err)
		}
		if err := fn(&b); err != nil {
			return false, err
		}
		if b.Final {
			return true, nil
		}
		if !segment {
			continue
		}
		if end, err := p.br.atEnd(); err != nil || end {
			return false, err
		}
	}
}

func gzipHeader(br *bitReader) error {
	h, err := readBytes(br, 10)
	if err != nil {
		return err
	}
	if h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 {
		return fmt.Errorf("not a gzip deflate header: % x", h[:3])
	}
	hdr := append([]byte(nil), h...)
	flg := h[3]
	if flg&4 != 0 { // FEXTRA
		x, err := readBytes(br, 2)
		if err != nil {
			return err
		}
		hdr = append(hdr, x...)
		x, err = readBytes(br, int(binary.LittleEndian.Uint16(x)))
		if err != nil {
			return err
		}
		hdr = append(hdr, x...)
	}
	for _, bit := range []byte{8, 16} { // FNAME, FCOMMENT: zero-terminated
		if flg&bit == 0 {
			continue
		}
		for {
			c, err := readBytes(br, 1)
			if err != nil {
				return err
			}
			hdr = append(hdr, c[0])
			if c[0] == 0 {
				break
			}
		}
	}
	if flg&2 != 0 { // FHCRC
		x, err := readBytes(br, 2)
		if err != nil {
			return err
		}
		if binary.LittleEndian.Uint16(x) != uint16(crc32.ChecksumIEEE(hdr)) {
			return errors.New("gzip header CRC does not match")
		}
	}
	return nil
}

// readBytes reads n bytes from a byte-aligned reader.
func readBytes(br *bitReader, n int) ([]byte, error) {
	out := make([]byte, n)
	for i := range out {
		c, err := br.bits(8)
		if err != nil {
			if errors.Is(err, errTruncated) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		out[i] = byte(c)
	}
	return out, nil
}
