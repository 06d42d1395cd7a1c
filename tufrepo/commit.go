package tufrepo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Directories of a repository, as fleetctl lays them out.
const (
	keysDir   = "keys"       // encrypted private keys, one file per role
	stagedDir = "staged"     // changes being prepared; empty between commands
	repoDir   = "repository" // what is served: metadata and targets/
	backupDir = ".backup"    // inside keys/ and repository/ while a commit runs
)

// change is one file that a commit moves into place: src (a complete file in staged/, or
// a temporary file beside dst for keys) replaces dst.
type change struct {
	src, dst string
}

// failBeforeRename, when set (tests only), is called before each file is moved into place;
// an error makes the commit fail there and roll back.
var failBeforeRename func(dst string) error

// commit moves every change into place, in order. Each file that is replaced is first
// moved into a .backup directory beside it (keys/.backup or repository/.backup); if any
// step fails, every file is put back and the error is returned, so the repository and
// keys are as they were. Like fleetctl, it refuses to run when a .backup directory is
// left from an interrupted run.
func (r *Repo) commit(changes []change) (err error) {
	backups := map[string]string{} // top directory → its .backup
	for _, c := range changes {
		top, err := r.topDir(c.dst)
		if err != nil {
			return err
		}
		b := filepath.Join(top, backupDir)
		if _, ok := backups[top]; ok {
			continue
		}
		if _, err := os.Lstat(b); err == nil {
			return fmt.Errorf("%s exists: an earlier command was interrupted while it replaced files; "+
				"compare it with %s, restore what is needed, then remove it", b, top)
		}
		backups[top] = b
	}
	for top, b := range backups {
		mode := os.FileMode(0o755) // repository/ is served
		if filepath.Base(top) == keysDir {
			mode = 0o700
		}
		if err := os.MkdirAll(top, mode); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if err := os.Mkdir(b, 0o700); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}

	type done struct {
		dst, backup string // backup is "" when dst did not exist before
	}
	var applied []done
	var created []string // directories made for new files, parents first
	defer func() {
		if err != nil {
			var errs []error
			for i := len(applied) - 1; i >= 0; i-- {
				d := applied[i]
				if d.backup == "" {
					errs = append(errs, ignoreNotExist(os.Remove(d.dst)))
				} else {
					errs = append(errs, os.Rename(d.backup, d.dst))
				}
			}
			for i := len(created) - 1; i >= 0; i-- {
				errs = append(errs, ignoreNotExist(os.Remove(created[i])))
			}
			if rerr := errors.Join(errs...); rerr != nil {
				err = fmt.Errorf("%w; rolling back also failed (the old files are in the .backup directories): %v", err, rerr)
				return
			}
		}
		for _, b := range backups {
			if rerr := os.RemoveAll(b); rerr != nil && err == nil {
				err = fmt.Errorf("commit: remove %s: %w", b, rerr)
			}
		}
	}()

	for _, c := range changes {
		if failBeforeRename != nil {
			if err := failBeforeRename(c.dst); err != nil {
				return err
			}
		}
		top, _ := r.topDir(c.dst)
		rel, _ := filepath.Rel(top, c.dst)
		d := done{dst: c.dst}
		if _, err := os.Lstat(c.dst); err == nil {
			d.backup = filepath.Join(backups[top], rel)
			if err := os.MkdirAll(filepath.Dir(d.backup), 0o700); err != nil {
				return fmt.Errorf("commit: %w", err)
			}
			if err := os.Rename(c.dst, d.backup); err != nil {
				return fmt.Errorf("commit: back up %s: %w", c.dst, err)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("commit: %w", err)
		}
		applied = append(applied, d)
		created = append(created, missingDirs(filepath.Dir(c.dst))...)
		if err := moveFile(c.src, c.dst); err != nil {
			return fmt.Errorf("commit %s: %w", c.dst, err)
		}
	}
	return nil
}

// missingDirs lists dir and those of its parents that do not exist, outermost first.
func missingDirs(dir string) []string {
	var out []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		out = append([]string{d}, out...)
	}
	return out
}

// topDir is the keys/ or repository/ directory that holds p.
func (r *Repo) topDir(p string) (string, error) {
	for _, top := range []string{filepath.Join(r.dir, keysDir), filepath.Join(r.dir, repoDir)} {
		if rel, err := filepath.Rel(top, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return top, nil
		}
	}
	return "", fmt.Errorf("commit: %s is outside keys/ and repository/", p)
}

// moveFile renames src to dst, creating dst's directory (0755: it is served). When rename
// cannot (another file system), it copies through a temporary file beside dst.
func moveFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(dst, st.Mode().Perm(), func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	}); err != nil {
		return err
	}
	return os.Remove(src)
}

// writeFileAtomic writes a complete file at path with mode through a synced temporary file
// in the same directory and a rename.
func writeFileAtomic(path string, mode os.FileMode, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// stageFile writes data to a complete new file at path (creating its directory with
// dirMode) and syncs it.
func stageFile(path string, data []byte, mode, dirMode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return err
	}
	return writeFileAtomic(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

func ignoreNotExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
