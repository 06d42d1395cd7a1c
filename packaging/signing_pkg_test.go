package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestValidatePkgSigning covers the macOS signing flags' rules.
func TestValidatePkgSigning(t *testing.T) {
	pem := filepath.Join(t.TempDir(), "devid.pem")
	if err := os.WriteFile(pem, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host, flag, want string
		mod                    func(*Options)
	}{
		{"content and path", "linux", "macos-devid-pem", "may not be provided together", func(o *Options) { o.MacOSDevIDCertificateContent, o.MacOSDevIDPEM = "x", pem }},
		{"identity and content", "linux", "sign-identity", "providing a sign identity and a Dev ID certificate is not supported", func(o *Options) { o.SignIdentity, o.MacOSDevIDCertificateContent = "Developer ID Installer: X", "x" }},
		{"identity and path", "linux", "sign-identity", "providing a sign identity and a Dev ID certificate is not supported", func(o *Options) { o.SignIdentity, o.MacOSDevIDPEM = "X", pem }},
		{"identity on linux", "linux", "sign-identity", "--macos-devid-pem", func(o *Options) { o.SignIdentity = "X" }},
		{"identity on darwin", "darwin", "sign-identity", "not supported yet", func(o *Options) { o.SignIdentity = "X" }},
		{"notarize unsigned", "linux", "notarize", "--notarize needs a signed package", func(o *Options) { o.Notarize = true }},
		{"notarize without issuer", "linux", "app-store-connect-api-key-id", "both an App Store Connect API key and issuer must be set", func(o *Options) {
			o.Notarize, o.MacOSDevIDPEM, o.AppStoreConnectAPIKeyID = true, pem, "K"
		}},
		{"notarize without key", "linux", "app-store-connect-api-key-content", "(.p8)", func(o *Options) {
			o.Notarize, o.MacOSDevIDPEM, o.AppStoreConnectAPIKeyID, o.AppStoreConnectAPIKeyIssuer = true, pem, "K", "I"
		}},
		{"notarize bad key", "linux", "app-store-connect-api-key-content", "not a .p8 key", func(o *Options) {
			o.Notarize, o.MacOSDevIDPEM, o.AppStoreConnectAPIKeyID, o.AppStoreConnectAPIKeyIssuer, o.AppStoreConnectAPIKeyContent = true, pem, "K", "I", "secret-not-a-key"
		}},
		{"notarize key file missing", "linux", "app-store-connect-api-key-file", "read --app-store-connect-api-key-file", func(o *Options) {
			o.Notarize, o.MacOSDevIDPEM, o.AppStoreConnectAPIKeyID, o.AppStoreConnectAPIKeyIssuer, o.AppStoreConnectAPIKeyFile = true, pem, "K", "I", pem+".p8"
		}},
		{"notary url", "linux", "notary-api-url", "https", func(o *Options) {
			o.Notarize, o.MacOSDevIDPEM, o.AppStoreConnectAPIKeyID, o.AppStoreConnectAPIKeyIssuer, o.AppStoreConnectAPIKeyContent, o.NotaryAPIURL = true, pem, "K", "I", "x", "http://proxy.example.com"
		}},
		{"missing pem file", "linux", "macos-devid-pem", "read --macos-devid-pem", func(o *Options) { o.MacOSDevIDPEM = pem + ".missing" }},
		{"pem file checked in validation", "linux", "macos-devid-pem", "no PEM certificate found", func(o *Options) { o.MacOSDevIDPEM = pem }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &Options{Type: TypePkg, HostOS: tt.host}
			tt.mod(o)
			_, err := o.WithDefaults().Validate()
			if tt.flag == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			fe, ok := err.(*FlagError)
			if !ok || fe.Flag != tt.flag || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a --%s error containing %q", err, tt.flag, tt.want)
			}
		})
	}
	// For other types the flags only warn.
	o := (&Options{Type: TypeDeb, MacOSDevIDPEM: pem}).WithDefaults()
	w, err := o.Validate()
	if err != nil || !strings.Contains(strings.Join(w, "\n"), "--macos-devid-pem has no effect") {
		t.Errorf("deb with --macos-devid-pem: %v %v", w, err)
	}
}

func TestSigningIdentityForPkg(t *testing.T) {
	ca, err := testenv.NewCA("devid test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.IssueCodeSigning("Developer ID Installer: Test (TESTTEAMID)")
	if err != nil {
		t.Fatal(err)
	}
	ecCert, ecKey, err := ca.IssueClient("ecdsa")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ca.IssueCodeSigning("other")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := func(name string, parts ...[]byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(func() []string {
			var s []string
			for _, b := range parts {
				s = append(s, string(b))
			}
			return s
		}(), "")), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		o    Options
		want string // "" = success
	}{
		{"content", Options{Type: TypePkg, MacOSDevIDCertificateContent: string(cert) + string(ca.CertPEM) + string(key)}, ""},
		{"file", Options{Type: TypePkg, MacOSDevIDPEM: file("ok.pem", key, cert)}, ""},
		{"file mismatched", Options{Type: TypePkg, MacOSDevIDPEM: file("bad.pem", cert, otherKey)}, "--macos-devid-pem " + dir},
		{"content ECDSA", Options{Type: TypePkg, MacOSDevIDCertificateContent: string(ecCert) + string(ecKey)}, "--macos-devid-pem-content: the key is ECDSA"},
		{"file missing", Options{Type: TypePkg, MacOSDevIDPEM: filepath.Join(dir, "nope.pem")}, "read --macos-devid-pem"},
		{"not pkg", Options{Type: TypeMSI, MacOSDevIDPEM: "ignored"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := signingIdentityFor(&tt.o)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				if strings.Contains(err.Error(), "PRIVATE KEY") {
					t.Fatal("error holds key material")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.o.Type == TypePkg && (id == nil || id.Certificates[0].Subject.CommonName != "Developer ID Installer: Test (TESTTEAMID)") {
				t.Fatalf("identity %+v", id)
			}
			if tt.o.Type != TypePkg && id != nil {
				t.Fatal("identity for a non-pkg type")
			}
		})
	}
}
