package xar

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/sassoftware/relic/v7/lib/certloader"
	relicxar "github.com/sassoftware/relic/v7/lib/fruit/xar"
	"github.com/sassoftware/relic/v7/lib/pkcs7"
	"github.com/sassoftware/relic/v7/lib/pkcs9"
)

// Sign signs the xar archive at path in place with relic, as Apple's signed
// packages are: a classic RSA signature and a CMS x-signature over the TOC's
// SHA-1 checksum, each with the certificate chain (leaf first) in the TOC.
// The key must be RSA and match chain[0]. ts, when not nil, adds an RFC 3161
// time-stamp token to the CMS signature (productsign's secure timestamp); with
// none the signature is deterministic.
func Sign(ctx context.Context, path string, chain []*x509.Certificate, key crypto.Signer, ts pkcs9.Timestamper) error {
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
	cert := &certloader.Certificate{Leaf: chain[0], Certificates: chain, PrivateKey: key, Timestamper: ts}
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
	// Apply rewrites through a temporary file and renames it over path
	// (closing f) unless it can patch in place.
	if err := patch.Apply(f, path); err != nil {
		return fmt.Errorf("xar sign %s: write signature: %w", path, err)
	}
	if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("xar sign %s: %w", path, err)
	}
	return nil
}

// VerifySignature checks the classic RSA signature over the TOC checksum
// with the leaf certificate from the TOC, the CMS x-signature (when present)
// over the same checksum by the same certificate, and, when roots is not
// nil, that the TOC's chain leads to one of roots. It returns the chain as listed in
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
	if x.XSignature != nil {
		if err := verifyCMS(x.XSignature.Data, x.TOCHash, leaf); err != nil {
			return nil, err
		}
	}
	if roots != nil {
		// A time-stamped signature stays valid after its certificate expires:
		// the chain is checked at the time the TSA vouches for (as Gatekeeper does).
		var at time.Time
		if ts, err := x.Timestamp(); err != nil {
			return nil, err
		} else if ts != nil {
			at = ts.SigningTime
		}
		inter := x509.NewCertPool()
		for _, c := range sig.Certificates[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return nil, fmt.Errorf("xar: signing certificate chain: %w", err)
		}
	}
	return sig.Certificates, nil
}

// Timestamp returns the RFC 3161 time stamp of the CMS signature, checked
// against the signature it countersigns (not its chain: see
// pkcs9.CounterSignature.VerifyChain), or nil when the signature has none.
func (x *Reader) Timestamp() (*pkcs9.CounterSignature, error) {
	if x.XSignature == nil {
		return nil, nil
	}
	psd, err := parseCMS(x.XSignature.Data)
	if err != nil {
		return nil, err
	}
	sig, err := psd.Content.Verify(x.TOCHash, false)
	if err != nil {
		return nil, fmt.Errorf("xar: CMS signature over the TOC does not verify: %w", err)
	}
	ts, err := pkcs9.VerifyPkcs7(sig)
	if err != nil {
		return nil, fmt.Errorf("xar: time stamp of the CMS signature: %w", err)
	}
	return ts, nil
}

func parseCMS(data []byte) (*pkcs7.ContentInfoSignedData, error) {
	pkt, err := ber.DecodePacketErr(data)
	if err != nil {
		return nil, fmt.Errorf("xar: CMS signature: %w", err)
	}
	psd, err := pkcs7.Unmarshal(pkt.Bytes())
	if err != nil {
		return nil, fmt.Errorf("xar: CMS signature: %w", err)
	}
	return psd, nil
}

// verifyCMS checks a detached CMS signature over content (the TOC checksum)
// and that leaf made it. Apple writes BER; relic's pkcs7 wants DER.
func verifyCMS(data, content []byte, leaf *x509.Certificate) error {
	psd, err := parseCMS(data)
	if err != nil {
		return err
	}
	sig, err := psd.Content.Verify(content, false)
	if err != nil {
		return fmt.Errorf("xar: CMS signature over the TOC does not verify: %w", err)
	}
	if !sig.Certificate.Equal(leaf) {
		return errors.New("xar: the CMS and RSA signatures were made by different certificates")
	}
	return nil
}
