package linux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
)

const (
	tarBlock    = 512
	maxMtreeLen = 64 << 20
)

// strictArch copies the Arch package in f (as nfpm writes it: a zstd
// tar) to w, with its .MTREE gzip re-encoded when some of its deflate
// blocks have incomplete Huffman codes (nfpm gzips it with klauspost/pgzip,
// which has no option against them). The tar is then patched in place (the
// member's size and header checksum) and compressed again with zstd's
// defaults, as nfpm does; otherwise the file is copied as it is.
func strictArch(f io.ReadSeeker, w io.Writer) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec, err := zstd.NewReader(f)
	if err != nil {
		return fmt.Errorf("archlinux: %w", err)
	}
	changed, err := patchTar(dec, io.Discard)
	dec.Close()
	if err != nil {
		return fmt.Errorf("archlinux: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if !changed {
		_, err = io.Copy(w, f)
		return err
	}
	dec, err = zstd.NewReader(f)
	if err != nil {
		return fmt.Errorf("archlinux: %w", err)
	}
	defer dec.Close()
	zw, err := zstd.NewWriter(w)
	if err != nil {
		return err
	}
	if _, err := patchTar(dec, zw); err != nil {
		zw.Close()
		return fmt.Errorf("archlinux: %w", err)
	}
	return zw.Close()
}

// patchTar copies a tar stream from r to w, re-encoding the deflate blocks
// of the .MTREE member that need it (flatecheck.FixGzip), and reports
// whether it did. Every other byte is copied unchanged.
func patchTar(r io.Reader, w io.Writer) (bool, error) {
	hdr := make([]byte, tarBlock)
	changed, pax := false, false
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return false, fmt.Errorf("tar: %w", err)
		}
		if bytes.Count(hdr, []byte{0}) == tarBlock { // end of archive
			if _, err := w.Write(hdr); err != nil {
				return false, err
			}
			_, err := io.Copy(w, r)
			return changed, err
		}
		name, size, err := tarEntry(hdr)
		if err != nil {
			return false, err
		}
		padded := (size + tarBlock - 1) &^ (tarBlock - 1)
		typ := hdr[156]
		if name != ".MTREE" || (typ != '0' && typ != 0) || size > maxMtreeLen {
			pax = typ == 'x' || typ == 'g'
			if _, err := w.Write(hdr); err != nil {
				return false, err
			}
			if _, err := io.CopyN(w, r, padded); err != nil {
				return false, fmt.Errorf("tar: %s: %w", name, err)
			}
			continue
		}
		data := make([]byte, padded)
		if _, err := io.ReadFull(r, data); err != nil {
			return false, fmt.Errorf("tar: %s: %w", name, err)
		}
		body := data[:size]
		fixed, err := flatecheck.FixGzip(body)
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
		if len(fixed) == len(body) && (len(body) == 0 || &fixed[0] == &body[0]) {
			if _, err := w.Write(append(hdr, data...)); err != nil {
				return false, err
			}
			hdr = make([]byte, tarBlock)
			continue
		}
		if pax {
			return false, fmt.Errorf("%s: a PAX header precedes it; its size cannot be patched", name)
		}
		changed = true
		copy(hdr[124:136], fmt.Sprintf("%011o\x00", len(fixed)))
		setTarChecksum(hdr)
		out := append(append(hdr, fixed...), make([]byte, (tarBlock-len(fixed)%tarBlock)%tarBlock)...)
		if _, err := w.Write(out); err != nil {
			return false, err
		}
		hdr = make([]byte, tarBlock)
	}
}

// tarEntry returns a header's name (with its ustar prefix) and size, after
// checking the header checksum.
func tarEntry(hdr []byte) (string, int64, error) {
	cstr := func(b []byte) string {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			b = b[:i]
		}
		return string(b)
	}
	name := cstr(hdr[:100])
	if string(hdr[257:262]) == "ustar" {
		if p := cstr(hdr[345:500]); p != "" {
			name = p + "/" + name
		}
	}
	want, err := strconv.ParseInt(strings.Trim(cstr(hdr[148:156]), " "), 8, 64)
	if err != nil {
		return "", 0, fmt.Errorf("tar: %q: bad header checksum field", name)
	}
	if got := tarChecksum(hdr); got != want {
		return "", 0, fmt.Errorf("tar: %q: header checksum %o, stored %o", name, got, want)
	}
	if hdr[124]&0x80 != 0 {
		return "", 0, fmt.Errorf("tar: %q: size in base-256 is not supported", name)
	}
	size, err := strconv.ParseInt(strings.Trim(cstr(hdr[124:136]), " "), 8, 64)
	if err != nil || size < 0 {
		return "", 0, errors.Join(fmt.Errorf("tar: %q: bad size field", name), err)
	}
	return name, size, nil
}

func tarChecksum(hdr []byte) int64 {
	var s int64
	for i, c := range hdr {
		if i >= 148 && i < 156 {
			c = ' '
		}
		s += int64(c)
	}
	return s
}

func setTarChecksum(hdr []byte) {
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", tarChecksum(hdr)))
}
