package packaging

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
)

// unpacker extracts component tarballs in the background, up to one per
// core, each into its own directory under work.
type unpacker struct {
	work    string
	wg      sync.WaitGroup
	sem     chan struct{}
	mu      sync.Mutex
	results map[string]unpacked // by TUF target path
}

type unpacked struct {
	entries []ExtractedEntry
	err     error
}

func newUnpacker(work string) *unpacker {
	return &unpacker{work: work, sem: make(chan struct{}, runtime.NumCPU()), results: map[string]unpacked{}}
}

// start unpacks the verified tarball file of target (its TUF path for errors)
// under key.
func (u *unpacker) start(key, file, target string) {
	u.mu.Lock()
	dir := filepath.Join(u.work, fmt.Sprintf("extract-%d", len(u.results)))
	u.results[key] = unpacked{}
	u.mu.Unlock()
	u.wg.Go(func() {
		u.sem <- struct{}{}
		defer func() { <-u.sem }()
		entries, err := extract(file, dir)
		if err != nil {
			err = fmt.Errorf("unpack %s: %w", target, err)
		}
		u.mu.Lock()
		u.results[key] = unpacked{entries: entries, err: err}
		u.mu.Unlock()
	})
}

// wait returns once every tarball is unpacked, with the results by key.
func (u *unpacker) wait() map[string]unpacked {
	u.wg.Wait()
	return u.results
}
