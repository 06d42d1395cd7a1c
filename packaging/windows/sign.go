package windows

import (
	"context"
	"crypto"
	"fmt"
	"os"

	"github.com/sassoftware/relic/v7/lib/authenticode"
	"github.com/sassoftware/relic/v7/lib/certloader"
	"github.com/sassoftware/relic/v7/lib/comdoc"

	"github.com/pkgctl/pkgctl/packaging"
)

// SignFile Authenticode-signs the finished .msi at path in place with
// l.Signing (SHA-256, with the MsiDigitalSignatureEx stream that also covers
// the storage metadata). With l.Signing.Timestamper, the signature gets an
// RFC 3161 countersignature in its unauthenticated attributes (what signtool
// /tr adds). Without one, RSA signatures are
// deterministic, so a signed build is reproducible too.
func (Packager) SignFile(ctx context.Context, l *packaging.Layout, path string) error {
	id := l.Signing
	if id == nil || len(id.Certificates) == 0 || id.Key == nil {
		return fmt.Errorf("msi: sign %s: no signing identity", path)
	}
	cert := &certloader.Certificate{Leaf: id.Certificates[0], Certificates: id.Certificates, PrivateKey: id.Key, Timestamper: id.Timestamper}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("msi: sign: %w", err)
	}
	defer f.Close()
	cdf, err := comdoc.ReadFile(f)
	if err != nil {
		return fmt.Errorf("msi: sign: read compound file: %w", err)
	}
	const hash = crypto.SHA256
	exsig, err := authenticode.PrehashMSI(cdf, hash)
	if err != nil {
		return fmt.Errorf("msi: sign: prehash: %w", err)
	}
	imprint, _, err := authenticode.DigestMSI(cdf, hash, true)
	if err != nil {
		return fmt.Errorf("msi: sign: digest: %w", err)
	}
	ts, err := authenticode.SignMSIImprint(ctx, imprint, hash, cert, &authenticode.OpusParams{Description: ProductName, URL: packaging.PackageHomepage})
	if err != nil {
		return fmt.Errorf("msi: sign: %w", err)
	}
	wdf, err := comdoc.WriteFile(f)
	if err != nil {
		return fmt.Errorf("msi: sign: reopen for writing: %w", err)
	}
	if err := authenticode.InsertMSISignature(wdf, ts.Raw, exsig); err != nil {
		return fmt.Errorf("msi: sign: insert signature: %w", err)
	}
	if err := wdf.Close(); err != nil {
		return fmt.Errorf("msi: sign: write: %w", err)
	}
	return f.Close()
}
