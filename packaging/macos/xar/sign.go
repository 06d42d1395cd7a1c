package xar

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/sassoftware/relic/v7/lib/certloader"
	relicxar "github.com/sassoftware/relic/v7/lib/fruit/xar"
)

// Sign signs the xar archive at path in place with relic, as Apple's signed
// packages are: a classic RSA signature and a CMS x-signature over the TOC's
// SHA-1 checksum, each with the certificate chain (leaf first) in the TOC.
// The key must be RSA and match chain[0]. With no timestamper the signature
// is deterministic.
func Sign(ctx context.Context, path string, chain []*x509.Certificate, key crypto.Signer) error {
	if len(chain) == 0 {
		return errors.New("xar sign: no certificate")
	}
	if key == nil {
		return errors.New("xar sign: no private key")
	}
	pub, ok := chain[0].PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("xar sign: the certificate %q has a %T key; macOS package signing needs RSA", chain[0].Subject.CommonName, chain[0].PublicKey)
	}
	if !pub.Equal(key.Public()) {
		return fmt.Errorf("xar sign: the private key does not match the certificate %q", chain[0].Subject.CommonName)
	}
	cert := &certloader.Certificate{Leaf: chain[0], Certificates: chain, PrivateKey: key}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("xar sign: %w", err)
	}
	defer f.Close()
	patch, _, err := relicxar.Sign(ctx, f, cert, crypto.SHA1)
	if err != nil {
		return fmt.Errorf("xar sign %s: %w", path, err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return fmt.Errorf("xar sign %s: %w", path, err)
	}
	if err := patch.Apply(f, path); err != nil {
		return fmt.Errorf("xar sign %s: write signature: %w", path, err)
	}
	return f.Close()
}

// VerifySignature checks the classic RSA signature over the TOC checksum
// with the leaf certificate from the TOC, and, when roots is not nil, that
// the TOC's chain leads to one of roots. It returns the chain as listed in
// the TOC. It does not read the members: call Verify for their checksums.
func (x *Reader) VerifySignature(roots *x509.CertPool) ([]*x509.Certificate, error) {
	sig := x.Signature
	if sig == nil {
		return nil, errors.New("xar: the archive is not signed")
	}
	if sig.Style != "RSA" {
		return nil, fmt.Errorf("xar: unsupported signature style %q", sig.Style)
	}
	if len(sig.Certificates) == 0 {
		return nil, errors.New("xar: the signature carries no certificate")
	}
	leaf := sig.Certificates[0]
	pub, ok := leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("xar: signing certificate has a %T key, want RSA", leaf.PublicKey)
	}
	if err := rsa.VerifyPKCS1v15(pub, x.HashFunc, x.TOCHash, sig.Data); err != nil {
		return nil, fmt.Errorf("xar: RSA signature over the TOC does not verify: %w", err)
	}
	if roots != nil {
		inter := x509.NewCertPool()
		for _, c := range sig.Certificates[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return nil, fmt.Errorf("xar: signing certificate chain: %w", err)
		}
	}
	return sig.Certificates, nil
}
