// Package tufrepo creates and maintains a TUF repository for Fleet's agent the way
// `fleetctl updates` does, with go-tuf v2's metadata API: the same folders (keys/,
// staged/, repository/), the same passphrase-encrypted key files, the same expiries and
// the layout the agent reads (root.json, N.root.json, targets.json, snapshot.json,
// timestamp.json, targets/<name>/<platform>/<channel>/<file>, consistent_snapshot false).
package tufrepo

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Expiries, as fleetctl sets them.
const (
	RootExpiry      = 87600 * time.Hour // ~10 years
	TargetsExpiry   = 26280 * time.Hour // ~3 years
	SnapshotExpiry  = 26280 * time.Hour // ~3 years
	TimestampExpiry = 336 * time.Hour   // 14 days: re-sign with Timestamp before then
)

// Roles are the top-level roles, each with one ed25519 key in keys/<role>.json.
var Roles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// PassphraseFunc returns the passphrase of role's key. create is true when a new key is
// about to be encrypted with it (ask twice); retry is true when the passphrase given last
// for role did not decrypt its key (return an error to give up).
type PassphraseFunc func(role string, create, retry bool) ([]byte, error)

// Options are the inputs every operation needs.
type Options struct {
	Passphrase PassphraseFunc
	Now        func() time.Time // clock for expiries; time.Now when nil
}

// lockFile serialises commands on one repository (a cron `timestamp` and an `add`).
const lockFile = ".pkgctl-updates.lock"

// maxAttempts bounds how often a passphrase is asked again after a wrong one.
const maxAttempts = 3

// Repo is an open repository directory. It is not safe for concurrent use, and after an
// operation fails it must be opened again (the files on disk are unchanged; the Repo's
// in-memory metadata may not be).
type Repo struct {
	dir  string
	opts Options

	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	// raw holds each role's metadata file exactly as on disk (or as it will be written):
	// snapshot and timestamp hash these bytes, which another tool may have formatted
	// differently from go-tuf v2.
	raw map[string][]byte

	keys map[string][]*key // decrypted keys, by role, loaded on demand
	pass map[string][]byte // passphrase of each loaded role
}

func newRepo(dir string, opts Options) *Repo {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Repo{dir: dir, opts: opts, keys: map[string][]*key{}, pass: map[string][]byte{}, raw: map[string][]byte{}}
}

func (r *Repo) now() time.Time { return r.opts.Now().UTC().Truncate(time.Second) }

// Init creates a repository in dir (created if missing): a key for each role, encrypted
// with its passphrase in keys/<role>.json, then root.json (and 1.root.json) and empty
// targets, snapshot and timestamp metadata in repository/. It fails, changing nothing,
// if dir already holds metadata or a keys/ directory.
func Init(dir string, opts Options) (*Repo, error) {
	if opts.Passphrase == nil {
		return nil, errors.New("init: no passphrase source")
	}
	for _, name := range []string{"root.json", "targets.json", "snapshot.json", "timestamp.json"} {
		for _, sub := range []string{repoDir, stagedDir} {
			if _, err := os.Stat(filepath.Join(dir, sub, name)); err == nil {
				return nil, fmt.Errorf("repository already initialized: %s", dir)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, keysDir)); err == nil {
		return nil, fmt.Errorf("keys directory already exists: %s", filepath.Join(dir, keysDir))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("init: %w", err)
	}

	r := newRepo(dir, opts)
	now := r.now()
	r.root = metadata.Root(now.Add(RootExpiry))
	r.root.Signed.ConsistentSnapshot = false
	for _, role := range Roles {
		pass, err := r.askNew(role)
		if err != nil {
			return nil, err
		}
		k, err := newKey()
		if err != nil {
			return nil, err
		}
		if err := r.root.Signed.AddKey(k.pub, role); err != nil {
			return nil, fmt.Errorf("init: add %s key: %w", role, err)
		}
		r.keys[role] = []*key{k}
		r.pass[role] = pass
	}
	r.targets = metadata.Targets(now.Add(TargetsExpiry))
	r.snapshot = metadata.Snapshot(now.Add(SnapshotExpiry))
	r.timestamp = metadata.Timestamp(now.Add(TimestampExpiry))

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, repoDir, "root.json")); err == nil {
		return nil, fmt.Errorf("repository already initialized: %s", dir)
	}
	// keys/ is made here; if the commit fails it is removed again, so Init can be re-run.
	if err := os.Mkdir(filepath.Join(dir, keysDir), 0o700); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	// Version 1 of everything: nothing to bump.
	if err := r.sign(Roles, nil); err != nil {
		os.RemoveAll(filepath.Join(dir, keysDir))
		return nil, fmt.Errorf("init: %w", err)
	}
	if err := r.write(Roles, Roles, nil); err != nil {
		os.RemoveAll(filepath.Join(dir, keysDir))
		return nil, fmt.Errorf("init: %w", err)
	}
	return r, nil
}

// Open reads the repository in dir and checks that its metadata is signed as root.json
// says. Keys are decrypted only when an operation needs them.
func Open(dir string, opts Options) (*Repo, error) {
	r := newRepo(dir, opts)
	for _, role := range Roles {
		data, err := os.ReadFile(r.metaPath(role + ".json"))
		if errors.Is(err, fs.ErrNotExist) && role == metadata.ROOT {
			return nil, fmt.Errorf("repository not initialized: %s has no repository/root.json (run pkgctl updates init)", dir)
		}
		if err != nil {
			return nil, fmt.Errorf("read repository metadata: %w", err)
		}
		r.raw[role] = data
		switch role {
		case metadata.ROOT:
			r.root, err = metadata.Root().FromBytes(data)
		case metadata.TARGETS:
			r.targets, err = metadata.Targets().FromBytes(data)
		case metadata.SNAPSHOT:
			r.snapshot, err = metadata.Snapshot().FromBytes(data)
		case metadata.TIMESTAMP:
			r.timestamp, err = metadata.Timestamp().FromBytes(data)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", r.metaPath(role+".json"), err)
		}
	}
	checks := []struct {
		role string
		md   any
	}{
		{metadata.ROOT, r.root}, {metadata.TARGETS, r.targets},
		{metadata.SNAPSHOT, r.snapshot}, {metadata.TIMESTAMP, r.timestamp},
	}
	for _, c := range checks {
		if err := r.root.VerifyDelegate(c.role, c.md); err != nil {
			return nil, fmt.Errorf("repository/%s.json is not signed by the %s key that root.json lists: %w", c.role, c.role, err)
		}
	}
	return r, nil
}

// Dir is the repository's base directory (holding keys/, staged/ and repository/).
func (r *Repo) Dir() string { return r.dir }

// RootJSON returns repository/root.json as it is on disk: the value for
// `pkgctl package --update-roots`.
func (r *Repo) RootJSON() []byte { return bytes.Clone(r.raw[metadata.ROOT]) }

// KeyIDs returns the key IDs that root.json lists for role.
func (r *Repo) KeyIDs(role string) []string {
	if rl, ok := r.root.Signed.Roles[role]; ok {
		return slices.Clone(rl.KeyIDs)
	}
	return nil
}

// Expires returns the expiry of each top-level role's current metadata.
func (r *Repo) Expires() map[string]time.Time {
	return map[string]time.Time{
		metadata.ROOT:      r.root.Signed.Expires,
		metadata.TARGETS:   r.targets.Signed.Expires,
		metadata.SNAPSHOT:  r.snapshot.Signed.Expires,
		metadata.TIMESTAMP: r.timestamp.Signed.Expires,
	}
}

// Add publishes the file at src as name for platform under version and each tag (for
// example "4.6", "4", "stable"), with custom metadata {"version": version}, then re-signs
// targets, snapshot and timestamp. It needs the targets, snapshot and timestamp keys. It
// returns the repository paths written.
func (r *Repo) Add(src, name, platform, version string, tags ...string) ([]string, error) {
	paths, err := TargetPaths(name, platform, filepath.Base(src), version, tags)
	if err != nil {
		return nil, err
	}
	in, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("open target: %w", err)
	}
	defer in.Close()
	if st, err := in.Stat(); err != nil {
		return nil, fmt.Errorf("open target: %w", err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("target %s is not a regular file", src)
	}
	for _, role := range []string{metadata.TIMESTAMP, metadata.SNAPSHOT, metadata.TARGETS} {
		if err := r.loadKey(role); err != nil {
			return nil, err
		}
	}
	unlock, err := r.lockUnchanged()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := r.cleanStaged(); err != nil {
		return nil, err
	}
	defer r.cleanStaged()

	// Copy the file once into staged/ while hashing it, then hard-link that for each
	// channel (a copy where the file system has no hard links): one copy on disk.
	first := r.stagedTarget(paths[0])
	tf, err := copyHashed(in, first)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", src, err)
	}
	customJSON, err := json.Marshal(map[string]string{"version": version})
	if err != nil {
		return nil, err
	}
	custom := json.RawMessage(customJSON)
	tf.Custom = &custom
	var changes []change
	for i, p := range paths {
		staged := r.stagedTarget(p)
		if i > 0 {
			if err := linkOrCopy(first, staged); err != nil {
				return nil, fmt.Errorf("stage %s: %w", p, err)
			}
		}
		t := *tf
		t.Path = p
		r.targets.Signed.Targets[p] = &t
		changes = append(changes, change{src: staged, dst: filepath.Join(r.dir, repoDir, "targets", filepath.FromSlash(p))})
	}
	bump := []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}
	if err := r.sign(bump, bump); err != nil {
		return nil, fmt.Errorf("add: %w", err)
	}
	if err := r.write(bump, nil, changes); err != nil {
		return nil, fmt.Errorf("add: %w", err)
	}
	return paths, nil
}

// Timestamp re-signs timestamp.json with a new version that expires in 14 days. It needs
// only the timestamp key: run it from cron well within the 14 days.
func (r *Repo) Timestamp() error {
	if err := r.loadKey(metadata.TIMESTAMP); err != nil {
		return err
	}
	unlock, err := r.lockUnchanged()
	if err != nil {
		return err
	}
	defer unlock()
	if err := r.cleanStaged(); err != nil {
		return err
	}
	defer r.cleanStaged()
	roles := []string{metadata.TIMESTAMP}
	if err := r.sign(roles, roles); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if err := r.write(roles, nil, nil); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	return nil
}

// Rotate replaces role's key with a new one, encrypted with the same passphrase, and
// re-signs all metadata; root gets a new version (also written as N.root.json). A new root
// is signed by the old and the new root keys, so clients that trust the old root follow
// the rotation. It needs all four keys. It returns the new key's ID. On failure the keys
// and repository are left as they were.
func (r *Repo) Rotate(role string) (string, error) {
	if !slices.Contains(Roles, role) {
		return "", fmt.Errorf("role must be one of %s, not %q", strings.Join(Roles, ", "), role)
	}
	for _, rl := range Roles {
		if err := r.loadKey(rl); err != nil {
			return "", err
		}
	}
	unlock, err := r.lockUnchanged()
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := r.cleanStaged(); err != nil {
		return "", err
	}
	defer r.cleanStaged()
	if th := r.root.Signed.Roles[role].Threshold; th != 1 {
		return "", fmt.Errorf("rotate %s: root.json requires %d signatures for %s; rotate handles a threshold of 1 (one key per role, as fleetctl makes)", role, th, role)
	}
	k, err := newKey()
	if err != nil {
		return "", err
	}
	for _, id := range r.KeyIDs(role) {
		if err := r.root.Signed.RevokeKey(id, role); err != nil {
			return "", fmt.Errorf("rotate %s: revoke key %s: %w", role, id, err)
		}
	}
	if err := r.root.Signed.AddKey(k.pub, role); err != nil {
		return "", fmt.Errorf("rotate %s: add key: %w", role, err)
	}
	oldRoot := r.keys[metadata.ROOT]
	r.keys[role] = []*key{k}
	// The new root must satisfy the old root's threshold too: sign with both key sets.
	rootSigners := r.keys[metadata.ROOT]
	if role == metadata.ROOT {
		rootSigners = append(slices.Clone(oldRoot), k)
	}
	if err := r.signRoot(rootSigners); err != nil {
		return "", fmt.Errorf("rotate %s: %w", role, err)
	}
	others := []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}
	if err := r.sign(others, others); err != nil {
		return "", fmt.Errorf("rotate %s: %w", role, err)
	}
	if err := r.write(Roles, []string{role}, nil); err != nil {
		return "", fmt.Errorf("rotate %s: %w", role, err)
	}
	return k.id, nil
}

// lockUnchanged takes the repository lock (waiting for a command that holds it) and checks
// that the metadata on disk is still what Open read: passphrases are asked before the lock
// is taken, and another command may have committed in the meantime.
func (r *Repo) lockUnchanged() (unlock func(), err error) {
	unlock, err = lockDir(r.dir)
	if err != nil {
		return nil, err
	}
	for _, role := range Roles {
		data, err := os.ReadFile(r.metaPath(role + ".json"))
		if err != nil || !bytes.Equal(data, r.raw[role]) {
			unlock()
			return nil, fmt.Errorf("repository/%s.json changed since this command read it (another command ran at the same time): run it again", role)
		}
	}
	return unlock, nil
}

// signRoot bumps root's version and expiry and signs it with keys.
func (r *Repo) signRoot(keys []*key) error {
	r.root.Signed.Version++
	r.root.Signed.Expires = r.now().Add(RootExpiry)
	if err := signWith(r.root, keys...); err != nil {
		return fmt.Errorf("sign root.json: %w", err)
	}
	return r.encode(metadata.ROOT)
}

// encode serialises role's metadata into raw, as it will be written.
func (r *Repo) encode(role string) error {
	var data []byte
	var err error
	switch role {
	case metadata.ROOT:
		data, err = r.root.ToBytes(true)
	case metadata.TARGETS:
		data, err = r.targets.ToBytes(true)
	case metadata.SNAPSHOT:
		data, err = r.snapshot.ToBytes(true)
	case metadata.TIMESTAMP:
		data, err = r.timestamp.ToBytes(true)
	}
	if err != nil {
		return fmt.Errorf("encode %s.json: %w", role, err)
	}
	r.raw[role] = data
	return nil
}

// sign signs the given roles in the order targets, snapshot, timestamp (root first when
// listed), after bumping the version and expiry of those in bump. Snapshot and timestamp
// describe the files signed before them.
func (r *Repo) sign(roles, bump []string) error {
	now := r.now()
	for _, role := range Roles {
		if !slices.Contains(roles, role) {
			continue
		}
		bumped := slices.Contains(bump, role)
		var err error
		switch role {
		case metadata.ROOT:
			// Init's root is version 1 already; Rotate calls signRoot.
			err = signWith(r.root, r.keys[role]...)
		case metadata.TARGETS:
			if bumped {
				r.targets.Signed.Version++
				r.targets.Signed.Expires = now.Add(TargetsExpiry)
			}
			err = signWith(r.targets, r.keys[role]...)
		case metadata.SNAPSHOT:
			if bumped {
				r.snapshot.Signed.Version++
				r.snapshot.Signed.Expires = now.Add(SnapshotExpiry)
			}
			r.snapshot.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": metaFile(r.targets.Signed.Version, r.raw[metadata.TARGETS])}
			err = signWith(r.snapshot, r.keys[role]...)
		case metadata.TIMESTAMP:
			if bumped {
				r.timestamp.Signed.Version++
				r.timestamp.Signed.Expires = now.Add(TimestampExpiry)
			}
			r.timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": metaFile(r.snapshot.Signed.Version, r.raw[metadata.SNAPSHOT])}
			err = signWith(r.timestamp, r.keys[role]...)
		}
		if err != nil {
			return fmt.Errorf("sign %s.json: %w", role, err)
		}
		if err := r.encode(role); err != nil {
			return err
		}
	}
	return nil
}

// write stages the metadata of roles (root also as N.root.json) and the key files of
// keyRoles, then commits them after the target changes: targets first, keys, root, then
// targets.json, snapshot.json and timestamp.json last, so a client never sees metadata
// naming a file that is not there yet.
func (r *Repo) write(roles, keyRoles []string, targets []change) error {
	changes := slices.Clone(targets)
	for _, role := range keyRoles {
		data, err := encodeKeyFile(r.keys[role], r.pass[role])
		if err != nil {
			return fmt.Errorf("%s key: %w", role, err)
		}
		staged := filepath.Join(r.dir, keysDir, ".staged-"+role+".json")
		if err := stageFile(staged, data, 0o600, 0o700); err != nil {
			return fmt.Errorf("stage %s key: %w", role, err)
		}
		changes = append(changes, change{src: staged, dst: keyPath(r.dir, role)})
	}
	for _, role := range Roles {
		if !slices.Contains(roles, role) {
			continue
		}
		data := r.raw[role]
		names := []string{role + ".json"}
		if role == metadata.ROOT {
			names = []string{fmt.Sprintf("%d.root.json", r.root.Signed.Version), "root.json"}
		}
		for _, name := range names {
			staged := filepath.Join(r.dir, stagedDir, name)
			if err := stageFile(staged, data, 0o644, 0o755); err != nil {
				return fmt.Errorf("stage %s: %w", name, err)
			}
			changes = append(changes, change{src: staged, dst: r.metaPath(name)})
		}
	}
	return r.commit(changes)
}

// loadKey decrypts keys/<role>.json, asking for the passphrase (again after a wrong one,
// at most maxAttempts times), and keeps the keys that root.json lists for role.
func (r *Repo) loadKey(role string) error {
	if _, ok := r.keys[role]; ok {
		return nil
	}
	if r.opts.Passphrase == nil {
		return errors.New("no passphrase source")
	}
	path := keyPath(r.dir, role)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("the %s key is needed: %w", role, err)
	}
	var keys []*key
	for attempt := 0; ; attempt++ {
		pass, err := r.opts.Passphrase(role, false, attempt > 0)
		if err != nil {
			return err
		}
		if len(pass) == 0 {
			return fmt.Errorf("the %s key passphrase must not be empty", role)
		}
		keys, err = readKeyFile(path, pass)
		if err == nil {
			r.pass[role] = pass
			break
		}
		if !errors.Is(err, errWrongPassphrase) {
			return fmt.Errorf("read %s key: %w", role, err)
		}
		if attempt+1 >= maxAttempts {
			return fmt.Errorf("wrong passphrase for the %s key (%s)", role, path)
		}
	}
	ids := r.KeyIDs(role)
	var usable []*key
	for _, k := range keys {
		if slices.Contains(ids, k.id) {
			usable = append(usable, k)
		}
	}
	if len(usable) == 0 {
		return fmt.Errorf("%s holds no key that repository/root.json lists for the %s role", path, role)
	}
	if th := r.root.Signed.Roles[role].Threshold; len(usable) < th {
		return fmt.Errorf("%s holds %d of the %d keys root.json requires for the %s role", path, len(usable), th, role)
	}
	r.keys[role] = usable
	return nil
}

// askNew asks for the passphrase of a new key of role; it must not be empty.
func (r *Repo) askNew(role string) ([]byte, error) {
	pass, err := r.opts.Passphrase(role, true, false)
	if err != nil {
		return nil, err
	}
	if len(pass) == 0 {
		return nil, fmt.Errorf("the %s key passphrase must not be empty", role)
	}
	return pass, nil
}

// cleanStaged empties staged/ (fleetctl leaves it empty after each command) and removes
// staged key files left in keys/ by an interrupted run.
func (r *Repo) cleanStaged() error {
	if err := os.RemoveAll(filepath.Join(r.dir, stagedDir)); err != nil {
		return fmt.Errorf("clean staged/: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(r.dir, stagedDir, "targets"), 0o755); err != nil {
		return fmt.Errorf("clean staged/: %w", err)
	}
	left, _ := filepath.Glob(filepath.Join(r.dir, keysDir, ".staged-*"))
	for _, f := range left {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("clean keys/: %w", err)
		}
	}
	return nil
}

func (r *Repo) metaPath(name string) string { return filepath.Join(r.dir, repoDir, name) }

func (r *Repo) stagedTarget(p string) string {
	return filepath.Join(r.dir, stagedDir, "targets", filepath.FromSlash(p))
}

// linkFile is os.Link; tests replace it to exercise the copy fallback.
var linkFile = os.Link

// linkOrCopy makes dst a hard link to src, or a copy of it where the file system
// cannot link. Every later change to a repository file replaces it by rename,
// never in place, so files that share an inode never change together.
func linkOrCopy(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := linkFile(src, dst); err == nil {
		return nil
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = copyHashed(f, dst)
	return err
}

// copyHashed copies in to a new file dst (0644; it will be served) and returns its length
// and sha256 and sha512 hashes, reading in once with flat memory.
func copyHashed(in io.Reader, dst string) (*metadata.TargetFiles, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, err
	}
	s256, s512 := sha256.New(), sha512.New()
	var n int64
	err := writeFileAtomic(dst, 0o644, func(w io.Writer) error {
		var err error
		n, err = io.Copy(io.MultiWriter(w, s256, s512), in)
		return err
	})
	if err != nil {
		return nil, err
	}
	tf := metadata.TargetFile()
	tf.Length = n
	tf.Hashes = metadata.Hashes{"sha256": s256.Sum(nil), "sha512": s512.Sum(nil)}
	return tf, nil
}

// metaFile describes a metadata file in snapshot.json or timestamp.json: version, length,
// and sha256 and sha512 hashes.
func metaFile(version int64, data []byte) *metadata.MetaFiles {
	mf := metadata.MetaFile(version)
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	mf.Length = int64(len(data))
	mf.Hashes = metadata.Hashes{"sha256": s256[:], "sha512": s512[:]}
	return mf
}
