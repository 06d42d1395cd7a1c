package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// SystemDirs are the directories a test run must leave as it found them.
var SystemDirs = []string{"/etc", "/opt", "/usr"}

// Snapshot records what a run could change in a few directory trees,
// cheaply: every directory's entries (so a created, removed or renamed file
// shows) and, for files, their size and modification time. Directories
// deeper than fileDepth below a root record names only, which keeps /usr
// (tens of thousands of files) to a directory walk.
type Snapshot map[string]string

// fileDepth: below it a snapshot stats every file; deeper, it lists names.
const fileDepth = 3

// TakeSnapshot snapshots the trees at roots. A missing root is recorded as
// missing; an unreadable directory is an error.
func TakeSnapshot(roots ...string) (Snapshot, error) {
	s := Snapshot{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root && errors.Is(err, fs.ErrNotExist) {
					s[p] = "missing"
					return nil
				}
				return err
			}
			depth := strings.Count(strings.TrimPrefix(p, root), "/")
			if d.IsDir() || depth <= fileDepth || d.Type()&fs.ModeSymlink != 0 {
				info, err := d.Info()
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) {
						return nil // removed while we walk: the parent's listing shows it
					}
					return err
				}
				if d.IsDir() {
					s[p] = "dir " + info.Mode().String()
				} else {
					s[p] = fmt.Sprintf("%s %d %d", info.Mode(), info.Size(), info.ModTime().UnixNano())
				}
				return nil
			}
			s[p] = d.Type().String()
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", root, err)
		}
	}
	return s, nil
}

// Diff lists what differs from s to after, one line per path, sorted.
func (s Snapshot) Diff(after Snapshot) []string {
	var out []string
	for p, v := range s {
		switch w, ok := after[p]; {
		case !ok:
			out = append(out, "removed "+p)
		case w != v:
			out = append(out, fmt.Sprintf("changed %s (%s -> %s)", p, v, w))
		}
	}
	for p := range after {
		if _, ok := s[p]; !ok {
			out = append(out, "created "+p)
		}
	}
	sort.Strings(out)
	return out
}

// MainUntouched runs m's tests and fails the run (exit 1) when anything
// under SystemDirs was created, removed or changed while they ran. Use it in
// TestMain of packages that run Debian's tools on what pkgctl writes.
func MainUntouched(m *testing.M) int {
	before, err := TakeSnapshot(SystemDirs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "untouched:", err)
		return 1
	}
	code := m.Run()
	after, err := TakeSnapshot(SystemDirs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "untouched:", err)
		return 1
	}
	if d := before.Diff(after); len(d) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: the tests changed %s during the run (run every unpacking tool through testenv.Command):\n  %s\n",
			strings.Join(SystemDirs, ", "), strings.Join(d, "\n  "))
		return 1
	}
	return code
}
