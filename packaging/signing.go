package packaging

import (
	"bytes"
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
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/sassoftware/relic/v7/lib/pkcs9"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/pkgctl/pkgctl/internal/flagfile"
	"github.com/pkgctl/pkgctl/timestamp"
)

// SigningIdentity is a certificate chain and its private key, used by the
// formats that sign (pkg: xar signature; msi: Authenticode).
type SigningIdentity struct {
	Certificates []*x509.Certificate // leaf first, then intermediates
	Key          crypto.Signer
	// Timestamper adds an RFC 3161 time stamp to the signature; nil for none.
	Timestamper pkcs9.Timestamper
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

// signingIdentityFor loads the identity that signs o.Type's installer, with
// its time-stamping server, or nil when the build is not signed.
func signingIdentityFor(o *Options) (*SigningIdentity, error) {
	id, err := loadSigningIdentity(o)
	if id == nil || err != nil {
		return id, err
	}
	flag, raw := "macos-sign-timestamp-url", o.MacOSSignTimestampURL
	if o.Type == TypeMSI {
		flag, raw = "windows-sign-timestamp-url", o.WindowsSignTimestampURL
	}
	ts, err := timestamp.New(flag, raw)
	if err != nil {
		return nil, flagErr(flag, "%v", err)
	}
	if ts != nil {
		ts.UserAgent = "pkgctl"
		id.Timestamper = ts
	}
	return id, nil
}

// loadSigningIdentity reads the certificate and key that sign o.Type's
// installer, or returns nil when the build is not signed.
func loadSigningIdentity(o *Options) (*SigningIdentity, error) {
	var id *SigningIdentity
	var err error
	flag := ""
	switch {
	case o.Type == TypePkg && o.MacOSDevIDCertificateContent != "":
		flag = "--macos-devid-pem-content"
		id, err = ParsePEMIdentity(flag, []byte(o.MacOSDevIDCertificateContent))
	case o.Type == TypePkg && o.MacOSDevIDPEM != "":
		flag = "--macos-devid-pem " + o.MacOSDevIDPEM
		data, rerr := flagfile.Read(o.MacOSDevIDPEM, flagfile.MaxSize)
		if rerr != nil {
			return nil, fmt.Errorf("read --macos-devid-pem %s: %w", o.MacOSDevIDPEM, errors.Unwrap(rerr))
		}
		id, err = ParsePEMIdentity(flag, data)
	case o.Type == TypeMSI && o.WindowsSignCertificate != "":
		return windowsIdentity(o)
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

// WindowsSignPasswordEnv holds the password of a --windows-sign-certificate
// PKCS#12 file (never a flag: it would show in the process list).
const WindowsSignPasswordEnv = "PKGCTL_WINDOWS_SIGN_PASSWORD"

// windowsIdentity loads the Authenticode identity of --windows-sign-certificate
// (a PEM chain with --windows-sign-key, or a PKCS#12 .p12/.pfx file).
func windowsIdentity(o *Options) (*SigningIdentity, error) {
	const certFlag, keyFlag = "--windows-sign-certificate", "--windows-sign-key"
	cert, err := flagfile.Read(o.WindowsSignCertificate, flagfile.MaxSize)
	if err != nil {
		return nil, &FlagError{Flag: certFlag[2:], Msg: fmt.Sprintf("read %s %s", certFlag, o.WindowsSignCertificate), Err: err}
	}
	if isPKCS12(o.WindowsSignCertificate, cert) {
		if o.WindowsSignKey != "" {
			return nil, flagErr(keyFlag[2:], "%s is a PKCS#12 file, which holds the key: drop %s", certFlag, keyFlag)
		}
		password, set := os.LookupEnv(WindowsSignPasswordEnv)
		key, leaf, chain, err := pkcs12.DecodeChain(cert, password)
		if errors.Is(err, pkcs12.ErrIncorrectPassword) && !set {
			return nil, flagErr(certFlag[2:], "%s %s is protected by a password and %s is not set: set it to the file's password", certFlag, o.WindowsSignCertificate, WindowsSignPasswordEnv)
		}
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, flagErr(certFlag[2:], "%s %s: wrong password (set it in %s)", certFlag, o.WindowsSignCertificate, WindowsSignPasswordEnv)
		}
		if err != nil {
			return nil, flagErr(certFlag[2:], "%s %s: not a readable PKCS#12 file: %v", certFlag, o.WindowsSignCertificate, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, flagErr(certFlag[2:], "%s %s: its private key (%T) cannot sign", certFlag, o.WindowsSignCertificate, key)
		}
		id := &SigningIdentity{Certificates: append([]*x509.Certificate{leaf}, chain...), Key: signer}
		if err := id.orderChain(); err != nil {
			return nil, flagErr(certFlag[2:], "%s %s: %v", certFlag, o.WindowsSignCertificate, err)
		}
		return checkCodeSigning(certFlag, id)
	}
	if o.WindowsSignKey == "" {
		return nil, flagErr(keyFlag[2:], "%s is PEM: give its private key with %s (or use a PKCS#12 file)", certFlag, keyFlag)
	}
	key, err := flagfile.Read(o.WindowsSignKey, flagfile.MaxSize)
	if err != nil {
		return nil, &FlagError{Flag: keyFlag[2:], Msg: fmt.Sprintf("read %s %s", keyFlag, o.WindowsSignKey), Err: err}
	}
	if !hasPEMBlock(cert, "CERTIFICATE") {
		return nil, flagErr(certFlag[2:], "%s %s: no PEM certificate found", certFlag, o.WindowsSignCertificate)
	}
	if !hasPEMBlock(key, "PRIVATE KEY") {
		return nil, flagErr(keyFlag[2:], "%s %s: no PEM private key found", keyFlag, o.WindowsSignKey)
	}
	id, err := ParsePEMIdentity(certFlag+" and "+keyFlag, cert, key)
	if err != nil {
		return nil, &FlagError{Flag: keyFlag[2:], Msg: err.Error()}
	}
	return checkCodeSigning(certFlag, id)
}

// checkCodeSigning refuses a leaf that Windows would not accept for code, and
// keys Authenticode cannot use.
func checkCodeSigning(flag string, id *SigningIdentity) (*SigningIdentity, error) {
	leaf := id.Certificates[0]
	switch id.Key.Public().(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, flagErr(flag[2:], "%s: %T keys cannot sign Authenticode (use RSA or ECDSA)", flag, id.Key.Public())
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil, flagErr(flag[2:], "%s: certificate %q is not for code signing (no codeSigning extended key usage)", flag, leaf.Subject.CommonName)
	}
	return id, nil
}

func isPKCS12(name string, data []byte) bool {
	ext := strings.ToLower(filepath.Ext(name))
	if ext == ".p12" || ext == ".pfx" {
		return true
	}
	// DER SEQUENCE and no PEM armour.
	return len(data) > 0 && data[0] == 0x30 && !bytes.Contains(data, []byte("-----BEGIN"))
}
