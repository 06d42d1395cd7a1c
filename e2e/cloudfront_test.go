package e2e

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/cloudfront"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// cfKey is a CloudFront key pair made by `pkgctl cloudfront keygen`.
type cfKey struct {
	ID      string
	File    string // private key, PEM
	PEM     []byte
	Inline  string // the PEM on one line, newlines written as literal \n
	Public  crypto.PublicKey
	Signer  *cloudfront.Signer // the same key, for the tests' own signing
	keyType string
}

// newCFKey runs `pkgctl cloudfront keygen` and reads the public key it prints, as an
// admin would import it into a CloudFront key group. The private key is a registered
// secret: no output of the suite may contain it.
func newCFKey(t *testing.T, kind, id string) cfKey {
	t.Helper()
	k := cfKey{ID: id, File: filepath.Join(t.TempDir(), "cf-"+kind+".pem"), keyType: kind}
	r := runPkgctl(t, "", "cloudfront", "keygen", "--type", kind, "--out", k.File)
	if r.Code != 0 {
		t.Fatalf("pkgctl cloudfront keygen: exit %d\n%s", r.Code, r.Stderr)
	}
	var err error
	if k.PEM, err = os.ReadFile(k.File); err != nil {
		t.Fatal(err)
	}
	registerSecret(k.PEM)
	k.Inline = strings.ReplaceAll(strings.TrimSpace(string(k.PEM)), "\n", `\n`)
	registerSecret([]byte(k.Inline))
	if k.Public, err = cloudfront.ParsePublicKeyPEM([]byte(r.Stdout)); err != nil {
		t.Fatalf("public key printed by keygen: %v\n%s", err, r.Stdout)
	}
	key, err := cloudfront.ParsePrivateKeyPEM(k.PEM)
	if err != nil {
		t.Fatal(err)
	}
	k.Signer = &cloudfront.Signer{KeyPairID: id, Key: key}
	return k
}

// startCDN puts a test CDN trusting keys in front of the shared repository.
func startCDN(t *testing.T, s *sharedEnv, keys ...cfKey) *testenv.CDN {
	t.Helper()
	group := map[string]crypto.PublicKey{}
	for _, k := range keys {
		group[k.ID] = k.Public
	}
	cdn, err := s.Env.StartCDN(group)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cdn.Close)
	return cdn
}

// cfBuildArgs are the flags of a deb build through cdn, with s's nginx as the origin.
func cfBuildArgs(t *testing.T, s *sharedEnv, typ, cdnURL string, k cfKey, extra ...string) []string {
	args := []string{"package", "--type=" + typ, "--cache-dir=" + t.TempDir(), "--verbose",
		"--fleet-url=https://fleet.example.com", "--enroll-secret=" + s.EnrollSecret,
		"--cloudfront-url=" + cdnURL, "--cloudfront-key-pair-id=" + k.ID}
	args = append(args, updateArgs(s.Env, s.Nginx.URL)...)
	return append(args, extra...)
}

// signatures returns the Signature of every request the CDN saw.
func signatures(cdn *testenv.CDN) []string {
	var out []string
	for _, r := range cdn.Requests() {
		if q, err := url.ParseQuery(r.RawQuery); err == nil && q.Get("Signature") != "" {
			out = append(out, q.Get("Signature"))
		}
	}
	return out
}

// assertNoSignatures fails if text holds a signature the CDN was sent: a signed URL is a
// bearer credential until it expires.
func assertNoSignatures(t *testing.T, what, text string, cdn *testenv.CDN) {
	t.Helper()
	for _, sig := range signatures(cdn) {
		if strings.Contains(text, sig) || strings.Contains(text, url.QueryEscape(sig)) {
			t.Errorf("%s holds a signed URL's Signature", what)
			return
		}
	}
}

// assertAllSigned checks that the CDN saw requests and that every one carried a valid
// canned-policy signature from k (hash "" for SHA-1).
func assertAllSigned(t *testing.T, cdn *testenv.CDN, k cfKey, hash string) {
	t.Helper()
	reqs := cdn.Requests()
	if len(reqs) < 5 {
		t.Fatalf("CDN saw %d requests; want the metadata and the targets", len(reqs))
	}
	targets := 0
	for _, r := range reqs {
		q, _ := url.ParseQuery(r.RawQuery)
		if !r.Verified {
			t.Errorf("CDN refused %s (%s): %v", r.Path, r.Code, r.Err)
		}
		if q.Get("Key-Pair-Id") != k.ID || q.Get("Expires") == "" || q.Get("Policy") != "" || q.Get("Hash-Algorithm") != hash {
			t.Errorf("%s: not a canned-policy URL signed by %s with hash %q: %s", r.Path, k.ID, hash, redactQuery(r.RawQuery))
		}
		if strings.HasPrefix(r.Path, "/targets/") && r.Status == http.StatusOK {
			targets++
		}
	}
	if targets < 2 {
		t.Errorf("CDN served %d targets, want orbit and osqueryd at least", targets)
	}
}

func redactQuery(q string) string { return strings.SplitN(q, "Signature=", 2)[0] + "Signature=…" }

// installerContents extracts a deb (dpkg-deb -x and -e) or an rpm (bsdtar) and returns
// every file's bytes, the package file itself included.
func installerContents(t *testing.T, file string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	switch {
	case strings.HasSuffix(file, ".deb"):
		dpkgDeb := needTool(t, "dpkg-deb", "dpkg")
		tool(t, false, dpkgDeb, "-x", file, filepath.Join(dir, "data"))
		tool(t, false, dpkgDeb, "-e", file, filepath.Join(dir, "control"))
	case strings.HasSuffix(file, ".rpm"):
		bsdtar := needTool(t, "bsdtar", "libarchive-tools")
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		tool(t, false, bsdtar, "-xf", file, "-C", filepath.Join(dir, "data"))
		rpm := needTool(t, "rpm", "rpm")
		scripts, _ := tool(t, false, rpm, "-qp", "--scripts", file)
		writeFile(t, dir, "scripts", []byte(scripts))
	default:
		t.Fatalf("no extractor for %s", file)
	}
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		files[strings.TrimPrefix(p, dir)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("extracted only %d files from %s", len(files), file)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	files["(package file)"] = raw
	return files
}

// assertNoKey fails if data holds k's private key: as PEM, inline, DER or a base64 line.
// (assertNoSecrets cannot be used on an installer: it holds the enroll secret by design.)
func assertNoKey(t *testing.T, what string, data []byte, k cfKey) {
	t.Helper()
	needles := [][]byte{k.PEM, []byte(k.Inline)}
	if block, _ := pem.Decode(k.PEM); block != nil {
		needles = append(needles, block.Bytes)
	}
	for _, line := range strings.Split(string(k.PEM), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			needles = append(needles, []byte(line))
		}
	}
	for _, n := range needles {
		if bytes.Contains(data, n) {
			t.Errorf("%s contains the CloudFront private key", what)
			return
		}
	}
}

// assertInstallerClean checks that the installer keeps --update-url for the agent and
// holds nothing of CloudFront: no key, no key pair ID, no distribution URL, no signature.
func assertInstallerClean(t *testing.T, file string, s *sharedEnv, cdn *testenv.CDN, k cfKey) {
	t.Helper()
	files := installerContents(t, file)
	env := files["/data/etc/default/orbit"]
	if !bytes.Contains(env, []byte("ORBIT_UPDATE_URL="+s.Nginx.URL)) {
		t.Errorf("/etc/default/orbit does not point the agent at --update-url %s:\n%s", s.Nginx.URL, env)
	}
	for name, data := range files {
		assertNoKey(t, "installer file "+name, data, k)
		for _, bad := range []string{cdn.URL, k.ID, "Key-Pair-Id", "CloudFront"} {
			if bytes.Contains(data, []byte(bad)) {
				t.Errorf("installer file %s contains %q", name, bad)
			}
		}
		assertNoSignatures(t, "installer file "+name, string(data), cdn)
	}
}

// TestCloudFrontBuild builds through the test CDN with keys made by `pkgctl cloudfront
// keygen`: RSA/SHA-1 from a key file, ECDSA/SHA-256 given inline with literal \n on the
// command line and in $PKGCTL_CLOUDFRONT_PRIVATE_KEY. Every request the CDN saw was signed
// and valid, the origin was not needed, the installer equals an origin-only build byte
// for byte, and neither the output nor the installer holds the key or a signature.
func TestCloudFrontBuild(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	rsaKey := newCFKey(t, "rsa", "K2E2ERSA")
	ecKey := newCFKey(t, "ecdsa", "K2E2EECDSA")

	// The reference: the same build from the origin only.
	ref := runPkgctl(t, "fleet-osquery.deb", append([]string{"package", "--type=deb", "--cache-dir=" + t.TempDir(),
		"--fleet-url=https://fleet.example.com", "--enroll-secret=" + s.EnrollSecret}, updateArgs(s.Env, s.Nginx.URL)...)...)
	mustSucceed(t, ref)
	refBytes, err := os.ReadFile(ref.Outfile)
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		typ  string
		key  cfKey
		args []string
		env  []string
		hash string
	}{
		{"rsa key file sha1 deb", "deb", rsaKey, []string{"--cloudfront-private-key=" + rsaKey.File}, nil, ""},
		{"rsa key file sha1 rpm", "rpm", rsaKey, []string{"--cloudfront-private-key=" + rsaKey.File}, nil, ""},
		{"ecdsa inline flag sha256", "deb", ecKey, []string{"--cloudfront-private-key=" + ecKey.Inline, "--cloudfront-hash-algorithm=sha256"}, nil, "SHA256"},
		{"ecdsa inline env sha256", "deb", ecKey, []string{"--cloudfront-hash-algorithm=sha256"}, []string{"PKGCTL_CLOUDFRONT_PRIVATE_KEY=" + ecKey.Inline}, "SHA256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cdn := startCDN(t, s, rsaKey, ecKey)
			out := "fleet-osquery." + c.typ
			r := runPkgctlEnv(t, c.env, out, append(cfBuildArgs(t, s, c.typ, cdn.URL, c.key), c.args...)...)
			mustSucceed(t, r)
			assertAllSigned(t, cdn, c.key, c.hash)
			if strings.Contains(r.Stderr, "Warning: CloudFront") {
				t.Errorf("fallback warnings although the CDN served everything:\n%s", r.Stderr)
			}
			if strings.Contains(r.Stderr, "GET "+s.Nginx.URL) {
				t.Errorf("the origin was asked although the CDN served everything:\n%s", r.Stderr)
			}
			if !strings.Contains(r.Stderr, "Signature=REDACTED") {
				t.Errorf("--verbose does not log the (redacted) CDN requests:\n%s", r.Stderr)
			}
			assertNoSignatures(t, "stderr", r.Stderr, cdn)
			assertNoSignatures(t, "stdout", r.Stdout, cdn)
			if c.typ == "deb" {
				got, err := os.ReadFile(r.Outfile)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, refBytes) {
					t.Errorf("the installer built through CloudFront differs from the origin-only build")
				}
			}
			assertInstallerClean(t, r.Outfile, s, cdn, c.key)
		})
	}
}

// TestCloudFrontRefusals checks the test CDN from outside with URLs signed by `pkgctl
// cloudfront sign-url`: a good URL is served; an expired, tampered, unsigned or
// wrong-key URL gets CloudFront's 403.
func TestCloudFrontRefusals(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	k := newCFKey(t, "rsa", "K2E2EREFUSE")
	stranger := newCFKey(t, "rsa", "K2E2EREFUSE") // same ID, key not in the group
	cdn := startCDN(t, s, k)
	client, err := testenv.NewHTTPClient(cdn.CertPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := cdn.URL + "/targets/orbit/linux/stable/orbit"
	want, err := os.ReadFile(filepath.Join(s.Env.Repo.Dir, "targets/orbit/linux/stable/orbit"))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k cfKey, u string, extra ...string) string {
		t.Helper()
		r := runPkgctl(t, "", append([]string{"cloudfront", "sign-url", u, "--key-pair-id", k.ID, "--private-key", k.File}, extra...)...)
		if r.Code != 0 {
			t.Fatalf("sign-url: exit %d\n%s", r.Code, r.Stderr)
		}
		return strings.TrimSpace(r.Stdout)
	}
	good := sign(k, target, "--ttl", "1h")
	expiring := sign(k, target, "--ttl", "1m")
	sha256URL := sign(k, target, "--ttl", "1h", "--hash", "sha256")
	other := sign(stranger, target, "--ttl", "1h")
	get := func(u string) (int, []byte) {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	denied := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access denied</Message></Error>`
	for _, c := range []struct {
		name, url string
		status    int
		body      string
		err       error
	}{
		{"good", good, 200, string(want), nil},
		{"sha256", sha256URL, 200, string(want), nil},
		{"tampered path", strings.Replace(good, "/orbit/linux/", "/osqueryd/linux/", 1), 403, denied, cloudfront.ErrBadSignature},
		{"tampered signature", strings.Replace(good, "&Signature=", "&Signature=A", 1), 403, denied, nil},
		{"wrong key", other, 403, denied, cloudfront.ErrBadSignature},
		{"unsigned", target, 403, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>MissingKey</Code><Message>Missing Key-Pair-Id query parameter or cookie value</Message></Error>`, nil},
		{"unknown key pair id", strings.Replace(good, "Key-Pair-Id="+k.ID, "Key-Pair-Id=K2NOTINGROUP", 1), 403, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidKey</Code><Message>Unknown Key</Message></Error>`, cloudfront.ErrUnknownKeyPairID},
	} {
		t.Run(c.name, func(t *testing.T) {
			cdn.ResetRequests()
			status, body := get(c.url)
			if status != c.status || string(body) != c.body {
				t.Errorf("HTTP %d %.200q, want %d %.200q", status, body, c.status, c.body)
			}
			if reqs := cdn.Requests(); len(reqs) != 1 || (c.err != nil && !errors.Is(reqs[0].Err, c.err)) {
				t.Errorf("CDN recorded %+v, want one request refused with %v", reqs, c.err)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		if status, _ := get(expiring); status != 200 {
			t.Fatalf("fresh URL refused: %d", status)
		}
		cdn.SetNow(func() time.Time { return time.Now().Add(2 * time.Minute) })
		defer cdn.SetNow(time.Now)
		cdn.ResetRequests()
		if status, body := get(expiring); status != 403 || string(body) != denied {
			t.Errorf("expired URL: HTTP %d %s, want 403 AccessDenied", status, body)
		}
		if reqs := cdn.Requests(); len(reqs) != 1 || !errors.Is(reqs[0].Err, cloudfront.ErrExpired) {
			t.Errorf("CDN recorded %+v, want a refusal for expiry", reqs)
		}
	})
}

// TestCloudFrontFallback: when the CDN refuses (403), fails (502) or hangs up, each
// request is retried from the origin; the build succeeds, warns with CloudFront's error
// and produces the same installer. When the origin is down too, the build fails naming
// both, and leaves no file.
func TestCloudFrontFallback(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	k := newCFKey(t, "rsa", "K2E2EFALLBACK")
	for _, c := range []struct {
		name    string
		failure testenv.CDNFailure
		warning string
	}{
		{"403", testenv.CDNForbidden, "(HTTP 403 Forbidden, AccessDenied: Access denied); fetched it from the origin " + s.Nginx.URL},
		{"502", testenv.CDNBadGateway, "(HTTP 502 Bad Gateway); fetched it from the origin " + s.Nginx.URL},
		{"hang-up", testenv.CDNHangup, "fetched it from the origin " + s.Nginx.URL},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cdn := startCDN(t, s, k)
			cdn.SetFailure(c.failure)
			r := runPkgctl(t, "fleet-osquery.deb", append(cfBuildArgs(t, s, "deb", cdn.URL, k), "--cloudfront-private-key="+k.File)...)
			mustSucceed(t, r)
			for _, want := range []string{"Warning: CloudFront " + cdn.URL + " could not serve timestamp.json", "could not serve targets/orbit/linux/stable/orbit", c.warning} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
				}
			}
			if len(cdn.Requests()) < 5 {
				t.Errorf("CDN saw %d requests: the build did not try it first", len(cdn.Requests()))
			}
			assertNoSignatures(t, "stderr", r.Stderr, cdn)
			assertInstallerClean(t, r.Outfile, s, cdn, k)
		})
	}

	t.Run("both down", func(t *testing.T) {
		t.Parallel()
		cdn := startCDN(t, s, k)
		cdn.SetFailure(testenv.CDNForbidden)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		origin := "https://" + ln.Addr().String()
		ln.Close()
		r := runPkgctl(t, "fleet-osquery.deb", append(cfBuildArgs(t, s, "deb", cdn.URL, k),
			"--cloudfront-private-key="+k.File, "--cloudfront-origin-url="+origin)...)
		mustFail(t, r, "CloudFront failed", "AccessDenied", "and so did the origin", origin, "connection refused")
		t.Logf("stderr:\n%s", r.Stderr)
		assertNoSignatures(t, "stderr", r.Stderr, cdn)
	})

	t.Run("bad key", func(t *testing.T) {
		t.Parallel()
		garbage := "-----BEGIN PRIVATE KEY-----\\nQ0xPVURGUk9OVFBSSVZBVEVLRVlCWVRFU0RPTk9UUFJJTlQ=\\n-----END PRIVATE KEY-----"
		registerSecret([]byte(garbage))
		registerSecret([]byte("Q0xPVURGUk9OVFBSSVZBVEVLRVlCWVRFU0RPTk9UUFJJTlQ="))
		r := runPkgctl(t, "fleet-osquery.deb", append(cfBuildArgs(t, s, "deb", "https://d111111abcdef8.cloudfront.net", k),
			"--cloudfront-private-key="+garbage)...)
		mustFail(t, r, "--cloudfront-private-key", "malformed")
	})
}
