package packaging

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

func codeSigningCert(t *testing.T, eku x509.ExtKeyUsage) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "pkgctl test signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

// TestWindowsSigningFlags: each bad combination fails naming the flag at fault,
// and never echoes key material.
func TestWindowsSigningFlags(t *testing.T) {
	dir := t.TempDir()
	w := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key := codeSigningCert(t, x509.ExtKeyUsageCodeSigning)
	_, other := codeSigningCert(t, x509.ExtKeyUsageCodeSigning)
	tlsCert, tlsKey := codeSigningCert(t, x509.ExtKeyUsageServerAuth)
	certPEM := w("c.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPEM := w("k.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	otherPEM := w("o.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	tlsCertPEM := w("tls.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsCert.Raw}))
	tlsKeyPEM := w("tlsk.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(tlsKey)}))
	p12, err := pkcs12.Modern.Encode(key, cert, nil, "pa55")
	if err != nil {
		t.Fatal(err)
	}
	pfx := w("c.pfx", p12)

	for _, tc := range []struct {
		name, cert, key, pass string
		flag                  string // "" = success
		msg                   string
	}{
		{"pem pair", certPEM, keyPEM, "", "", ""},
		{"pkcs12", pfx, "", "pa55", "", ""},
		{"pkcs12 wrong password", pfx, "", "nope", "windows-sign-certificate", "wrong password"},
		{"pkcs12 password unset", pfx, "", "<unset>", "windows-sign-certificate", "is protected by a password and PKGCTL_WINDOWS_SIGN_PASSWORD is not set"},
		{"pkcs12 with key", pfx, keyPEM, "pa55", "windows-sign-key", "PKCS#12"},
		{"pem without key", certPEM, "", "", "windows-sign-key", "give its private key"},
		{"mismatched key", certPEM, otherPEM, "", "windows-sign-key", "does not match"},
		{"key is not a key", certPEM, certPEM, "", "windows-sign-key", "no PEM private key"},
		{"cert is not a cert", keyPEM, keyPEM, "", "windows-sign-certificate", "no PEM certificate"},
		{"missing file", filepath.Join(dir, "none.pem"), keyPEM, "", "windows-sign-certificate", "none.pem"},
		{"not code signing", tlsCertPEM, tlsKeyPEM, "", "windows-sign-certificate", "not for code signing"},
		{"key alone", "", keyPEM, "", "windows-sign-key", "needs --windows-sign-certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(WindowsSignPasswordEnv, tc.pass)
			if tc.pass == "<unset>" {
				os.Unsetenv(WindowsSignPasswordEnv) // t.Setenv restores it afterwards
			}
			o := (&Options{Type: TypeMSI, WindowsSignCertificate: tc.cert, WindowsSignKey: tc.key}).WithDefaults()
			_, err := o.Validate()
			if tc.flag == "" {
				if err != nil {
					t.Fatal(err)
				}
				id, err := signingIdentityFor(o)
				if err != nil || id == nil || !id.Certificates[0].Equal(cert) {
					t.Fatalf("identity %v, %v", id, err)
				}
				return
			}
			var fe *FlagError
			if !errors.As(err, &fe) || fe.Flag != tc.flag || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want a --%s error containing %q", err, tc.flag, tc.msg)
			}
			if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "pa55") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

// TestWindowsSigningNoEffect: the signing flags only apply to msi.
func TestWindowsSigningNoEffect(t *testing.T) {
	o := (&Options{Type: TypeDeb, WindowsSignCertificate: "/nonexistent.pem", WindowsSignKey: "/nonexistent.key"}).WithDefaults()
	warnings, err := o.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "--windows-sign-certificate has no effect for --type=deb") {
		t.Errorf("warnings: %q", warnings)
	}
}
