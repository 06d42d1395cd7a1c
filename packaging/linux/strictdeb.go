package linux

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/gzseg"
	"github.com/pkgctl/pkgctl/internal/iox"
	"github.com/pkgctl/pkgctl/internal/scratch"
	"github.com/pkgctl/pkgctl/packaging"
)

const (
	arMagic     = "!<arch>\n"
	arHeaderLen = 60
	// debGzipLevel is data.tar.gz's level: 6 rather than nfpm's 9, a third
	// of the time for a few percent.
	debGzipLevel = 6
)

// signFunc makes an armored (true) or binary detached OpenPGP signature.
type signFunc func(io.Reader, bool) ([]byte, error)

// debMember is one member of the deb nfpm wrote: its header and, except
// for the data tarball, its body.
type debMember struct {
	hdr  []byte
	body []byte
}

// rewriteDeb reads the deb nfpm wrote (data.tar uncompressed or gzipped)
// and writes it to w with data.tar.gz compressed by pkgctl, in parallel chunks whose
// deflate blocks all have complete Huffman codes (strict decoders refuse
// others; nfpm's compress/gzip has no option for it). control.tar.gz, small,
// has its blocks re-encoded where needed. Member order and every other ar
// header field stay as nfpm wrote them. The compressed data goes through a
// nameless scratch file (it holds the secret), not memory. With sign set,
// a debsign-style _gpgorigin member signs the final members.
//
// With fill set, the deb was built from empty files: see debFill.
func rewriteDeb(ctx context.Context, r io.Reader, w io.Writer, sign signFunc, fill *debFill) error {
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != arMagic {
		return errors.New("deb: not an ar archive")
	}
	var members []debMember
	var data *os.File
	defer func() {
		if data != nil {
			scratch.Close(data)
		}
	}()
	var dataSize int64
	for {
		hdr := make([]byte, arHeaderLen)
		if _, err := io.ReadFull(r, hdr); err == io.EOF {
			break
		} else if err != nil {
			return errors.New("deb: truncated ar member header")
		}
		name := strings.TrimRight(string(hdr[:16]), " ")
		size, err := strconv.ParseInt(strings.TrimRight(string(hdr[48:58]), " "), 10, 64)
		if err != nil || size < 0 || string(hdr[58:60]) != "`\n" {
			return fmt.Errorf("deb: bad ar header for member %q", name)
		}
		switch {
		case strings.HasPrefix(name, "_gpg"):
			return fmt.Errorf("deb: member %s: a signed deb cannot have its members rewritten", name)
		case name == "data.tar" || name == "data.tar.gz" || name == "data.tar.zst":
			if data != nil {
				return errors.New("deb: two data.tar members")
			}
			if data, err = scratch.File("", "deb"); err != nil {
				return err
			}
			if dataSize, err = compressData(ctx, data, io.LimitReader(r, size), size, strings.TrimPrefix(name, "data.tar"), fill); err != nil {
				return fmt.Errorf("deb: member %s: %w", name, err)
			}
			copy(hdr[:16], fmt.Sprintf("%-16s", "data.tar.gz"))
			members = append(members, debMember{hdr: hdr})
		default:
			body := make([]byte, size)
			if _, err := io.ReadFull(r, body); err != nil {
				return fmt.Errorf("deb: bad ar header for member %q", name)
			}
			members = append(members, debMember{hdr: hdr, body: body})
		}
		if size%2 == 1 {
			if _, err := io.ReadFull(r, make([]byte, 1)); err != nil {
				return fmt.Errorf("deb: bad ar header for member %q", name)
			}
		}
	}
	if data == nil && sign != nil {
		return errors.New("deb: no data.tar member to sign")
	}
	if err := fixMembers(members, fill); err != nil {
		return err
	}
	body := func(m debMember) io.Reader {
		if m.body == nil {
			return io.NewSectionReader(data, 0, dataSize)
		}
		return bytes.NewReader(m.body)
	}
	if _, err := io.WriteString(w, arMagic); err != nil {
		return err
	}
	var signed []io.Reader
	for _, m := range members {
		size := int64(len(m.body))
		if m.body == nil {
			size = dataSize
		}
		if err := writeArMember(w, m.hdr, size, body(m)); err != nil {
			return err
		}
		signed = append(signed, body(m))
	}
	if sign == nil {
		return nil
	}
	if len(members) != 3 {
		return fmt.Errorf("deb: %d members, want debian-binary, control and data", len(members))
	}
	sig, err := sign(io.MultiReader(signed...), true)
	if err != nil {
		return fmt.Errorf("sign deb: %w", err)
	}
	hdr := []byte(fmt.Sprintf("%-16s%-12s%-6d%-6d%-8o%-10d`\n", "_gpgorigin", strings.TrimRight(string(members[0].hdr[16:28]), " "), 0, 0, 0o100644, 0))
	return writeArMember(w, hdr, int64(len(sig)), bytes.NewReader(sig))
}

// fixMembers finishes the members other than data.tar, once data.tar is
// read: control.tar.gz gets the filled files' digests and size (fill), and
// every gzipped member complete Huffman codes.
func fixMembers(members []debMember, fill *debFill) error {
	for i, m := range members {
		name := strings.TrimRight(string(m.hdr[:16]), " ")
		if m.body == nil || !strings.HasSuffix(name, ".gz") {
			continue
		}
		body := m.body
		var err error
		if fill != nil && strings.HasPrefix(name, "control.tar") {
			if body, err = fill.rewriteControl(body); err != nil {
				return fmt.Errorf("deb: member %s: %w", name, err)
			}
		}
		if body, err = flatecheck.FixGzip(body); err != nil {
			return fmt.Errorf("deb: member %s: %w", name, err)
		}
		members[i].body = body
	}
	return nil
}

// compressData counts the decompressed tar into the build's Meter and gzips
// the size bytes of r (compressed already as ext says: "", ".gz" or ".zst")
// into f and returns the compressed size. With fill, the tar's empty files
// get their contents on the way.
func compressData(ctx context.Context, f *os.File, r io.Reader, size int64, ext string, fill *debFill) (int64, error) {
	zw, err := gzseg.NewWriter(f, debGzipLevel, time.Time{})
	if err != nil {
		return 0, err
	}
	cr := &iox.CountingReader{R: r}
	br := bufio.NewReaderSize(cr, 1<<20) // the decompressors read no further than their stream
	src, err := decompressor(br, ext)
	if err != nil {
		return 0, err
	}
	if fill != nil {
		if err = fill.fillTar(ctx, zw, src); err == nil {
			_, err = io.Copy(io.Discard, src) // the tar's padding
		}
	} else {
		_, err = io.Copy(zw, packaging.MeterReader(ctx, src))
	}
	if err == nil && ext != "" {
		// Nothing may follow nfpm's one compressed stream.
		var n int64
		if n, err = io.Copy(io.Discard, br); err == nil && n != 0 {
			err = errors.New("data after the compressed stream")
		}
	}
	if c, ok := src.(io.Closer); ok {
		c.Close()
	}
	if err == nil && cr.N != size {
		err = errors.New("truncated")
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return f.Seek(0, io.SeekCurrent)
}

// decompressor reads the data tarball nfpm compressed as ext says.
func decompressor(r io.Reader, ext string) (io.Reader, error) {
	switch ext {
	case "":
		return r, nil
	case ".gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return zr, nil
	case ".zst":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return zstdCloser{zr}, nil
	}
	return nil, fmt.Errorf("data tarball compressed as %q", ext)
}

// zstdCloser gives the zstd decoder the io.Closer that frees it.
type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

// writeArMember writes hdr with its size field set to size, then body and
// the padding to an even offset.
func writeArMember(w io.Writer, hdr []byte, size int64, body io.Reader) error {
	field := strconv.FormatInt(size, 10)
	if len(field) > 10 {
		return fmt.Errorf("deb: member %s too large", strings.TrimRight(string(hdr[:16]), " "))
	}
	h := append(append(append([]byte{}, hdr[:48]...), field+strings.Repeat(" ", 10-len(field))...), hdr[58:]...)
	if _, err := w.Write(h); err != nil {
		return err
	}
	if n, err := io.Copy(w, body); err != nil {
		return err
	} else if n != size {
		return errors.New("deb: short member body")
	}
	if size%2 == 1 {
		if _, err := w.Write([]byte{'\n'}); err != nil {
			return err
		}
	}
	return nil
}
