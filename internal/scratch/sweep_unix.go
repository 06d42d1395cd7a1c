//go:build unix

package scratch

import (
	"errors"
	"os"
	"syscall"
)

// running reports whether process pid exists (EPERM: it does, as another user).
func running(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func ownedByMe(p string) bool {
	st, err := os.Lstat(p)
	if err != nil {
		return false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Getuid()
}
