package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pkgctl/pkgctl/internal/progress"
	"github.com/pkgctl/pkgctl/internal/scratch"
	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/publish"
	"github.com/pkgctl/pkgctl/update"
)

// ReleaseOptions are the flags of `pkgctl package` for release pipelines:
// config file, matrix builds, manifest and publishing. They are not build
// settings, so they are not keys of the config file.
type ReleaseOptions struct {
	Config   string
	Manifest string
	JSON     bool
	Parallel int

	Publish publishTarget
}

// publishTarget is where `package --publish-github` or `publish` uploads.
type publishTarget struct {
	Repo       string // OWNER/REPO
	Tag        string
	Draft      bool
	Prerelease bool
	Replace    bool
	GitHubURL  string
}

func addReleaseFlags(fs *pflag.FlagSet, r *ReleaseOptions) {
	fs.StringVar(&r.Config, "config", "", "YAML file of package flags plus a builds: list (default ./pkgctl.yaml when present and --type is not given)")
	fs.StringVar(&r.Manifest, "manifest", "", "Write a JSON manifest of the outputs (path, size, sha256, TUF targets, settings; no secrets) to this file")
	fs.BoolVar(&r.JSON, "json", false, "Print the JSON manifest on stdout (messages go to stderr)")
	fs.IntVar(&r.Parallel, "parallel", 0, "Builds assembled at once (0 = number of CPU cores)")
	fs.StringVar(&r.Publish.Repo, "publish-github", "", "After building, publish the outputs and the manifest to this GitHub repository (OWNER/REPO; token from $GITHUB_TOKEN)")
	fs.StringVar(&r.Publish.Tag, "publish-tag", "", "Release tag for --publish-github (created when missing)")
	fs.BoolVar(&r.Publish.Draft, "publish-draft", false, "Create the release as a draft")
	fs.BoolVar(&r.Publish.Prerelease, "publish-prerelease", false, "Mark the release as a prerelease")
	fs.BoolVar(&r.Publish.Replace, "publish-replace", false, "Replace release assets of the same name")
	fs.StringVar(&r.Publish.GitHubURL, "publish-github-url", "", "GitHub Enterprise URL (https://github.example.com/); default github.com")
}

// releaseMode tells whether packageRun goes through the matrix path.
func (r *ReleaseOptions) active(cfg string) bool {
	return cfg != "" || r.Manifest != "" || r.JSON || r.Publish.Repo != "" || r.Parallel != 0
}

// releaseRun builds every build of the config file (or the single build of the
// flags) sharing one fetch, writes the manifest and publishes.
func releaseRun(cmd *cobra.Command, opts *PackageOptions, cfgPath string) error {
	r := &opts.Release
	out, errOut := opts.Streams.Out, opts.Streams.ErrOut
	msg := out
	if r.JSON {
		msg = errOut // stdout carries only the manifest
	}
	msg = opts.Streams.Msg(msg)
	if r.Parallel < 0 {
		return &usageError{errors.New("--parallel must be 0 (number of cores) or more")}
	}
	// Everything that can be refused is refused before anything is downloaded.
	var pub *publish.Options
	if r.Publish.Repo != "" || r.Publish.Tag != "" {
		p, err := r.Publish.options(opts.Getenv, "--publish-github", "--publish-tag")
		if err != nil {
			return &usageError{err}
		}
		pub = p
	}
	cf := &configFile{}
	if cfgPath != "" && r.Config == "" {
		fmt.Fprintf(opts.Streams.Msg(errOut), "Using ./%s (found in the working directory; --type or --config=FILE skips it)\n", cfgPath)
	}
	if cfgPath != "" {
		defs := packageFlags(&packaging.Options{})
		c, err := loadConfig(cfgPath, defs, opts.Getenv)
		if err != nil {
			return &usageError{err}
		}
		cf = c
	}
	builds, err := resolveBuilds(cf, cmd.Flags())
	if err != nil {
		return &usageError{err}
	}
	var mbuilds []packaging.MatrixBuild
	warned := newWarningSet()
	var profiles []*ProfileOptions // type: mobileconfig builds: written, not packaged
	for _, b := range builds {
		o := b.Options
		if o.Type == TypeMobileconfig {
			po := &ProfileOptions{Streams: opts.Streams, Options: *o}
			if err := checkProfile(po); err != nil {
				return &usageError{fmt.Errorf("build %s: %w", b.Name, err)}
			}
			if po.Options.CustomOutfile == "" {
				po.Options.CustomOutfile = b.Name + ".mobileconfig"
			}
			profiles = append(profiles, po)
			continue
		}
		warnings, err := o.Prepare()
		if err == nil {
			var more []string
			more, err = o.WithDefaults().Validate()
			warnings = append(warnings, more...)
		}
		if err != nil {
			where := ""
			if b.Line > 0 {
				where = fmt.Sprintf(" (%s:%d)", cf.Path, b.Line)
			}
			return &usageError{fmt.Errorf("build %s%s: %w", b.Name, where, err)}
		}
		for _, w := range warnings {
			warned.add(w, b.Name)
		}
		mbuilds = append(mbuilds, packaging.MatrixBuild{Name: b.Name, Options: o})
	}
	// No build may write another's output, an input, the config file or the
	// manifest; refused now, before anything is downloaded.
	protected := packaging.ProtectedFiles(mbuilds, cfgPath, r.Manifest)
	if err := packaging.CheckOutputs(mbuilds, protected); err != nil {
		return &usageError{err}
	}
	warned.print(opts.Streams, len(builds))

	prog := opts.Streams.progress()
	s := opts.Streams.above(prog)
	env := packaging.BuildEnv{ToolVersion: versionString(), Warnf: s.Warnf}
	if opts.Verify || cfgPath != "" && !cmd.Flags().Changed("verify") {
		env.Verify = verifyOutput
	}
	if prog != nil {
		env.Progress = prog
		defer prog.Stop()
	}
	verbose := false
	for _, b := range mbuilds {
		verbose = verbose || b.Options.Verbose
	}
	if verbose {
		var mu sync.Mutex
		env.Logf = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintln(s.ErrOut, inert(fmt.Sprintf(format, args...)))
		}
	}
	var noteMu sync.Mutex
	env.Notef = func(format string, args ...any) {
		noteMu.Lock()
		defer noteMu.Unlock()
		fmt.Fprintf(s.Msg(s.ErrOut), format+"\n", args...) // above the progress; nothing under --quiet
	}
	fmt.Fprintf(msg, "Generating %d fleetd agent(s)...\n", len(mbuilds))
	mp := newMatrixProgress(prog, len(mbuilds))
	outs := packaging.BuildMatrix(cmd.Context(), mbuilds, env, packaging.MatrixOptions{
		Parallel:  r.Parallel,
		Key:       fetchKeyFromFlags,
		Event:     mp.event,
		Meter:     mp.meter,
		Protected: protected,
		// The manifest (--manifest, --json, or published) lists each output's SHA-256.
		HashOutputs: r.Manifest != "" || r.JSON || pub != nil,
	})
	if prog != nil {
		prog.Stop()
	}
	if err := cmd.Context().Err(); err != nil {
		// Builds cut short by Ctrl-C did not fail: the run was stopped.
		return errInterrupted
	}
	writeSummary(msg, outs)
	buildErr := packaging.MatrixErr(outs)
	// Profiles hold enroll secrets: written beside the installers (0600), never
	// in the manifest nor published.
	for _, po := range profiles {
		path, signed, err := writeProfile(po)
		if err != nil {
			fmt.Fprintf(errOut, "profile %s failed: %v\n", po.Options.CustomOutfile, err)
			buildErr = errors.Join(buildErr, err)
			continue
		}
		fmt.Fprintf(msg, "Wrote the configuration profile %s%s\n", path, map[bool]string{true: " (signed)", false: ""}[signed])
	}
	for _, o := range outs {
		if o.Err != nil {
			fmt.Fprintf(errOut, "build %s failed: %v\n", o.Build.Name, o.Err)
		}
	}

	// The manifest lists what was built, even when some builds failed.
	manifestPath := r.Manifest
	base, err := os.Getwd()
	if err != nil {
		return err
	}
	if manifestPath != "" {
		if base, err = filepath.Abs(filepath.Dir(manifestPath)); err != nil {
			return err
		}
	}
	m, err := buildManifest(outs, builds, base)
	if err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if manifestPath != "" {
		if _, err := packaging.WriteAtomic(manifestPath, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
			return fmt.Errorf("write --manifest: %w", err)
		}
		fmt.Fprintf(msg, "Manifest: %s\n", manifestPath)
	}
	if r.JSON {
		if _, err := out.Write(data); err != nil {
			return err
		}
	}
	if buildErr != nil {
		if pub != nil {
			fmt.Fprintln(errOut, "Not publishing: not every build succeeded.")
		}
		return buildErr
	}
	if pub == nil {
		return nil
	}
	for _, o := range outs {
		pub.Files = append(pub.Files, o.Result.Path)
		if o.Result.Signature != "" {
			pub.Files = append(pub.Files, o.Result.Signature)
		}
	}
	if manifestPath == "" {
		// Publish a manifest anyway, from a private temporary directory.
		dir, err := scratch.MkdirTemp("manifest")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		manifestPath = filepath.Join(dir, "manifest.json")
		if err := os.WriteFile(manifestPath, data, 0o644); err != nil {
			return err
		}
	}
	pub.Manifest = manifestPath
	pub.Logf = func(format string, args ...any) { fmt.Fprintln(msg, inert(fmt.Sprintf(format, args...))) }
	return publishRun(cmd, pub)
}

// fetchKeyFromFlags groups builds by the value of every flag that reaches the
// update client: update-* (but --update-interval, which only orbit reads),
// cloudfront-* and cache-dir. Flags added later with those prefixes are
// covered without touching this function.
func fetchKeyFromFlags(o *packaging.Options) string {
	var b strings.Builder
	for _, d := range packageFlags(o) {
		if d.Name == "update-interval" || !(strings.HasPrefix(d.Name, "update-") || strings.HasPrefix(d.Name, "cloudfront-") || d.Name == "cache-dir") {
			continue
		}
		var v string
		switch {
		case d.Str != nil:
			v = *d.Str
		case d.Bool != nil:
			v = fmt.Sprint(*d.Bool)
		case d.Dur != nil:
			v = d.Dur.String()
		}
		fmt.Fprintf(&b, "%s=%q\n", d.Name, v)
	}
	return b.String()
}

// buildManifest describes the successful outputs; settings come from the flag
// table, without the Secret ones (only their names) and without --cache-dir
// and --verbose, which do not change the output.
func buildManifest(outs []packaging.MatrixOutcome, builds []resolvedBuild, base string) (*packaging.Manifest, error) {
	m := &packaging.Manifest{Tool: "pkgctl " + versionString(), SourceDateEpoch: packaging.SourceDateEpoch(), Outputs: []packaging.ManifestOutput{}}
	for i, o := range outs {
		if o.Err != nil {
			continue
		}
		settings, secrets := manifestSettings(builds[i].Options)
		mo, err := packaging.NewManifestOutput(o, base, settings, secrets)
		if err != nil {
			return nil, err
		}
		m.Outputs = append(m.Outputs, mo)
	}
	return m, nil
}

func manifestSettings(o *packaging.Options) (map[string]string, []string) {
	settings := map[string]string{}
	var secrets []string
	for _, d := range packageFlags(o) {
		if d.Secret {
			if d.Str != nil && *d.Str != "" {
				secrets = append(secrets, d.Name)
			}
			continue
		}
		switch d.Name {
		case "cache-dir", "verbose", "disable-open-folder", "outfile":
			continue
		}
		switch {
		case d.Str != nil:
			v := *d.Str
			if d.Name == "update-roots" && v != "" {
				// Public keys, but long: the digest identifies them.
				sum := sha256.Sum256([]byte(v))
				v = "sha256:" + hex.EncodeToString(sum[:])
			}
			settings[d.Name] = update.Redact(v) // a URL's password is a secret
		case d.Bool != nil:
			settings[d.Name] = fmt.Sprint(*d.Bool)
		case d.Dur != nil:
			settings[d.Name] = d.Dur.String()
		}
	}
	return settings, secrets
}

// writeSummary prints the table that ends a matrix run.
func writeSummary(w io.Writer, outs []packaging.MatrixOutcome) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILD\tFILE\tSIZE\tTIME\tSTATUS")
	for _, o := range outs {
		file, size, status := "-", "-", "ok"
		if o.Result != nil {
			file = o.Result.Path
			size = humanSize(o.Result.Size)
		} else {
			status = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\t%s\n", o.Build.Name, file, size, o.Duration.Seconds(), status)
	}
	tw.Flush()
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// warningSet gathers the warnings of a matrix's builds, so that each distinct
// warning is printed once, naming the builds it concerns.
type warningSet struct {
	order  []string
	builds map[string][]string
}

func newWarningSet() *warningSet { return &warningSet{builds: map[string][]string{}} }

func (ws *warningSet) add(w, build string) {
	if _, ok := ws.builds[w]; !ok {
		ws.order = append(ws.order, w)
	}
	ws.builds[w] = append(ws.builds[w], build)
}

func (ws *warningSet) print(s Streams, total int) {
	for _, w := range ws.order {
		names := ws.builds[w]
		switch {
		case total == 1:
			s.Warnf("%s", w)
		case len(names) == total:
			s.Warnf("%s (every build)", w)
		default:
			s.Warnf("%s (build %s)", w, strings.Join(names, ", "))
		}
	}
}

// matrixProgress shows one line per build: a spinner on a terminal, plain
// lines otherwise (CI logs). A nil Progress (--quiet) shows nothing.
type matrixProgress struct {
	p     *progress.Progress
	mu    sync.Mutex
	total int
	done  int
	steps map[int]*progress.Step
}

func newMatrixProgress(p *progress.Progress, total int) *matrixProgress {
	return &matrixProgress{p: p, total: total, steps: map[int]*progress.Step{}}
}

// meter is build i's line as its packaging.Meter; nil when nothing is shown.
func (m *matrixProgress) meter(i int) packaging.Meter {
	if m.p == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.steps[i]; s != nil {
		return s
	}
	return nil
}

func (m *matrixProgress) event(i int, b packaging.MatrixBuild, done bool, out *packaging.MatrixOutcome) {
	if m.p == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !done {
		m.steps[i] = m.p.Step(b.Name, "building "+b.Options.Type)
		return
	}
	m.done++
	step := m.steps[i]
	if step == nil { // failed before it started (its fetch)
		step = m.p.Step(b.Name, "fetching")
	}
	msg := fmt.Sprintf("[%d/%d] FAILED (the reason follows the summary)", m.done, m.total)
	if out.Err == nil {
		msg = fmt.Sprintf("[%d/%d] done %s (%s, %.1fs)", m.done, m.total, out.Result.Path, humanSize(out.Result.Size), out.Duration.Seconds())
	}
	step.Done(out.Err, msg)
}
