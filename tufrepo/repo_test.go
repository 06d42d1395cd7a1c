package tufrepo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// testPass are the passphrases of the test repositories, one per role.
var testPass = map[string]string{
	"root": "root-Pass-0001", "targets": "targets-Pass-0002",
	"snapshot": "snapshot-Pass-0003", "timestamp": "timestamp-Pass-0004",
}

// passLog is a PassphraseFunc from a table that records what was asked.
type passLog struct {
	pass  map[string]string
	asked []string // "role", "role(create)" or "role(retry)"
}

func (p *passLog) fn(role string, create, retry bool) ([]byte, error) {
	what := role
	switch {
	case create:
		what += "(create)"
	case retry:
		what += "(retry)"
	}
	p.asked = append(p.asked, what)
	if retry {
		return nil, fmt.Errorf("%s passphrase is wrong", role)
	}
	return []byte(p.pass[role]), nil
}

func opts(now time.Time) (Options, *passLog) {
	p := &passLog{pass: testPass}
	return Options{Passphrase: p.fn, Now: func() time.Time { return now }}, p
}

// sampleSrc writes the sample files of the linux components (orbit, osqueryd, desktop)
// to dir and returns component → path.
func sampleSrc(t *testing.T, dir, version string) map[testenv.Component]string {
	t.Helper()
	out := map[testenv.Component]string{}
	for _, c := range testenv.Components {
		if c.Platform != "linux" {
			continue
		}
		data, err := testenv.SampleFile(c, "stable", version)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, version, c.File)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		out[c] = p
	}
	return out
}

// srcOf returns the source file of the linux component name.
func srcOf(srcs map[testenv.Component]string, name string) string {
	for c, p := range srcs {
		if c.Name == name {
			return p
		}
	}
	panic("no sample " + name)
}

// newTestRepo initialises a repository at now and adds the linux sample components as
// 1.2.3 with tags 1.2, 1 and stable.
func newTestRepo(t *testing.T, now time.Time) (*Repo, map[testenv.Component]string) {
	t.Helper()
	o, _ := opts(now)
	dir := filepath.Join(t.TempDir(), "tuf")
	r, err := Init(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	srcs := sampleSrc(t, t.TempDir(), "1.2.3")
	for c, p := range srcs {
		if _, err := r.Add(p, c.Name, c.Platform, "1.2.3", "1.2", "1", "stable"); err != nil {
			t.Fatal(err)
		}
	}
	return r, srcs
}

// server serves dir/repository over HTTPS and returns its URL and a client trusting it.
func server(t *testing.T, dir string) (string, *http.Client) {
	t.Helper()
	ca, err := testenv.NewCA("tufrepo test CA")
	if err != nil {
		t.Fatal(err)
	}
	s, err := testenv.NewServer(http.FileServer(http.Dir(filepath.Join(dir, "repository"))), ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	client, err := testenv.NewHTTPClient(ca.CertPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.URL, client
}

// fetch refreshes an updater (state in stateDir, trusting root) at refTime and downloads path.
func fetch(t *testing.T, url string, client *http.Client, root []byte, stateDir string, refTime time.Time, path string) (*metadata.TargetFiles, []byte, *updater.Updater, error) {
	t.Helper()
	up, err := testenv.NewUpdater(url, root, client, stateDir)
	if err != nil {
		return nil, nil, nil, err
	}
	up.UnsafeSetRefTime(refTime)
	if err := up.Refresh(); err != nil {
		return nil, nil, up, fmt.Errorf("refresh: %w", err)
	}
	ti, err := up.GetTargetInfo(path)
	if err != nil {
		return nil, nil, up, err
	}
	_, data, err := up.DownloadTarget(ti, filepath.Join(t.TempDir(), "dl"), "")
	return ti, data, up, err
}

func TestInitAddReadByGoTUF(t *testing.T) {
	t.Parallel()
	now := time.Now()
	r, srcs := newTestRepo(t, now)
	url, client := server(t, r.Dir())
	for c, src := range srcs {
		want, _ := os.ReadFile(src)
		for _, ch := range []string{"1.2.3", "1.2", "1", "stable"} {
			p := c.Path(ch)
			ti, data, _, err := fetch(t, url, client, r.RootJSON(), t.TempDir(), now, p)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if !bytes.Equal(data, want) {
				t.Errorf("%s: served bytes differ from %s", p, src)
			}
			var custom struct{ Version string }
			if ti.Custom == nil || json.Unmarshal(*ti.Custom, &custom) != nil || custom.Version != "1.2.3" {
				t.Errorf("%s: custom metadata %v, want version 1.2.3", p, ti.Custom)
			}
		}
	}

	// Layout and modes: fleetctl's folders, keys private, staged empty.
	root := r.Dir()
	for _, name := range []string{"root.json", "1.root.json", "targets.json", "snapshot.json", "timestamp.json"} {
		if _, err := os.Stat(filepath.Join(root, "repository", name)); err != nil {
			t.Error(err)
		}
	}
	if st, err := os.Stat(filepath.Join(root, "keys")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("keys/: %v %v, want mode 0700", st.Mode(), err)
	}
	for _, role := range Roles {
		p := filepath.Join(root, "keys", role+".json")
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, want mode 0600", p, err)
			continue
		}
		data, _ := os.ReadFile(p)
		var kf struct {
			Encrypted bool
			Data      struct {
				KDF struct {
					Name   string
					Params struct{ N, R, P int } `json:"params"`
				} `json:"kdf"`
				Cipher struct{ Name string } `json:"cipher"`
			} `json:"data"`
		}
		if err := json.Unmarshal(data, &kf); err != nil || !kf.Encrypted || kf.Data.KDF.Name != "scrypt" || kf.Data.Cipher.Name != "nacl/secretbox" {
			t.Errorf("%s is not go-tuf's encrypted key format: %s", p, data)
		}
		if bytes.Contains(data, []byte(testPass[role])) || bytes.Contains(data, []byte("private")) {
			t.Errorf("%s holds the passphrase or a clear private key", p)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(root, "staged", "targets")); len(left) != 0 {
		t.Errorf("staged/targets holds %v after the commit", left)
	}
	var rootMD struct {
		Signed struct {
			ConsistentSnapshot bool `json:"consistent_snapshot"`
			Keys               map[string]struct {
				Algorithms []string `json:"keyid_hash_algorithms"`
			} `json:"keys"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(r.RootJSON(), &rootMD); err != nil {
		t.Fatal(err)
	}
	if rootMD.Signed.ConsistentSnapshot || len(rootMD.Signed.Keys) != 4 {
		t.Errorf("root: consistent_snapshot %v, %d keys", rootMD.Signed.ConsistentSnapshot, len(rootMD.Signed.Keys))
	}
	for id, k := range rootMD.Signed.Keys {
		if !slices.Equal(k.Algorithms, []string{"sha256", "sha512"}) {
			t.Errorf("key %s: keyid_hash_algorithms %v (fleetctl's keys carry sha256, sha512)", id, k.Algorithms)
		}
	}
	exp := r.Expires()
	for role, d := range map[string]time.Duration{"root": RootExpiry, "targets": TargetsExpiry, "snapshot": SnapshotExpiry, "timestamp": TimestampExpiry} {
		want := now.UTC().Truncate(time.Second).Add(d)
		if !exp[role].Equal(want) {
			t.Errorf("%s expires %v, want %v", role, exp[role], want)
		}
	}
}

func TestTimestampExpiry(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Add(-15 * 24 * time.Hour)
	r, _ := newTestRepo(t, t0)
	url, client := server(t, r.Dir())
	const path = "orbit/linux/stable/orbit"
	if _, _, _, err := fetch(t, url, client, r.RootJSON(), t.TempDir(), t0.Add(13*24*time.Hour), path); err != nil {
		t.Fatalf("day 13: %v", err)
	}
	_, _, _, err := fetch(t, url, client, r.RootJSON(), t.TempDir(), t0.Add(15*24*time.Hour), path)
	var expired *metadata.ErrExpiredMetadata
	if !errors.As(err, &expired) || !strings.Contains(err.Error(), "timestamp") {
		t.Fatalf("day 15: %v, want expired timestamp", err)
	}

	// timestamp needs only the timestamp key: the others are offline.
	for _, role := range []string{"root", "targets", "snapshot"} {
		if err := os.Remove(filepath.Join(r.Dir(), "keys", role+".json")); err != nil {
			t.Fatal(err)
		}
	}
	t15 := t0.Add(15 * 24 * time.Hour)
	o, p := opts(t15)
	r2, err := Open(r.Dir(), o)
	if err != nil {
		t.Fatal(err)
	}
	before := r2.timestamp.Signed.Version
	if err := r2.Timestamp(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.asked, []string{"timestamp"}) {
		t.Errorf("passphrases asked %v, want [timestamp]", p.asked)
	}
	r3, err := Open(r.Dir(), o)
	if err != nil {
		t.Fatal(err)
	}
	if v := r3.timestamp.Signed.Version; v != before+1 {
		t.Errorf("timestamp version %d, want %d", v, before+1)
	}
	if want := t15.UTC().Truncate(time.Second).Add(14 * 24 * time.Hour); !r3.Expires()["timestamp"].Equal(want) {
		t.Errorf("timestamp expires %v, want %v", r3.Expires()["timestamp"], want)
	}
	if _, _, _, err := fetch(t, url, client, r.RootJSON(), t.TempDir(), t15, path); err != nil {
		t.Fatalf("day 15 after timestamp: %v", err)
	}
	if _, _, _, err := fetch(t, url, client, r.RootJSON(), t.TempDir(), t15.Add(15*24*time.Hour), path); !errors.As(err, &expired) {
		t.Fatalf("day 30: %v, want expired", err)
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	for _, role := range Roles {
		t.Run(role, func(t *testing.T) {
			now := time.Now()
			r, srcs := newTestRepo(t, now)
			url, client := server(t, r.Dir())
			oldRoot := r.RootJSON()
			oldIDs := r.KeyIDs(role)
			const path = "osqueryd/linux/stable/osqueryd"
			// A client that updated before the rotation keeps its state.
			state := t.TempDir()
			if _, _, _, err := fetch(t, url, client, oldRoot, state, now, path); err != nil {
				t.Fatal(err)
			}

			o, p := opts(now)
			r2, err := Open(r.Dir(), o)
			if err != nil {
				t.Fatal(err)
			}
			newID, err := r2.Rotate(role)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.asked) != 4 {
				t.Errorf("passphrases asked %v, want all four", p.asked)
			}
			if ids := r2.KeyIDs(role); !slices.Equal(ids, []string{newID}) || slices.Contains(oldIDs, newID) {
				t.Errorf("%s keys %v after rotation (old %v, new %s)", role, ids, oldIDs, newID)
			}
			// The key file holds the new key, under the same passphrase.
			keys, err := readKeyFile(filepath.Join(r.Dir(), "keys", role+".json"), []byte(testPass[role]))
			if err != nil || len(keys) != 1 || keys[0].id != newID {
				t.Fatalf("keys/%s.json: %v, %d keys", role, err, len(keys))
			}
			if _, err := os.Stat(filepath.Join(r.Dir(), "repository", "2.root.json")); err != nil {
				t.Error(err)
			}

			want, _ := os.ReadFile(srcOf(srcs, "osqueryd"))
			trusted, err := os.ReadFile(filepath.Join(state, "metadata", "root.json"))
			if err != nil {
				t.Fatal(err)
			}
			for name, c := range map[string]struct {
				root  []byte
				state string
			}{
				"client updated before": {trusted, state},
				"new client, old root":  {oldRoot, t.TempDir()},
				"new client, new root":  {r2.RootJSON(), t.TempDir()},
			} {
				_, data, up, err := fetch(t, url, client, c.root, c.state, now, path)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(data, want) {
					t.Errorf("%s: wrong bytes", name)
				}
				if v := up.GetTrustedMetadataSet().Root.Signed.Version; v != 2 {
					t.Errorf("%s: trusted root version %d, want 2", name, v)
				}
			}

			// The old root accepts 2.root.json only thanks to the old root key's signature.
			r1, _ := metadata.Root().FromBytes(oldRoot)
			r2md, err := metadata.Root().FromFile(filepath.Join(r.Dir(), "repository", "2.root.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := r1.VerifyDelegate(metadata.ROOT, r2md); err != nil {
				t.Errorf("old root does not verify 2.root.json: %v", err)
			}
			if role == metadata.ROOT {
				if len(r2md.Signatures) != 2 {
					t.Fatalf("2.root.json has %d signatures, want old and new root key", len(r2md.Signatures))
				}
				r2md.Signatures = slices.DeleteFunc(r2md.Signatures, func(s metadata.Signature) bool { return slices.Contains(oldIDs, s.KeyID) })
				if err := r1.VerifyDelegate(metadata.ROOT, r2md); err == nil {
					t.Error("the old root verifies 2.root.json without the old key's signature")
				}
			}
		})
	}
}

func TestWrongPassphrase(t *testing.T) {
	t.Parallel()
	r, srcs := newTestRepo(t, time.Now())
	src := srcOf(srcs, "orbit")
	before := testenv.TreeHash(t, r.Dir())
	for _, role := range []string{"targets", "snapshot", "timestamp"} {
		t.Run(role, func(t *testing.T) {
			p := &passLog{pass: map[string]string{}}
			for k, v := range testPass {
				p.pass[k] = v
			}
			p.pass[role] = "not-the-" + role + "-passphrase"
			r2, err := Open(r.Dir(), Options{Passphrase: p.fn})
			if err != nil {
				t.Fatal(err)
			}
			_, err = r2.Add(src, "orbit", "linux", "2.0.0", "stable")
			if err == nil || err.Error() != role+" passphrase is wrong" {
				t.Fatalf("error %v, want the passphrase source's error for %s", err, role)
			}
			if !slices.Contains(p.asked, role+"(retry)") {
				t.Errorf("asked %v: no retry for %s", p.asked, role)
			}
			if after := testenv.TreeHash(t, r.Dir()); after != before {
				t.Error("the repository changed")
			}
		})
	}

	t.Run("always wrong", func(t *testing.T) {
		n := 0
		wrong := func(role string, create, retry bool) ([]byte, error) { n++; return []byte("wrong"), nil }
		r2, err := Open(r.Dir(), Options{Passphrase: wrong})
		if err != nil {
			t.Fatal(err)
		}
		err = r2.Timestamp()
		if err == nil || !strings.Contains(err.Error(), "wrong passphrase for the timestamp key") || n != maxAttempts {
			t.Fatalf("error %v after %d attempts", err, n)
		}
		if strings.Contains(err.Error(), "wrong\"") {
			t.Error("error echoes the passphrase")
		}
		if after := testenv.TreeHash(t, r.Dir()); after != before {
			t.Error("the repository changed")
		}
	})

	t.Run("empty", func(t *testing.T) {
		empty := func(role string, create, retry bool) ([]byte, error) { return nil, nil }
		r2, err := Open(r.Dir(), Options{Passphrase: empty})
		if err != nil {
			t.Fatal(err)
		}
		if err := r2.Timestamp(); err == nil || !strings.Contains(err.Error(), "timestamp key passphrase must not be empty") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestInitRefused(t *testing.T) {
	t.Parallel()
	t.Run("twice", func(t *testing.T) {
		r, _ := newTestRepo(t, time.Now())
		before := testenv.TreeHash(t, r.Dir())
		o, p := opts(time.Now())
		if _, err := Init(r.Dir(), o); err == nil || !strings.Contains(err.Error(), "already initialized") {
			t.Fatalf("error %v", err)
		}
		if len(p.asked) != 0 || testenv.TreeHash(t, r.Dir()) != before {
			t.Error("init of an initialized repository asked for passphrases or changed it")
		}
	})
	t.Run("keys dir exists", func(t *testing.T) {
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "keys"), 0o700)
		o, _ := opts(time.Now())
		if _, err := Init(dir, o); err == nil || !strings.Contains(err.Error(), "keys directory already exists") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("empty passphrase", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "tuf")
		p := &passLog{pass: map[string]string{"root": "x", "targets": ""}}
		if _, err := Init(dir, Options{Passphrase: p.fn}); err == nil || !strings.Contains(err.Error(), "targets key passphrase must not be empty") {
			t.Fatalf("error %v", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a refused init created %s", dir)
		}
	})
	t.Run("not initialized", func(t *testing.T) {
		o, _ := opts(time.Now())
		if _, err := Open(t.TempDir(), o); err == nil || !strings.Contains(err.Error(), "not initialized") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestCommitRollback makes the commit fail part-way and checks that keys and repository
// are exactly as before, with no backup left over. Not parallel: it sets failBeforeRename.
func TestCommitRollback(t *testing.T) {
	r, srcs := newTestRepo(t, time.Now())
	src := srcOf(srcs, "desktop")
	ops := map[string]func(r *Repo) error{
		"add": func(r *Repo) error {
			_, err := r.Add(src, "desktop", "linux", "9.9.9", "stable", "edge")
			return err
		},
		"rotate root": func(r *Repo) error { _, err := r.Rotate("root"); return err },
		"rotate timestamp": func(r *Repo) error {
			_, err := r.Rotate("timestamp")
			return err
		},
	}
	for name, op := range ops {
		for _, failAt := range []string{"snapshot.json", "timestamp.json"} {
			t.Run(name+" fails at "+failAt, func(t *testing.T) {
				before := testenv.TreeHash(t, r.Dir())
				failBeforeRename = func(dst string) error {
					if filepath.Base(dst) == failAt {
						return errors.New("injected failure")
					}
					return nil
				}
				defer func() { failBeforeRename = nil }()
				o, _ := opts(time.Now())
				r2, err := Open(r.Dir(), o)
				if err != nil {
					t.Fatal(err)
				}
				if err := op(r2); err == nil || !strings.Contains(err.Error(), "injected failure") {
					t.Fatalf("error %v", err)
				}
				if after := testenv.TreeHash(t, r.Dir()); after != before {
					t.Error("keys or repository changed after a failed commit")
				}
			})
		}
	}
	// And the repository still works.
	o, _ := opts(time.Now())
	r2, err := Open(r.Dir(), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Rotate("root"); err != nil {
		t.Fatal(err)
	}
}

func TestTargetPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, platform, src, version string
		tags                         []string
		want                         []string
		wantErr                      string
	}{
		{"orbit", "linux", "orbit", "1.2.3", []string{"1.2", "stable", "1.2"}, []string{"orbit/linux/1.2.3/orbit", "orbit/linux/1.2/orbit", "orbit/linux/stable/orbit"}, ""},
		// Known components get the name pkgctl package fetches, whatever the file is called.
		{"orbit", "windows", "orbit-build", "1.0.0", nil, []string{"orbit/windows/1.0.0/orbit.exe"}, ""},
		{"osqueryd", "macos-app", "osqueryd.app.tar.gz", "5.0.0", []string{"stable"}, []string{"osqueryd/macos-app/5.0.0/osqueryd.app.tar.gz", "osqueryd/macos-app/stable/osqueryd.app.tar.gz"}, ""},
		{"desktop", "windows-arm64", "x.exe", "1.0.0", nil, []string{"desktop/windows-arm64/1.0.0/fleet-desktop.exe"}, ""},
		{"desktop", "linux-arm64", "desktop.tgz", "1.0.0", nil, []string{"desktop/linux-arm64/1.0.0/desktop.tar.gz"}, ""},
		{"desktop", "macos", "d.app.tar.gz", "1.0.0", nil, []string{"desktop/macos/1.0.0/desktop.app.tar.gz"}, ""},
		// Other targets follow fleetctl's suffix rules.
		{"nudge", "macos", "nudge.app.tar.gz", "1.1", nil, []string{"nudge/macos/1.1/nudge.app.tar.gz"}, ""},
		{"escrowBuddy", "macos", "escrowBuddy.pkg", "1.0", nil, []string{"escrowBuddy/macos/1.0/escrowBuddy.pkg"}, ""},
		{"extensions/hello", "windows", "hello.ext.exe", "1.0", nil, []string{"extensions/hello/windows/1.0/hello.ext.exe"}, ""},
		{"extensions/hello", "linux", "hello.ext", "1.0", nil, []string{"extensions/hello/linux/1.0/hello.ext"}, ""},
		{"swiftDialog", "macos", "dialog", "2.0", nil, []string{"swiftDialog/macos/2.0/swiftDialog"}, ""},
		{"osqueryd", "macos", "osqueryd", "5.0", nil, []string{"osqueryd/macos/5.0/osqueryd"}, ""},
		{"orbit", "linux", "orbit", "", nil, nil, "version must not be empty"},
		{"orbit", "../x", "orbit", "1", nil, nil, "platform \"../x\" must not start with a dot"},
		{"orbit", "linux", "orbit", "1", []string{"a/b"}, nil, "tag \"a/b\" must not contain a slash"},
		{"a/b", "linux", "orbit", "1", nil, nil, "name \"a/b\" must not contain a slash"},
	}
	for _, tt := range tests {
		got, err := TargetPaths(tt.name, tt.platform, tt.src, tt.version, tt.tags)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s/%s: error %v, want %q", tt.name, tt.platform, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s/%s %s: %v %v, want %v", tt.name, tt.platform, tt.src, got, err, tt.want)
		}
	}
}

// TestConcurrentCommands: a command waits for one that holds the repository lock, and
// refuses to commit over metadata another command changed after it was read.
func TestConcurrentCommands(t *testing.T) {
	t.Parallel()
	r, _ := newTestRepo(t, time.Now())
	o, _ := opts(time.Now())
	first, err := Open(r.Dir(), o)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Open(r.Dir(), o)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := lockDir(r.Dir())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- second.Timestamp() }()
	select {
	case err := <-done:
		t.Fatalf("timestamp ran while the repository was locked (%v)", err)
	case <-time.After(1500 * time.Millisecond): // scrypt takes ~0.2 s; then it must wait
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatalf("timestamp after the lock was released: %v", err)
	}
	before := testenv.TreeHash(t, r.Dir())
	err = first.Timestamp()
	if err == nil || !strings.Contains(err.Error(), "repository/timestamp.json changed since this command read it") {
		t.Fatalf("stale timestamp: %v", err)
	}
	if testenv.TreeHash(t, r.Dir()) != before {
		t.Error("a refused command changed the repository")
	}
}
