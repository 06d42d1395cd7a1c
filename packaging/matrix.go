package packaging

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// FetchKey identifies the update client settings of o: builds with equal keys
// can share one TUF client (one refresh, one download of each target). It
// covers every Options field openUpdateClient reads.
func FetchKey(o *Options) string {
	return strings.Join([]string{o.UpdateURL, o.UpdateRoots, o.UpdateTLSServerCertificate,
		o.UpdateTLSClientCertificate, o.UpdateTLSClientKey, o.CacheDir,
		o.CloudFrontURL, o.CloudFrontKeyPairID, o.CloudFrontPrivateKey, o.CloudFrontURLTTL.String(),
		o.CloudFrontHashAlgorithm, o.CloudFrontOriginURL}, "\x00")
}

// MatrixBuild is one build of a matrix run.
type MatrixBuild struct {
	Name    string // shown in progress and errors
	Options *Options
}

// MatrixOutcome is what became of one build.
type MatrixOutcome struct {
	Build    MatrixBuild
	Result   *Result // nil when Err != nil
	SHA256   string  // hex digest of the output file (MatrixOptions.HashOutputs)
	Duration time.Duration
	Err      error
}

// MatrixOptions tune a matrix run.
type MatrixOptions struct {
	// Parallel is how many builds assemble at once; <= 0 means the number of cores.
	Parallel int
	// Key groups builds that can share a TUF client; nil means FetchKey. The
	// command passes a key derived from its flag table, so that update flags
	// added later are covered too.
	Key func(*Options) string
	// Event, when set, is told when a build starts (done false) and ends.
	Event func(i int, b MatrixBuild, done bool, out *MatrixOutcome)
	// Meter, when set, gives build i's Meter (its progress line), asked for
	// after Event says the build started; it may return nil.
	Meter func(i int) Meter
	// Protected are files no build may write (the manifest, the config file,
	// every input), by what they are; checked with SamePath for the outputs
	// whose name is known only after the download (default names).
	Protected []FlagPath
	// HashOutputs sets each outcome's SHA256 (a manifest needs it): one more
	// pass over every output byte, done as the output is written.
	HashOutputs bool
}

// BuildMatrix fetches once per group of builds that share update settings, then
// assembles every build, up to Parallel at a time. A failing build does not stop
// the others; each outcome carries its own error. Outcomes are in build order.
func BuildMatrix(ctx context.Context, builds []MatrixBuild, env BuildEnv, mo MatrixOptions) []MatrixOutcome {
	key := mo.Key
	if key == nil {
		key = FetchKey
	}
	par := mo.Parallel
	if par <= 0 {
		par = runtime.NumCPU()
	}
	outs := make([]MatrixOutcome, len(builds))
	for i, b := range builds {
		outs[i].Build = b
	}

	// One fetch per group, in order of first appearance.
	var order []string
	groups := map[string][]int{}
	for i, b := range builds {
		k := key(b.Options) + "\x00" + FetchKey(b.Options)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	fetched := make([]*Fetched, len(builds))
	for _, k := range order {
		var opts []*Options
		for _, i := range groups[k] {
			opts = append(opts, builds[i].Options)
		}
		f, err := fetchPartial(ctx, opts, env)
		if err != nil {
			for _, i := range groups[k] {
				outs[i].Err = fmt.Errorf("fetch the agent: %w", err)
			}
			continue
		}
		defer f.Close()
		// A target that could not be fetched fails only the builds that need it.
		for _, i := range groups[k] {
			if err := f.missing(builds[i].Options); err != nil {
				outs[i].Err = fmt.Errorf("fetch the agent: %w", err)
				continue
			}
			fetched[i] = f
		}
	}

	var (
		claimMu sync.Mutex
		claimed = map[string]string{} // output path → build name
		wg      sync.WaitGroup
		sem     = make(chan struct{}, par)
	)
	for i := range builds {
		if fetched[i] == nil {
			if mo.Event != nil {
				mo.Event(i, builds[i], true, &outs[i])
			}
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b := builds[i]
			if mo.Event != nil {
				mo.Event(i, b, false, nil)
			}
			start := time.Now()
			claim := func(path string) error {
				claimMu.Lock()
				defer claimMu.Unlock()
				for other, name := range claimed {
					if SamePath(path, other) {
						return fmt.Errorf("output %s is also written by build %s (as %s): give each build its own outfile", path, name, other)
					}
				}
				for _, p := range mo.Protected {
					if SamePath(path, p.Path) {
						return fmt.Errorf("output %s is also %s (%s): an installer never replaces it", path, p.Flag, p.Path)
					}
				}
				claimed[path] = b.Name
				return nil
			}
			benv := env
			benv.hashOutput = mo.HashOutputs
			if mo.Meter != nil {
				benv.Meter = mo.Meter(i)
			}
			res, err := fetched[i].assemble(ctx, b.Options, benv, claim)
			if err == nil {
				outs[i].SHA256 = res.SHA256
			}
			outs[i].Duration = time.Since(start)
			if err != nil {
				outs[i].Err = err
			} else {
				outs[i].Result = res
			}
			if mo.Event != nil {
				mo.Event(i, b, true, &outs[i])
			}
		}(i)
	}
	wg.Wait()
	return outs
}

// MatrixError lists the builds of a matrix run that failed.
type MatrixError struct{ Failed []MatrixOutcome }

func (e *MatrixError) Error() string {
	var names []string
	for _, o := range e.Failed {
		names = append(names, o.Build.Name)
	}
	sort.Strings(names)
	return fmt.Sprintf("%d build(s) failed: %s", len(e.Failed), strings.Join(names, ", "))
}

// MatrixErr returns a *MatrixError when any outcome failed, else nil.
func MatrixErr(outs []MatrixOutcome) error {
	var failed []MatrixOutcome
	for _, o := range outs {
		if o.Err != nil {
			failed = append(failed, o)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &MatrixError{Failed: failed}
}

// IsMatrixError reports whether err is a *MatrixError.
func IsMatrixError(err error) bool {
	var me *MatrixError
	return errors.As(err, &me)
}
