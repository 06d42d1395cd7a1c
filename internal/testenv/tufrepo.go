package testenv

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// topLevelRoles are the TUF roles of the repository, each with one ed25519 key.
var topLevelRoles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// Repo is a real TUF repository written with go-tuf v2's metadata API in Fleet's layout:
// consistent_snapshot false, one ed25519 key per role, root.json plus N.root.json for every
// root version, targets.json, snapshot.json, timestamp.json and
// targets/<target>/<platform>/<channel>/<file>. Target hashes are sha256 and sha512 and
// target custom metadata is {"version":"x.y.z"}. Both a go-tuf v2 client and Fleet's
// agent (go-tuf v0.7 client) can read it.
//
// Metadata files are replaced atomically, so the repository can be served while it changes.
// A Repo is safe for concurrent use.
type Repo struct {
	Dir string // directory to serve as the repository root

	mu        sync.Mutex
	keys      map[string]ed25519.PrivateKey // current key of each role
	expires   time.Time                     // default expiry of all metadata
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	rootJSON  []byte
}

// NewRepo creates keys and an initial signed, empty repository in dir (creating dir).
// Expiries default far in the future (ten years).
func NewRepo(dir string) (*Repo, error) {
	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		return nil, fmt.Errorf("new repo: %w", err)
	}
	r := &Repo{
		Dir:     dir,
		keys:    map[string]ed25519.PrivateKey{},
		expires: time.Now().UTC().AddDate(10, 0, 0).Truncate(time.Second),
	}
	r.root = metadata.Root(r.expires)
	r.root.Signed.ConsistentSnapshot = false
	for _, role := range topLevelRoles {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("new repo: generate %s key: %w", role, err)
		}
		key, err := metadata.KeyFromPublicKey(priv.Public())
		if err != nil {
			return nil, fmt.Errorf("new repo: %s key: %w", role, err)
		}
		if err := r.root.Signed.AddKey(key, role); err != nil {
			return nil, fmt.Errorf("new repo: add %s key: %w", role, err)
		}
		r.keys[role] = priv
	}
	if err := r.writeRoot(r.keys[metadata.ROOT]); err != nil {
		return nil, fmt.Errorf("new repo: %w", err)
	}
	r.targets = metadata.Targets(r.expires)
	r.snapshot = metadata.Snapshot(r.expires)
	r.timestamp = metadata.Timestamp(r.expires)
	// Publish bumps every version; start at 0 so the first metadata is version 1.
	r.targets.Signed.Version, r.snapshot.Signed.Version, r.timestamp.Signed.Version = 0, 0, 0
	if err := r.publish(r.expires); err != nil {
		return nil, fmt.Errorf("new repo: %w", err)
	}
	return r, nil
}

// RootJSON returns the current signed root.json bytes (the value for --update-roots).
func (r *Repo) RootJSON() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.rootJSON...)
}

// TargetPath returns the repository path of a target: <name>/<platform>/<channel>/<file>.
func TargetPath(name, platform, channel, file string) string {
	return path.Join(name, platform, channel, file)
}

// AddTarget stages data as targets/<name>/<platform>/<channel>/<file> with custom {"version": version};
// call Publish to sign. The file is written (and served) at once.
func (r *Repo) AddTarget(name, platform, channel, file string, data []byte, version string) error {
	targetPath := TargetPath(name, platform, channel, file)
	for _, part := range []string{name, platform, channel, file} {
		if part == "" || part == "." || part == ".." || strings.Contains(part, "\\") {
			return fmt.Errorf("add target %q: invalid path element %q", targetPath, part)
		}
	}
	tf, err := metadata.TargetFile().FromBytes(targetPath, data, "sha256", "sha512")
	if err != nil {
		return fmt.Errorf("add target %s: %w", targetPath, err)
	}
	custom, err := json.Marshal(map[string]string{"version": version})
	if err != nil {
		return fmt.Errorf("add target %s: %w", targetPath, err)
	}
	raw := json.RawMessage(custom)
	tf.Custom = &raw

	r.mu.Lock()
	defer r.mu.Unlock()
	if err := writeFileAtomic(r.targetFile(targetPath), data); err != nil {
		return fmt.Errorf("add target %s: %w", targetPath, err)
	}
	r.targets.Signed.Targets[targetPath] = tf
	return nil
}

// Publish signs targets, snapshot and timestamp (bumping versions) and writes all metadata.
func (r *Repo) Publish() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.publish(r.expires); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

func (r *Repo) publish(timestampExpires time.Time) error {
	r.targets.Signed.Version++
	r.targets.Signed.Expires = r.expires
	targetsJSON, err := signAndWrite(r.targets, r.keys[metadata.TARGETS], r.metaFile("targets.json"))
	if err != nil {
		return err
	}
	r.snapshot.Signed.Version++
	r.snapshot.Signed.Expires = r.expires
	r.snapshot.Signed.Meta = map[string]*metadata.MetaFiles{
		"targets.json": metaFile(r.targets.Signed.Version, targetsJSON),
	}
	snapshotJSON, err := signAndWrite(r.snapshot, r.keys[metadata.SNAPSHOT], r.metaFile("snapshot.json"))
	if err != nil {
		return err
	}
	return r.writeTimestamp(metaFile(r.snapshot.Signed.Version, snapshotJSON), timestampExpires)
}

// writeTimestamp signs a new timestamp version that lists snapshot and expires at expires.
func (r *Repo) writeTimestamp(snapshot *metadata.MetaFiles, expires time.Time) error {
	r.timestamp.Signed.Version++
	r.timestamp.Signed.Expires = expires
	r.timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": snapshot}
	_, err := signAndWrite(r.timestamp, r.keys[metadata.TIMESTAMP], r.metaFile("timestamp.json"))
	return err
}

// SetTimestampExpiry re-signs timestamp.json (with the next version) with this expiry, which may
// be in the past. The next Publish goes back to the default expiry.
func (r *Repo) SetTimestampExpiry(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.writeTimestamp(r.timestamp.Signed.Meta["snapshot.json"], t.UTC()); err != nil {
		return fmt.Errorf("set timestamp expiry: %w", err)
	}
	return nil
}

// RollbackSnapshot writes a validly signed snapshot.json whose version is one LOWER than
// timestamp.json says. So that clients reach the version check rather than stopping at the
// length and hash check, it also re-signs timestamp.json (next version) with the length and
// hashes of that lower-version snapshot but the current snapshot version. Clients must reject
// the snapshot (go-tuf v2: ErrBadVersionNumber). The next Publish repairs the repository.
func (r *Repo) RollbackSnapshot() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := r.snapshot.Signed.Version
	if want < 2 {
		return fmt.Errorf("rollback snapshot: snapshot version %d has no lower version (Publish first)", want)
	}
	old := metadata.Snapshot(r.expires)
	old.Signed.Version = want - 1
	old.Signed.Meta = r.snapshot.Signed.Meta
	oldJSON, err := signAndWrite(old, r.keys[metadata.SNAPSHOT], r.metaFile("snapshot.json"))
	if err != nil {
		return fmt.Errorf("rollback snapshot: %w", err)
	}
	if err := r.writeTimestamp(metaFile(want, oldJSON), r.expires); err != nil {
		return fmt.Errorf("rollback snapshot: %w", err)
	}
	return nil
}

// TamperTarget flips one byte of the served target file (same length). targetPath is the
// repository path, <name>/<platform>/<channel>/<file>.
func (r *Repo) TamperTarget(targetPath string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	file := r.targetFile(targetPath)
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("tamper target: %w", err)
	}
	if len(data) == 0 {
		return fmt.Errorf("tamper target %s: empty file", targetPath)
	}
	data[len(data)/2] ^= 0xff
	if err := writeFileAtomic(file, data); err != nil {
		return fmt.Errorf("tamper target: %w", err)
	}
	return nil
}

// AppendToTarget makes the served file longer than its metadata length by appending extra.
func (r *Repo) AppendToTarget(targetPath string, extra []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	file := r.targetFile(targetPath)
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("append to target: %w", err)
	}
	if err := writeFileAtomic(file, append(data, extra...)); err != nil {
		return fmt.Errorf("append to target: %w", err)
	}
	return nil
}

// RotateRoot replaces the root key with a new one and writes root version+1, signed by the
// old and the new key, as N.root.json and root.json. A client that trusts the old root
// follows the rotation.
func (r *Repo) RotateRoot() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	oldKey := r.keys[metadata.ROOT]
	_, newKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("rotate root: generate key: %w", err)
	}
	oldPub, err := metadata.KeyFromPublicKey(oldKey.Public())
	if err != nil {
		return fmt.Errorf("rotate root: %w", err)
	}
	oldID, err := oldPub.ID()
	if err != nil {
		return fmt.Errorf("rotate root: %w", err)
	}
	newPub, err := metadata.KeyFromPublicKey(newKey.Public())
	if err != nil {
		return fmt.Errorf("rotate root: %w", err)
	}
	if err := r.root.Signed.RevokeKey(oldID, metadata.ROOT); err != nil {
		return fmt.Errorf("rotate root: revoke old key: %w", err)
	}
	if err := r.root.Signed.AddKey(newPub, metadata.ROOT); err != nil {
		return fmt.Errorf("rotate root: add new key: %w", err)
	}
	r.root.Signed.Version++
	if err := r.writeRoot(oldKey, newKey); err != nil {
		return fmt.Errorf("rotate root: %w", err)
	}
	r.keys[metadata.ROOT] = newKey
	return nil
}

// writeRoot signs the current root with keys and writes it as N.root.json and root.json.
func (r *Repo) writeRoot(keys ...ed25519.PrivateKey) error {
	r.root.ClearSignatures()
	for _, key := range keys {
		if err := sign(r.root, key); err != nil {
			return fmt.Errorf("sign root: %w", err)
		}
	}
	data, err := r.root.ToBytes(true)
	if err != nil {
		return fmt.Errorf("encode root: %w", err)
	}
	versioned := fmt.Sprintf("%d.root.json", r.root.Signed.Version)
	for _, name := range []string{versioned, "root.json"} {
		if err := writeFileAtomic(r.metaFile(name), data); err != nil {
			return err
		}
	}
	r.rootJSON = data
	return nil
}

func (r *Repo) metaFile(name string) string { return filepath.Join(r.Dir, name) }

func (r *Repo) targetFile(targetPath string) string {
	return filepath.Join(r.Dir, "targets", filepath.FromSlash(targetPath))
}

// signable is the part of *metadata.Metadata[T] used here.
type signable interface {
	ClearSignatures()
	Sign(signature.Signer) (*metadata.Signature, error)
	ToBytes(pretty bool) ([]byte, error)
}

func sign(md signable, key ed25519.PrivateKey) error {
	signer, err := signature.LoadSigner(key, crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("load signer: %w", err)
	}
	if _, err := md.Sign(signer); err != nil {
		return err
	}
	return nil
}

// signAndWrite replaces md's signatures with one by key, writes it to file and returns its bytes.
func signAndWrite(md signable, key ed25519.PrivateKey, file string) ([]byte, error) {
	md.ClearSignatures()
	if err := sign(md, key); err != nil {
		return nil, fmt.Errorf("sign %s: %w", filepath.Base(file), err)
	}
	data, err := md.ToBytes(true)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", filepath.Base(file), err)
	}
	if err := writeFileAtomic(file, data); err != nil {
		return nil, err
	}
	return data, nil
}

// metaFile describes a metadata file for snapshot.json or timestamp.json, with length and
// sha256 and sha512 hashes like Fleet's repositories.
func metaFile(version int64, data []byte) *metadata.MetaFiles {
	mf := metadata.MetaFile(version)
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	mf.Length = int64(len(data))
	mf.Hashes = metadata.Hashes{"sha256": s256[:], "sha512": s512[:]}
	return mf
}

// writeFileAtomic writes data to file (mode 0644, creating parent directories) through a
// temporary file and a rename, so concurrent readers see the old or the new content.
func writeFileAtomic(file string, data []byte) error {
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(file)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
