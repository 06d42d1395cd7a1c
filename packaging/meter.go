package packaging

import (
	"context"
	"io"
	"sync"
)

// Meter is told how far a build is: the bytes of content it will process,
// then each chunk as a packager consumes it (a progress bar's Add).
type Meter interface {
	SetTotal(total int64)
	Add(n int64)
}

type meterKey struct{}

// WithMeter returns ctx carrying m for the packagers.
func WithMeter(ctx context.Context, m Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// Count tells the Meter of ctx, if any, that n more bytes were processed.
func Count(ctx context.Context, n int64) {
	if m, ok := ctx.Value(meterKey{}).(Meter); ok && m != nil && n > 0 {
		m.Add(n)
	}
}

// MeterReader returns r counting what is read from it into the Meter of ctx;
// r itself when ctx has none.
func MeterReader(ctx context.Context, r io.Reader) io.Reader {
	m, ok := ctx.Value(meterKey{}).(Meter)
	if !ok || m == nil {
		return r
	}
	return &meterReader{r: r, m: m}
}

type meterReader struct {
	r io.Reader
	m Meter
}

func (mr *meterReader) Read(b []byte) (int, error) {
	n, err := mr.r.Read(b)
	if n > 0 {
		mr.m.Add(int64(n))
	}
	return n, err
}

// cappedMeter keeps a build's count within its total: a packager may count a
// stream a little larger than the content (tar headers), and work shared with
// an earlier build of a matrix is not counted again, so finish adds what is left.
type cappedMeter struct {
	m     Meter
	mu    sync.Mutex
	total int64
	n     int64
}

func (c *cappedMeter) SetTotal(total int64) {}

func (c *cappedMeter) Add(n int64) {
	c.mu.Lock()
	if c.n+n > c.total {
		n = c.total - c.n
	}
	c.n += n
	c.mu.Unlock()
	if n > 0 {
		c.m.Add(n)
	}
}

func (c *cappedMeter) finish() { c.Add(c.total) }

// contentSize is the bytes of file content the layout puts in a build of type t.
func contentSize(l *Layout, t string) (int64, error) {
	var total int64
	for _, e := range l.For(t) {
		n, err := e.Size()
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
