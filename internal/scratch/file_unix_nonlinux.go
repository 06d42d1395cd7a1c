//go:build unix && !linux

package scratch

import "os"

// File returns a read-write temporary file in dir ("" for the temporary
// directory) whose name is removed as soon as it exists: its space is freed
// when it is closed or the process dies.
func File(dir, kind string) (*os.File, error) {
	return unlinkedFile(dir, kind)
}
