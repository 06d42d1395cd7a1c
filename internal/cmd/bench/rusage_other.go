//go:build !unix

package main

// maxRSSKiB reports 0 (unknown): only unix has ru_maxrss.
func maxRSSKiB(any) int64 { return 0 }
