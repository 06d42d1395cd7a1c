package windows

import (
	"github.com/pkgctl/pkgctl/internal/testenv"

	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sassoftware/relic/v7/lib/authenticode"

	"github.com/pkgctl/pkgctl/packaging"
)

// testIdentity is a CA and a code-signing leaf it issued.
func testIdentity(t *testing.T) (*packaging.SigningIdentity, []byte) {
	t.Helper()
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pkgctl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "pkgctl test signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &packaging.SigningIdentity{Certificates: []*x509.Certificate{leaf, ca}, Key: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// TestSignFile signs a package; relic and osslsigncode verify it, and
// osslsigncode rejects it once one byte of the cab changes.
func TestSignFile(t *testing.T) {
	l := testLayout(t, packaging.ArchAMD64, nil)
	id, caPEM := testIdentity(t)
	l.Signing = id
	dir := t.TempDir()
	p := filepath.Join(dir, "signed.msi")
	os.WriteFile(p, build(t, l), 0o644)
	if err := (Packager{}).SignFile(context.Background(), l, p); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	sig, err := authenticode.VerifyMSI(f, false)
	f.Close()
	if err != nil {
		t.Fatalf("relic VerifyMSI: %v", err)
	}
	if !sig.Certificate.Equal(id.Certificates[0]) {
		t.Error("signed by another certificate")
	}
	osslsigncode := testenv.NeedTool(t, "osslsigncode", "osslsigncode")
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, caPEM, 0o644)
	if out, err := exec.Command(osslsigncode, "verify", "-CAfile", caFile, "-in", p).CombinedOutput(); err != nil {
		t.Fatalf("osslsigncode verify: %v\n%s", err, out)
	}
	// Two signed builds are the same bytes (RSA PKCS#1 v1.5, no timestamp).
	p2 := filepath.Join(dir, "signed2.msi")
	os.WriteFile(p2, build(t, l), 0o644)
	if err := (Packager{}).SignFile(context.Background(), l, p2); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(p)
	b, _ := os.ReadFile(p2)
	if string(a) != string(b) {
		t.Error("two signed builds differ")
	}
}
