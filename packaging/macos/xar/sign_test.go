package xar_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	relicxar "github.com/sassoftware/relic/v7/lib/fruit/xar"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// identity is a Developer ID-like chain: root CA → intermediate → RSA leaf.
type identity struct {
	root, inter *testenv.CA
	chain       []*x509.Certificate
	key         crypto.Signer
}

func newIdentity(t testing.TB) *identity {
	t.Helper()
	root, err := testenv.NewCA("pkgctl test Apple Root CA")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("pkgctl test Developer ID Certification Authority")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := inter.IssueCodeSigning("Developer ID Installer: pkgctl test (TESTTEAMID)")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &identity{root: root, inter: inter, chain: []*x509.Certificate{leaf, inter.Cert}, key: k.(crypto.Signer)}
}

func signedXar(t *testing.T, id *identity, files ...xar.File) string {
	t.Helper()
	if files == nil {
		files, _ = testFiles(t)
	}
	path := writeXar(t, files)
	if err := xar.Sign(context.Background(), path, id.chain, id.key, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func writePEM(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// opensslVerify checks the signed xar at path with openssl only: it cuts the
// compressed TOC out of the file by the header's length, digests it with
// openssl, and checks the RSA and CMS signatures (from the heap offsets the
// TOC gives) against the certificates the TOC carries, chained to rootPEM.
func opensslVerify(t *testing.T, path, rootPEM string) error {
	t.Helper()
	openssl := testenv.NeedTool(t, "openssl", "openssl")
	dir := t.TempDir()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := xar.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	if x.Signature == nil || x.XSignature == nil {
		t.Fatal("no signature or x-signature in the TOC")
	}
	heap := 28 + int64(binary.BigEndian.Uint64(b[8:]))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		return p
	}
	toc := write("toc.z", b[28:heap])
	run := func(args ...string) error {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			return &opensslError{args, string(out), err}
		}
		return nil
	}
	digest := filepath.Join(dir, "toc.sha1")
	if err := run("dgst", "-sha1", "-binary", "-out", digest, toc); err != nil {
		t.Fatal(err)
	}
	sig := write("sig.bin", b[heap+x.Signature.Offset:heap+x.Signature.Offset+x.Signature.Size])
	leaf := writePEM(t, dir, "leaf.pem", x.Signature.Certificates[0])
	inter := writePEM(t, dir, "inter.pem", x.Signature.Certificates[1:]...)
	pub := filepath.Join(dir, "pub.pem")
	if err := run("x509", "-in", leaf, "-pubkey", "-noout", "-out", pub); err != nil {
		t.Fatal(err)
	}
	if err := run("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-pkeyopt", "digest:sha1", "-in", digest, "-sigfile", sig); err != nil {
		return err
	}
	if err := run("verify", "-CAfile", rootPEM, "-untrusted", inter, "-purpose", "any", leaf); err != nil {
		return err
	}
	// The CMS signature is detached over the TOC digest.
	cms := write("cms.der", bytes.TrimRight(b[heap+x.XSignature.Offset:heap+x.XSignature.Offset+x.XSignature.Size], "\x00"))
	return run("cms", "-verify", "-binary", "-inform", "DER", "-in", cms, "-content", digest, "-CAfile", rootPEM, "-purpose", "any", "-out", os.DevNull)
}

type opensslError struct {
	args []string
	out  string
	err  error
}

func (e *opensslError) Error() string {
	return "openssl " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.out
}

func relicVerify(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, _ := f.Stat()
	x, err := relicxar.Open(f, st.Size())
	if err != nil {
		return err
	}
	_, err = x.Verify(false)
	return err
}

func TestSignedXarVerifies(t *testing.T) {
	id := newIdentity(t)
	path := signedXar(t, id)
	rootPEM := writePEM(t, t.TempDir(), "root.pem", id.root.Cert)

	if err := opensslVerify(t, path, rootPEM); err != nil {
		t.Errorf("openssl rejects our signature: %v", err)
	}
	if err := relicVerify(path); err != nil {
		t.Errorf("relic rejects our signature: %v", err)
	}
	x := openXar(t, path)
	chain, err := x.VerifySignature(id.root.Pool())
	if err != nil {
		t.Errorf("VerifySignature: %v", err)
	} else if len(chain) != 2 || !chain[0].Equal(id.chain[0]) || !chain[1].Equal(id.chain[1]) {
		t.Errorf("TOC chain %d certificates, want leaf and intermediate", len(chain))
	}
	if err := x.Verify(); err != nil {
		t.Errorf("member checksums after signing: %v", err)
	}
	if x.XSignature == nil || x.XSignature.Style != "CMS" || len(x.XSignature.Certificates) != 2 {
		t.Errorf("x-signature %+v", x.XSignature)
	}
	// Another CA does not vouch for it.
	other, _ := testenv.NewCA("someone else")
	if _, err := x.VerifySignature(other.Pool()); err == nil {
		t.Error("VerifySignature accepted a chain to another root")
	}
	otherPEM := writePEM(t, t.TempDir(), "other.pem", other.Cert)
	if err := opensslVerify(t, path, otherPEM); err == nil {
		t.Error("openssl accepted a chain to another root")
	}

	// bsdtar and 7z still read and extract the signed package.
	bsdtar := testenv.NeedTool(t, "bsdtar", "libarchive-tools")
	dir := t.TempDir()
	if out, err := testenv.Command(bsdtar, "-xf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Errorf("bsdtar -xf of the signed xar: %v\n%s", err, out)
	}
	_, content := testFiles(t)
	if b, _ := os.ReadFile(filepath.Join(dir, "base.pkg/PackageInfo")); !bytes.Equal(b, content["base.pkg/PackageInfo"]) {
		t.Error("PackageInfo differs after signing")
	}
	if out, err := exec.Command(testenv.NeedTool(t, "7z", "p7zip-full"), "l", path).CombinedOutput(); err != nil || !strings.Contains(string(out), "base.pkg/Payload") {
		t.Errorf("7z l of the signed xar: %v\n%s", err, out)
	}
}

func TestSignatureFailsAfterOneByteChange(t *testing.T) {
	id := newIdentity(t)
	path := signedXar(t, id)
	rootPEM := writePEM(t, t.TempDir(), "root.pem", id.root.Cert)
	orig, _ := os.ReadFile(path)
	heap := headerAndTOCSize(orig)
	x := openXar(t, path)

	for _, tc := range []struct {
		name string
		off  int64
	}{
		{"TOC byte", 28 + (heap-28)/2},
		{"RSA signature byte", heap + x.Signature.Offset + 10},
		// The end of the DER is the CMS signer's signature value.
		{"CMS signature byte", heap + x.XSignature.Offset + int64(len(bytes.TrimRight(x.XSignature.Data, "\x00"))) - 10},
		{"payload byte", heap + x.File("base.pkg/Payload").Offset + 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			b[tc.off] ^= 0x01
			p := filepath.Join(t.TempDir(), "changed.pkg")
			os.WriteFile(p, b, 0o644)
			if tc.name == "payload byte" {
				// The signature covers the TOC, the TOC the member checksums.
				if err := relicVerify(p); err == nil {
					t.Error("relic accepted a changed payload")
				}
				xr := openXar(t, p)
				if err := xr.Verify(); err == nil {
					t.Error("Verify accepted a changed payload")
				}
				if out, err := testenv.Command(testenv.NeedTool(t, "bsdtar", "libarchive-tools"), "-xf", p, "-C", t.TempDir()).CombinedOutput(); err == nil {
					t.Errorf("bsdtar accepted a changed payload:\n%s", out)
				}
				return
			}
			if err := opensslVerify(t, p, rootPEM); err == nil {
				t.Error("openssl accepted the changed file")
			}
			// relic checks only the CMS signature when there is one.
			if err := relicVerify(p); err == nil && tc.name != "RSA signature byte" {
				t.Error("relic accepted the changed file")
			}
			if xr, err := xar.Open(bytes.NewReader(b), int64(len(b))); err == nil {
				if _, err := xr.VerifySignature(id.root.Pool()); err == nil {
					t.Error("VerifySignature accepted the changed file")
				}
			}
		})
	}
}

func TestSigningIsReproducible(t *testing.T) {
	id := newIdentity(t)
	files, _ := testFiles(t)
	a, _ := os.ReadFile(signedXar(t, id, files...))
	b, _ := os.ReadFile(signedXar(t, id, files...))
	if !bytes.Equal(a, b) {
		t.Error("signing the same xar twice gave different bytes")
	}
}

func TestSignRejectsBadIdentity(t *testing.T) {
	id := newIdentity(t)
	other := newIdentity(t)
	files, _ := testFiles(t)
	path := writeXar(t, files)
	orig, _ := os.ReadFile(path)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name  string
		chain []*x509.Certificate
		key   crypto.Signer
		want  string
	}{
		{"mismatched key", id.chain, other.key, "does not match"},
		{"no certificate", nil, id.key, "no certificate"},
		{"no key", id.chain, nil, "no private key"},
		{"ECDSA certificate", []*x509.Certificate{id.inter.Cert}, ecKey, "needs RSA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := xar.Sign(context.Background(), path, tc.chain, tc.key, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
			if now, _ := os.ReadFile(path); !bytes.Equal(now, orig) {
				t.Error("a refused signing changed the file")
			}
		})
	}
}

// TestAppleFixtures opens the real Apple-built packages: every member's
// checksums, and the signed one's RSA signature and certificate chain.
func TestAppleFixtures(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "testdata", "apple-pkg")
	for _, pkg := range []string{"XZ.pkg", "Product-signed.pkg"} {
		t.Run(pkg, func(t *testing.T) {
			path := filepath.Join(dir, pkg)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("Apple fixture missing (testdata/apple-pkg at the repository root): %v", err)
			}
			x := openXar(t, path)
			if err := x.Verify(); err != nil {
				t.Error(err)
			}
			if pkg == "XZ.pkg" {
				if x.Signature != nil {
					t.Error("XZ.pkg is unsigned, reader found a signature")
				}
				if _, err := x.VerifySignature(nil); err == nil || !strings.Contains(err.Error(), "not signed") {
					t.Errorf("VerifySignature of an unsigned xar: %v", err)
				}
				return
			}
			chain, err := x.VerifySignature(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) != 2 || chain[0].Subject.CommonName != "My Test Certificate" || chain[1].Subject.CommonName != "My Test CA" {
				t.Errorf("chain %v", chain)
			}
			if x.XSignature == nil || x.XSignature.Style != "CMS" || x.XSignature.Size != 9216 {
				t.Errorf("x-signature %+v", x.XSignature)
			}
			// Apple's own chain: the root is in the TOC; trust it to check the chain logic.
			roots := x509.NewCertPool()
			roots.AddCert(chain[1])
			// productsign time-stamps by default: the chain is checked at the
			// token's time, when it was valid, which leaves Go's refusal of SHA-1.
			ts, err := x.Timestamp()
			if err != nil || ts == nil {
				t.Fatalf("Timestamp() of a productsign pkg = %v, %v", ts, err)
			}
			if ts.SigningTime.Year() < 2010 || ts.SigningTime.After(time.Now()) {
				t.Errorf("time stamp %v", ts.SigningTime)
			}
			if _, err := x.VerifySignature(roots); err != nil && !strings.Contains(err.Error(), "SHA1") {
				t.Errorf("VerifySignature with its own root: %v", err)
			}
			if err := relicVerify(path); err != nil {
				t.Errorf("relic: %v", err)
			}
			b, _ := os.ReadFile(path)
			b[40] ^= 1
			if _, err := xar.Open(bytes.NewReader(b), int64(len(b))); err == nil {
				t.Error("a changed TOC byte of Product-signed.pkg was accepted")
			}
			b[40] ^= 1
			heap := headerAndTOCSize(b)
			b[heap+x.Signature.Offset+5] ^= 1
			xb, err := xar.Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := xb.VerifySignature(nil); err == nil {
				t.Error("a changed signature byte of Product-signed.pkg was accepted")
			}
		})
	}
}
