package linux

import (
	"os"
	"path/filepath"
	"time"

	"github.com/pkgctl/pkgctl/internal/scratch"
)

// stager gives nfpm a path for each generated file (the env file with the
// enroll secret, client keys, TUF metadata).
//
// Measured with nfpm v2.45.2 (TestNfpmNeedsRegularFiles): nfpm re-stats every
// source for its size and turns any symbolic link into a link entry, so
// neither a memfd (reachable only through the /proc/self/fd/N link) nor an
// unlinked file can be given to it, and a named pipe reports size 0. The
// content therefore goes into a private (0700) directory that lives only as
// long as the build, named with the process id: a build killed before it
// removes the directory leaves it to the next pkgctl run, which removes it
// once the owning process is gone (scratch.Sweep).
type stager struct {
	dir string
}

func (s *stager) path(name string) (string, error) {
	if s.dir == "" {
		dir, err := scratch.MkdirTemp("stage")
		if err != nil {
			return "", err
		}
		s.dir = dir
	}
	return filepath.Join(s.dir, name), nil
}

// stage writes data (0600: it may be a secret) and returns its path.
func (s *stager) stage(name string, data []byte) (string, error) {
	p, err := s.path(name)
	if err != nil {
		return "", err
	}
	return p, os.WriteFile(p, data, 0o600)
}

// stageScript writes a script with a pinned mtime: some formats keep it.
func (s *stager) stageScript(name, body string, mtime time.Time) (string, error) {
	p, err := s.path(name)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(p, []byte(body), 0o700); err != nil {
		return "", err
	}
	return p, os.Chtimes(p, mtime, mtime)
}

func (s *stager) close() error {
	if s.dir == "" {
		return nil
	}
	return os.RemoveAll(s.dir)
}
