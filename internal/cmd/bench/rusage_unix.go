//go:build unix

package main

import (
	"runtime"
	"syscall"
)

// maxRSSKiB reads ru_maxrss from a rusage (KiB on Linux, bytes on macOS).
func maxRSSKiB(usage any) int64 {
	ru, ok := usage.(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) / 1024
	}
	return int64(ru.Maxrss)
}
