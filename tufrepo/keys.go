package tufrepo

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// keyIDHashAlgorithms is the "keyid_hash_algorithms" field that go-tuf v0.x (and so
// fleetctl) puts in every ed25519 key. It is part of the key ID, so keys made here carry it
// too: fleetctl can then sign with pkgctl's keys and the reverse.
var keyIDHashAlgorithms = []string{"sha256", "sha512"}

// keyFile is keys/<role>.json as go-tuf v0.x writes it: {"encrypted": true, "data": ...}
// where data is a go-securesystemslib "encrypted" blob (scrypt + NaCl secretbox) of a JSON
// array of private keys.
type keyFile struct {
	Encrypted bool            `json:"encrypted"`
	Data      json.RawMessage `json:"data"`
}

// privateKeyJSON is one private key in the decrypted array (go-tuf v0.x data.PrivateKey).
type privateKeyJSON struct {
	Type       string   `json:"keytype"`
	Scheme     string   `json:"scheme,omitempty"`
	Algorithms []string `json:"keyid_hash_algorithms,omitempty"`
	Value      struct {
		Public  string `json:"public"`
		Private string `json:"private"`
	} `json:"keyval"`
}

// key is a decrypted signing key of a role.
type key struct {
	priv ed25519.PrivateKey
	pub  *metadata.Key // public part as root.json lists it
	id   string
	// algorithms is keyid_hash_algorithms of the stored key (part of its ID).
	algorithms []string
}

// newKey generates an ed25519 key in fleetctl's key format.
func newKey() (*key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return keyFromPrivate(priv, keyIDHashAlgorithms)
}

func keyFromPrivate(priv ed25519.PrivateKey, algorithms []string) (*key, error) {
	pub, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	if len(algorithms) > 0 {
		algs := make([]any, len(algorithms))
		for i, a := range algorithms {
			algs[i] = a
		}
		pub.UnrecognizedFields = map[string]any{"keyid_hash_algorithms": algs}
	}
	id, err := pub.ID()
	if err != nil {
		return nil, err
	}
	return &key{priv: priv, pub: pub, id: id, algorithms: algorithms}, nil
}

// signWith replaces md's signatures with one by each key. go-tuf v2 names a signature
// with a key ID computed without keyid_hash_algorithms, so each signature gets the ID that
// root.json lists for its key.
func signWith[T metadata.Roles](md *metadata.Metadata[T], keys ...*key) error {
	md.ClearSignatures()
	for _, k := range keys {
		signer, err := signature.LoadSigner(k.priv, crypto.Hash(0))
		if err != nil {
			return fmt.Errorf("load signer: %w", err)
		}
		if _, err := md.Sign(signer); err != nil {
			return err
		}
		md.Signatures[len(md.Signatures)-1].KeyID = k.id
	}
	return nil
}

// errWrongPassphrase is what decryption returns when the passphrase does not open the box.
var errWrongPassphrase = errors.New("wrong passphrase")

// readKeyFile decrypts path with passphrase and returns its ed25519 keys. A passphrase that
// does not decrypt the file gives errWrongPassphrase.
func readKeyFile(path string, passphrase []byte) ([]*key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("%s: not a TUF key file: %w", path, err)
	}
	if !kf.Encrypted {
		return nil, fmt.Errorf("%s: the keys are not encrypted (pkgctl only reads passphrase-encrypted keys)", path)
	}
	plain, err := encrypted.Decrypt(kf.Data, passphrase)
	if err != nil {
		// go-securesystemslib reports a failed secretbox open with this exact text; any
		// other error means a damaged file, not a wrong passphrase.
		if err.Error() == "encrypted: decryption failed" {
			return nil, errWrongPassphrase
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer clear(plain)
	var raw []privateKeyJSON
	if err := json.Unmarshal(plain, &raw); err != nil {
		return nil, fmt.Errorf("%s: decrypted keys are not a JSON array of keys", path)
	}
	var keys []*key
	for i, r := range raw {
		if r.Type != "ed25519" {
			return nil, fmt.Errorf("%s: key %d is %q; pkgctl signs with ed25519 keys only", path, i, r.Type)
		}
		priv, err := hex.DecodeString(r.Value.Private)
		if err != nil || len(priv) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("%s: key %d: malformed ed25519 private key", path, i)
		}
		pub, err := hex.DecodeString(r.Value.Public)
		if err != nil || !bytes.Equal(pub, ed25519.PrivateKey(priv).Public().(ed25519.PublicKey)) {
			return nil, fmt.Errorf("%s: key %d: public and private key do not match", path, i)
		}
		k, err := keyFromPrivate(priv, r.Algorithms)
		if err != nil {
			return nil, fmt.Errorf("%s: key %d: %w", path, i, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: holds no key", path)
	}
	return keys, nil
}

// encodeKeyFile returns keys/<role>.json content for keys, encrypted with passphrase.
func encodeKeyFile(keys []*key, passphrase []byte) ([]byte, error) {
	raw := make([]privateKeyJSON, len(keys))
	for i, k := range keys {
		raw[i] = privateKeyJSON{Type: "ed25519", Scheme: "ed25519", Algorithms: k.algorithms}
		raw[i].Value.Public = hex.EncodeToString(k.priv.Public().(ed25519.PublicKey))
		raw[i].Value.Private = hex.EncodeToString(k.priv)
	}
	plain, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	box, err := encrypted.Encrypt(plain, passphrase)
	if err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	out, err := json.MarshalIndent(keyFile{Encrypted: true, Data: box}, "", "\t")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func keyPath(dir, role string) string { return filepath.Join(dir, "keys", role+".json") }
