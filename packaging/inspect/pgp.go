package inspect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// pgpSignature describes a detached OpenPGP signature over signed and, when
// opt.Keyring is set, checks it against those keys.
func pgpSignature(kind string, signed io.Reader, sig []byte, opt Options) Signature {
	s := Signature{Kind: kind}
	raw := sig
	if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN PGP")) {
		blk, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			s.Error = fmt.Sprintf("armor: %v", err)
			return s
		}
		if raw, err = io.ReadAll(blk.Body); err != nil {
			s.Error = fmt.Sprintf("armor: %v", err)
			return s
		}
	}
	p, err := packet.Read(bytes.NewReader(raw))
	if err != nil {
		s.Error = fmt.Sprintf("not an OpenPGP signature: %v", err)
		return s
	}
	ps, ok := p.(*packet.Signature)
	if !ok {
		s.Error = fmt.Sprintf("not an OpenPGP signature packet (%T)", p)
		return s
	}
	t := ps.CreationTime.UTC()
	s.SigningTime = &t
	s.Algorithm = fmt.Sprintf("%s/%s", pubKeyAlgo(ps.PubKeyAlgo), ps.Hash)
	if ps.IssuerKeyId != nil {
		s.KeyID = fmt.Sprintf("%016X", *ps.IssuerKeyId)
	}
	if len(ps.IssuerFingerprint) > 0 {
		s.Extra = map[string]string{"fingerprint": fmt.Sprintf("%X", ps.IssuerFingerprint)}
	}
	if opt.Keyring == nil {
		return s
	}
	signer, err := openpgp.CheckDetachedSignature(opt.Keyring, signed, bytes.NewReader(raw), nil)
	trusted := err == nil
	s.Trusted = &trusted
	switch {
	case err == nil:
		s.Valid = true
		s.Signer = entityName(signer)
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		s.Error = "signed by a key that is not in --gpg-key"
	default:
		s.Error = err.Error()
	}
	return s
}

func entityName(e *openpgp.Entity) string {
	if e == nil {
		return ""
	}
	for n := range e.Identities {
		return n
	}
	return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
}

func pubKeyAlgo(a packet.PublicKeyAlgorithm) string {
	switch a {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		return "RSA"
	case packet.PubKeyAlgoDSA:
		return "DSA"
	case packet.PubKeyAlgoECDSA:
		return "ECDSA"
	case packet.PubKeyAlgoEdDSA, packet.PubKeyAlgoEd25519:
		return "EdDSA"
	}
	return fmt.Sprintf("algo%d", a)
}

// ReadKeyring reads OpenPGP public keys, armored or binary.
func ReadKeyring(data []byte) (openpgp.EntityList, error) {
	if strings.Contains(string(data), "-----BEGIN PGP") {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(data))
}
