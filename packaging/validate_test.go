package packaging

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/cloudfront"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// certFiles are throwaway certificate files for validation cases.
type certFiles struct {
	CA, OtherCA, Cert, Key, OtherKey, Expired, ExpiredKey, Soon, SoonKey, Future, FutureKey, NotPEM, Empty, Roots string
	ExpiredBundle, FutureBundle                                                                                   string // expired / not yet valid, then the CA
}

func newCertFiles(t *testing.T) certFiles {
	t.Helper()
	dir := t.TempDir()
	ca, err := testenv.NewCA("validate CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testenv.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p, err := testenv.WriteFile(dir, name, data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	issue := func(name string, nb, na time.Time) (string, string) {
		c, k, err := ca.IssueClientValidity(name, nb, na)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".crt", c), write(name+".key", k)
	}
	now := time.Now()
	var f certFiles
	f.CA = write("ca.pem", ca.CertPEM)
	f.OtherCA = write("other.pem", other.CertPEM)
	f.Cert, f.Key = issue("client", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	_, f.OtherKey = issue("other", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	f.Expired, f.ExpiredKey = issue("expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	f.Soon, f.SoonKey = issue("soon", now.Add(-time.Hour), now.Add(10*24*time.Hour))
	f.Future, f.FutureKey = issue("future", now.Add(24*time.Hour), now.Add(48*time.Hour))
	bundle := func(name, first string) string {
		b, err := os.ReadFile(first)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, append(b, ca.CertPEM...))
	}
	f.ExpiredBundle, f.FutureBundle = bundle("expired-bundle.pem", f.Expired), bundle("future-bundle.pem", f.Future)
	f.NotPEM = write("not.pem", []byte("this is not PEM\n"))
	f.Empty = write("empty.pem", nil)
	repo, err := testenv.NewRepo(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	f.Roots = string(repo.RootJSON())
	return f
}

func TestValidate(t *testing.T) {
	f := newCertFiles(t)
	outDir := t.TempDir()
	base := func() Options { return Options{Type: TypeDeb, StartService: true} }
	tests := []struct {
		name   string
		mod    func(o *Options)
		flag   string // the flag the error names
		errHas string // "" = valid
		warn   string // a warning that must appear
	}{
		{"minimal", func(o *Options) {}, "", "", ""},
		{"no type", func(o *Options) { o.Type = "" }, "type", `Required flag "type" not set`, ""},
		{"bad type", func(o *Options) { o.Type = "zip" }, "type", "type must be one of ('pkg', 'deb', 'rpm', 'msi', 'pkg.tar.zst')", ""},
		{"secret without url", func(o *Options) { o.EnrollSecret = "x" }, "enroll-secret", "--enroll-secret and --fleet-url must be provided together", ""},
		{"url without secret", func(o *Options) { o.FleetURL = "https://f" }, "enroll-secret", "--enroll-secret and --fleet-url must be provided together", ""},
		{"insecure + fleet cert", func(o *Options) { o.Insecure = true; o.FleetCertificate = f.CA }, "insecure", "--insecure and --fleet-certificate may not be provided together", ""},
		{"insecure + update cert", func(o *Options) { o.Insecure = true; o.UpdateTLSServerCertificate = f.CA }, "insecure", "--insecure and --update-tls-certificate may not be provided together", ""},
		{"host identifier", func(o *Options) { o.HostIdentifier = "serial" }, "host-identifier", "--host-identifier=serial is not supported, currently supported values are 'uuid' and 'instance'", ""},
		{"fleet cert without key", func(o *Options) { o.FleetTLSClientCertificate = f.Cert }, "fleet-tls-client-certificate", "must specify both fleet-tls-client-certificate and fleet-tls-client-key", ""},
		{"fleet key without cert", func(o *Options) { o.FleetTLSClientKey = f.Key }, "fleet-tls-client-certificate", "must specify both fleet-tls-client-certificate and fleet-tls-client-key", ""},
		{"fleet key mismatch", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = f.Cert, f.OtherKey }, "fleet-tls-client-certificate", "error loading fleet client certificate and key", ""},
		{"fleet cert not PEM", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = f.NotPEM, f.Key }, "fleet-tls-client-certificate", "invalid PEM file", ""},
		{"fleet key not PEM", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = f.Cert, f.NotPEM }, "fleet-tls-client-key", "no PEM private key", ""},
		{"fleet cert unreadable", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = "/nonexistent/c.crt", f.Key }, "fleet-tls-client-certificate", "read --fleet-tls-client-certificate /nonexistent/c.crt", ""},
		{"fleet cert expired", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = f.Expired, f.ExpiredKey }, "fleet-tls-client-certificate", "expired on", ""},
		{"fleet cert not yet valid", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = f.Future, f.FutureKey }, "fleet-tls-client-certificate", "is not valid before", ""},
		{"fleet cert expiring soon", func(o *Options) { o.FleetTLSClientCertificate, o.FleetTLSClientKey = f.Soon, f.SoonKey }, "", "", "expires soon"},
		{"managed identity on msi", func(o *Options) { o.Type = TypeMSI; o.FleetManagedHostIdentityCertificate = true }, "fleet-managed-host-identity-certificate", "--fleet-managed-host-identity-certificate is only supported for deb/rpm/pkg.tar.zst packages", ""},
		{"managed identity + client cert", func(o *Options) {
			o.FleetManagedHostIdentityCertificate = true
			o.FleetTLSClientCertificate, o.FleetTLSClientKey = f.Cert, f.Key
		}, "fleet-managed-host-identity-certificate", "--fleet-managed-host-identity-certificate and --fleet-tls-client-certificate may not be provided together", ""},
		{"update cert without key", func(o *Options) { o.UpdateTLSClientCertificate = f.Cert }, "update-tls-client-certificate", "must specify both update-tls-client-certificate and update-tls-client-key", ""},
		{"update key mismatch", func(o *Options) { o.UpdateTLSClientCertificate, o.UpdateTLSClientKey = f.Cert, f.OtherKey }, "update-tls-client-certificate", "error loading update client certificate and key", ""},
		{"update cert expired", func(o *Options) { o.UpdateTLSClientCertificate, o.UpdateTLSClientKey = f.Expired, f.ExpiredKey }, "update-tls-client-certificate", "expired on", ""},
		{"osquery-db relative", func(o *Options) { o.OsqueryDB = "var/db" }, "osquery-db", `--osquery-db must be an absolute path: "var/db"`, ""},
		{"osquery-db windows on msi", func(o *Options) { o.Type = TypeMSI; o.OsqueryDB = `C:\osquery\db` }, "", "", ""},
		{"osquery-db unix on msi", func(o *Options) { o.Type = TypeMSI; o.OsqueryDB = "/var/db" }, "osquery-db", "must be an absolute path", ""},
		{"bad email", func(o *Options) { o.EndUserEmail = "nobody" }, "end-user-email", "Invalid email address specified for --end-user-email.", ""},
		{"email on pkg", func(o *Options) { o.Type = TypePkg; o.EndUserEmail = "a@b.c" }, "end-user-email", "Can only set --end-user-email when building an msi, deb, rpm, or pkg.tar.zst package.", ""},
		{"fleet CA not PEM", func(o *Options) { o.FleetCertificate = f.NotPEM }, "fleet-certificate", "failed to read fleet server certificate", ""},
		{"fleet CA empty", func(o *Options) { o.FleetCertificate = f.Empty }, "fleet-certificate", "invalid PEM file", ""},
		{"fleet CA missing", func(o *Options) { o.FleetCertificate = "/nonexistent.pem" }, "fleet-certificate", `failed to read fleet server certificate "/nonexistent.pem"`, ""},
		{"update CA not PEM", func(o *Options) { o.UpdateTLSServerCertificate = f.NotPEM }, "update-tls-certificate", "failed to read update server certificate", ""},
		{"update CA expired only", func(o *Options) { o.UpdateTLSServerCertificate = f.Expired }, "update-tls-certificate", "every certificate in the file has expired", ""},
		{"update CA not yet valid only", func(o *Options) { o.UpdateTLSServerCertificate = f.Future }, "update-tls-certificate", "no certificate in the file is valid now", ""},
		{"fleet CA bundle with an expired entry warns", func(o *Options) { o.FleetCertificate = f.ExpiredBundle }, "", "", `certificate "expired" expired on`},
		{"update CA bundle with a future entry warns", func(o *Options) { o.UpdateTLSServerCertificate = f.FutureBundle }, "", "", `certificate "future" is not valid before`},
		{"system configuration on deb", func(o *Options) { o.UseSystemConfiguration = true }, "use-system-configuration", "--use-system-configuration is only available for pkg installers", ""},
		{"outfile suffix", func(o *Options) { o.CustomOutfile = filepath.Join(outDir, "x.rpm") }, "outfile", "output file must end with .deb for deb packages", ""},
		{"outfile suffix zst", func(o *Options) { o.Type = TypeArchZst; o.CustomOutfile = filepath.Join(outDir, "x.zst") }, "outfile", "output file must end with .pkg.tar.zst for pkg.tar.zst packages", ""},
		{"outfile dir missing", func(o *Options) { o.CustomOutfile = "/nonexistent/dir/x.deb" }, "outfile", "does not exist", ""},
		{"outfile is a dir", func(o *Options) {
			d := filepath.Join(outDir, "d.deb")
			os.Mkdir(d, 0o755)
			o.CustomOutfile = d
		}, "outfile", "is a directory", ""},
		{"arch amd64 with pkg", func(o *Options) { o.Type = TypePkg; o.Arch, o.ArchSet = ArchAMD64, true }, "", "", ""},
		{"arch arm64 with pkg", func(o *Options) { o.Type = TypePkg; o.Arch, o.ArchSet = ArchARM64, true }, "arch", "can't use '--arch' with '--type pkg'", ""},
		{"bad arch with pkg", func(o *Options) { o.Type = TypePkg; o.Arch, o.ArchSet = "386", true }, "arch", "can't use '--arch' with '--type pkg'", ""},
		{"bad arch", func(o *Options) { o.Arch = "386" }, "arch", "arch must be one of ('amd64', 'arm64')", ""},
		{"bad roots json", func(o *Options) { o.UpdateRoots = "{not json" }, "update-roots", "--update-roots is not valid TUF root metadata", ""},
		{"roots not a root", func(o *Options) { o.UpdateRoots = `{"signed":{"_type":"targets"},"signatures":[]}` }, "update-roots", "--update-roots is not valid TUF root metadata", ""},
		{"good roots", func(o *Options) { o.UpdateRoots = f.Roots }, "", "", ""},
		{"custom url without roots warns", func(o *Options) { o.UpdateURL = "https://tuf.example.com" }, "", "", "--update-roots is empty"},
		{"bad update url", func(o *Options) { o.UpdateURL = "ftp://x" }, "update-url", "must be an http or https URL", ""},
		{"bad interval", func(o *Options) { o.OrbitUpdateInterval = -time.Second }, "update-interval", "--update-interval must be positive", ""},
		{"flagfile missing", func(o *Options) { o.OsqueryFlagfile = "/nonexistent.flags" }, "osquery-flagfile", "read --osquery-flagfile /nonexistent.flags", ""},
		{"pkg secret with surrounding space", func(o *Options) { o.Type = TypePkg; o.FleetURL = "https://f"; o.EnrollSecret = " s " }, "enroll-secret", "must not begin or end with white space", ""},
		{"pkg url XML cannot hold", func(o *Options) { o.Type = TypePkg; o.FleetURL = "https://f/\uFFFE"; o.EnrollSecret = "s" }, "fleet-url", "--fleet-url", ""},
		{"pkg orbit channel unsafe in a shell", func(o *Options) { o.Type = TypePkg; o.OrbitChannel = "st$able" }, "orbit-channel", "not a valid channel name", ""},
		{"deb secret with surrounding space", func(o *Options) { o.FleetURL = "https://f"; o.EnrollSecret = " s " }, "", "", ""},
		{"newline in secret", func(o *Options) { o.FleetURL, o.EnrollSecret = "https://f", "a\nb" }, "enroll-secret", "must not contain control characters", ""},
		{"newline in url", func(o *Options) { o.FleetURL, o.EnrollSecret = "https://f\n", "a" }, "fleet-url", "must not contain control characters", ""},
		{"channel with slash", func(o *Options) { o.OrbitChannel = "../x" }, "orbit-channel", "is not a valid channel name", ""},
		{"sign identity on deb warns", func(o *Options) { o.SignIdentity = "Developer ID" }, "", "", "--sign-identity has no effect for --type=deb"},
		{"notarize on rpm warns", func(o *Options) { o.Type = TypeRPM; o.Notarize = true }, "", "", "--notarize has no effect for --type=rpm"},
		{"identifier on deb warns", func(o *Options) { o.Identifier = "com.example" }, "", "", "--identifier has no effect"},
		{"keystore on deb warns", func(o *Options) { o.DisableKeystore = true }, "", "", "--disable-keystore has no effect"},
		{"cpu quota percent", func(o *Options) { o.CPUQuota = "35%" }, "", "", ""},
		{"cpu quota above one CPU", func(o *Options) { o.CPUQuota = "250" }, "", "", ""},
		{"cpu quota zero", func(o *Options) { o.CPUQuota = "0" }, "cpu-quota", `--cpu-quota "0" must be a positive whole percentage`, ""},
		{"cpu quota negative", func(o *Options) { o.CPUQuota = "-5%" }, "cpu-quota", "must be a positive whole percentage", ""},
		{"cpu quota fraction", func(o *Options) { o.CPUQuota = "12.5%" }, "cpu-quota", "must be a positive whole percentage", ""},
		{"cpu quota text", func(o *Options) { o.CPUQuota = "half" }, "cpu-quota", "must be a positive whole percentage", ""},
		{"cpu quota on pkg warns", func(o *Options) { o.Type = TypePkg; o.CPUQuota = "50" }, "", "", "--cpu-quota has no effect for --type=pkg"},
		{"cpu quota on msi warns", func(o *Options) { o.Type = TypeMSI; o.CPUQuota = "50%" }, "", "", "--cpu-quota has no effect for --type=msi"},
		{"native tooling", func(o *Options) { o.NativeTooling = true }, "", "", ""},
		{"native tooling outfile dir made by the build", func(o *Options) {
			o.NativeTooling = true
			o.CustomOutfile = filepath.Join(outDir, "missing", "x.deb")
		}, "", "", ""},
		{"local wix warns", func(o *Options) { o.LocalWixDir = "/wix" }, "", "", "--local-wix-dir has no effect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.mod(&o)
			o.WithDefaults()
			warnings, err := o.Validate()
			if tt.errHas == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else {
				if err == nil {
					t.Fatalf("no error, want %q", tt.errHas)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("error %q does not contain %q", err, tt.errHas)
				}
				fe, ok := err.(*FlagError)
				if !ok || fe.Flag != tt.flag {
					t.Errorf("error names flag %v, want %q", fe, tt.flag)
				}
			}
			if tt.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warn) {
				t.Errorf("warnings %q lack %q", warnings, tt.warn)
			}
		})
	}
}

func TestValidateNeverEchoesSecrets(t *testing.T) {
	f := newCertFiles(t)
	key, err := os.ReadFile(f.OtherKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Type: TypeDeb, FleetURL: "https://f", EnrollSecret: "TOPSECRET\n"},
		{Type: TypeDeb, FleetTLSClientCertificate: f.Cert, FleetTLSClientKey: f.OtherKey},
		{Type: TypeDeb, FleetTLSClientCertificate: f.OtherKey, FleetTLSClientKey: f.OtherKey},
		{Type: TypeDeb, UpdateTLSClientCertificate: f.Cert, UpdateTLSClientKey: f.Cert},
	} {
		o.WithDefaults()
		_, err := o.Validate()
		if err == nil {
			t.Fatalf("%+v: want an error", o)
		}
		msg := err.Error()
		if strings.Contains(msg, "TOPSECRET") || strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, strings.Split(string(key), "\n")[1]) {
			t.Errorf("error leaks a secret: %s", msg)
		}
	}
}

func TestValidateCloudFront(t *testing.T) {
	dir := t.TempDir()
	rsaPEM, _, err := cloudfront.GenerateKey("rsa")
	if err != nil {
		t.Fatal(err)
	}
	ecPEM, _, err := cloudfront.GenerateKey("ecdsa")
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})
	write := func(name string, data []byte) string {
		p, err := testenv.WriteFile(dir, name, data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	rsaFile, smallFile := write("cf-rsa.pem", rsaPEM), write("cf-small.pem", smallPEM)
	inline := strings.ReplaceAll(string(ecPEM), "\n", `\n`) // as an environment variable holds it
	garbage := "-----BEGIN PRIVATE KEY-----\\nQ0xPVURGUk9OVFNFQ1JFVEtFWU1BVEVSSUFM\\n-----END PRIVATE KEY-----"
	const cdn = "https://d111111abcdef8.cloudfront.net"
	good := func(o *Options) {
		o.UpdateURL = "https://tuf.example.com"
		o.CloudFrontURL, o.CloudFrontKeyPairID, o.CloudFrontPrivateKey, o.CloudFrontURLTTL = cdn, "K2JCJMDEHXQW5F", rsaFile, time.Hour
	}
	tests := []struct {
		name   string
		mod    func(o *Options)
		flag   string // the flag the error names; "" = valid
		errHas string
		warn   string
	}{
		{"rsa file", good, "", "", ""},
		{"ecdsa inline with literal \\n, sha256", func(o *Options) {
			good(o)
			o.CloudFrontPrivateKey, o.CloudFrontHashAlgorithm = inline, "sha256"
		}, "", "", ""},
		{"http origin allowed", func(o *Options) { good(o); o.CloudFrontOriginURL = "http://origin.internal:8080" }, "", "", ""},
		{"key pair id without url", func(o *Options) { o.CloudFrontKeyPairID = "K2" }, "cloudfront-key-pair-id", "needs --cloudfront-url", ""},
		{"key without url", func(o *Options) { o.CloudFrontPrivateKey = rsaFile }, "cloudfront-private-key", "needs --cloudfront-url", ""},
		{"origin without url", func(o *Options) { o.CloudFrontOriginURL = "https://o" }, "cloudfront-origin-url", "needs --cloudfront-url", ""},
		{"url alone", func(o *Options) { o.CloudFrontURL = cdn }, "cloudfront-key-pair-id", "needs --cloudfront-key-pair-id and --cloudfront-private-key", ""},
		{"key pair id without key", func(o *Options) { good(o); o.CloudFrontPrivateKey = "" }, "cloudfront-private-key", "--cloudfront-key-pair-id needs --cloudfront-private-key", ""},
		{"key without key pair id", func(o *Options) { good(o); o.CloudFrontKeyPairID = "" }, "cloudfront-key-pair-id", "--cloudfront-private-key needs --cloudfront-key-pair-id", ""},
		{"bad key pair id", func(o *Options) { good(o); o.CloudFrontKeyPairID = "K2 x" }, "cloudfront-key-pair-id", "is not a CloudFront public key ID", ""},
		{"http cdn", func(o *Options) { good(o); o.CloudFrontURL = "http://d111111abcdef8.cloudfront.net" }, "cloudfront-url", "must be an https URL", ""},
		{"cdn with query", func(o *Options) { good(o); o.CloudFrontURL = cdn + "?a=b" }, "cloudfront-url", "must not have a query", ""},
		{"missing key file", func(o *Options) { good(o); o.CloudFrontPrivateKey = "/nonexistent/cf.pem" }, "cloudfront-private-key", "cannot open it as a file", ""},
		{"garbage key", func(o *Options) { good(o); o.CloudFrontPrivateKey = garbage }, "cloudfront-private-key", "malformed", ""},
		{"rsa 1024", func(o *Options) { good(o); o.CloudFrontPrivateKey = smallFile }, "cloudfront-private-key", "RSA key of 1024 bits refused", ""},
		{"ttl zero", func(o *Options) { good(o); o.CloudFrontURLTTL = 0 }, "cloudfront-url-ttl", "at least 1s", ""},
		{"ttl negative", func(o *Options) { good(o); o.CloudFrontURLTTL = -time.Minute }, "cloudfront-url-ttl", "at least 1s", ""},
		{"ttl past 2038", func(o *Options) { good(o); o.CloudFrontURLTTL = 20 * 365 * 24 * time.Hour }, "cloudfront-url-ttl", "2038-01-19", ""},
		{"bad hash", func(o *Options) { good(o); o.CloudFrontHashAlgorithm = "md5" }, "cloudfront-hash-algorithm", "use sha1", ""},
		{"bad origin", func(o *Options) { good(o); o.CloudFrontOriginURL = "ftp://o" }, "cloudfront-origin-url", "must be an http or https URL", ""},
		{"cdn is the origin", func(o *Options) { good(o); o.UpdateURL = cdn + "/" }, "cloudfront-origin-url", "is also the origin to fall back to", ""},
		{"update url is the cdn warns", func(o *Options) { good(o); o.UpdateURL = cdn; o.CloudFrontOriginURL = "https://origin.example.com" }, "", "", "the installed agent has no CloudFront key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Type: TypeDeb, StartService: true, UpdateRoots: ""}
			tt.mod(&o)
			o.WithDefaults()
			warnings, err := o.Validate()
			if tt.flag == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else {
				fe, ok := err.(*FlagError)
				if !ok || fe.Flag != tt.flag {
					t.Fatalf("error %v names flag %v, want %q", err, fe, tt.flag)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("error %q does not contain %q", err, tt.errHas)
				}
				// Never key material, in whatever form it was given.
				for _, k := range [][]byte{rsaPEM, ecPEM, smallPEM, []byte(garbage)} {
					for _, line := range strings.Split(strings.ReplaceAll(string(k), `\n`, "\n"), "\n") {
						if len(line) > 20 && strings.Contains(err.Error(), line) {
							t.Errorf("error quotes key material: %s", err)
						}
					}
				}
			}
			if tt.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warn) {
				t.Errorf("warnings %q lack %q", warnings, tt.warn)
			}
		})
	}
}

// TestPrepare covers what Prepare completes (--update-roots @FILE, a
// --fleet-url without scheme) and the hints Validate gives for what it cannot.
func TestPrepare(t *testing.T) {
	f := newCertFiles(t)
	dir := t.TempDir()
	rootsFile := filepath.Join(dir, "roots.json")
	if err := os.WriteFile(rootsFile, []byte(f.Roots), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		mod          func(*Options)
		errHas, warn string
		check        func(t *testing.T, o *Options)
	}{
		{name: "roots from @FILE", mod: func(o *Options) { o.UpdateRoots = "@" + rootsFile }, check: func(t *testing.T, o *Options) {
			if o.UpdateRoots != f.Roots {
				t.Errorf("UpdateRoots is not the file's content: %.40q", o.UpdateRoots)
			}
		}},
		{name: "roots @missing", mod: func(o *Options) { o.UpdateRoots = "@" + filepath.Join(dir, "nope.json") }, errHas: "read --update-roots @"},
		{name: "roots given a path", mod: func(o *Options) { o.UpdateRoots = rootsFile }, errHas: "pass --update-roots @" + rootsFile + `, or --update-roots "$(cat ` + rootsFile + `)"`},
		{name: "fleet url without scheme", mod: func(o *Options) { o.FleetURL, o.EnrollSecret = "fleet.example.com:8080", "s" },
			warn: "--fleet-url fleet.example.com:8080 has no scheme: using https://fleet.example.com:8080", check: func(t *testing.T, o *Options) {
				if o.FleetURL != "https://fleet.example.com:8080" {
					t.Errorf("FleetURL %q", o.FleetURL)
				}
			}},
		{name: "fleet url kept", mod: func(o *Options) { o.FleetURL, o.EnrollSecret = "http://fleet.local:8080/", "s" }, check: func(t *testing.T, o *Options) {
			if o.FleetURL != "http://fleet.local:8080/" {
				t.Errorf("FleetURL %q", o.FleetURL)
			}
		}},
		{name: "fleet url other scheme", mod: func(o *Options) { o.FleetURL, o.EnrollSecret = "ftp://fleet.example.com", "s" }, errHas: "not a URL orbit can use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Type: TypeDeb, StartService: true}
			tt.mod(&o)
			warnings, err := o.Prepare()
			if err == nil {
				var more []string
				more, err = o.WithDefaults().Validate()
				warnings = append(warnings, more...)
			}
			switch {
			case tt.errHas == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)):
				t.Fatalf("error %v, want %q", err, tt.errHas)
			}
			if tt.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warn) {
				t.Errorf("warnings %q lack %q", warnings, tt.warn)
			}
			if tt.check != nil {
				tt.check(t, &o)
			}
		})
	}
}

// TestValidateDevIDKeyMismatch: a Developer ID PEM whose key is not the
// certificate's is refused by Validate (before any download), naming the flag.
func TestValidateDevIDKeyMismatch(t *testing.T) {
	cert, _ := codeSigningCert(t, x509.ExtKeyUsageCodeSigning)
	_, other := codeSigningCert(t, x509.ExtKeyUsageCodeSigning)
	content := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	file := filepath.Join(t.TempDir(), "devid.pem")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flag string
		mod  func(o *Options)
	}{
		{"macos-devid-pem", func(o *Options) { o.MacOSDevIDPEM = file }},
		{"macos-devid-pem-content", func(o *Options) { o.MacOSDevIDCertificateContent = content }},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			o := Options{Type: TypePkg, StartService: true}
			tc.mod(&o)
			_, err := o.WithDefaults().Validate()
			fe, ok := err.(*FlagError)
			if !ok || fe.Flag != tc.flag || !strings.Contains(err.Error(), "does not match") {
				t.Fatalf("err = %v, want a --%s error saying the key does not match", err, tc.flag)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}
