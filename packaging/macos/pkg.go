// Package macos implements packaging.Packager for macOS flat packages (.pkg): a
// product archive as productbuild makes it — Distribution plus one component
// base.pkg holding PackageInfo, Payload (gzip cpio odc), Scripts and Bom — in a
// xar container, optionally signed with a Developer ID Installer identity.
package macos

import (
	"github.com/pkgctl/pkgctl/internal/iox"
	"github.com/pkgctl/pkgctl/internal/strictflate"

	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/packaging/macos/bom"
	"github.com/pkgctl/pkgctl/packaging/macos/cpio"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
	mactemplates "github.com/pkgctl/pkgctl/templates/macos"
)

// FileName is fleetctl's default output name.
const FileName = "fleet-osquery.pkg"

// Packager writes .pkg product archives.
type Packager struct{}

func init() { packaging.Register(packaging.TypePkg, Packager{}) }

// FileName is the default output name, as fleetctl names it.
func (Packager) FileName(*packaging.Layout) string { return FileName }

// Member names inside the product archive.
const (
	MemberDistribution = "Distribution"
	MemberPackageInfo  = mactemplates.ComponentDir + "/PackageInfo"
	MemberPayload      = mactemplates.ComponentDir + "/Payload"
	MemberScripts      = mactemplates.ComponentDir + "/Scripts"
	MemberBom          = mactemplates.ComponentDir + "/Bom"
)

// Package writes the product archive for l to w. The payload and scripts are
// staged in a private temporary directory (0700, removed on return) so that a
// large payload is streamed from disk rather than held in memory.
func (Packager) Package(ctx context.Context, l *packaging.Layout, w io.Writer) error {
	if l.OS != packaging.OSMacOS {
		return fmt.Errorf("pkg: layout is for %s, not macOS", l.OS)
	}
	tmp, err := os.MkdirTemp("", "pkgctl-pkg-")
	if err != nil {
		return fmt.Errorf("pkg: create work directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	entries := payloadEntries(l)
	payloadPath := filepath.Join(tmp, "Payload")
	records, payloadSum, err := writeCPIOGzip(ctx, payloadPath, entries, l.MTime)
	if err != nil {
		return fmt.Errorf("pkg: write Payload: %w", err)
	}
	bomData, err := writeBom(records, l.MTime)
	if err != nil {
		return fmt.Errorf("pkg: write Bom: %w", err)
	}

	comp := mactemplates.Component{
		Identifier: l.Identifier, Version: l.Version,
		NumberOfFiles: len(records), InstallKBytes: installKBytes(records),
		Postinstall: l.Scripts.PostInstall != "",
	}
	files := []xar.File{
		{Name: mactemplates.ComponentDir, Dir: true},
		{Name: MemberBom, Open: xar.Bytes(bomData), Compress: true},
		// Size and SHA-1 known from writing spare the xar writer a pass over it.
		{Name: MemberPayload, Open: xar.Path(payloadPath), Size: payloadSum.size, SHA1: payloadSum.sha1},
	}
	if comp.Postinstall {
		scriptsPath := filepath.Join(tmp, "Scripts")
		_, sum, err := writeCPIOGzip(ctx, scriptsPath, scriptEntries(l), l.MTime)
		if err != nil {
			return fmt.Errorf("pkg: write Scripts: %w", err)
		}
		files = append(files, xar.File{Name: MemberScripts, Open: xar.Path(scriptsPath), Size: sum.size, SHA1: sum.sha1})
	}
	info, err := mactemplates.PackageInfo(comp)
	if err != nil {
		return fmt.Errorf("pkg: %w", err)
	}
	dist, err := mactemplates.Distribution(comp)
	if err != nil {
		return fmt.Errorf("pkg: %w", err)
	}
	files = append(files,
		xar.File{Name: MemberPackageInfo, Open: xar.Bytes(info), Compress: true},
		xar.File{Name: MemberDistribution, Open: xar.Bytes(dist), Compress: true}, // as productbuild stores it
	)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := xar.Write(w, files, xar.Options{CreationTime: l.MTime}); err != nil {
		return fmt.Errorf("pkg: write xar: %w", err)
	}
	return nil
}

// SignFile signs the finished package with l.Signing (a Developer ID Installer
// certificate and its RSA key): the xar TOC gets the RSA signature and the
// certificate chain, as productsign writes them. The signature grows the TOC, so
// the signed archive is written to a sibling file, its signature checked, and
// its bytes copied back into path: Build holds path open and renames it later.
func (Packager) SignFile(ctx context.Context, l *packaging.Layout, path string) error {
	if l.Signing == nil {
		return errors.New("pkg: no signing identity")
	}
	if err := xar.Sign(ctx, path, l.Signing.Certificates, l.Signing.Key, l.Signing.Timestamper); err != nil {
		return fmt.Errorf("sign the package: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sign the package: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sign the package: %w", err)
	}
	x, err := xar.Open(f, st.Size())
	if err != nil {
		return fmt.Errorf("sign the package: read back: %w", err)
	}
	if _, err := x.VerifySignature(nil); err != nil {
		return fmt.Errorf("sign the package: the signature written does not verify: %w", err)
	}
	return nil
}

// payloadEntry is one member of a cpio archive: name relative to the archive
// root ("." or "./opt/orbit/..."), and where its data comes from.
type payloadEntry struct {
	Name   string
	Mode   fs.FileMode // with the type bits
	UID    int
	GID    int
	Data   []byte
	Source string
}

// record is what the payload pass learned about a member, for the Bom.
type record struct {
	payloadEntry
	Size int64
	CRC  uint32
}

// payloadEntries lists l's pkg entries as archive members, with the root "." first
// (as `find . | cpio` writes them); the Layout's entries are sorted by path, so
// every directory comes before what it holds.
func payloadEntries(l *packaging.Layout) []payloadEntry {
	out := []payloadEntry{{Name: ".", Mode: fs.ModeDir | 0o755, UID: packaging.MacOSUID, GID: packaging.MacOSGID}}
	for _, e := range l.For(packaging.TypePkg) {
		pe := payloadEntry{Name: "." + e.Path, Mode: e.Mode.Perm() | e.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), UID: e.UID, GID: e.GID, Data: e.Data, Source: e.Source}
		switch e.Kind {
		case packaging.KindDir:
			pe.Mode |= fs.ModeDir
		case packaging.KindSymlink:
			// macosLayout never makes one; a link would need Bom support too.
			continue
		}
		out = append(out, pe)
	}
	return out
}

// scriptEntries is the Scripts archive: the directory and ./postinstall.
func scriptEntries(l *packaging.Layout) []payloadEntry {
	return []payloadEntry{
		{Name: ".", Mode: fs.ModeDir | 0o755, UID: packaging.MacOSUID, GID: packaging.MacOSGID},
		{Name: "./postinstall", Mode: 0o744, // as fleetctl writes it
			UID: packaging.MacOSUID, GID: packaging.MacOSGID, Data: []byte(l.Scripts.PostInstall)},
	}
}

// fileSum is the size and SHA-1 of a file as written.
type fileSum struct {
	size int64
	sha1 []byte
}

// writeCPIOGzip writes entries as gzip(cpio odc) to path (0600), streaming each
// file's data once and computing its size and POSIX cksum CRC on the way, and
// the archive's own size and SHA-1.
func writeCPIOGzip(ctx context.Context, path string, entries []payloadEntry, mtime time.Time) (recs []record, sum fileSum, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, sum, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	digest := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, digest), 1<<20)
	counted := &iox.CountingWriter{W: bw}
	// Complete Huffman codes only, as in every deflate stream we write.
	gz := strictflate.NewGzipWriter(counted, flate.DefaultCompression, mtime)
	cw := cpio.NewWriter(gz)
	buf := make([]byte, 256<<10)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, sum, err
		}
		r := record{payloadEntry: e}
		r.Data = nil // keep no copy of the content beyond the Layout's
		h := &cpio.Header{Name: e.Name, Mode: e.Mode, UID: e.UID, GID: e.GID, ModTime: mtime}
		if !e.Mode.IsRegular() {
			if err := cw.WriteHeader(h); err != nil {
				return nil, sum, err
			}
			recs = append(recs, r)
			continue
		}
		n, crc, err := copyEntry(cw, h, e, buf)
		if err != nil {
			return nil, sum, fmt.Errorf("%s: %w", e.Name, err)
		}
		r.Size, r.CRC = n, crc
		recs = append(recs, r)
	}
	if err := cw.Close(); err != nil {
		return nil, sum, err
	}
	if err := gz.Close(); err != nil {
		return nil, sum, err
	}
	if err := bw.Flush(); err != nil {
		return nil, sum, err
	}
	return recs, fileSum{size: counted.N, sha1: digest.Sum(nil)}, nil
}

// copyEntry writes a regular file's header and data, returning its size and CRC.
func copyEntry(cw *cpio.Writer, h *cpio.Header, e payloadEntry, buf []byte) (int64, uint32, error) {
	src := io.Reader(bytes.NewReader(e.Data))
	h.Size = int64(len(e.Data))
	if e.Source != "" {
		f, err := os.Open(e.Source)
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return 0, 0, err
		}
		h.Size, src = st.Size(), f
	}
	if err := cw.WriteHeader(h); err != nil {
		return 0, 0, err
	}
	// The CRC runs beside the compression, one chunk at a time: on two cores
	// that hides most of its cost.
	sum := bom.NewCksum()
	var n int64
	lr := io.LimitReader(src, h.Size)
	for {
		k, rerr := io.ReadFull(lr, buf)
		if k > 0 {
			chunk := buf[:k]
			done := make(chan struct{})
			go func() { sum.Write(chunk); close(done) }()
			_, werr := cw.Write(chunk)
			<-done
			if werr != nil {
				return 0, 0, werr
			}
			n += int64(k)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return 0, 0, rerr
		}
	}
	if n != h.Size {
		return 0, 0, fmt.Errorf("%d bytes read, want %d (the file changed while being packaged)", n, h.Size)
	}
	return n, sum.Sum32(), nil
}

// installKBytes is the installed size in KiB: each file rounded up to whole KiB.
func installKBytes(recs []record) int64 {
	var k int64
	for _, r := range recs {
		k += (r.Size + 1023) / 1024
	}
	return k
}

// writeBom is the Bom of the payload: the same paths, modes, owners, sizes and
// CRCs as the cpio members.
func writeBom(recs []record, mtime time.Time) ([]byte, error) {
	entries := make([]bom.Entry, 0, len(recs))
	for _, r := range recs {
		if r.Size > math.MaxUint32 {
			return nil, fmt.Errorf("%s: %d bytes is more than a Bom can record (4 GiB)", r.Name, r.Size)
		}
		entries = append(entries, bom.Entry{
			Path: r.Name, Mode: bom.UnixMode(r.Mode), UID: uint32(r.UID), GID: uint32(r.GID),
			ModTime: mtime, Size: uint32(r.Size), Checksum: r.CRC,
		})
	}
	var buf bytes.Buffer
	if err := bom.Write(&buf, entries); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
