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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sassoftware/relic/v7/lib/authenticode"

	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/timestamp"
)

// testCAKey keeps the key of each CA testIdentity made.
var testCAKey = map[*x509.Certificate]*rsa.PrivateKey{}

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
	testCAKey[ca] = caKey
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

// shortLivedIdentity is a CA and a code-signing leaf that expires a minute from now.
func shortLivedIdentity(t *testing.T) (*packaging.SigningIdentity, []byte, time.Time) {
	t.Helper()
	id, caPEM := testIdentity(t)
	ca := id.Certificates[1]
	caKey := testCAKey[ca]
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	notAfter := time.Now().Add(time.Minute).Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "pkgctl short-lived signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &packaging.SigningIdentity{Certificates: []*x509.Certificate{leaf, ca}, Key: key}, caPEM, notAfter
}

// TestSignFileTimestamped: osslsigncode shows the RFC 3161 countersignature;
// once the signing certificate has expired (osslsigncode -time an hour
// later), the time-stamped MSI still verifies and the plain one does not.
func TestSignFileTimestamped(t *testing.T) {
	osslsigncode := testenv.NeedTool(t, "osslsigncode", "osslsigncode")
	tsa := testenv.NewTSATB(t)
	ts, err := timestamp.New("windows-sign-timestamp-url", tsa.URL)
	if err != nil {
		t.Fatal(err)
	}
	l := testLayout(t, packaging.ArchAMD64, nil)
	id, caPEM, notAfter := shortLivedIdentity(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, caPEM, 0o644)
	tsaCA := filepath.Join(dir, "tsa-ca.pem")
	os.WriteFile(tsaCA, tsa.CA.CertPEM, 0o644)
	msi := build(t, l)
	sign := func(name string, withTS bool) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, msi, 0o644)
		signed := *id
		if withTS {
			signed.Timestamper = ts
		}
		l.Signing = &signed
		if err := (Packager{}).SignFile(context.Background(), l, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stamped, plain := sign("stamped.msi", true), sign("plain.msi", false)
	verify := func(p string, at time.Time) (string, error) {
		out, err := exec.Command(osslsigncode, "verify", "-CAfile", caFile, "-TSA-CAfile", tsaCA,
			"-time", strconv.FormatInt(at.Unix(), 10), "-in", p).CombinedOutput()
		return string(out), err
	}
	now, later := time.Now(), notAfter.Add(time.Hour)
	out, err := verify(stamped, now)
	if err != nil || !strings.Contains(out, "Timestamp Server Signature verification: ok") {
		t.Fatalf("osslsigncode verify of the time-stamped MSI: %v\n%s", err, out)
	}
	if out, err := verify(stamped, later); err != nil {
		t.Errorf("the time-stamped MSI does not verify after the certificate expired: %v\n%s", err, out)
	}
	if out, err := verify(plain, now); err != nil || strings.Contains(out, "Timestamp Server Signature") {
		t.Errorf("the plain MSI: %v\n%s", err, out)
	}
	if out, err := verify(plain, later); err == nil {
		t.Errorf("the MSI without a time stamp verifies after its certificate expired:\n%s", out)
	}
}

// TestSignFileTimestampServerDown: no silent fallback to an unstamped signature.
func TestSignFileTimestampServerDown(t *testing.T) {
	tsa := testenv.NewTSATB(t)
	tsa.FailNext(503, 503, 503, 503)
	ts, _ := timestamp.New("windows-sign-timestamp-url", tsa.URL)
	ts.Backoff = time.Millisecond
	l := testLayout(t, packaging.ArchAMD64, nil)
	id, _ := testIdentity(t)
	id.Timestamper = ts
	l.Signing = id
	p := filepath.Join(t.TempDir(), "x.msi")
	os.WriteFile(p, build(t, l), 0o644)
	err := (Packager{}).SignFile(context.Background(), l, p)
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") || !strings.Contains(err.Error(), tsa.URL) {
		t.Fatalf("err = %v, want the TSA's 503", err)
	}
}
