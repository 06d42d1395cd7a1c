// Package macos implements packaging.Packager for macOS flat packages (.pkg): a
// product archive as productbuild makes it — Distribution plus one component
// base.pkg holding PackageInfo, Payload (gzip cpio odc), Scripts and Bom — in a
// xar container, optionally signed with a Developer ID Installer identity.
package macos

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/pkgctl/pkgctl/internal/gzseg"
	"github.com/pkgctl/pkgctl/internal/iox"
	"github.com/pkgctl/pkgctl/internal/scratch"
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
	// The payload holds the enroll secret and keys: a nameless file, so that
	// nothing is left if the build is killed.
	payload, err := scratch.File("", "pkg")
	if err != nil {
		return fmt.Errorf("pkg: create work file: %w", err)
	}
	defer scratch.Close(payload)

	entries := payloadEntries(l)
	records, payloadSum, err := writeCPIOGzip(ctx, packaging.SharedFrom(ctx), payload, entries, l.MTime)
	defer payloadSum.release()
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
		{Name: MemberPayload, Open: payloadSum.open, Size: payloadSum.size, SHA1: payloadSum.sha1, Trusted: true},
	}
	if comp.Postinstall {
		scripts, err := scratch.File("", "pkg")
		if err != nil {
			return fmt.Errorf("pkg: create work file: %w", err)
		}
		defer scratch.Close(scripts)
		_, sum, err := writeCPIOGzip(ctx, nil, scripts, scriptEntries(l), l.MTime)
		defer sum.release()
		if err != nil {
			return fmt.Errorf("pkg: write Scripts: %w", err)
		}
		files = append(files, xar.File{Name: MemberScripts, Open: sum.open, Size: sum.size, SHA1: sum.sha1, Trusted: true})
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

// sections reads the first sizes[i] bytes of each files[i], one after the
// other, from the start each time.
func sections(files []*os.File, sizes []int64) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		var rs []io.Reader
		for i, f := range files {
			rs = append(rs, io.NewSectionReader(f, 0, sizes[i]))
		}
		return io.NopCloser(io.MultiReader(rs...)), nil
	}
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
	size    int64
	sha1    []byte
	open    func() (io.ReadCloser, error) // the file's bytes
	release func()                        // once the bytes are read
}

// payloadLevel is the Payload's deflate level: klauspost's default (5).
const payloadLevel = flate.DefaultCompression

// writeCPIOGzip writes entries as gzip(cpio odc), streaming each
// file's data once and computing its size and POSIX cksum CRC on the way, and
// the archive's own size and SHA-1.
//
// The archive starts with what every build of a fetch has in common: the
// directories and the component files (Source set), in entry order. That
// prefix is compressed once per fetch (through shared, which may be nil) and
// its state kept: the gzip CRC and dictionary, the SHA-1 state, the cpio
// inode. Each build carries on with its own files (Data: secret, certificates,
// settings) in f, and the archive is read from both (sum.open): the prefix is
// never copied before the output. A build alone takes the same path, so its
// bytes are the same as in a matrix.
func writeCPIOGzip(ctx context.Context, shared *packaging.Shared, f *os.File, entries []payloadEntry, mtime time.Time) (recs []record, sum fileSum, err error) {
	sum.release = func() {}
	common, own := splitCommon(entries)
	key, err := prefixKey(common, mtime)
	if err != nil {
		return nil, sum, err
	}
	ran := false // this build wrote the prefix, counting it as it went
	v, cleanup, err := shared.Do(key, func(dir string) (any, error) {
		ran = true
		return writePrefix(ctx, dir, common, mtime)
	})
	if err != nil {
		return nil, sum, err
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	pre := v.(*payloadPrefix)
	if !ran { // made by an earlier build of the matrix: done at once
		for _, r := range pre.recs {
			packaging.Count(ctx, r.Size)
		}
	}

	digest := sha1.New()
	if err := digest.(encoding.BinaryUnmarshaler).UnmarshalBinary(pre.sha1State); err != nil {
		return nil, sum, err
	}
	bw := bufio.NewWriterSize(io.MultiWriter(f, digest), 1<<20)
	counted := &iox.CountingWriter{W: bw}
	gz, err := gzseg.Resume(counted, pre.gz)
	if err != nil {
		return nil, sum, err
	}
	cw := cpio.ResumeWriter(gz, pre.ino)
	ownRecs, err := writeEntries(ctx, cw, own, mtime)
	if err != nil {
		gz.Close()
		return nil, sum, err
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
	recs = append(slices.Clone(pre.recs), ownRecs...)
	open := sections([]*os.File{pre.file, f}, []int64{pre.gz.Out, counted.N})
	return recs, fileSum{size: pre.gz.Out + counted.N, sha1: digest.Sum(nil), open: open, release: cleanup}, nil
}

// splitCommon puts the directories and the component files (the same in every
// build of a fetch) before the files a build writes itself, each group in
// entry order: every directory still comes before what it holds.
func splitCommon(entries []payloadEntry) (common, own []payloadEntry) {
	var files []payloadEntry
	for _, e := range entries {
		switch {
		case !e.Mode.IsRegular():
			common = append(common, e)
		case e.Source != "":
			files = append(files, e)
		default:
			own = append(own, e)
		}
	}
	return append(common, files...), own
}

// payloadPrefix is the compressed common part of a Payload.
type payloadPrefix struct {
	file      *os.File // nameless: nothing is left if the build is killed
	gz        gzseg.State
	sha1State []byte
	ino       int64
	recs      []record
}

// prefixKey names what the prefix's bytes depend on: the entries' headers and
// their source files' identity.
func prefixKey(common []payloadEntry, mtime time.Time) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "payload prefix v1\x00%d\x00%d\x00", payloadLevel, mtime.Unix())
	for _, e := range common {
		fmt.Fprintf(h, "%q %o %d %d %q", e.Name, uint32(e.Mode), e.UID, e.GID, e.Source)
		if e.Source != "" {
			st, err := os.Stat(e.Source)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, " %d %d", st.Size(), st.ModTime().UnixNano())
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Close releases the prefix's file (packaging.Shared does, with the fetch).
func (p *payloadPrefix) Close() error { return scratch.Close(p.file) }

// writePrefix compresses the gzip header and the common entries to a file in
// dir and keeps the states the builds resume from.
func writePrefix(ctx context.Context, dir string, common []payloadEntry, mtime time.Time) (_ *payloadPrefix, err error) {
	f, err := scratch.File(dir, "pkg-prefix")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			scratch.Close(f)
		}
	}()
	digest := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, digest), 1<<20)
	gz, err := gzseg.NewWriter(bw, payloadLevel, mtime)
	if err != nil {
		return nil, err
	}
	cw := cpio.NewWriter(gz)
	recs, err := writeEntries(ctx, cw, common, mtime)
	if err != nil {
		gz.Close()
		return nil, err
	}
	st, err := gz.Checkpoint()
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	state, err := digest.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &payloadPrefix{file: f, gz: st, sha1State: state, ino: cw.Inode(), recs: recs}, nil
}

// writeEntries writes entries' headers and data to cw and returns their records.
func writeEntries(ctx context.Context, cw *cpio.Writer, entries []payloadEntry, mtime time.Time) ([]record, error) {
	var recs []record
	buf := make([]byte, 256<<10)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r := record{payloadEntry: e}
		r.Data = nil // keep no copy of the content beyond the Layout's
		h := &cpio.Header{Name: e.Name, Mode: e.Mode, UID: e.UID, GID: e.GID, ModTime: mtime}
		if !e.Mode.IsRegular() {
			if err := cw.WriteHeader(h); err != nil {
				return nil, err
			}
			recs = append(recs, r)
			continue
		}
		n, crc, err := copyEntry(ctx, cw, h, e, buf)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		r.Size, r.CRC = n, crc
		recs = append(recs, r)
	}
	return recs, nil
}

// copyEntry writes a regular file's header and data, returning its size and CRC.
func copyEntry(ctx context.Context, cw *cpio.Writer, h *cpio.Header, e payloadEntry, buf []byte) (int64, uint32, error) {
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
	lr := io.LimitReader(packaging.MeterReader(ctx, src), h.Size)
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
