package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
)

// startCPUProfile writes a CPU profile to $PKGCTL_CPUPROFILE when it is set:
// `make bench -profile` uses it to show where a build's time goes. The
// returned function stops the profile; it is a no-op without the variable.
func startCPUProfile() func() {
	stopTrace := startTrace()
	path := os.Getenv("PKGCTL_CPUPROFILE")
	if path == "" {
		return stopTrace
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pkgctl: PKGCTL_CPUPROFILE: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "pkgctl: PKGCTL_CPUPROFILE: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		stopTrace()
		writeHeapProfile(strings.TrimSuffix(path, ".pprof") + ".heap")
	}
}

// writeHeapProfile writes the allocation profile beside the CPU profile:
// alloc_space shows what the build allocated, and where.
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	pprof.Lookup("allocs").WriteTo(f, 0)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	os.WriteFile(strings.TrimSuffix(path, ".heap")+".mem", fmt.Appendf(nil,
		"Sys %d MiB, HeapSys %d MiB, HeapReleased %d MiB, HeapInuse %d MiB, StackSys %d MiB, OtherSys %d MiB, NumGC %d, TotalAlloc %d MiB\n",
		m.Sys>>20, m.HeapSys>>20, m.HeapReleased>>20, m.HeapInuse>>20, m.StackSys>>20, m.OtherSys>>20, m.NumGC, m.TotalAlloc>>20), 0o644)
}

// startTrace writes an execution trace to $PKGCTL_TRACE when it is set (go
// tool trace shows where builds wait).
func startTrace() func() {
	path := os.Getenv("PKGCTL_TRACE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = trace.Start(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pkgctl: PKGCTL_TRACE: %v\n", err)
		return func() {}
	}
	return func() {
		trace.Stop()
		f.Close()
	}
}
