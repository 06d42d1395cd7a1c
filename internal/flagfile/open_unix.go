//go:build unix

package flagfile

import (
	"os"
	"syscall"
)

// open opens path without blocking: opening a FIFO for reading would otherwise
// wait for a writer forever. Reads of a regular file are unaffected.
func open(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
