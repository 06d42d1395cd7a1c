package packaging

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"reflect"
)

// SigningIdentity is a certificate chain and its private key, used by the
// formats that sign (pkg: xar signature; msi: Authenticode).
type SigningIdentity struct {
	Certificates []*x509.Certificate // leaf first, then intermediates
	Key          crypto.Signer
}

// FileSigner is implemented by formats that sign the finished installer in place.
// Build calls it on the temporary output file, before the rename, when the
// Layout has a signing identity.
type FileSigner interface {
	SignFile(ctx context.Context, l *Layout, path string) error
}

// ParsePEMIdentity reads a certificate chain and one private key from PEM data
// (the form of --macos-devid-pem-content: `openssl pkcs12 -nodes` output). what
// names the flag or file in errors; the key's bytes never appear in one.
func ParsePEMIdentity(what string, data ...[]byte) (*SigningIdentity, error) {
	id := &SigningIdentity{}
	var keys []crypto.Signer
	for _, d := range data {
		for {
			var b *pem.Block
			b, d = pem.Decode(d)
			if b == nil {
				break
			}
			switch b.Type {
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return nil, fmt.Errorf("%s: parse certificate: %w", what, err)
				}
				id.Certificates = append(id.Certificates, c)
			case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
				k, err := parsePrivateKey(b)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", what, err)
				}
				keys = append(keys, k)
			case "ENCRYPTED PRIVATE KEY":
				return nil, fmt.Errorf("%s: the private key is encrypted; give it unencrypted (openssl pkcs12 -nodes)", what)
			}
		}
	}
	switch {
	case len(id.Certificates) == 0:
		return nil, fmt.Errorf("%s: no PEM certificate found", what)
	case len(keys) == 0:
		return nil, fmt.Errorf("%s: no PEM private key found", what)
	case len(keys) > 1:
		return nil, fmt.Errorf("%s: %d private keys found, want one", what, len(keys))
	}
	id.Key = keys[0]
	if err := id.orderChain(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return id, nil
}

// orderChain puts the certificate that matches the key first.
func (id *SigningIdentity) orderChain() error {
	for i, c := range id.Certificates {
		if publicKeysEqual(c.PublicKey, id.Key.Public()) {
			id.Certificates[0], id.Certificates[i] = id.Certificates[i], id.Certificates[0]
			return nil
		}
	}
	return errors.New("the private key does not match any of the certificates")
}

func parsePrivateKey(b *pem.Block) (crypto.Signer, error) {
	var k any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		// The parser's message never includes key bytes, but keep ours generic.
		return nil, errors.New("the private key cannot be parsed (want PKCS#1, PKCS#8 or SEC 1 PEM)")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := a.(equaler); ok {
		return e.Equal(b)
	}
	return reflect.DeepEqual(a, b)
}

// signingIdentityFor loads the identity that signs o.Type's installer, or nil
// when the build is not signed.
func signingIdentityFor(o *Options) (*SigningIdentity, error) {
	var id *SigningIdentity
	var err error
	flag := ""
	switch {
	case o.Type == TypePkg && o.MacOSDevIDCertificateContent != "":
		flag = "--macos-devid-pem-content"
		id, err = ParsePEMIdentity(flag, []byte(o.MacOSDevIDCertificateContent))
	case o.Type == TypePkg && o.MacOSDevIDPEM != "":
		flag = "--macos-devid-pem " + o.MacOSDevIDPEM
		data, rerr := os.ReadFile(o.MacOSDevIDPEM)
		if rerr != nil {
			return nil, fmt.Errorf("read --macos-devid-pem %s: %w", o.MacOSDevIDPEM, errors.Unwrap(rerr))
		}
		id, err = ParsePEMIdentity(flag, data)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A package signature is RSA (productsign, relic): refuse other keys now,
	// naming the flag, rather than after the package is written.
	if _, ok := id.Key.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("%s: the key is %s; macOS package signing needs an RSA Developer ID Installer key", flag, keyKind(id.Key.Public()))
	}
	return id, nil
}

func keyKind(k crypto.PublicKey) string {
	switch k.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", k)
}
