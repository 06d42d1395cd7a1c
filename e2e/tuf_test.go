package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestTUFAttacks serves a repository that attacks the client, each in its own
// environment (behind the Go mTLS server), and checks that pkgctl refuses it
// with a clear error, writes no installer and leaves no temporary file, and
// keeps nothing unverified in its cache.
func TestTUFAttacks(t *testing.T) {
	t.Parallel()
	const extra = "#!/bin/sh\necho pwned\n"
	if n := len("#!/bin/sh\necho osqueryd linux stable 1.2.3\n"); n != 43 {
		t.Fatalf("fixture length %d", n) // the sample osqueryd of testenv.SampleComponents
	}
	for _, c := range []struct {
		name   string
		typ    string
		attack func(e *testenv.Env) error
		roots  func(t *testing.T) []byte // --update-roots; nil = the repository's own
		want   []string                  // every one must be in stderr
		served string                    // target whose served (bad) bytes must not be cached
	}{
		{
			name:   "tampered target",
			typ:    "deb",
			attack: func(e *testenv.Env) error { return e.Repo.TamperTarget("orbit/linux/stable/orbit") },
			want:   []string{"TUF verification", "orbit/linux/stable/orbit", "hash mismatch"},
			served: "orbit/linux/stable/orbit",
		},
		{
			name:   "expired timestamp",
			typ:    "rpm",
			attack: func(e *testenv.Env) error { return e.Repo.SetTimestampExpiry(time.Now().Add(-time.Hour)) },
			want:   []string{"TUF verification", "timestamp.json", "expired"},
		},
		{
			name:   "rolled-back snapshot",
			typ:    "pkg.tar.zst",
			attack: func(e *testenv.Env) error { return e.Repo.RollbackSnapshot() },
			want:   []string{"TUF verification", "snapshot.json", "version"},
		},
		{
			name: "wrong root",
			typ:  "deb",
			roots: func(t *testing.T) []byte {
				other, err := testenv.NewRepo(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				return other.RootJSON()
			},
			want: []string{"TUF verification", "root", "--update-roots"},
		},
		{
			name: "target longer than its metadata",
			typ:  "rpm",
			attack: func(e *testenv.Env) error {
				return e.Repo.AppendToTarget("osqueryd/linux/stable/osqueryd", []byte(extra))
			},
			// The error names the length the signed metadata allows.
			want:   []string{"TUF verification", "osqueryd/linux/stable/osqueryd", "43 bytes"},
			served: "osqueryd/linux/stable/osqueryd",
		},
		{
			name:   "tampered desktop tarball",
			typ:    "pkg.tar.zst",
			attack: func(e *testenv.Env) error { return e.Repo.TamperTarget("desktop/linux/stable/desktop.tar.gz") },
			want:   []string{"TUF verification", "desktop/linux/stable/desktop.tar.gz", "hash mismatch"},
			served: "desktop/linux/stable/desktop.tar.gz",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := testenv.NewTB(t)
			secret := "attack-secret-" + c.name
			registerSecret([]byte(secret))
			registerSecret(e.ClientKeyPEM)
			if c.attack != nil {
				if err := c.attack(e); err != nil {
					t.Fatal(err)
				}
			}
			cache := t.TempDir()
			args := []string{"package", "--type=" + c.typ, "--cache-dir=" + cache, "--verbose",
				"--fleet-url=https://fleet.example.com", "--enroll-secret=" + secret, "--fleet-desktop"}
			args = append(args, updateArgs(e, e.Server.URL)...)
			if c.roots != nil {
				args = append(args, "--update-roots="+string(c.roots(t)))
			}
			r := runPkgctl(t, "fleet-osquery."+c.typ, args...)
			mustFail(t, r, c.want...)
			t.Logf("stderr: %s", r.Stderr)

			if c.served != "" {
				bad, err := os.ReadFile(filepath.Join(e.Repo.Dir, "targets", filepath.FromSlash(c.served)))
				if err != nil {
					t.Fatal(err)
				}
				assertNotInDir(t, cache, bad)
			}
		})
	}
}

// TestCachePoisoned builds once to fill the cache, corrupts every cached
// file, and builds again: the second installer must hold the repository's
// bytes (the cache is re-verified on use), or the build must fail.
func TestCachePoisoned(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	dpkgDeb := needTool(t, "dpkg-deb", "dpkg")
	cache := t.TempDir()
	args := append([]string{"package", "--type=deb", "--cache-dir=" + cache, "--fleet-desktop"}, updateArgs(s.Env, s.Env.Server.URL)...)
	mustSucceed(t, runPkgctl(t, "first.deb", args...))

	n := 0
	err := filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if len(data) == 0 {
			return nil
		}
		data[len(data)/2] ^= 0xff
		n++
		return os.WriteFile(p, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("the first build cached nothing in --cache-dir")
	}

	r := runPkgctl(t, "second.deb", args...)
	if r.Code != 0 {
		mustFail(t, r) // refusing is acceptable; packaging corrupt bytes is not
		return
	}
	mustSucceed(t, r)
	root := t.TempDir()
	tool(t, false, dpkgDeb, "-x", r.Outfile, root)
	for _, target := range []string{"orbit/linux/stable/orbit", "osqueryd/linux/stable/osqueryd", "desktop/linux/stable/desktop.tar.gz"} {
		want, err := os.ReadFile(filepath.Join(s.Env.Repo.Dir, "targets", filepath.FromSlash(target)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, "opt/orbit/bin", filepath.FromSlash(target)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the installer holds the corrupted cached copy", target)
		}
	}
}

// assertNotInDir fails if any file under dir holds exactly data.
func assertNotInDir(t *testing.T, dir string, data []byte) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Equal(got, data) {
			t.Errorf("unverified bytes kept in the cache at %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
