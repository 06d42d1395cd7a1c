package xar

import (
	"bytes"
	"compress/bzip2"
	"compress/zlib"
	"crypto"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// maxTOC bounds the TOC a reader accepts (relic refuses more than 1 MB
// compressed, 10 MB uncompressed).
const maxTOC = 10 << 20

// ErrTOCChecksum is returned by Open when the TOC does not match its stored
// checksum.
var ErrTOCChecksum = errors.New("xar: TOC checksum mismatch")

// Reader is an opened xar archive. It checks the TOC checksum when opened and
// each member's checksums when the member is read.
type Reader struct {
	HashFunc     crypto.Hash // TOC checksum algorithm from the header
	TOCHash      []byte      // checksum of the compressed TOC (verified)
	TOCMismatch  bool        // OpenLenient only: TOCHash differs from the stored checksum
	TOC          []byte      // the TOC XML
	CreationTime string
	Files        []*Entry // depth-first, in TOC order
	// Signature is the classic RSA signature and XSignature the CMS one; nil
	// when absent.
	Signature, XSignature *Signature

	ra        io.ReaderAt
	heapBase  int64
	tocOffset int64
	size      int64
}

// Entry is one member as the TOC describes it.
type Entry struct {
	ID          string
	Path        string // slash-separated, from the root of the archive
	Type        string // "file", "directory", "symlink", ...
	Mode        fs.FileMode
	UID, GID    int
	User, Group string
	ModTime     time.Time
	// Data (files only): Size extracted bytes, stored as Length bytes at heap
	// Offset with Encoding.
	Size, Length, Offset int64
	Encoding             string
	ArchivedChecksum     Checksum
	ExtractedChecksum    Checksum
}

// Checksum is a TOC checksum: the algorithm as written ("sha1", "SHA1") and
// the hex digest.
type Checksum struct {
	Style  string
	Digest string
}

// Signature is a signature element of the TOC with its heap bytes.
type Signature struct {
	Style        string // "RSA" or "CMS"
	Offset, Size int64
	Certificates []*x509.Certificate // as listed in KeyInfo, leaf first
	Data         []byte
}

type xmlXar struct {
	TOC xmlTOC `xml:"toc"`
}

type xmlTOC struct {
	CreationTime string     `xml:"creation-time"`
	Checksum     *xmlSig    `xml:"checksum"`
	Signature    *xmlSig    `xml:"signature"`
	XSignature   *xmlSig    `xml:"x-signature"`
	Files        []*xmlFile `xml:"file"`
}

type xmlSig struct {
	Style  string   `xml:"style,attr"`
	Offset int64    `xml:"offset"`
	Size   int64    `xml:"size"`
	Certs  []string `xml:"KeyInfo>X509Data>X509Certificate"`
}

type xmlSum struct {
	Style  string `xml:"style,attr"`
	Digest string `xml:",chardata"`
}

type xmlFile struct {
	ID    string `xml:"id,attr"`
	Name  string `xml:"name"`
	Type  string `xml:"type"`
	Mode  string `xml:"mode"`
	UID   int    `xml:"uid"`
	GID   int    `xml:"gid"`
	User  string `xml:"user"`
	Group string `xml:"group"`
	MTime string `xml:"mtime"`
	Data  *struct {
		Length    int64  `xml:"length"`
		Offset    int64  `xml:"offset"`
		Size      int64  `xml:"size"`
		Encoding  xmlSum `xml:"encoding"`
		Archived  xmlSum `xml:"archived-checksum"`
		Extracted xmlSum `xml:"extracted-checksum"`
	} `xml:"data"`
	Files []*xmlFile `xml:"file"`
}

// Open reads the header and TOC of the archive in r (size bytes) and checks
// the TOC checksum.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	x, err := OpenLenient(r, size)
	if err == nil && x.TOCMismatch {
		return nil, ErrTOCChecksum
	}
	return x, err
}

// OpenLenient is Open for inspection: a TOC that does not match its stored
// checksum is still parsed, and TOCMismatch reports it.
func OpenLenient(r io.ReaderAt, size int64) (*Reader, error) {
	var hdr [headerSize]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("xar: read header: %w", err)
	}
	if binary.BigEndian.Uint32(hdr[0:]) != magic {
		return nil, errors.New("xar: not a xar archive (bad magic)")
	}
	hsize := int64(binary.BigEndian.Uint16(hdr[4:]))
	if v := binary.BigEndian.Uint16(hdr[6:]); v != 1 {
		return nil, fmt.Errorf("xar: unsupported version %d", v)
	}
	if hsize < headerSize {
		return nil, fmt.Errorf("xar: header size %d too small", hsize)
	}
	zlen := binary.BigEndian.Uint64(hdr[8:])
	ulen := binary.BigEndian.Uint64(hdr[16:])
	if zlen > maxTOC || ulen > maxTOC || int64(zlen) > size-hsize {
		return nil, fmt.Errorf("xar: TOC of %d bytes (%d compressed) is too large or truncated", ulen, zlen)
	}
	x := &Reader{ra: r, size: size, tocOffset: hsize, heapBase: hsize + int64(zlen)}
	var newHash func() hash.Hash
	switch alg := binary.BigEndian.Uint32(hdr[24:]); alg {
	case 0: // none: older xar tools write archives without a TOC checksum
	case 2:
		x.HashFunc, newHash = crypto.MD5, md5.New
	case 1:
		x.HashFunc, newHash = crypto.SHA1, sha1.New
	case 3:
		x.HashFunc, newHash = crypto.SHA256, sha256.New
	case 4:
		x.HashFunc, newHash = crypto.SHA512, sha512.New
	default:
		return nil, fmt.Errorf("xar: unsupported TOC checksum algorithm %d", alg)
	}
	ztoc := make([]byte, zlen)
	if _, err := r.ReadAt(ztoc, hsize); err != nil {
		return nil, fmt.Errorf("xar: read TOC: %w", err)
	}
	if newHash != nil {
		h := newHash()
		h.Write(ztoc)
		x.TOCHash = h.Sum(nil)
	}
	zr, err := zlib.NewReader(bytes.NewReader(ztoc))
	if err != nil {
		return nil, fmt.Errorf("xar: TOC: %w", err)
	}
	x.TOC, err = io.ReadAll(io.LimitReader(zr, maxTOC+1))
	if err != nil {
		return nil, fmt.Errorf("xar: decompress TOC: %w", err)
	}
	if uint64(len(x.TOC)) != ulen {
		return nil, fmt.Errorf("xar: TOC is %d bytes, header says %d", len(x.TOC), ulen)
	}
	var doc xmlXar
	if err := xml.Unmarshal(x.TOC, &doc); err != nil {
		return nil, fmt.Errorf("xar: parse TOC: %w", err)
	}
	x.CreationTime = doc.TOC.CreationTime
	ck := doc.TOC.Checksum
	if newHash == nil {
		if ck != nil && ck.Style != "" && !strings.EqualFold(ck.Style, "none") {
			return nil, fmt.Errorf("xar: header says no TOC checksum, the TOC says %s", ck.Style)
		}
	} else if ck == nil || ck.Size != int64(len(x.TOCHash)) {
		return nil, errors.New("xar: TOC checksum element missing or of the wrong size")
	}
	if newHash != nil {
		stored, err := x.heapBytes(ck.Offset, ck.Size)
		if err != nil {
			return nil, fmt.Errorf("xar: TOC checksum: %w", err)
		}
		x.TOCMismatch = !hmac.Equal(stored, x.TOCHash)
	}
	for _, s := range []struct {
		el  *xmlSig
		dst **Signature
	}{{doc.TOC.Signature, &x.Signature}, {doc.TOC.XSignature, &x.XSignature}} {
		if s.el == nil {
			continue
		}
		sig := &Signature{Style: s.el.Style, Offset: s.el.Offset, Size: s.el.Size}
		if sig.Data, err = x.heapBytes(sig.Offset, sig.Size); err != nil {
			return nil, fmt.Errorf("xar: %s signature: %w", sig.Style, err)
		}
		for _, c := range s.el.Certs {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c), ""))
			if err != nil {
				return nil, fmt.Errorf("xar: %s signature certificate: %w", sig.Style, err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("xar: %s signature certificate: %w", sig.Style, err)
			}
			sig.Certificates = append(sig.Certificates, cert)
		}
		*s.dst = sig
	}
	if err := x.addFiles(doc.TOC.Files, ""); err != nil {
		return nil, err
	}
	return x, nil
}

func (x *Reader) heapBytes(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || n > 1<<20 || x.heapBase+off+n > x.size {
		return nil, fmt.Errorf("heap range %d+%d is outside the file", off, n)
	}
	b := make([]byte, n)
	_, err := x.ra.ReadAt(b, x.heapBase+off)
	return b, err
}

func (x *Reader) addFiles(files []*xmlFile, dir string) error {
	for _, f := range files {
		if f.Name == "" || f.Name == "." || f.Name == ".." || strings.Contains(f.Name, "/") {
			return fmt.Errorf("xar: unsafe member name %q", f.Name)
		}
		e := &Entry{ID: f.ID, Path: dir + f.Name, Type: f.Type, UID: f.UID, GID: f.GID, User: f.User, Group: f.Group}
		if f.Mode != "" {
			// Some writers put the whole st_mode (type bits too) here.
			m, err := strconv.ParseUint(strings.TrimSpace(f.Mode), 8, 64)
			if err != nil {
				return fmt.Errorf("xar: %s: mode %q: %w", e.Path, f.Mode, err)
			}
			e.Mode = fs.FileMode(m & 0o777)
			if m&0o4000 != 0 {
				e.Mode |= fs.ModeSetuid
			}
			if m&0o2000 != 0 {
				e.Mode |= fs.ModeSetgid
			}
			if m&0o1000 != 0 {
				e.Mode |= fs.ModeSticky
			}
		}
		if e.Type == "directory" {
			e.Mode |= fs.ModeDir
		}
		if f.MTime != "" {
			e.ModTime, _ = time.Parse(timeFormat, f.MTime)
		}
		if d := f.Data; d != nil {
			e.Size, e.Length, e.Offset = d.Size, d.Length, d.Offset
			e.Encoding = d.Encoding.Style
			e.ArchivedChecksum = Checksum{d.Archived.Style, strings.TrimSpace(d.Archived.Digest)}
			e.ExtractedChecksum = Checksum{d.Extracted.Style, strings.TrimSpace(d.Extracted.Digest)}
			if e.Offset < 0 || e.Length < 0 || x.heapBase+e.Offset+e.Length > x.size {
				return fmt.Errorf("xar: %s: data %d+%d lies outside the file", e.Path, e.Offset, e.Length)
			}
		}
		x.Files = append(x.Files, e)
		if err := x.addFiles(f.Files, e.Path+"/"); err != nil {
			return err
		}
	}
	return nil
}

// File returns the member at path p, or nil.
func (x *Reader) File(p string) *Entry {
	for _, e := range x.Files {
		if e.Path == p {
			return e
		}
	}
	return nil
}

// Stored returns e's data as the archive stores it (compressed when
// e.Encoding says so), unchecked.
func (x *Reader) Stored(e *Entry) io.Reader {
	return io.NewSectionReader(x.ra, x.heapBase+e.Offset, e.Length)
}

// StoredTOC returns the TOC as the archive stores it: zlib-compressed.
func (x *Reader) StoredTOC() io.Reader {
	return io.NewSectionReader(x.ra, x.tocOffset, x.heapBase-x.tocOffset)
}

// Open returns e's extracted data. Reading it to the end checks both
// checksums and the size; a mismatch is returned as the final error.
func (x *Reader) Open(e *Entry) (io.Reader, error) {
	raw := io.NewSectionReader(x.ra, x.heapBase+e.Offset, e.Length)
	arch, err := newChecker(e.Path, "archived", e.ArchivedChecksum, e.Length, raw)
	if err != nil {
		return nil, err
	}
	var plain io.Reader
	switch e.Encoding {
	case "", encRaw:
		plain = arch
	case encZlib:
		zr, err := zlib.NewReader(arch)
		if err != nil {
			return nil, fmt.Errorf("xar: %s: %w", e.Path, err)
		}
		plain = zr
	case "application/x-bzip2":
		plain = bzip2.NewReader(arch)
	default:
		return nil, fmt.Errorf("xar: %s: unsupported encoding %q", e.Path, e.Encoding)
	}
	return newChecker(e.Path, "extracted", e.ExtractedChecksum, e.Size, plain)
}

// ReadFile returns the extracted, verified data of the member at path p.
func (x *Reader) ReadFile(p string) ([]byte, error) {
	e := x.File(p)
	if e == nil {
		return nil, fmt.Errorf("xar: no member %s", p)
	}
	r, err := x.Open(e)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// Verify reads every member and checks its checksums.
func (x *Reader) Verify() error {
	for _, e := range x.Files {
		if e.Type != "file" {
			continue
		}
		r, err := x.Open(e)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	}
	return nil
}

type checker struct {
	r         io.Reader
	h         hash.Hash
	want      []byte
	n, size   int64
	what, tag string
}

func newChecker(name, tag string, c Checksum, size int64, r io.Reader) (*checker, error) {
	var h hash.Hash
	switch strings.ToLower(c.Style) {
	case "", "none":
		// No checksum recorded (xar writes none with --no-compress-checksum
		// style options): only the size is checked.
		return &checker{r: r, size: size, what: name, tag: tag}, nil
	case "md5":
		h = md5.New()
	case "sha1":
		h = sha1.New()
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("xar: %s: unsupported %s checksum %q", name, tag, c.Style)
	}
	want, err := hex.DecodeString(c.Digest)
	if err != nil || len(want) != h.Size() {
		return nil, fmt.Errorf("xar: %s: bad %s checksum %q", name, tag, c.Digest)
	}
	return &checker{r: r, h: h, want: want, size: size, what: name, tag: tag}, nil
}

func (c *checker) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.h != nil {
		c.h.Write(p[:n])
	}
	c.n += int64(n)
	if c.n > c.size {
		return n, fmt.Errorf("xar: %s: more than the %d %s bytes the TOC gives", c.what, c.size, c.tag)
	}
	if err == io.EOF {
		if c.n != c.size {
			return n, fmt.Errorf("xar: %s: %d %s bytes, TOC says %d", c.what, c.n, c.tag, c.size)
		}
		if c.h != nil && !hmac.Equal(c.h.Sum(nil), c.want) {
			return n, fmt.Errorf("xar: %s: %s checksum mismatch", c.what, c.tag)
		}
	}
	return n, err
}
