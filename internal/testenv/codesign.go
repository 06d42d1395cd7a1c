package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"time"
)

// NewIntermediate issues a subordinate CA (ECDSA P-256), like Apple's
// "Developer ID Certification Authority" under its root.
func (ca *CA) NewIntermediate(commonName string) (*CA, error) {
	sub, err := NewCA(commonName) // a fresh key; re-signed below by ca
	if err != nil {
		return nil, err
	}
	tmpl := *sub.Cert
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.Cert, sub.Key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("create intermediate certificate %q: %w", commonName, err)
	}
	if sub.Cert, err = x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("parse intermediate certificate %q: %w", commonName, err)
	}
	sub.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return sub, nil
}

// IssueCodeSigning issues an RSA 2048 certificate with extKeyUsage
// codeSigning, shaped like a Developer ID Installer certificate, valid
// now-1h .. now+1y. The key is PKCS#8 PEM.
func (ca *CA) IssueCodeSigning(commonName string) (certPEM, keyPEM []byte, err error) {
	now := time.Now()
	return ca.IssueCodeSigningValidity(commonName, now.Add(-time.Hour), now.AddDate(1, 0, 0))
}

// IssueCodeSigningValidity is IssueCodeSigning valid from notBefore to
// notAfter (a certificate that expires in seconds, for time-stamp tests).
func (ca *CA) IssueCodeSigningValidity(commonName string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate RSA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, OrganizationalUnit: []string{"TESTTEAMID"}, Organization: []string{"pkgctl testenv"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue code-signing certificate %q: %w", commonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
