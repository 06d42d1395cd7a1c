//go:build linux

package scratch

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// File returns a read-write temporary file in dir ("" for the temporary
// directory) that has no name: O_TMPFILE, or a file unlinked right after it
// is created where the file system lacks O_TMPFILE. Its space is freed when
// it is closed or the process dies.
func File(dir, kind string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), fmt.Sprintf("%s/(%s)", dir, kind)), nil
	}
	return unlinkedFile(dir, kind)
}

// anonymousIn opens a nameless file in dir (O_TMPFILE).
func anonymousIn(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), dir+"/(output)")
	// Linking needs /proc: without it, fall back to a named file.
	if _, err := os.Stat(procPath(f)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func procPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// linkAnonymous gives the O_TMPFILE file f the name name (EEXIST if taken).
func linkAnonymous(f *os.File, name string) error {
	if err := unix.Linkat(unix.AT_FDCWD, procPath(f), unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW); err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: name, Err: err}
	}
	return nil
}
