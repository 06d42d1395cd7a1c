package packaging

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// LinuxSignPassphraseEnv holds the passphrase of --linux-sign-key (never a
// flag: it would show in the process list).
const LinuxSignPassphraseEnv = "PKGCTL_LINUX_SIGN_PASSPHRASE"

// PGPSigner signs Linux packages (deb, rpm, Arch) with one OpenPGP key. Every
// signature carries Time as its creation time, not the clock: with RSA or
// Ed25519 (both deterministic) a signed build is reproducible.
type PGPSigner struct {
	entity *openpgp.Entity
	key    openpgp.Key // the (sub)key that signs
	Time   time.Time
}

// LoadPGPSigner reads an armored OpenPGP private key from path and unlocks the
// key that signs at time at with passphrase. Errors name --linux-sign-key and
// never quote the key or the passphrase.
func LoadPGPSigner(path, passphrase string, at time.Time) (*PGPSigner, error) {
	const flag = "linux-sign-key"
	fail := func(format string, args ...any) error {
		return flagErr(flag, "--%s %s: "+format, append([]any{flag, path}, args...)...)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FlagError{Flag: flag, Msg: fmt.Sprintf("read --%s %s", flag, path), Err: errors.Unwrap(err)}
	}
	block, err := armor.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fail("not an ASCII-armored OpenPGP key (export one with gpg --export-secret-keys --armor KEYID)")
	}
	if n := bytes.Count(data, []byte("-----BEGIN PGP ")); n > 1 {
		return nil, fail("holds %d armored blocks, want one private key", n)
	}
	if block.Type != openpgp.PrivateKeyType {
		return nil, fail("holds a %q block, not an OpenPGP private key (export it with gpg --export-secret-keys --armor KEYID)", block.Type)
	}
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, fail("not a readable OpenPGP private key: %v", err)
	}
	if len(list) != 1 {
		return nil, fail("holds %d keys, want one", len(list))
	}
	e := list[0]
	key, ok := e.SigningKey(at)
	if !ok {
		return nil, fail("no key in it can sign at %s (expired, revoked, not for signing, or created after SOURCE_DATE_EPOCH)", at.UTC().Format(time.RFC3339))
	}
	if key.PrivateKey == nil || key.PrivateKey.Dummy() {
		return nil, fail("the private part of signing key %X is missing (a public key, or a stub exported from a smart card)", key.PublicKey.KeyId)
	}
	if err := checkPGPAlgorithm(key.PublicKey); err != nil {
		return nil, fail("%v", err)
	}
	if key.PrivateKey.Encrypted {
		if passphrase == "" {
			return nil, fail("the key is protected by a passphrase: set it in %s", LinuxSignPassphraseEnv)
		}
		if err := key.PrivateKey.Decrypt([]byte(passphrase)); err != nil {
			if errors.Is(err, pgperrors.ErrKeyIncorrect) {
				return nil, fail("wrong passphrase (from %s)", LinuxSignPassphraseEnv)
			}
			return nil, fail("unlock the key: wrong passphrase or damaged key (%s)", LinuxSignPassphraseEnv)
		}
	}
	return &PGPSigner{entity: e, key: key, Time: at}, nil
}

// checkPGPAlgorithm accepts the keys rpm (4.x's own OpenPGP parser) and gpg
// both verify: RSA of 2048 bits or more, and Ed25519 (EdDSA, v4).
func checkPGPAlgorithm(pk *packet.PublicKey) error {
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		if bits, err := pk.BitLength(); err == nil && bits < 2048 {
			return fmt.Errorf("the RSA key has %d bits; use 2048 or more", bits)
		}
		return nil
	case packet.PubKeyAlgoEdDSA:
		return nil
	}
	return fmt.Errorf("the signing key is of OpenPGP algorithm %d, which rpm cannot verify: use an RSA (2048+) or Ed25519 key", pk.PubKeyAlgo)
}

// KeyID is the signing key's long ID in hex.
func (s *PGPSigner) KeyID() string { return fmt.Sprintf("%016X", s.key.PublicKey.KeyId) }

// Sign returns a detached signature over data, binary or ASCII-armored.
func (s *PGPSigner) Sign(data io.Reader, armored bool) ([]byte, error) {
	cfg := &packet.Config{
		DefaultHash:  crypto.SHA256,
		Time:         func() time.Time { return s.Time },
		SigningKeyId: s.key.PublicKey.KeyId,
		// go-crypto salts v4 signatures with a random notation by default (a
		// hardening against faults); reproducible builds need the plain,
		// deterministic RSA/EdDSA signature that gpg makes.
		NonDeterministicSignaturesViaNotation: new(bool),
	}
	var b bytes.Buffer
	sign := openpgp.DetachSign
	if armored {
		sign = openpgp.ArmoredDetachSign
	}
	if err := sign(&b, s.entity, data, cfg); err != nil {
		return nil, fmt.Errorf("OpenPGP signature with key %s: %w", s.KeyID(), err)
	}
	return b.Bytes(), nil
}

// PublicKey is the signer's armored public key (what users import to verify).
func (s *PGPSigner) PublicKey() ([]byte, error) {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := s.entity.Serialize(w); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DetachedSigner is implemented by formats whose OpenPGP signature is a file
// beside the package rather than inside it (Arch: <package>.sig).
type DetachedSigner interface {
	// DetachedSignature signs the finished package read from pkg and returns
	// the suffix of the signature file ("" when the format signs inside).
	DetachedSignature(l *Layout, pkg io.Reader) (ext string, sig []byte, err error)
}

// ArchSignatureExt is the suffix of an Arch package's detached signature
// file, which pacman looks for beside the package.
const ArchSignatureExt = ".sig"

func signDetached(ds DetachedSigner, l *Layout, path string) (string, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	return ds.DetachedSignature(l, f)
}

// pgpSignerFor loads --linux-sign-key for a Linux build, or returns nil.
func pgpSignerFor(o *Options, at time.Time) (*PGPSigner, error) {
	if o.LinuxSignKey == "" || !isLinuxType(o.Type) {
		return nil, nil
	}
	return LoadPGPSigner(o.LinuxSignKey, os.Getenv(LinuxSignPassphraseEnv), at)
}

func isLinuxType(t string) bool { return t == TypeDeb || t == TypeRPM || t == TypeArchZst }
