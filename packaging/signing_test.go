package packaging

import (
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

func TestParsePEMIdentity(t *testing.T) {
	ca, err := testenv.NewCA("signing test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.IssueClient("Developer ID Installer: Test")
	if err != nil {
		t.Fatal(err)
	}
	otherCert, otherKey, err := ca.IssueClient("other")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		data    [][]byte
		wantErr string
	}{
		{"cert then key", [][]byte{cert, key}, ""},
		{"key then cert", [][]byte{key, cert}, ""},
		{"chain with the leaf second", [][]byte{otherCert, cert, key}, ""},
		{"no key", [][]byte{cert}, "no PEM private key"},
		{"no cert", [][]byte{key}, "no PEM certificate"},
		{"mismatched key", [][]byte{cert, otherKey}, "does not match"},
		{"two keys", [][]byte{cert, key, otherKey}, "2 private keys"},
		{"encrypted", [][]byte{cert, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")}, "encrypted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := ParsePEMIdentity("--macos-devid-pem-content", c.data...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.HasPrefix(err.Error(), "--macos-devid-pem-content") {
					t.Fatalf("err = %v, want one starting with the flag and containing %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "PRIVATE KEY-----") {
					t.Fatal("error holds key material")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := id.Certificates[0].Subject.CommonName; got != "Developer ID Installer: Test" {
				t.Fatalf("leaf = %q, want the certificate of the key", got)
			}
		})
	}
}
