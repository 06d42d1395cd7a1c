//go:build !linux

package scratch

import (
	"errors"
	"os"
)

const directAlign = 4096

func setDirect(*os.File, bool) error { return errors.ErrUnsupported }

func directRefused(error) bool { return false }

func startWriteback(*os.File, int64, int64) {}

func dropCache(*os.File) {}

func allocAligned(n int) []byte { return heapAligned(n) }

func freeAligned([]byte) {}
