package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NewTB creates the typical environment of New in t.TempDir() and closes it with t.Cleanup.
// It fails the test if the environment cannot be created.
func NewTB(t testing.TB) *Env {
	t.Helper()
	e, err := New(t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(e.Close)
	return e
}

// StartNginxTB starts nginx in front of e's repository (see Env.StartNginx) and stops it with
// t.Cleanup. It fails the test, never skips it, if nginx is missing or does not start.
func StartNginxTB(t testing.TB, e *Env) *Nginx {
	t.Helper()
	n, err := e.StartNginx()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return n
}

// NeedTool returns the path of the command tool and fails the test, never skips
// it, when the command is missing, naming the Debian package that has it
// (.ci/deps installs them all). It also looks in the sbin directories, which a
// non-root PATH may lack.
func NeedTool(t testing.TB, tool, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(tool); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		if _, err := os.Stat(filepath.Join(dir, tool)); err == nil {
			return filepath.Join(dir, tool)
		}
	}
	t.Fatalf("%s not found: install the Debian package %s (apt-get install -y %s, or run .ci/deps)", tool, debianPackage, debianPackage)
	return ""
}

// TreeHash hashes every entry under dir (relative path, mode, and a regular
// file's content), to show that a refused command changed nothing.
func TreeHash(t testing.TB, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %v %d\n", rel, info.Mode(), info.Size())
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("hash %s: %v", dir, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// NewTSATB starts a time-stamp authority (NewTSA) that t.Cleanup stops
// (closing it earlier, to test an unreachable server, is fine).
func NewTSATB(t testing.TB) *TSA {
	t.Helper()
	tsa, err := NewTSA()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(tsa.Close)
	return tsa
}
