package packaging

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkgctl/pkgctl/internal/iox"
	"github.com/pkgctl/pkgctl/internal/orbitversion"
	"github.com/pkgctl/pkgctl/internal/scratch"
	"github.com/pkgctl/pkgctl/update"
)

// BuildEnv is what a build needs from its surroundings.
type BuildEnv struct {
	// Progress is told about downloads (bars on a terminal, lines in a log); nil for none.
	Progress update.Progress
	// Logf prints --verbose details; nil for none.
	Logf func(format string, args ...any)
	// Warnf prints a warning during the build (a CloudFront fallback); nil means Logf.
	Warnf func(format string, args ...any)
	// Notef prints the progress of long steps (notarization); nil means Logf.
	Notef func(format string, args ...any)
	// ToolVersion is pkgctl's version, sent in the User-Agent.
	ToolVersion string
	// Dir resolves a relative --outfile and holds the default output; "" is the
	// current directory.
	Dir string
	// Verify, when set (--verify), checks each finished installer (signed,
	// still at its temporary path) before it is renamed into place; an error
	// leaves nothing at the output path.
	Verify func(tmp string) error
	// Meter, when set, is told the bytes of content the build processes and
	// each chunk as the packager consumes it (the build's progress line).
	Meter Meter
	// hashOutput asks assemble for the SHA-256 of each output (a matrix's
	// manifest and summary), summed while the output is written.
	hashOutput bool
}

// checkOrbitVersion checks the orbit target's custom metadata version, which
// becomes the package version of every format.
func checkOrbitVersion(target, v string) error {
	if v == "" {
		return fmt.Errorf("TUF target %q has no version in its custom metadata: the package version comes from it", target)
	}
	if err := orbitversion.Check(v); err != nil {
		return fmt.Errorf("TUF target %q: %w", target, err)
	}
	return nil
}

// NativeToolingDir is where fleetctl --native-tooling writes its output.
const NativeToolingDir = "build"

// Result describes a finished installer.
type Result struct {
	Path       string // absolute output path
	Version    string // orbit version
	Size       int64
	Components []Component
	Targets    []TargetInfo // TUF metadata of Components, in the same order
	// Signature is the detached signature file written beside Path (an Arch
	// package's .sig), or "".
	Signature string
	// SHA256 is the hex digest of the output when the build was asked for it
	// (matrix builds), else "".
	SHA256 string
}

// Build fetches the agent, lays it out for o.Type and writes the installer,
// atomically: the output path holds a complete installer or nothing new.
// o must have passed WithDefaults and Validate.
func Build(ctx context.Context, o *Options, env BuildEnv) (*Result, error) {
	if _, err := PackagerFor(o.Type); err != nil {
		return nil, err
	}
	f, err := Fetch(ctx, []*Options{o}, env)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Assemble(ctx, o, env)
}

// Fetched holds the agent components that a set of builds needs, fetched and
// verified once (one TUF refresh, one download of each target) and unpacked
// once. Assemble may be called from several goroutines; Close removes it all.
type Fetched struct {
	work   string
	client interface{ Close() error }
	meta   []byte
	comps  map[string]Component  // by TUF target path
	infos  map[string]TargetInfo // by TUF target path
	shared *Shared               // compressed once, reused by every build
	failed map[string]error      // targets that could not be fetched, by TUF target path
}

// TargetInfo is what the TUF targets metadata says of one component.
type TargetInfo struct {
	Path    string            // TUF target path
	Length  int64             // bytes
	Hashes  map[string]string // alg → hex
	Version string            // custom metadata version
}

// Fetch opens the update client of opts[0] (all opts must share the settings
// FetchKey covers), refreshes the TUF metadata once and fetches the union of the
// components the builds need, each once. It fails when any component fails.
func Fetch(ctx context.Context, opts []*Options, env BuildEnv) (*Fetched, error) {
	f, err := fetchPartial(ctx, opts, env)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := f.missing(o); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// fetchPartial is Fetch that keeps going when a target cannot be fetched: the
// error is kept for the builds that need that target (see missing), so that in a
// matrix one build's missing channel fails only that build. Errors that concern
// every build (the client, the refresh, an interrupt) are returned.
func fetchPartial(ctx context.Context, opts []*Options, env BuildEnv) (_ *Fetched, err error) {
	if len(opts) == 0 {
		return nil, errors.New("fetch: no builds")
	}
	key := FetchKey(opts[0])
	for _, o := range opts[1:] {
		if FetchKey(o) != key {
			return nil, errors.New("fetch: builds with different update server settings cannot share one TUF client")
		}
	}
	logf := env.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	f := &Fetched{comps: map[string]Component{}, infos: map[string]TargetInfo{}, failed: map[string]error{}}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	sweepStale(opts, env)
	if f.work, err = scratch.MkdirTemp("build"); err != nil {
		return nil, fmt.Errorf("create work directory: %w", err)
	}
	f.shared = NewShared(f.work)
	client, err := openUpdateClient(opts[0], env)
	if err != nil {
		return nil, err
	}
	f.client = client
	if err := client.Refresh(ctx); err != nil {
		return nil, err
	}
	unpack := newUnpacker(f.work)
	for _, o := range opts {
		reqs, err := ComponentsFor(o)
		if err != nil {
			unpack.wait()
			return nil, err
		}
		for _, req := range reqs {
			c := Component{Name: req.Name, Platform: req.Platform, Channel: req.Channel, File: req.File}
			if _, ok := f.comps[c.TargetPath()]; ok {
				continue
			}
			if _, ok := f.failed[c.TargetPath()]; ok {
				continue
			}
			if err := f.fetchOne(ctx, client, req, &c); err != nil {
				if ctx.Err() != nil {
					unpack.wait()
					return nil, err
				}
				f.failed[c.TargetPath()] = err
				continue
			}
			logf("fetched %s (version %q, %d bytes)", c.TargetPath(), c.Version, f.infos[c.TargetPath()].Length)
			f.comps[c.TargetPath()] = c
			if strings.HasSuffix(req.File, ".tar.gz") {
				// Unpacked while the next component downloads.
				unpack.start(c.TargetPath(), c.Source, f.infos[c.TargetPath()].Path)
			}
		}
	}
	for key, u := range unpack.wait() {
		c := f.comps[key]
		if u.err != nil {
			delete(f.comps, key)
			f.failed[key] = u.err
			continue
		}
		c.Extracted = u.entries
		f.comps[key] = c
	}
	if f.meta, err = client.Metadata(); err != nil {
		return nil, err
	}
	return f, nil
}

// sweepStale removes what killed pkgctl runs left in the temporary directory
// and in the output directories of opts (scratch.Sweep): staged secrets,
// work directories, partial installers.
func sweepStale(opts []*Options, env BuildEnv) {
	dirs := []string{os.TempDir()}
	for _, o := range opts {
		d := "."
		if out := o.Outfile(); out != "" {
			d = filepath.Dir(out)
		} else if o.NativeTooling {
			d = NativeToolingDir
		}
		if !filepath.IsAbs(d) && env.Dir != "" {
			d = filepath.Join(env.Dir, d)
		}
		dirs = append(dirs, d)
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil && !seen[abs] {
			seen[abs] = true
			for _, p := range scratch.Sweep(abs) {
				if env.Logf != nil {
					env.Logf("removed %s, left by a pkgctl run that did not finish", p)
				}
			}
		}
	}
}

// fetchOne downloads (or takes from the cache) one component and unpacks it.
// The orbit version is untrusted input that every format writes (control
// fields, ProductVersion, file names): it is checked from the verified
// metadata before the download.
func (f *Fetched) fetchOne(ctx context.Context, client *update.Client, req ComponentRequest, c *Component) error {
	if req.Name == "orbit" {
		v, err := client.Version(ctx, req.Name, req.Platform, req.Channel, req.File)
		if err != nil {
			return err
		}
		if err := checkOrbitVersion(c.TargetPath(), v); err != nil {
			return err
		}
	}
	t, err := client.Fetch(ctx, req.Name, req.Platform, req.Channel, req.File)
	if err != nil {
		return err
	}
	c.Source, c.Version = t.File, t.Version
	f.infos[c.TargetPath()] = TargetInfo{Path: t.Path, Length: t.Length, Hashes: t.Hashes, Version: t.Version}
	return nil
}

// missing returns the error of the first component o needs that could not be fetched.
func (f *Fetched) missing(o *Options) error {
	reqs, err := ComponentsFor(o)
	if err != nil {
		return err
	}
	for _, req := range reqs {
		if err := f.failed[Component{Name: req.Name, Platform: req.Platform, Channel: req.Channel, File: req.File}.TargetPath()]; err != nil {
			return err
		}
	}
	return nil
}

// Close removes the fetched files (the cache keeps its verified copies).
func (f *Fetched) Close() {
	if f.client != nil {
		f.client.Close()
	}
	f.shared.Close()
	if f.work != "" {
		os.RemoveAll(f.work)
	}
}

// OutputPath is where a build of o writes: --outfile resolved against env.Dir,
// or the format's default name for l. With --native-tooling both go under
// build/, as fleetctl (and scripts built on the fleetdm/fleetctl image) puts
// them: filepath.Join("build", name), so an absolute --outfile /x/a.deb becomes
// build/x/a.deb too.
func OutputPath(o *Options, p Packager, l *Layout, env BuildEnv) (string, error) {
	out := o.CustomOutfile
	if out == "" {
		out = p.FileName(l)
	}
	if o.NativeTooling {
		out = filepath.Join(NativeToolingDir, out)
	}
	if !filepath.IsAbs(out) && env.Dir != "" {
		out = filepath.Join(env.Dir, out)
	}
	out, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("resolve --outfile: %w", err)
	}
	return out, nil
}

// Assemble lays out the fetched components for o and writes its installer
// atomically; o's components must be among those Fetch was given.
func (f *Fetched) Assemble(ctx context.Context, o *Options, env BuildEnv) (*Result, error) {
	return f.assemble(ctx, o, env, nil)
}

// assemble is Assemble with claim, called with the output path before writing
// (the matrix refuses two builds writing one file).
func (f *Fetched) assemble(ctx context.Context, o *Options, env BuildEnv, claim func(string) error) (*Result, error) {
	p, err := PackagerFor(o.Type)
	if err != nil {
		return nil, err
	}
	reqs, err := ComponentsFor(o)
	if err != nil {
		return nil, err
	}
	var comps []Component
	var infos []TargetInfo
	for _, req := range reqs {
		c, ok := f.comps[Component{Name: req.Name, Platform: req.Platform, Channel: req.Channel, File: req.File}.TargetPath()]
		if !ok {
			return nil, fmt.Errorf("component %s/%s/%s/%s was not fetched for this build", req.Name, req.Platform, req.Channel, req.File)
		}
		comps = append(comps, c)
		infos = append(infos, f.infos[c.TargetPath()])
	}
	orbit, _ := componentFor(comps, "orbit")
	if err := checkOrbitVersion(orbit.TargetPath(), orbit.Version); err != nil {
		return nil, err
	}
	mtime, err := SourceDate()
	if err != nil {
		return nil, err
	}
	l, err := NewLayout(o, Inputs{Components: comps, TUFMetadata: f.meta, MTime: mtime})
	if err != nil {
		return nil, err
	}
	out, err := OutputPath(o, p, l, env)
	if err != nil {
		return nil, err
	}
	if claim != nil {
		if err := claim(out); err != nil {
			return nil, err
		}
	}
	if o.NativeTooling {
		// fleetctl creates the directory: 0700 for the Linux formats, 0777
		// less the umask for pkg and msi (its file.Copy).
		mode := os.ModePerm
		if TargetOS(o.Type) == OSLinux {
			mode = 0o700
		}
		if err := os.MkdirAll(filepath.Dir(out), mode); err != nil {
			return nil, fmt.Errorf("create the --native-tooling output directory: %w", err)
		}
	}
	if l.Signing, err = signingIdentityFor(o); err != nil {
		return nil, err
	}
	if l.PGP, err = pgpSignerFor(o, mtime); err != nil {
		return nil, err
	}
	var sign func(tmp string) error
	if l.Signing != nil {
		fsig, ok := p.(FileSigner)
		if !ok {
			return nil, &NotSupportedError{What: "signing --type=" + o.Type}
		}
		sign = func(tmp string) error { return fsig.SignFile(ctx, l, tmp) }
	}
	notarize, err := notarizeStep(ctx, o, env, filepath.Base(out))
	if err != nil {
		return nil, err
	}
	if notarize != nil {
		signOnly := sign
		if signOnly == nil {
			return nil, flagErr("notarize", "--notarize needs a signed package")
		}
		sign = func(tmp string) error {
			if err := signOnly(tmp); err != nil {
				return err
			}
			return notarize(tmp)
		}
	}
	var detached []byte // signature file beside the package
	var detachedExt string
	if ds, ok := p.(DetachedSigner); ok && l.PGP != nil {
		sign = func(tmp string) (err error) {
			detachedExt, detached, err = signDetached(ds, l, tmp)
			return err
		}
	}
	if env.Verify != nil {
		signStep := sign
		sign = func(tmp string) error {
			if signStep != nil {
				if err := signStep(tmp); err != nil {
					return err
				}
			}
			if err := env.Verify(tmp); err != nil {
				return fmt.Errorf("--verify %s: %w", out, err)
			}
			return nil
		}
	}
	pctx := WithShared(ctx, f.shared)
	var meter *cappedMeter
	if env.Meter != nil {
		total, err := contentSize(l, o.Type)
		if err != nil {
			return nil, err
		}
		meter = &cappedMeter{m: env.Meter, total: total}
		env.Meter.SetTotal(total)
		pctx = WithMeter(pctx, meter)
	}
	var sum hash.Hash
	if env.hashOutput {
		sum = sha256.New()
	}
	size, digest, err := writeAtomicSum(out, func(w io.Writer) error {
		if err := p.Package(pctx, l, w); err != nil {
			return err
		}
		if meter != nil {
			meter.finish()
		}
		// An interrupt while the format was writing must not be renamed into place.
		return ctx.Err()
	}, sign, sum)
	if err != nil {
		return nil, err
	}
	sigPath := ""
	if detached != nil {
		sigPath = out + detachedExt
		if _, err := WriteAtomic(sigPath, func(w io.Writer) error { _, err := w.Write(detached); return err }); err != nil {
			os.Remove(out) // a package without its signature file is not what was asked for
			return nil, err
		}
	} else if o.Type == TypeArchZst {
		if err := removeStaleSignature(out+ArchSignatureExt, env); err != nil {
			return nil, err
		}
	}
	return &Result{Path: out, Version: l.Version, Size: size, Components: comps, Targets: infos, Signature: sigPath, SHA256: hex.EncodeToString(digest)}, nil
}

// extract unpacks a verified tarball and describes what it held.
func extract(tarGz, dir string) ([]ExtractedEntry, error) {
	rels, err := update.ExtractTarGz(tarGz, dir)
	if err != nil {
		return nil, err
	}
	var out []ExtractedEntry
	for _, rel := range rels {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		st, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		x := ExtractedEntry{Rel: filepath.ToSlash(rel), Mode: st.Mode().Perm()}
		switch {
		case st.IsDir():
			x.Kind = KindDir
		case st.Mode()&fs.ModeSymlink != 0:
			x.Kind = KindSymlink
			if x.Link, err = os.Readlink(p); err != nil {
				return nil, err
			}
		default:
			x.Kind = KindFile
			x.Source = p
		}
		out = append(out, x)
	}
	return out, nil
}

// SourceDate is the time stamped on every entry: SOURCE_DATE_EPOCH when set
// (reproducible builds), else now.
func SourceDate() (time.Time, error) {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || v == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	var secs int64
	if _, err := fmt.Sscan(v, &secs); err != nil || secs < 0 || fmt.Sprint(secs) != strings.TrimSpace(v) {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", v)
	}
	return time.Unix(secs, 0).UTC(), nil
}

// WriteAtomic writes path through a temporary file beside it, synced and renamed
// into place only when write succeeded; on any failure nothing is left behind.
func WriteAtomic(path string, write func(io.Writer) error) (size int64, err error) {
	return writeAtomicThen(path, write, nil)
}

// writeAtomicThen is WriteAtomic with a step that may change the complete
// temporary file (signing) before it is renamed into place. On Linux the
// temporary file has no name until it is complete (O_TMPFILE), so a killed
// build leaves no partial installer; elsewhere it is named with the process
// id and the next run sweeps it (scratch).
func writeAtomicThen(path string, write func(io.Writer) error, after func(tmp string) error) (size int64, err error) {
	size, _, err = writeAtomicSum(path, write, after, nil)
	return size, err
}

// writeAtomicSum is writeAtomicThen that, given a hash, also returns the
// digest of the file put in place: summed as it is written, or read back
// when after ran (signing may have replaced the file).
func writeAtomicSum(path string, write func(io.Writer) error, after func(tmp string) error, sum hash.Hash) (size int64, digest []byte, err error) {
	out, err := scratch.CreateOutput(path)
	if err != nil {
		return 0, nil, fmt.Errorf("create output file in %s: %w", filepath.Dir(path), err)
	}
	defer func() {
		if err != nil {
			out.Abort()
		}
	}()
	var dst io.Writer = out
	if sum != nil {
		dst = io.MultiWriter(out, sum)
	}
	cw := &iox.CountingWriter{W: dst}
	if err = write(cw); err != nil {
		return 0, nil, err
	}
	if after != nil {
		// The step needs a path and may replace the file (relic's xar signing
		// renames a new one over it): carry on with whatever is there afterwards.
		tmp, nerr := out.Named()
		if nerr != nil {
			err = nerr
			return 0, nil, fmt.Errorf("write %s: %w", path, err)
		}
		if err = after(tmp); err != nil {
			return 0, nil, err
		}
		if err = out.Reopen(); err != nil {
			return 0, nil, fmt.Errorf("write %s: %w", path, err)
		}
		st, serr := out.Stat()
		if serr != nil {
			err = serr
			return 0, nil, fmt.Errorf("write %s: %w", path, err)
		}
		cw.N = st.Size()
		if sum != nil {
			sum.Reset()
			if _, err = io.Copy(sum, io.NewSectionReader(out, 0, cw.N)); err != nil {
				return 0, nil, fmt.Errorf("hash %s: %w", path, err)
			}
		}
	}
	if err = out.Chmod(0o644); err != nil {
		return 0, nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err = out.Sync(); err != nil {
		return 0, nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err = out.Commit(); err != nil {
		return 0, nil, fmt.Errorf("write %s: %w", path, err)
	}
	if sum != nil {
		digest = sum.Sum(nil)
	}
	return cw.N, digest, nil
}

// IsNotSupported reports whether err says a feature is not built yet.
func IsNotSupported(err error) bool {
	var ns *NotSupportedError
	return errors.As(err, &ns)
}

// removeStaleSignature removes the detached signature a signed build left
// beside out (<out>.sig) once an unsigned build has replaced out: it signs
// the old package, so pacman would refuse the new one. Run after the rename,
// so a failed build leaves the old pair intact.
func removeStaleSignature(sig string, env BuildEnv) error {
	st, err := os.Lstat(sig)
	if err != nil || st.IsDir() {
		return nil // nothing there, or not a file we would have written
	}
	if err := os.Remove(sig); err != nil {
		return fmt.Errorf("remove %s, the signature of the package this unsigned build replaced: %w", sig, err)
	}
	warn := env.Warnf
	if warn == nil {
		warn = env.Logf
	}
	if warn != nil {
		warn("removed %s: it signed the package this unsigned build replaced", sig)
	}
	return nil
}
