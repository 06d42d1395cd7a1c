package packaging

import (
	"sync"
	"sync/atomic"
	"testing"
)

// The budget never lets more than its total be held, and a weight larger
// than the total still runs (alone).
func TestBudget(t *testing.T) {
	b := newBudget(100)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for _, w := range []int64{60, 60, 30, 250, 10, 0, 90} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := b.acquire(w)
			now := held.Add(got)
			for {
				p := peak.Load()
				if now <= p || peak.CompareAndSwap(p, now) {
					break
				}
			}
			held.Add(-got)
			b.release(got)
		}()
	}
	wg.Wait()
	if peak.Load() > 100 {
		t.Fatalf("%d held at once, budget 100", peak.Load())
	}
	if b.free != 100 {
		t.Fatalf("%d free after every release, want 100", b.free)
	}
}
