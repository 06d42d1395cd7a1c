package tufrepo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestAddStoresOneCopy: the channel paths of one added target share one inode
// (hard links) where the file system allows, and are equal copies when
// linking fails.
func TestAddStoresOneCopy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		link   func(string, string) error
		shared bool
	}{
		{"hard links", os.Link, true},
		{"copies when links fail", func(string, string) error { return errors.New("no hard links here") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := linkFile
			linkFile = tc.link
			t.Cleanup(func() { linkFile = old })

			o, _ := opts(time.Now())
			r, err := Init(filepath.Join(t.TempDir(), "tuf"), o)
			if err != nil {
				t.Fatal(err)
			}
			c := testenv.Components[0]
			src := filepath.Join(t.TempDir(), c.File)
			body := bytes.Repeat([]byte("orbit\n"), 4096)
			if err := os.WriteFile(src, body, 0o755); err != nil {
				t.Fatal(err)
			}
			paths, err := r.Add(src, c.Name, c.Platform, "1.2.3", "1.2", "1", "stable")
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) != 4 {
				t.Fatalf("paths %q", paths)
			}
			var first os.FileInfo
			for _, p := range paths {
				file := filepath.Join(r.Dir(), repoDir, "targets", filepath.FromSlash(p))
				data, err := os.ReadFile(file)
				if err != nil || !bytes.Equal(data, body) {
					t.Fatalf("%s: %v (content equal: %v)", p, err, bytes.Equal(data, body))
				}
				st, err := os.Stat(file)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o644 {
					t.Errorf("%s mode %v, want 0644 (served)", p, st.Mode())
				}
				if first == nil {
					first = st
					continue
				}
				if got := os.SameFile(first, st); got != tc.shared {
					t.Errorf("%s shares the first path's inode: %v, want %v", p, got, tc.shared)
				}
			}
			if n := linkCount(first); tc.shared && n != 0 && n != uint64(len(paths)) {
				t.Errorf("link count %d, want %d (staged/ must hold no extra copy)", n, len(paths))
			}
			left, _ := filepath.Glob(filepath.Join(r.Dir(), stagedDir, "targets", "*"))
			if len(left) != 0 {
				t.Errorf("staged/ not empty: %q", left)
			}
		})
	}
}

// TestLockExcludes: concurrent lockers of one repository never overlap, and a
// held lock is seen by an independent flock of the same file.
func TestLockExcludes(t *testing.T) {
	dir := t.TempDir()
	var inside, overlaps atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				unlock, err := lockDir(dir)
				if err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				for range 100 {
					_ = inside.Load() // a little work while holding the lock
				}
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d lockers held the lock together", n)
	}

	unlock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	other := flock.New(filepath.Join(dir, lockFile))
	if ok, err := other.TryLock(); err != nil || ok {
		t.Errorf("TryLock while the repository is locked: %v %v, want false", ok, err)
	}
	unlock()
	if ok, err := other.TryLock(); err != nil || !ok {
		t.Errorf("TryLock after unlock: %v %v, want true", ok, err)
	}
	other.Close()
	if st, err := os.Stat(filepath.Join(dir, lockFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v %v, want mode 0600", st, err)
	}
}
