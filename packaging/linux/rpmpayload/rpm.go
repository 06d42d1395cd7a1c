package rpmpayload

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/pkgctl/pkgctl/internal/gzseg"
	"github.com/pkgctl/pkgctl/internal/iox"
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
	return RelativizeCount(rpm, sign, nil)
}

// RelativizeCount is Relativize telling count, when not nil, the bytes of
// the uncompressed payload as it rewrites them (a build's progress).
func RelativizeCount(rpm []byte, sign SignFunc, count func(n int64)) ([]byte, error) {
	if len(rpm) < leadSize || !bytes.Equal(rpm[:4], leadMagic) {
		return nil, errors.New("rpm: no rpm lead")
	}
	sig, err := parseHeader(rpm[leadSize:])
	if err != nil {
		return nil, fmt.Errorf("rpm signature header: %w", err)
	}
	if sig.region != tagHeaderSignatures {
		return nil, fmt.Errorf("rpm signature header has region tag %d", sig.region)
	}
	hdrStart := leadSize + sig.size + (8-sig.size%8)%8
	if hdrStart > len(rpm) {
		return nil, errors.New("rpm: truncated after the signature header")
	}
	main, err := parseHeader(rpm[hdrStart:])
	if err != nil {
		return nil, fmt.Errorf("rpm main header: %w", err)
	}
	signed := false
	for _, tag := range []int{sigDSA, sigRSA, sigPGP, sigGPG, sigOpenPGP} {
		if sig.get(tag) != nil {
			signed = true
		}
	}
	if signed && sign == nil {
		return nil, ErrSigned
	}
	if err := checkPayload(main); err != nil {
		return nil, err
	}

	payload, rawSize, rawSHA256, err := rewritePayload(rpm[hdrStart+main.size:], count)
	if err != nil {
		return nil, err
	}
	hdr := bytes.Clone(rpm[hdrStart : hdrStart+main.size])
	payloadSum := sha256.Sum256(payload)
	if err := patchMain(hdr, main, hex.EncodeToString(payloadSum[:]), hex.EncodeToString(rawSHA256), rawSize); err != nil {
		return nil, err
	}

	if err := updateSignatures(sig, hdr, payload, rawSize, sign); err != nil {
		return nil, err
	}
	sb := sig.bytes()
	out := make([]byte, 0, leadSize+len(sb)+8+len(hdr)+len(payload))
	out = append(out, rpm[:leadSize]...)
	out = append(out, sb...)
	out = append(out, make([]byte, (8-len(sb)%8)%8)...)
	out = append(out, hdr...)
	out = append(out, payload...)
	return out, nil
}

// checkPayload refuses payloads this package cannot rewrite.
func checkPayload(main *header) error {
	if e := main.get(tagPayloadFormat); e != nil && string(bytes.TrimRight(e.data, "\x00")) != "cpio" {
		return fmt.Errorf("rpm payload format %q: only cpio is handled", bytes.TrimRight(e.data, "\x00"))
	}
	comp := "gzip" // rpm's default when the tag is absent
	if e := main.get(tagPayloadCompressor); e != nil {
		comp = string(bytes.TrimRight(e.data, "\x00"))
	}
	if comp != "gzip" {
		return fmt.Errorf("rpm payload compressor %q: only gzip is handled", comp)
	}
	if e := main.get(tagPayloadDigestAlgo); e != nil && (len(e.data) != 4 || e.data[3] != pgpSHA256 || e.data[0]|e.data[1]|e.data[2] != 0) {
		return errors.New("rpm payload digest algorithm is not SHA-256")
	}
	return nil
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
func updateSignatures(sig *header, hdr, payload []byte, rawSize int64, sign SignFunc) error {
	total := int64(len(hdr) + len(payload))
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
		m.Write(payload)
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
	ps, err := sign(io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(payload)))
	if err != nil {
		return fmt.Errorf("sign rpm header and payload: %w", err)
	}
	sig.set(binEntry(sigRSA, hs))
	sig.set(binEntry(sigPGP, ps))
	return nil
}

// rewritePayload decompresses the gzip cpio payload, renames its absolute
// members and compresses it again. It returns the new payload, the size and
// SHA-256 of the uncompressed archive.
func rewritePayload(payload []byte, count func(n int64)) ([]byte, int64, []byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("rpm payload: %w", err)
	}
	zr.Multistream(false)
	var out bytes.Buffer
	out.Grow(len(payload) + len(payload)/16)
	// Parallel chunks whose deflate blocks all have complete Huffman codes
	// (strict decoders refuse the others).
	zw, err := gzseg.NewWriter(&out, gzipLevel, time.Time{})
	if err != nil {
		return nil, 0, nil, err
	}
	raw := sha256.New()
	cw := &iox.CountingWriter{W: io.MultiWriter(zw, raw)}
	var src io.Reader = zr
	if count != nil {
		src = &countReader{r: zr, count: count}
	}
	if err := rewriteCpio(cw, bufio.NewReaderSize(src, 1<<20)); err != nil {
		return nil, 0, nil, fmt.Errorf("rpm payload: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, 0, nil, err
	}
	return out.Bytes(), cw.N, raw.Sum(nil), nil
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
