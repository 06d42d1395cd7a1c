package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/term"

	"github.com/pkgctl/pkgctl/internal/progress"
	"github.com/pkgctl/pkgctl/internal/safetext"
	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/update"
)

// ui is what the commands of one run share about output: --quiet, and the
// warnings already printed (each distinct warning is printed once per run).
type ui struct {
	quiet bool
	mu    sync.Mutex
	seen  map[string]bool
}

// Quiet reports whether --quiet was given: then only errors are printed.
func (s Streams) Quiet() bool { return s.ui != nil && s.ui.quiet }

// Msg is where progress messages go ("Generating…", "Success!"): io.Discard
// under --quiet. Results (a manifest on stdout, `updates roots`) do not go here.
func (s Streams) Msg(w io.Writer) io.Writer {
	if s.Quiet() {
		return io.Discard
	}
	return w
}

// Warnf prints "Warning: …" on ErrOut, once per distinct text per run, and
// not at all under --quiet. It is safe for concurrent use.
func (s Streams) Warnf(format string, args ...any) {
	msg := inert(fmt.Sprintf(format, args...))
	if s.ui == nil {
		fmt.Fprintf(s.ErrOut, "Warning: %s\n", msg)
		return
	}
	s.ui.mu.Lock()
	defer s.ui.mu.Unlock()
	if s.ui.quiet || s.ui.seen[msg] {
		return
	}
	if s.ui.seen == nil {
		s.ui.seen = map[string]bool{}
	}
	s.ui.seen[msg] = true
	fmt.Fprintf(s.ErrOut, "Warning: %s\n", msg)
}

// progress starts the progress display on ErrOut: bars on a terminal, a plain
// line every few seconds otherwise; nil under --quiet. Stop it when done.
func (s Streams) progress() *progress.Progress {
	if s.Quiet() {
		return nil
	}
	tty := s.ErrIsTerminal
	if f, ok := s.ErrOut.(*os.File); ok && tty {
		// A terminal that reports no width (some CI pseudo-terminals) gets plain lines:
		// bars would be drawn zero columns wide, that is, not at all.
		if w, _, err := term.GetSize(int(f.Fd())); err != nil || w <= 0 {
			tty = false
		}
	}
	return progress.New(progress.Options{Out: s.ErrOut, Terminal: tty})
}

// above returns s writing its messages above p's bars (else they would be drawn over).
func (s Streams) above(p *progress.Progress) Streams {
	if p != nil {
		s.ErrOut = p.Writer()
	}
	return s
}

// buildWithProgress is packaging.Build with the download bars and a line for
// the build itself.
func buildWithProgress(ctx context.Context, o *packaging.Options, env packaging.BuildEnv, p *progress.Progress) (*packaging.Result, error) {
	if p == nil {
		return packaging.Build(ctx, o, env)
	}
	if _, err := packaging.PackagerFor(o.Type); err != nil {
		return nil, err
	}
	f, err := packaging.Fetch(ctx, []*packaging.Options{o}, env)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	step := p.Step(o.Type, "building")
	env.Meter = step
	res, err := f.Assemble(ctx, o, env)
	msg := ""
	if err == nil {
		msg = fmt.Sprintf("done %s (%s)", res.Path, progress.Size(res.Size))
	}
	step.Done(err, msg)
	return res, err
}

// inert makes a message safe for the terminal and the logs: URL credentials
// redacted (an --update-url may hold a password), and whatever a server or
// repository put in it unable to act as a terminal escape.
func inert(msg string) string {
	return safetext.Terminal(update.Redact(msg))
}
