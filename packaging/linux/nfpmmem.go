package linux

import (
	"io"
	"runtime/debug"
	"sync"

	"github.com/goreleaser/nfpm/v2"
)

// nfpmGCPercent is the garbage collector's target while nfpm builds: nfpm
// v2.45.2 reads every file into memory and holds the compressed payload, so
// the default target (twice the live heap) would let the process grow to
// twice the payload's size. The live data is pointer-free byte slices, so
// more frequent collections cost little.
const nfpmGCPercent = 25

var nfpmGC struct {
	sync.Mutex
	running int
	saved   int
}

// runNfpm has np write the package for info to w with the lower target
// (restored once no build in this process is inside nfpm), after giving
// back to the OS what earlier steps left.
func runNfpm(np nfpm.Packager, info *nfpm.Info, w io.Writer) error {
	nfpmGC.Lock()
	if nfpmGC.running == 0 {
		nfpmGC.saved = debug.SetGCPercent(nfpmGCPercent)
		debug.FreeOSMemory()
	}
	nfpmGC.running++
	nfpmGC.Unlock()
	defer func() {
		nfpmGC.Lock()
		if nfpmGC.running--; nfpmGC.running == 0 {
			debug.SetGCPercent(nfpmGC.saved)
		}
		nfpmGC.Unlock()
	}()
	return np.Package(info, w)
}
