package rpmpayload

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/pkgctl/pkgctl/internal/gzseg"
	"github.com/pkgctl/pkgctl/internal/iox"
	"github.com/pkgctl/pkgctl/internal/scratch"
)

// Signature header tags (rpm's rpmSigTag).
const (
	sigSize            = 1000 // int32: main header + payload
	sigLongSize        = 270  // int64: main header + payload
	sigSHA1            = 269  // hex SHA-1 of the main header
	sigSHA256          = 273  // hex SHA-256 of the main header
	sigMD5             = 1004 // MD5 of main header + payload
	sigPayloadSize     = 1007 // int32: uncompressed payload
	sigLongArchiveSize = 271  // int64: uncompressed payload
	sigDSA             = 267  // OpenPGP signature of the main header
	sigRSA             = 268  // OpenPGP signature of the main header
	sigPGP             = 1002 // OpenPGP signature of main header + payload
	sigGPG             = 1005 // OpenPGP signature of main header + payload
	sigOpenPGP         = 278  // rpm 6 OpenPGP signatures of the main header
)

// Main header tags.
const (
	tagArchiveSize       = 1046 // int32: uncompressed payload (old rpms)
	tagPayloadFormat     = 1124
	tagPayloadCompressor = 1125
	tagPayloadDigest     = 5092 // hex digests of the compressed payload
	tagPayloadDigestAlgo = 5093
	tagPayloadDigestAlt  = 5097 // hex digests of the uncompressed payload
)

const (
	leadSize    = 96
	pgpSHA256   = 8 // PGPHASHALGO_SHA256
	gzipLevel   = 6 // what pkgctl asks nfpm for
	maxNameSize = 4096
)

var (
	leadMagic = []byte{0xed, 0xab, 0xee, 0xdb}
	// ErrSigned is returned for a signed rpm when no signer is given: changing
	// the payload and header would break its signatures.
	ErrSigned = errors.New("the rpm is signed: its payload can only be rewritten with a signer that signs it again")
)

// SignFunc returns a detached binary OpenPGP signature of data: nfpm's
// PackageSignature.SignFn.
type SignFunc func(data io.Reader) ([]byte, error)

// Relativize returns rpm with every absolute cpio member name "/x" renamed
// "./x", the payload recompressed (gzip), and the payload digest in the main
// header and the sizes and digests in the signature header recomputed. The
// main header keeps its size, so everything outside the payload digest is
// byte-identical.
//
// A signed rpm is refused with ErrSigned unless sign is given; with sign, the
// old signatures are dropped and the rpm is signed again as rpmpack signs
// (header-only RSA tag 268, header+payload PGP tag 1002). Build unsigned, then
// let Relativize sign: signing before rewriting cannot be kept valid.
//
// The output is a function of the input and sign only (deterministic gzip).
func Relativize(rpm []byte, sign SignFunc) ([]byte, error) {
	var out bytes.Buffer
	if err := Rewrite(&out, bytes.NewReader(rpm), Options{Sign: sign}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Options are what Rewrite does besides renaming.
type Options struct {
	// Sign signs the result (see Relativize).
	Sign SignFunc
	// Count, when set, is told the bytes of the uncompressed payload as they
	// are rewritten (a build's progress).
	Count func(n int64)
	// Bodies, by installed path, are the contents of files the rpm holds
	// empty: see Body.
	Bodies map[string]Body
	// Segment, when set, gives each Body's content compressed on its own, to
	// splice into the payload rather than compress it again.
	Segment SegmentFunc
}

// Rewrite is Relativize streaming, with Options: it reads the rpm from r
// and writes the result to w. The new payload waits in a nameless temporary
// file until the headers that precede it are known, so memory stays flat in
// the payload's size.
func Rewrite(w io.Writer, r io.Reader, o Options) error {
	sign, count := o.Sign, o.Count
	lead := make([]byte, leadSize)
	if _, err := io.ReadFull(r, lead); err != nil || !bytes.Equal(lead[:4], leadMagic) {
		return errors.New("rpm: no rpm lead")
	}
	_, sig, err := readHeader(r)
	if err != nil {
		return fmt.Errorf("rpm signature header: %w", err)
	}
	if sig.region != tagHeaderSignatures {
		return fmt.Errorf("rpm signature header has region tag %d", sig.region)
	}
	if _, err := io.CopyN(io.Discard, r, int64((8-sig.size%8)%8)); err != nil {
		return errors.New("rpm: truncated after the signature header")
	}
	hdr, main, err := readHeader(r)
	if err != nil {
		return fmt.Errorf("rpm main header: %w", err)
	}
	signed := false
	for _, tag := range []int{sigDSA, sigRSA, sigPGP, sigGPG, sigOpenPGP} {
		if sig.get(tag) != nil {
			signed = true
		}
	}
	if signed && sign == nil {
		return ErrSigned
	}
	comp, err := checkPayload(main)
	if err != nil {
		return err
	}

	payload, err := scratch.File("", "rpm-payload")
	if err != nil {
		return fmt.Errorf("rpm payload: %w", err)
	}
	defer scratch.Close(payload)
	sum := sha256.New()
	fill := &filler{bodies: o.Bodies, done: map[string]filled{}, count: count, segment: o.Segment}
	rawSize, rawSHA256, err := rewritePayload(io.MultiWriter(payload, sum), r, comp, count, fill)
	if err != nil {
		return err
	}
	if err := fill.patchBodies(hdr, main); err != nil {
		return err
	}
	size, err := payload.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("rpm payload: %w", err)
	}
	section := func() io.Reader { return io.NewSectionReader(payload, 0, size) }
	if err := patchMain(hdr, main, hex.EncodeToString(sum.Sum(nil)), hex.EncodeToString(rawSHA256), rawSize); err != nil {
		return err
	}
	if err := updateSignatures(sig, hdr, section, size, rawSize, sign); err != nil {
		return err
	}
	sb := sig.bytes()
	for _, part := range [][]byte{lead, sb, make([]byte, (8-len(sb)%8)%8), hdr} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	_, err = io.Copy(w, section())
	return err
}

// readHeader reads one header structure (preamble, index, data) whole and
// parses it.
func readHeader(r io.Reader) ([]byte, *header, error) {
	pre := make([]byte, 16)
	if _, err := io.ReadFull(r, pre); err != nil || !bytes.Equal(pre[:8], headerMagic) {
		return nil, nil, errors.New("no header magic")
	}
	n := int64(binary.BigEndian.Uint32(pre[8:]))
	dl := int64(binary.BigEndian.Uint32(pre[12:]))
	if n < 1 || n > 1<<16 || dl > 256<<20 {
		return nil, nil, fmt.Errorf("header of %d entries and %d data bytes is beyond what an rpm holds", n, dl)
	}
	b := make([]byte, 16+16*n+dl)
	copy(b, pre)
	if _, err := io.ReadFull(r, b[16:]); err != nil {
		return nil, nil, fmt.Errorf("truncated header: %w", err)
	}
	h, err := parseHeader(b)
	return b, h, err
}

// checkPayload refuses payloads this package cannot rewrite.
func checkPayload(main *header) (string, error) {
	if e := main.get(tagPayloadFormat); e != nil && string(bytes.TrimRight(e.data, "\x00")) != "cpio" {
		return "", fmt.Errorf("rpm payload format %q: only cpio is handled", bytes.TrimRight(e.data, "\x00"))
	}
	comp := "gzip" // rpm's default when the tag is absent
	if e := main.get(tagPayloadCompressor); e != nil {
		comp = string(bytes.TrimRight(e.data, "\x00"))
	}
	if comp != "gzip" && comp != "zstd" {
		return "", fmt.Errorf("rpm payload compressor %q: only gzip and zstd are handled", comp)
	}
	if e := main.get(tagPayloadDigestAlgo); e != nil && (len(e.data) != 4 || e.data[3] != pgpSHA256 || e.data[0]|e.data[1]|e.data[2] != 0) {
		return "", errors.New("rpm payload digest algorithm is not SHA-256")
	}
	return comp, nil
}

// patchMain overwrites, in place, the payload digests and archive size of the
// main header hdr. Each value keeps its length, so offsets stay valid.
func patchMain(hdr []byte, main *header, digest, rawDigest string, rawSize int64) error {
	put := func(e *entry, v []byte) error {
		if len(v) != len(e.data) {
			return fmt.Errorf("rpm main header tag %d: new value has %d bytes, old %d", e.tag, len(v), len(e.data))
		}
		copy(hdr[main.dataAt+e.off:], v)
		return nil
	}
	// A zstd payload (a faster first pass) is now gzip: the same length.
	if e := main.get(tagPayloadCompressor); e != nil && string(e.data) == "zstd\x00" {
		if err := put(e, []byte("gzip\x00")); err != nil {
			return err
		}
	}
	if e := main.get(tagPayloadDigest); e != nil {
		if e.count != 1 {
			return fmt.Errorf("rpm payload digest has %d values", e.count)
		}
		if err := put(e, append([]byte(digest), 0)); err != nil {
			return err
		}
	}
	if e := main.get(tagPayloadDigestAlt); e != nil {
		if err := put(e, append([]byte(rawDigest), 0)); err != nil {
			return err
		}
	}
	if e := main.get(tagArchiveSize); e != nil && e.typ == typeInt32 {
		if err := put(e, be32(int(rawSize))); err != nil {
			return err
		}
	}
	return nil
}

// updateSignatures recomputes the signature header's sizes and digests over
// the new main header hdr and payload, and signs again when sign is given.
func updateSignatures(sig *header, hdr []byte, payload func() io.Reader, payloadSize, rawSize int64, sign SignFunc) error {
	total := int64(len(hdr)) + payloadSize
	hexSum := func(h hash.Hash, parts ...[]byte) string {
		for _, p := range parts {
			h.Write(p)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	if sig.get(sigSize) != nil {
		sig.set(int32Entry(sigSize, total))
	}
	if sig.get(sigLongSize) != nil {
		sig.set(int64Entry(sigLongSize, total))
	}
	if sig.get(sigSHA1) != nil {
		sig.set(stringEntry(sigSHA1, hexSum(sha1.New(), hdr)))
	}
	if sig.get(sigSHA256) != nil {
		sig.set(stringEntry(sigSHA256, hexSum(sha256.New(), hdr)))
	}
	if sig.get(sigMD5) != nil {
		m := md5.New()
		m.Write(hdr)
		if _, err := io.Copy(m, payload()); err != nil {
			return fmt.Errorf("rpm payload: %w", err)
		}
		sig.set(binEntry(sigMD5, m.Sum(nil)))
	}
	if sig.get(sigPayloadSize) != nil {
		sig.set(int32Entry(sigPayloadSize, rawSize))
	}
	if sig.get(sigLongArchiveSize) != nil {
		sig.set(int64Entry(sigLongArchiveSize, rawSize))
	}
	if sign == nil {
		return nil
	}
	kept := sig.entries[:0]
	for _, e := range sig.entries {
		switch e.tag {
		case sigDSA, sigRSA, sigPGP, sigGPG, sigOpenPGP:
		default:
			kept = append(kept, e)
		}
	}
	sig.entries = kept
	hs, err := sign(bytes.NewReader(hdr))
	if err != nil {
		return fmt.Errorf("sign rpm header: %w", err)
	}
	ps, err := sign(io.MultiReader(bytes.NewReader(hdr), payload()))
	if err != nil {
		return fmt.Errorf("sign rpm header and payload: %w", err)
	}
	sig.set(binEntry(sigRSA, hs))
	sig.set(binEntry(sigPGP, ps))
	return nil
}

// rewritePayload decompresses the cpio payload read from r (compressed by
// comp: gzip or zstd), renames its absolute members and writes it gzipped
// to w. It returns the size and SHA-256 of the uncompressed archive.
func rewritePayload(w io.Writer, r io.Reader, comp string, count func(n int64), fill *filler) (int64, []byte, error) {
	var zr io.Reader
	br := bufio.NewReaderSize(r, 1<<20)
	if comp == "zstd" {
		zd, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return 0, nil, fmt.Errorf("rpm payload: %w", err)
		}
		defer zd.Close()
		zr = zd
	} else {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return 0, nil, fmt.Errorf("rpm payload: %w", err)
		}
		gz.Multistream(false)
		zr = gz
	}
	// Parallel chunks whose deflate blocks all have complete Huffman codes
	// (strict decoders refuse the others).
	zw, err := gzseg.NewWriter(w, gzipLevel, time.Time{})
	if err != nil {
		return 0, nil, err
	}
	raw := sha256.New()
	cw := &iox.CountingWriter{W: io.MultiWriter(zw, raw)}
	fill.zw, fill.raw, fill.cw = zw, raw, cw
	var src io.Reader = zr
	if count != nil {
		src = &countReader{r: zr, count: count}
	}
	if err := rewriteCpioWith(cw, bufio.NewReaderSize(src, 1<<20), RelativeName, fill); err != nil {
		return 0, nil, fmt.Errorf("rpm payload: %w", err)
	}
	if err := zw.Close(); err != nil {
		return 0, nil, err
	}
	return cw.N, raw.Sum(nil), nil
}

// countReader tells count how many bytes each read returned.
type countReader struct {
	r     io.Reader
	count func(n int64)
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.count(int64(n))
	}
	return n, err
}
