package testenv

import (
	"bytes"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// PGPKey is an OpenPGP key pair for package-signing tests, armored as
// `gpg --export-secret-keys --armor` and `gpg --export --armor` write them.
type PGPKey struct {
	Private, Public []byte
	KeyID           string // primary key's long ID, hex
}

// NewPGPKey makes a key created at created: algo is "rsa" (2048 bits),
// "ed25519" (v4 EdDSA, gpg's default) or "ecdsa" (NIST P-256); a non-empty
// passphrase protects the private key.
func NewPGPKey(algo, passphrase string, created time.Time) (*PGPKey, error) {
	cfg := &packet.Config{Time: func() time.Time { return created }}
	switch algo {
	case "rsa":
		cfg.Algorithm, cfg.RSABits = packet.PubKeyAlgoRSA, 2048
	case "ed25519":
		cfg.Algorithm, cfg.Curve = packet.PubKeyAlgoEdDSA, packet.Curve25519
	case "ecdsa":
		cfg.Algorithm, cfg.Curve = packet.PubKeyAlgoECDSA, packet.CurveNistP256
	default:
		return nil, fmt.Errorf("pgp key: unknown algorithm %q", algo)
	}
	e, err := openpgp.NewEntity("pkgctl test signer", "", "signer@pkgctl.test", cfg)
	if err != nil {
		return nil, fmt.Errorf("pgp key: %w", err)
	}
	var priv bytes.Buffer
	w, err := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, err
	}
	if err := e.SerializePrivate(w, cfg); err != nil {
		return nil, fmt.Errorf("pgp key: %w", err)
	}
	w.Close()
	if passphrase != "" {
		// Re-read (self-signatures are made) and protect every private key.
		list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(priv.Bytes()))
		if err != nil {
			return nil, err
		}
		e = list[0]
		if err := e.EncryptPrivateKeys([]byte(passphrase), cfg); err != nil {
			return nil, fmt.Errorf("pgp key: encrypt: %w", err)
		}
		priv.Reset()
		w, _ = armor.Encode(&priv, openpgp.PrivateKeyType, nil)
		if err := e.SerializePrivateWithoutSigning(w, cfg); err != nil {
			return nil, fmt.Errorf("pgp key: %w", err)
		}
		w.Close()
	}
	var pub bytes.Buffer
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		return nil, err
	}
	w.Close()
	return &PGPKey{Private: priv.Bytes(), Public: pub.Bytes(), KeyID: fmt.Sprintf("%016X", e.PrimaryKey.KeyId)}, nil
}
