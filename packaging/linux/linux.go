// Package linux implements packaging.Packager for deb, rpm and Arch Linux
// (pkg.tar.zst) packages through nfpm.
package linux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/arch" // registers the archlinux packager
	_ "github.com/goreleaser/nfpm/v2/deb"  // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
	"github.com/klauspost/compress/zstd"

	"github.com/pkgctl/pkgctl/internal/gzseg"
	"github.com/pkgctl/pkgctl/internal/scratch"
	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/packaging/linux/rpmpayload"
)

// Packager builds one Linux package format.
type Packager struct {
	Type   string // pkgctl's --type
	format string // nfpm's packager name
}

func init() {
	packaging.Register(packaging.TypeDeb, &Packager{Type: packaging.TypeDeb, format: "deb"})
	packaging.Register(packaging.TypeRPM, &Packager{Type: packaging.TypeRPM, format: "rpm"})
	packaging.Register(packaging.TypeArchZst, &Packager{Type: packaging.TypeArchZst, format: "archlinux"})
}

// Maintainer is the maintainer and vendor field fleetctl writes (it has no address).
const Maintainer = packaging.PackageVendor

// longDescription is the extended description of deb and rpm packages (Debian
// policy 3.4.1 wants one; lintian: extended-description-is-empty). Lines stay
// under 80 columns (rpmlint: description-line-too-long). The Arch format has a
// one-line pkgdesc only, so it keeps packaging.PackageDescription.
const longDescription = `fleetd is the agent of Fleet Device Management: orbit runs osquery and,
when included, Fleet Desktop, connects them to the Fleet server set when
this package was built, and keeps them up to date from a TUF update server.
Settings are in /etc/default/orbit; the agent lives in /opt/orbit.`

// FileName is nfpm's conventional name, as fleetctl uses it
// (fleet-osquery_1.24.0_amd64.deb, fleet-osquery-1.24.0-1.x86_64.rpm).
func (p *Packager) FileName(l *packaging.Layout) string {
	np, err := nfpm.Get(p.format)
	if err != nil {
		panic(err) // registered by the blank imports above
	}
	return np.ConventionalFileName(p.info(l, nil))
}

func (p *Packager) info(l *packaging.Layout, contents files.Contents) *nfpm.Info {
	info := &nfpm.Info{
		Name:        l.Name,
		Arch:        l.Arch,
		Platform:    "linux",
		Version:     l.Version,
		Section:     "admin",
		Priority:    "optional",
		Maintainer:  Maintainer,
		Description: packaging.PackageDescription,
		Vendor:      packaging.PackageVendor,
		Homepage:    packaging.PackageHomepage,
		License:     packaging.PackageLicense,
		MTime:       l.MTime,
	}
	switch p.Type {
	case packaging.TypeDeb:
		// control: the synopsis line, then the extended description.
		info.Description = packaging.PackageDescription + "\n" + longDescription
	case packaging.TypeRPM:
		// rpm: Summary is the synopsis, %description the extended text.
		info.Description = longDescription
	}
	info.Contents = contents
	// The packages carry gzip (-6, in parallel, strict blocks: writeDeb,
	// rpmpayload.Rewrite): gzip rpm payloads install on every rpm still in
	// use (zstd needs rpm ≥ 4.14), and Debian 12's lintian cannot read
	// data.tar.zst. nfpm's own pass is redone, so it is the fastest.
	info.RPM.Compression = nfpmRPMCompression
	// Sources are exact paths: a component file named with *, ? or [ must
	// not be read as a pattern.
	info.DisableGlobbing = true
	info.RPM.BuildHost = "pkgctl" // nfpm's default is the host name: not reproducible
	info.RPM.Group = "System Environment/Daemons"
	info.RPM.Summary = packaging.PackageDescription
	info.ArchLinux.Packager = Maintainer
	return nfpm.WithDefaults(info)
}

// DetachedSignature signs an Arch package the way makepkg --sign does: a
// binary detached signature in <package>.sig. deb and rpm carry theirs inside.
func (p *Packager) DetachedSignature(l *packaging.Layout, pkg io.Reader) (string, []byte, error) {
	if p.Type != packaging.TypeArchZst || l.PGP == nil {
		return "", nil, nil
	}
	sig, err := l.PGP.Sign(pkg, false)
	if err != nil {
		return "", nil, fmt.Errorf("sign %s package: %w", p.Type, err)
	}
	return packaging.ArchSignatureExt, sig, nil
}

// Package writes the package for l to w. nfpm reads every file from a path,
// so generated content is staged in a private directory for the length of the
// build (see stager for why nothing better is possible with nfpm).
func (p *Packager) Package(ctx context.Context, l *packaging.Layout, w io.Writer) error {
	st := &stager{}
	defer st.close()

	var contents files.Contents
	for i, e := range l.For(p.Type) {
		c := &files.Content{
			Destination: e.Path,
			FileInfo:    &files.ContentFileInfo{Owner: e.Owner, Group: e.Group, Mode: e.Mode, MTime: l.MTime},
		}
		switch e.Kind {
		case packaging.KindDir:
			c.Type = files.TypeDir
		case packaging.KindSymlink:
			c.Type = files.TypeSymlink
			c.Source = e.Link
		case packaging.KindFile:
			c.Type = files.TypeFile
			c.Source = e.Source
			if e.Source == "" {
				src, err := st.stage(strconv.Itoa(i), e.Data)
				if err != nil {
					return fmt.Errorf("stage %s: %w", e.Path, err)
				}
				c.Source = src
			}
			size, err := e.Size()
			if err != nil {
				return fmt.Errorf("stage %s: %w", e.Path, err)
			}
			c.FileInfo.Size = size
		}
		contents = append(contents, c)
	}

	info := p.info(l, contents)
	scripts := map[string]*string{
		"postinstall": &info.Scripts.PostInstall,
		"preremove":   &info.Scripts.PreRemove,
		"postremove":  &info.Scripts.PostRemove,
	}
	bodies := map[string]string{
		"postinstall": l.Scripts.PostInstall,
		"preremove":   l.Scripts.PreRemove,
		"postremove":  l.Scripts.PostRemove,
	}
	if p.Type == packaging.TypeRPM {
		scripts["posttrans"] = &info.RPM.Scripts.PostTrans
		bodies["posttrans"] = l.Scripts.PostTrans
	}
	for name, dst := range scripts {
		if bodies[name] == "" {
			continue
		}
		f, err := st.stageScript(name+".sh", bodies[name], l.MTime)
		if err != nil {
			return fmt.Errorf("stage %s script: %w", name, err)
		}
		*dst = f
	}

	if err := ctx.Err(); err != nil {
		return err
	}
	np, err := nfpm.Get(p.format)
	if err != nil {
		return err
	}
	// nfpm builds from empty files (emptyOut); every deflate block gets
	// complete Huffman codes (strict decoders refuse others; nfpm's
	// compressors have no option for it): the deb's data.tar.gz is
	// compressed by writeDeb, the Arch package's .MTREE by archFill, the
	// rpm's payload by rpmpayload.Rewrite.
	empty, err := st.stage("empty", nil)
	if err != nil {
		return fmt.Errorf("stage an empty file: %w", err)
	}
	if p.Type == packaging.TypeRPM {
		if l.PGP != nil {
			// The header and header+payload signatures, made by writeRPM
			// after its payload rewrite, over the final bytes.
			info.RPM.Signature.SignFn = func(r io.Reader) ([]byte, error) { return l.PGP.Sign(r, false) }
		}
		return writeRPM(ctx, np, info, w, empty)
	}
	if p.Type == packaging.TypeArchZst {
		if err := writeArch(ctx, np, info, w, empty); err != nil {
			return fmt.Errorf("build %s package: %w", p.Type, err)
		}
		return nil
	}
	var sign signFunc
	if l.PGP != nil {
		// Signed last, over the final members: an armored signature in
		// _gpgorigin (debsign, as nfpm writes it). Arch packages get a .sig
		// (DetachedSignature); the rpm is signed in writeRPM.
		sign = l.PGP.Sign
	}
	return writeDeb(ctx, np, info, w, sign, empty)
}

// nfpmDebCompression and nfpmRPMCompression are what nfpm compresses its
// data tarball and payload with. nfpm v2.45.2 holds them whole in memory,
// but it is given empty files (debFill, rpmpayload.Body): they hold only
// headers, and the rewrite compresses the real contents once.
const (
	nfpmDebCompression = "zstd:fastest"
	nfpmRPMCompression = "zstd:fastest"
)

// writeArch has nfpm write the Arch package from empty files (through a
// nameless file: it holds the secret) and archFill write it with their
// contents.
func writeArch(ctx context.Context, np nfpm.Packager, info *nfpm.Info, w io.Writer, empty string) error {
	fill, err := newArchFill(emptyOut(info, empty))
	if err != nil {
		return err
	}
	f, err := scratch.File("", "arch")
	if err != nil {
		return err
	}
	defer scratch.Close(f)
	if err := np.Package(info, f); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer dec.Close()
	ctx, done := withShared(ctx)
	defer done()
	return fill.rewrite(ctx, dec, w)
}

// writeDeb has nfpm write the deb from empty files and streams it through
// rewriteDeb, which fills them and compresses data.tar.gz in parallel (see
// there and debFill).
func writeDeb(ctx context.Context, np nfpm.Packager, info *nfpm.Info, w io.Writer, sign signFunc, empty string) error {
	info.Deb.Compression = nfpmDebCompression
	fill := newDebFill(emptyOut(info, empty))
	ctx, release := withShared(ctx)
	defer release()
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(np.Package(info, pw))
	}()
	src := &readErr{r: pr}
	err := rewriteDeb(ctx, src, w, sign, fill)
	pr.CloseWithError(errors.New("deb rewrite stopped")) // unblocks nfpm if rewriteDeb stopped early
	<-done
	if src.err != nil {
		err = src.err // nfpm failed: its error explains why the stream ended
	}
	if err != nil {
		return fmt.Errorf("build deb package: %w", err)
	}
	return nil
}

// writeRPM builds the rpm with nfpm, then gives its payload "./"-relative
// member names as rpmbuild writes them (nfpm writes absolute ones, which
// `rpm2cpio | cpio -idm` extracts into the real /). A signer set in
// info.RPM.Signature.SignFn signs after the rewrite, which would otherwise
// break the signature; a KeyFile signature is refused for the same reason.
//
// nfpm (rpmpack) reads every file into memory and compresses the payload,
// which the rewrite does again: it is given empty (an empty staged file) as
// the source of every regular file, and the rewrite streams the real
// contents into the payload and sets their sizes and digests in the header
// (rpmpayload.Body). Memory stays flat, and nothing is compressed twice.
func writeRPM(ctx context.Context, np nfpm.Packager, info *nfpm.Info, w io.Writer, empty string) error {
	if info.RPM.Signature.KeyFile != "" {
		return fmt.Errorf("build rpm package: sign through RPM.Signature.SignFn, not KeyFile: the payload is rewritten after nfpm builds it")
	}
	sign := info.RPM.Signature.SignFn
	info.RPM.Signature.SignFn = nil
	bodies := map[string]rpmpayload.Body{}
	for name, b := range emptyOut(info, empty) {
		bodies[name] = rpmpayload.Body{Path: b.path, Size: b.size}
	}
	// nfpm's rpm goes to a nameless temporary file, not memory: Rewrite
	// streams it from there (the memory nfpm itself holds is its own).
	f, err := scratch.File("", "rpm")
	if err != nil {
		return fmt.Errorf("build rpm package: %w", err)
	}
	defer scratch.Close(f)
	if err := np.Package(info, f); err != nil {
		return fmt.Errorf("build rpm package: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("build rpm package: %w", err)
	}
	ctx, done := withShared(ctx)
	defer done()
	o := rpmpayload.Options{Count: func(n int64) { packaging.Count(ctx, n) }, Bodies: bodies,
		// Contents compressed once per matrix, shared with its debs too.
		Segment: func(b rpmpayload.Body, level int) (*gzseg.Segment, string, error) {
			c, err := sharedContent(ctx, fileBody{path: b.Path, size: b.Size}, level, false)
			if err != nil {
				return nil, "", err
			}
			sum, err := c.SHA256()
			return c.seg, sum, err
		}}
	if sign != nil {
		o.Sign = rpmpayload.SignFunc(sign)
	}
	if err := rpmpayload.Rewrite(w, f, o); err != nil {
		return fmt.Errorf("build rpm package: %w", err)
	}
	return nil
}

// regularContent reports whether c is a regular file nfpm reads from disk.
func regularContent(c *files.Content) bool {
	switch c.Type {
	case files.TypeFile, files.TypeConfig, files.TypeConfigNoReplace:
		return true
	}
	return false
}

// readErr records the first error other than io.EOF its reader returns.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}
