// Package cloudfront signs and verifies Amazon CloudFront signed URLs and
// signed cookies (canned and custom policies, RSA 2048 or ECDSA P-256 keys,
// SHA-1 or SHA-256) and generates CloudFront key pairs.
package cloudfront

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pkgctl/pkgctl/internal/flagfile"
)

// maxKeyFileSize bounds how much of a private key file is read.
const maxKeyFileSize = 64 << 10

// LoadPrivateKey loads a CloudFront private key from pathOrPEM: either the PEM
// text itself, in which literal `\n` sequences stand for newlines (as Fleet
// accepts a key from an environment variable), or the path of a PEM file. It
// accepts PKCS#1 RSA, PKCS#8 RSA or ECDSA, and SEC1 EC keys; RSA keys must have
// at least 2048 bits and EC keys must be on P-256.
//
// Errors never contain the argument or any part of the key: a misplaced PEM
// must not end up in a log.
func LoadPrivateKey(pathOrPEM string) (crypto.Signer, error) {
	var data []byte
	if strings.Contains(pathOrPEM, "-----BEGIN") {
		data = []byte(strings.ReplaceAll(strings.ReplaceAll(pathOrPEM, `\r\n`, "\n"), `\n`, "\n"))
	} else {
		if strings.TrimSpace(pathOrPEM) == "" {
			return nil, errors.New("cloudfront: private key: neither a file path nor a PEM given")
		}
		var err error
		if data, err = readKeyFile(pathOrPEM); err != nil {
			return nil, err
		}
	}
	return ParsePrivateKeyPEM(data)
}

// readKeyFile reads a key file; its error leaves the path out because the
// argument may be a key that merely lacks its PEM header.
func readKeyFile(path string) ([]byte, error) {
	data, err := flagfile.Read(path, maxKeyFileSize)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cloudfront: private key: not PEM text, and cannot open it as a file: %w", err)
	}
	return data, nil
}

// ParsePrivateKeyPEM parses the first private key PEM block in data (see
// LoadPrivateKey for the accepted formats). Errors never contain key bytes.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	var block *pem.Block
	for rest := data; ; {
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("cloudfront: private key: no PEM private key block found")
		}
		if strings.Contains(block.Type, "PRIVATE KEY") {
			break
		}
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
		return nil, errors.New("cloudfront: private key: encrypted private keys are not supported; decrypt it first (openssl pkey)")
	}
	// The parsers' own errors are dropped on purpose: only our messages, which
	// cannot carry key bytes, leave this function.
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("cloudfront: private key: unsupported PEM block type %q (want RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cloudfront: private key: malformed %s block", block.Type)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("cloudfront: private key: unsupported key type %T", key)
	}
	if err := checkPublicKey(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// checkPublicKey accepts the key kinds CloudFront takes: RSA of at least 2048
// bits and ECDSA on P-256.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 {
			return fmt.Errorf("cloudfront: RSA key of %d bits refused: CloudFront needs RSA 2048", n)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("cloudfront: ECDSA key on %s refused: CloudFront needs P-256", k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("cloudfront: %s key refused: CloudFront needs RSA 2048 or ECDSA P-256", keyKind(pub))
	}
	return nil
}

func keyKind(pub crypto.PublicKey) string {
	s := fmt.Sprintf("%T", pub)
	s = strings.TrimPrefix(s, "*")
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	return s
}

// GenerateKey creates a CloudFront key pair of kind "rsa" (2048 bits) or
// "ecdsa" (P-256). It returns the private key as PKCS#8 ("PRIVATE KEY") PEM
// and the public key as PKIX ("PUBLIC KEY") PEM, the form a CloudFront key
// group imports.
func GenerateKey(kind string) (privPEM, pubPEM []byte, err error) {
	var key crypto.Signer
	switch strings.ToLower(kind) {
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa", "ec":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, nil, fmt.Errorf("cloudfront: unknown key type %q (want rsa or ecdsa)", kind)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cloudfront: generate %s key: %w", kind, err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("cloudfront: encode private key: %w", err)
	}
	pub, err := MarshalPublicKeyPEM(key.Public())
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), pub, nil
}

// MarshalPublicKeyPEM encodes pub as PKIX ("PUBLIC KEY") PEM.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("cloudfront: encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM parses a PKIX ("PUBLIC KEY") PEM, as CloudFront key groups
// hold it, for Verify.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("cloudfront: public key: no PUBLIC KEY PEM block found")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cloudfront: public key: %w", err)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}
