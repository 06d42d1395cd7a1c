package tufrepo

import (
	"fmt"
	"path/filepath"

	"github.com/gofrs/flock"
)

// lockDir takes an exclusive lock on dir/.pkgctl-updates.lock (flock on Unix,
// LockFileEx on Windows), waiting for another command that holds it. The lock
// is released by unlock or when the process exits.
func lockDir(dir string) (unlock func(), err error) {
	l := flock.New(filepath.Join(dir, lockFile), flock.SetPermissions(0o600))
	if err := l.Lock(); err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { _ = l.Close() }, nil
}
