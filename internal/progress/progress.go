// Package progress shows what pkgctl is doing. On a terminal it draws one
// redrawing line per download or build with github.com/vbauerster/mpb/v8
// (size, %, rate and ETA for downloads, and for builds once the build tells
// its total: Step is a packaging.Meter); elsewhere (CI logs) it prints a plain
// line when an item starts, one on all running items every Interval, and one
// when each ends.
package progress

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/pkgctl/pkgctl/update"
)

// DefaultInterval is how often the plain output reports running items.
const DefaultInterval = 5 * time.Second

// Options configure a Progress.
type Options struct {
	Out      io.Writer
	Terminal bool // draw bars; else plain lines
	// Width is the width of a bar line; 0 means the terminal's.
	Width int
	// Interval between the plain reports of running items; 0 means DefaultInterval.
	Interval time.Duration
	// Now is the clock of the plain output; nil means time.Now.
	Now func() time.Time
	// Console replaces the terminal writer (tests inject a fake terminal).
	Console mpb.ConsoleWriter
	// Refresh, when not nil, redraws the bars on each receive instead of on a
	// timer (tests).
	Refresh <-chan any
}

// Progress tracks downloads (it is an update.Progress) and build steps. Its
// methods may be called from several goroutines. Call Stop when done.
type Progress struct {
	o    Options
	bars *mpb.Progress // nil for plain output

	mu      sync.Mutex
	active  map[*item]bool
	stopped bool
	ticker  *time.Ticker
	quit    chan struct{}
}

// item is one download or step.
type item struct {
	p       *Progress
	name    string
	total   int64 // bytes; 0 for a step
	n       int64
	start   time.Time
	bar     *mpb.Bar
	done    bool
	verb    string // plain output: "downloading" or "building"
	step    bool
	doneMsg string
}

// New starts a Progress writing to o.Out.
func New(o Options) *Progress {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Out == nil && o.Console != nil {
		o.Out = o.Console
	}
	p := &Progress{o: o, active: map[*item]bool{}, quit: make(chan struct{})}
	if o.Terminal {
		opts := []mpb.ContainerOption{mpb.WithOutput(o.Out), mpb.WithAutoRefresh()}
		if o.Console != nil {
			opts = append(opts, mpb.WithConsoleWriter(o.Console))
		}
		if o.Width > 0 {
			opts = append(opts, mpb.WithWidth(o.Width))
		}
		if o.Refresh != nil {
			opts = append(opts, mpb.WithManualRefresh(o.Refresh))
		}
		p.bars = mpb.New(opts...)
	}
	return p
}

// Writer prints lines above the bars on a terminal (writing to Out directly
// would be overdrawn), and to Out otherwise.
func (p *Progress) Writer() io.Writer { return &lockedWriter{p: p} }

type lockedWriter struct{ p *Progress }

func (w *lockedWriter) Write(b []byte) (int, error) {
	if w.p.bars != nil {
		if n, err := w.p.bars.Write(b); err == nil {
			return n, nil
		}
		// The bars are gone (Stop): write directly.
	}
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.o.Out.Write(b)
}

// Cached reports a target taken from the cache (update.Progress).
func (p *Progress) Cached(name string, size int64) {
	if p.bars == nil {
		p.printf("using cached %s (%s)\n", name, Size(size))
	}
}

// Download starts a download bar (update.Progress).
func (p *Progress) Download(name string, total int64) update.Task {
	it := &item{p: p, name: name, total: total, start: p.o.Now(), verb: "downloading"}
	if p.bars != nil {
		it.bar = p.bars.New(total,
			mpb.BarStyle(),
			mpb.PrependDecorators(
				decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace | decor.DSyncWidth}),
				decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncWidth),
			),
			mpb.AppendDecorators(
				decor.OnAbort(decor.OnComplete(decor.Percentage(decor.WC{W: 5}), " done"), " failed"),
				decor.OnAbortOrOnComplete(decor.AverageSpeed(decor.SizeB1024(0), " % .1f", decor.WCSyncSpace), ""),
				decor.OnAbortOrOnComplete(decor.Name(" ETA "), ""),
				decor.OnAbortOrOnComplete(decor.AverageETA(decor.ET_STYLE_GO), ""),
			),
		)
	} else {
		p.printf("downloading %s (%s)\n", name, Size(total))
	}
	p.add(it)
	return it
}

// Step starts the line of a long step, such as one build of a matrix: a
// spinner and the time it has taken, then, once SetTotal tells how many bytes
// it processes, a bar with %, rate and ETA. name is shown; what says what it does.
func (p *Progress) Step(name, what string) *Step {
	it := &item{p: p, name: name, start: p.o.Now(), verb: what, step: true}
	if p.bars != nil {
		bar, spin := mpb.BarStyle().Build(), mpb.SpinnerStyle().PositionLeft().Build()
		filler := mpb.BarFillerFunc(func(w io.Writer, s decor.Statistics) error {
			if s.Total > 0 {
				return bar.Fill(w, s)
			}
			return spin.Fill(w, s)
		})
		it.bar, _ = p.bars.Add(0, filler,
			mpb.BarFillerClearOnComplete(),
			mpb.BarFillerClearOnAbort(),
			mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace | decor.DSyncWidth})),
			mpb.AppendDecorators(
				decor.OnAbort(decor.OnComplete(decor.Any(it.status), "done"), "FAILED"),
				decor.Name(" "),
				decor.Elapsed(decor.ET_STYLE_GO),
			),
		)
	} else {
		p.printf("%s: %s\n", name, what)
	}
	p.add(it)
	return &Step{it}
}

// status is a running step's text on a terminal: what it does, and once
// its total is known the share done, the rate and the time left.
func (it *item) status(s decor.Statistics) string {
	if s.Total <= 0 {
		return it.verb
	}
	return it.verb + " " + fraction(s.Current, s.Total, it.p.o.Now().Sub(it.start))
}

// fraction is "25% (1.0 MiB / 4.0 MiB, 512.0 KiB/s, ETA 6s)": n of total
// bytes after el; no rate before the first byte.
func fraction(n, total int64, el time.Duration) string {
	if n > total {
		n = total
	}
	part := fmt.Sprintf("%d%% (%s / %s", n*100/total, Size(n), Size(total))
	if secs := el.Seconds(); secs > 0 && n > 0 {
		rate := float64(n) / secs
		eta := time.Duration(float64(total-n) / rate * float64(time.Second)).Round(time.Second)
		part += fmt.Sprintf(", %s/s, ETA %s", Size(int64(rate)), eta)
	}
	return part + ")"
}

// Step is a long step in progress. It is a packaging.Meter: SetTotal, then
// Add as the bytes are processed.
type Step struct{ it *item }

// SetTotal says how many bytes the step processes (its Adds count to it).
func (s *Step) SetTotal(total int64) {
	if total <= 0 {
		return
	}
	if s.it.bar != nil {
		s.it.bar.SetTotal(total, false) // complete on Done, not on reaching it
		return
	}
	s.it.p.mu.Lock()
	s.it.total = total
	s.it.p.mu.Unlock()
}

// Add counts n more bytes processed.
func (s *Step) Add(n int64) { s.it.Add(n) }

// Done ends the step; msg, when not empty, is the plain output's last line
// (after "name: "), else "done (time)" or "FAILED".
func (s *Step) Done(err error, msg string) {
	s.it.doneMsg = msg
	s.it.Done(err)
}

func (p *Progress) add(it *item) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active[it] = true
	if p.bars == nil && p.ticker == nil && !p.stopped {
		p.ticker = time.NewTicker(p.o.Interval)
		go p.tick(p.ticker.C)
	}
}

func (p *Progress) tick(c <-chan time.Time) {
	for {
		select {
		case <-c:
			p.report()
		case <-p.quit:
			return
		}
	}
}

// report prints one plain line on the running items.
func (p *Progress) report() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.active) == 0 {
		return
	}
	items := make([]*item, 0, len(p.active))
	for it := range p.active {
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].name < items[j].name })
	now := p.o.Now()
	parts := make([]string, 0, len(items))
	for _, it := range items {
		el := now.Sub(it.start)
		switch {
		case it.total <= 0:
			parts = append(parts, fmt.Sprintf("%s %s (%s)", it.name, it.verb, el.Round(time.Second)))
		case it.step:
			parts = append(parts, fmt.Sprintf("%s %s %s", it.name, it.verb, fraction(it.n, it.total, el)))
		default:
			parts = append(parts, fmt.Sprintf("%s %s %s", it.verb, it.name, fraction(it.n, it.total, el)))
		}
	}
	fmt.Fprintf(p.o.Out, "running: %s\n", strings.Join(parts, "; "))
}

// Add counts n more bytes of a download (update.Task).
func (it *item) Add(n int64) {
	if it.bar != nil {
		it.bar.IncrInt64(n)
		return
	}
	it.p.mu.Lock()
	it.n += n
	it.p.mu.Unlock()
}

// Done ends a download or step (update.Task).
func (it *item) Done(err error) {
	p := it.p
	p.mu.Lock()
	if it.done {
		p.mu.Unlock()
		return
	}
	it.done = true
	delete(p.active, it)
	p.mu.Unlock()
	if it.bar != nil {
		if err != nil {
			it.bar.Abort(false)
		} else {
			it.bar.SetTotal(-1, true)
		}
		return
	}
	el := p.o.Now().Sub(it.start).Round(100 * time.Millisecond)
	switch {
	case it.doneMsg != "":
		p.printf("%s: %s\n", it.name, it.doneMsg)
	case err != nil && !it.step:
		p.printf("download of %s failed\n", it.name)
	case err != nil:
		p.printf("%s: FAILED\n", it.name)
	case !it.step:
		p.printf("downloaded %s (%s in %s)\n", it.name, Size(it.n), el)
	default:
		p.printf("%s: done (%s)\n", it.name, el)
	}
}

func (p *Progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.o.Out, format, args...)
}

// Stop ends every item still running (as failed: the run was cut short),
// draws the bars a last time and stops reporting.
func (p *Progress) Stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	var left []*item
	for it := range p.active {
		left = append(left, it)
	}
	if p.ticker != nil {
		p.ticker.Stop()
		close(p.quit)
	}
	p.mu.Unlock()
	for _, it := range left {
		if it.bar != nil {
			it.bar.Abort(false)
		}
		it.p.mu.Lock()
		it.done = true
		delete(p.active, it)
		it.p.mu.Unlock()
	}
	if p.bars != nil {
		p.bars.Wait()
	}
}

// Size formats a byte count: "512 B", "1.5 KiB", "12.3 MiB".
func Size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
