// Package scratch creates a build's temporary files so that a crash (kill -9,
// the OOM killer, a CI timeout) leaves no secret behind: files are unlinked as
// soon as they are open where the OS allows it (the kernel frees them when the
// process dies), content that a library must read by path lives in memory
// where the OS offers that (Linux memfd), and whatever must keep a name
// carries the owning process id, so that the next run removes it once that
// process is gone (Sweep).
package scratch

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

// Prefix is the name prefix of kind's temporary entries in the temporary
// directory: pkgctl-<kind>-<pid>-.
func Prefix(kind string) string {
	return fmt.Sprintf("pkgctl-%s-%d-", kind, os.Getpid())
}

// MkdirTemp creates a private (0700) temporary directory for kind that Sweep
// removes once this process has ended.
func MkdirTemp(kind string) (string, error) {
	return os.MkdirTemp("", Prefix(kind))
}

// OutputPattern is the os.CreateTemp pattern of a temporary output beside
// base (.<base>.pkgctl-<pid>-*), which Sweep recognises in the output directory.
func OutputPattern(base string) string {
	return fmt.Sprintf(".%s.pkgctl-%d-*", base, os.Getpid())
}

// staleName matches what Prefix and OutputPattern name; group 1 or 2 is the pid.
var staleName = regexp.MustCompile(`^(?:pkgctl-[a-z]+-([0-9]+)-[0-9]+|\..+\.pkgctl-([0-9]+)-[0-9]+)$`)

// Sweep removes the entries of dir that a pkgctl process which no longer
// runs left behind (temporary directories, staged files, partial outputs) and
// returns their paths. Entries of running processes, of other users, and
// anything else are left alone; errors only mean less is removed.
func Sweep(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		m := staleName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pidText := m[1] + m[2]
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || pid <= 0 || running(pid) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if !ownedByMe(p) {
			continue
		}
		if os.RemoveAll(p) == nil {
			removed = append(removed, p)
		}
	}
	return removed
}
