package packaging

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/pkgctl/pkgctl/internal/scratch"
)

// Shared holds work that the builds of one fetch can share: a compressed
// payload prefix made of the same component files is computed once, by the
// first build that needs it, and reused by the others. Values must depend
// only on their key, so that a build gives the same bytes alone or in a
// matrix. Files go in the directory Do gives, removed with the fetch; values
// that are io.Closers are closed by Close.
type Shared struct {
	dir  string
	mu   sync.Mutex
	vals map[string]*sharedVal
}

type sharedVal struct {
	once sync.Once
	v    any
	err  error
}

// NewShared makes a shared store whose files go under the directory work.
func NewShared(work string) *Shared {
	return &Shared{dir: work, vals: map[string]*sharedVal{}}
}

// Do returns the value of key, computing it with fn (given a fresh private
// directory for its files) on first use; concurrent callers wait for it. A
// nil *Shared computes every time, in a directory removed by cleanup.
func (s *Shared) Do(key string, fn func(dir string) (any, error)) (v any, cleanup func(), err error) {
	if s == nil {
		// Named with the pid (scratch.Prefix): the next run sweeps it if
		// this one is killed.
		dir, err := scratch.MkdirTemp("shared")
		if err != nil {
			return nil, nil, fmt.Errorf("create work directory: %w", err)
		}
		v, err := fn(dir)
		return v, func() {
			if c, ok := v.(io.Closer); ok && err == nil {
				c.Close()
			}
			os.RemoveAll(dir)
		}, err
	}
	s.mu.Lock()
	sv := s.vals[key]
	if sv == nil {
		sv = &sharedVal{}
		s.vals[key] = sv
	}
	n := len(s.vals)
	s.mu.Unlock()
	sv.once.Do(func() {
		dir, err := os.MkdirTemp(s.dir, fmt.Sprintf("shared-%d-", n))
		if err != nil {
			sv.err = fmt.Errorf("create work directory: %w", err)
			return
		}
		sv.v, sv.err = fn(dir)
	})
	return sv.v, func() {}, sv.err
}

// Close closes the values that are io.Closers (temporary files held open).
func (s *Shared) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sv := range s.vals {
		if c, ok := sv.v.(io.Closer); ok && sv.err == nil {
			c.Close()
		}
	}
	s.vals = map[string]*sharedVal{}
}

// Value is Do for a value that needs no files: computed once per key, by the
// first caller; a nil *Shared computes every time.
func (s *Shared) Value(key string, fn func() (any, error)) (any, error) {
	if s == nil {
		return fn()
	}
	s.mu.Lock()
	sv := s.vals[key]
	if sv == nil {
		sv = &sharedVal{}
		s.vals[key] = sv
	}
	s.mu.Unlock()
	sv.once.Do(func() { sv.v, sv.err = fn() })
	return sv.v, sv.err
}

type sharedKey struct{}

// WithShared returns ctx carrying s for the packagers.
func WithShared(ctx context.Context, s *Shared) context.Context {
	return context.WithValue(ctx, sharedKey{}, s)
}

// SharedFrom returns the Shared of ctx, or nil.
func SharedFrom(ctx context.Context) *Shared {
	s, _ := ctx.Value(sharedKey{}).(*Shared)
	return s
}
