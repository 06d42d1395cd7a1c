package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
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
	}
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
