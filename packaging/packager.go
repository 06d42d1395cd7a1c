package packaging

import (
	"context"
	"io"
	"sort"
	"sync"
)

// Packager serialises a Layout into one installer format.
type Packager interface {
	// Package writes the installer for l to w.
	Package(ctx context.Context, l *Layout, w io.Writer) error
	// FileName is the default output file name, as fleetctl names it.
	FileName(l *Layout) string
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Packager{}
)

// Register makes a Packager available for package type t; format packages call
// it from init.
func Register(t string, p Packager) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[t] = p
}

// PackagerFor returns the Packager for type t, or a NotSupportedError when that
// format is not built yet.
func PackagerFor(t string) (Packager, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	p, ok := registry[t]
	if !ok {
		return nil, &NotSupportedError{What: "--type=" + t}
	}
	return p, nil
}

// Types lists the package types that can be built.
func Types() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	var out []string
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
