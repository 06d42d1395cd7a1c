//go:build windows

package scratch

import (
	"golang.org/x/sys/windows"
)

// running reports whether process pid exists.
func running(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		// Access denied means it exists (another user's process).
		return err == windows.ERROR_ACCESS_DENIED
	}
	defer windows.CloseHandle(h)
	var code uint32
	if windows.GetExitCodeProcess(h, &code) != nil {
		return true
	}
	return code == 259 // STILL_ACTIVE
}

// ownedByMe: the temporary directory is per user on Windows.
func ownedByMe(string) bool { return true }
