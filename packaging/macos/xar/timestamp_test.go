package xar_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sassoftware/relic/v7/lib/pkcs9"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
	"github.com/pkgctl/pkgctl/timestamp"
)

// TestSignTimestamped: the CMS signature of a time-stamped pkg carries an
// RFC 3161 token that openssl prints; with a certificate that expires a minute
// after signing, the signature checked an hour after expiry holds only with
// the time stamp (relic checks the chain at the token's time; openssl -attime,
// which ignores time stamps, refuses the expired certificate).
func TestSignTimestamped(t *testing.T) {
	openssl := testenv.NeedTool(t, "openssl", "openssl")
	tsa := testenv.NewTSATB(t)
	ts, err := timestamp.New("macos-sign-timestamp-url", tsa.URL)
	if err != nil {
		t.Fatal(err)
	}
	id := newIdentity(t)
	notAfter := time.Now().Add(time.Minute).Truncate(time.Second)
	certPEM, keyPEM, err := id.inter.IssueCodeSigningValidity("Developer ID Installer: short-lived (TESTTEAMID)", time.Now().Add(-time.Hour), notAfter)
	if err != nil {
		t.Fatal(err)
	}
	sigID, err := parseIdentity(certPEM, keyPEM, id.inter.Cert)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := testFiles(t)
	dir := t.TempDir()
	rootFile := writePEM(t, dir, "root.pem", id.root.Cert)
	later := notAfter.Add(time.Hour)
	roots := x509.NewCertPool()
	roots.AddCert(id.root.Cert)
	roots.AddCert(tsa.CA.Cert)

	for _, stamped := range []bool{true, false} {
		path := writeXar(t, files)
		var tsr pkcs9.Timestamper
		if stamped {
			tsr = ts
		}
		if err := xar.Sign(context.Background(), path, sigID.chain, sigID.key, tsr); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		x, err := xar.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		var raw asn1.RawValue
		if _, err := asn1.Unmarshal(x.XSignature.Data, &raw); err != nil {
			t.Fatal(err)
		}
		cms := filepath.Join(dir, "cms.der")
		os.WriteFile(cms, raw.FullBytes, 0o644)
		out, err := exec.Command(openssl, "cms", "-cmsout", "-print", "-inform", "DER", "-in", cms).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl cms -print: %v\n%s", err, out)
		}
		if got := strings.Contains(string(out), "id-smime-aa-timeStampToken"); got != stamped {
			t.Errorf("stamped=%v: openssl shows a timeStampToken: %v", stamped, got)
		}
		digest := filepath.Join(dir, "toc.sha1")
		os.WriteFile(digest, x.TOCHash, 0o644)
		opensslAt := func(at time.Time) error {
			return exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", cms, "-content", digest,
				"-CAfile", rootFile, "-purpose", "any", "-attime", strconv.FormatInt(at.Unix(), 10), "-out", os.DevNull).Run()
		}
		if err := opensslAt(time.Now()); err != nil {
			t.Errorf("stamped=%v: openssl cms -verify now: %v", stamped, err)
		}
		if err := opensslAt(later); err == nil {
			t.Errorf("stamped=%v: openssl accepts the expired certificate", stamped)
		}

		tok, err := x.Timestamp()
		if err != nil || (tok != nil) != stamped {
			t.Fatalf("stamped=%v: Timestamp() = %v, %v", stamped, tok, err)
		}
		// What a verifier does after expiry: the chain at the token's time, else at now (later).
		at := later
		if stamped {
			if err := tok.VerifyChain(roots, nil); err != nil {
				t.Fatalf("the TSA's chain: %v", err)
			}
			at = tok.SigningTime
		}
		_, verr := sigID.chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: pool(sigID.chain[1:]...), CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if stamped && verr != nil {
			t.Errorf("the time-stamped signature does not hold after expiry: %v", verr)
		}
		if !stamped && verr == nil {
			t.Error("the signature without a time stamp holds after its certificate expired")
		}
		if _, err := x.VerifySignature(roots); err != nil {
			t.Errorf("stamped=%v: VerifySignature: %v", stamped, err)
		}
	}
}

// TestSignTimestampServerDown: signing fails, naming the server; nothing is
// signed without the time stamp that was asked for.
func TestSignTimestampServerDown(t *testing.T) {
	tsa := testenv.NewTSATB(t)
	ts, _ := timestamp.New("macos-sign-timestamp-url", tsa.URL)
	ts.Backoff = time.Millisecond
	tsa.Close()
	id := newIdentity(t)
	files, _ := testFiles(t)
	path := writeXar(t, files)
	before, _ := os.ReadFile(path)
	err := xar.Sign(context.Background(), path, id.chain, id.key, ts)
	if err == nil || !strings.Contains(err.Error(), "not reachable") || !strings.Contains(err.Error(), tsa.URL) {
		t.Fatalf("err = %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the archive changed although signing failed")
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func parseIdentity(certPEM, keyPEM []byte, inter *x509.Certificate) (*identity, error) {
	cb, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	return &identity{chain: []*x509.Certificate{leaf, inter}, key: k.(crypto.Signer)}, nil
}
