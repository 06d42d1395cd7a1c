package inspect

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// decompress opens r according to its magic bytes (gzip, xz, zstd, bzip2 or
// none); close releases the decoder.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() {}, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), func() {}, nil
	}
	return br, func() {}, nil
}

// cleanPath makes an archive member name an absolute installed path.
func cleanPath(name string) string {
	p := path.Clean("/" + strings.TrimPrefix(name, "./"))
	return p
}

// readTar adds every member of a (compressed) tar stream to c, calling
// special for members it wants for itself (returning true skips adding).
func readTar(c *contents, r io.Reader, special func(h *tar.Header, r io.Reader) (bool, error)) error {
	dr, done, err := decompress(r)
	if err != nil {
		return err
	}
	defer done()
	tr := tar.NewReader(dr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			// Read the stream to its end: the tar ends before its padding
			// and the compressor's trailer, and zstd's frame checksum and
			// gzip's CRC are only checked there.
			if _, err := io.Copy(io.Discard, dr); err != nil {
				return fmt.Errorf("after the end of the tar: %w", err)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if special != nil {
			skip, err := special(h, tr)
			if err != nil {
				return err
			}
			if skip {
				continue
			}
		}
		p := cleanPath(h.Name)
		if p == "/" {
			continue
		}
		f := File{Path: p, Mode: unixModeString(h.Mode), Owner: h.Uname, Group: h.Gname}
		if f.Owner == "" {
			f.Owner = fmt.Sprint(h.Uid)
		}
		if f.Group == "" {
			f.Group = fmt.Sprint(h.Gid)
		}
		var body io.Reader
		switch h.Typeflag {
		case tar.TypeDir:
			f.Type = "dir"
		case tar.TypeSymlink:
			f.Type, f.Link = "symlink", h.Linkname
		case tar.TypeLink:
			f.Type, f.Link = "hardlink", cleanPath(h.Linkname)
		case tar.TypeReg:
			f.Type, body = "file", tr
		default:
			f.Type = "special"
		}
		if _, err := c.add(f, body); err != nil {
			return err
		}
	}
}
