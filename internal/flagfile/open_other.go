//go:build !unix

package flagfile

import (
	"fmt"
	"io/fs"
	"os"
)

// open refuses what is not a regular file before opening it (no O_NONBLOCK
// here); Read checks the opened file again.
func open(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind(st.Mode()))}
	}
	return os.Open(path)
}
