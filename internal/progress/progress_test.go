package progress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTerm is an injected terminal: mpb writes a frame, then Flush shows it.
// mpb may draw frames of its own (the last running bar ending asks for one
// from another goroutine), so tests wait for a frame drawn after a point,
// never for "the next" one.
type fakeTerm struct {
	mu      sync.Mutex
	pending bytes.Buffer
	frames  []string
	flushed chan struct{} // a token when frames grew; capacity 1, never blocks Flush
}

func newFakeTerm() *fakeTerm { return &fakeTerm{flushed: make(chan struct{}, 1)} }

func (f *fakeTerm) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending.Write(b)
}

func (f *fakeTerm) ReadFrom(r io.Reader) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending.ReadFrom(r)
}

func (f *fakeTerm) IsTerminal() bool               { return true }
func (f *fakeTerm) GetTermSize() (int, int, error) { return 100, 40, nil }

func (f *fakeTerm) Flush(lines int) error {
	f.mu.Lock()
	f.frames = append(f.frames, f.pending.String())
	f.pending.Reset()
	f.mu.Unlock()
	select {
	case f.flushed <- struct{}{}:
	default: // a token is already waiting
	}
	return nil
}

func (f *fakeTerm) pendingString() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending.String()
}

func (f *fakeTerm) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.frames)
}

// frame returns frame i, if drawn.
func (f *fakeTerm) frame(i int) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i >= len(f.frames) {
		return "", false
	}
	return f.frames[i], true
}

func (f *fakeTerm) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.frames) == 0 {
		return ""
	}
	return f.frames[len(f.frames)-1]
}

// redraw asks for one frame and returns the first frame drawn after the call:
// mpb draws in one goroutine that also takes every bar update and every
// Writer line, so that frame shows all the calls made before redraw.
func redraw(t *testing.T, refresh chan any, term *fakeTerm) string {
	t.Helper()
	n := term.count()
	refresh <- struct{}{}
	for {
		if f, ok := term.frame(n); ok {
			return f
		}
		select {
		case <-term.flushed:
		case <-time.After(30 * time.Second): // a hang guard, not a timing assertion
			t.Fatal("no frame drawn")
		}
	}
}

// TestTerminalBars draws downloads and builds on an injected terminal: one line
// per item, with size, percentage and rate for downloads.
func TestTerminalBars(t *testing.T) {
	term := newFakeTerm()
	refresh := make(chan any)
	p := New(Options{Terminal: true, Console: term, Width: 100, Refresh: refresh})

	d := p.Download("orbit/linux/stable/orbit", 4<<20)
	d.Add(1 << 20)
	frame := redraw(t, refresh, term)
	lines := strings.Split(strings.TrimRight(frame, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("one download, %d lines:\n%s", len(lines), frame)
	}
	for _, want := range []string{"orbit/linux/stable/orbit", "1.0 MiB / 4.0 MiB", "25 %", "ETA"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("download line lacks %q: %q", want, lines[0])
		}
	}
	if strings.ContainsAny(frame, "\r") {
		t.Errorf("frame carries hand-made carriage returns: %q", frame)
	}

	a := p.Step("team-a-deb", "building deb")
	b := p.Step("team-b-msi", "building msi")
	frame = redraw(t, refresh, term)
	if n := strings.Count(strings.TrimRight(frame, "\n"), "\n") + 1; n != 3 {
		t.Errorf("three items, %d lines:\n%s", n, frame)
	}
	if !strings.Contains(frame, "team-a-deb") || !strings.Contains(frame, "building msi") {
		t.Errorf("build lines missing:\n%s", frame)
	}

	d.Add(3 << 20)
	d.Done(nil)
	a.Done(nil, "")
	b.Done(errors.New("disk full"), "")
	fmt.Fprintln(p.Writer(), "Warning: above the bars")
	frame = redraw(t, refresh, term)
	if !strings.HasPrefix(frame, "Warning: above the bars\n") {
		t.Errorf("a message is not printed above the bars:\n%s", frame)
	}
	p.Stop()
	final := term.last()
	if !strings.Contains(final, "done") || !strings.Contains(final, "FAILED") {
		t.Errorf("final frame:\n%s", final)
	}
	fmt.Fprintln(p.Writer(), "after the bars") // not lost once the bars are gone
	if !strings.Contains(term.pendingString(), "after the bars") {
		t.Errorf("a message after Stop was lost")
	}
}

// TestPlainLines: no terminal means plain lines: start, a report per interval
// (here: per report call), end. No escape sequences.
func TestPlainLines(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(1000, 0)
	p := New(Options{Out: &out, Now: func() time.Time { return now }, Interval: time.Hour})
	d := p.Download("orbit/linux/stable/orbit", 4<<20)
	s := p.Step("team-a", "building deb")
	d.Add(1 << 20)
	now = now.Add(2 * time.Second)
	p.report()
	d.Add(3 << 20)
	d.Done(nil)
	s.Done(nil, "done /o/a.deb")
	p.Stop()
	want := "downloading orbit/linux/stable/orbit (4.0 MiB)\n" +
		"team-a: building deb\n" +
		"running: downloading orbit/linux/stable/orbit 25% (1.0 MiB / 4.0 MiB, 512.0 KiB/s, ETA 6s); team-a building deb (2s)\n" +
		"downloaded orbit/linux/stable/orbit (4.0 MiB in 2s)\n" +
		"team-a: done /o/a.deb\n"
	if out.String() != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", out.String(), want)
	}
	if strings.Contains(out.String(), "\x1b") || strings.Contains(out.String(), "\r") {
		t.Errorf("escape sequences in plain output: %q", out.String())
	}
}

// TestTerminalBuildBar: a build step that is told its total draws %, rate
// and ETA on its line; before that, what it does.
func TestTerminalBuildBar(t *testing.T) {
	term := newFakeTerm()
	refresh := make(chan any)
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := New(Options{Terminal: true, Console: term, Width: 120, Refresh: refresh, Now: clock})

	s := p.Step("team-a-deb", "building deb")
	frame := redraw(t, refresh, term)
	if !strings.Contains(frame, "building deb") || strings.Contains(frame, "%") {
		t.Errorf("a step without a total:\n%s", frame)
	}
	s.SetTotal(4 << 20)
	s.Add(1 << 20)
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	frame = redraw(t, refresh, term)
	lines := strings.Split(strings.TrimRight(frame, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("one build, %d lines:\n%s", len(lines), frame)
	}
	for _, want := range []string{"team-a-deb", "building deb 25% (1.0 MiB / 4.0 MiB, 512.0 KiB/s, ETA 6s)"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("build line lacks %q: %q", want, lines[0])
		}
	}
	s.Add(3 << 20)
	frame = redraw(t, refresh, term)
	if !strings.Contains(frame, "100% (4.0 MiB / 4.0 MiB") {
		t.Errorf("a build that reached its total:\n%s", frame)
	}
	s.Done(nil, "")
	p.Stop()
	if final := term.last(); !strings.Contains(final, "done") {
		t.Errorf("final frame:\n%s", final)
	}
}

// TestPlainBuildLines: off a terminal, a build with a total reports its
// share, rate and ETA every interval (here: per report call).
func TestPlainBuildLines(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(1000, 0)
	p := New(Options{Out: &out, Now: func() time.Time { return now }, Interval: time.Hour})
	s := p.Step("team-a", "building rpm")
	s.SetTotal(10 << 20)
	s.Add(5 << 20)
	now = now.Add(5 * time.Second)
	p.report()
	s.Add(5 << 20)
	s.Done(nil, "done /o/a.rpm")
	p.Stop()
	want := "team-a: building rpm\n" +
		"running: team-a building rpm 50% (5.0 MiB / 10.0 MiB, 1.0 MiB/s, ETA 5s)\n" +
		"team-a: done /o/a.rpm\n"
	if out.String() != want {
		t.Errorf("plain output:\n%s\nwant:\n%s", out.String(), want)
	}
}
