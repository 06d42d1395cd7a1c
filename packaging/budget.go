package packaging

import (
	"os"
	"sync"
)

// DefaultMemoryBudget bounds what the matrix builds that hold their payload
// in memory (nfpm's deb, rpm and Arch packages) may hold at once.
const DefaultMemoryBudget = 2 << 30

// inMemoryTypes are the package types whose writer (nfpm) holds the
// compressed payload in memory; the others stream it through temporary files.
var inMemoryTypes = map[string]bool{TypeDeb: true, TypeRPM: true, TypeArchZst: true}

// budget is a weighted semaphore: a build waits until its weight fits.
type budget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	free  int64
	total int64
}

func newBudget(total int64) *budget {
	b := &budget{free: total, total: total}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire takes n (at most the whole budget, so a large build runs alone)
// and returns what to release.
func (b *budget) acquire(n int64) int64 {
	n = min(n, b.total)
	if n <= 0 {
		return 0
	}
	b.mu.Lock()
	for b.free < n {
		b.cond.Wait()
	}
	b.free -= n
	b.mu.Unlock()
	return n
}

func (b *budget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// memoryWeight is what a build of o holds in memory at its peak: about
// three times the bytes of its component files (unpacked files included) for
// nfpm's formats (its package buffer, the strict re-encoding's copy of it and
// the garbage collector's headroom: measured by make bench); zero for the
// formats that stream.
func (f *Fetched) memoryWeight(o *Options) int64 {
	if !inMemoryTypes[o.Type] {
		return 0
	}
	reqs, err := ComponentsFor(o)
	if err != nil {
		return 0
	}
	var n int64
	size := func(p string) {
		if st, err := os.Stat(p); err == nil {
			n += st.Size()
		}
	}
	for _, req := range reqs {
		c, ok := f.comps[Component{Name: req.Name, Platform: req.Platform, Channel: req.Channel, File: req.File}.TargetPath()]
		if !ok {
			continue
		}
		size(c.Source)
		for _, x := range c.Extracted {
			if x.Source != "" {
				size(x.Source)
			}
		}
	}
	return 3 * n
}
