package cloudfront

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const keyPairID = "K2JCJMDEHXQW5F"

// openssl runs openssl with stdin and returns its stdout.
func openssl(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not found: apt-get install openssl")
	}
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// testKey is a private key with its PEM file.
type testKey struct {
	signer crypto.Signer
	pem    []byte
	path   string
}

var (
	keysOnce sync.Once
	keysDir  string
	rsaKey   testKey // PKCS#8 from openssl genpkey
	ecKey    testKey // PKCS#8 from openssl genpkey
	keysErr  error
)

// keys makes one RSA 2048 and one ECDSA P-256 key with openssl, shared by the
// tests (RSA generation is slow).
func keys(t testing.TB) (rsaK, ecK testKey) {
	t.Helper()
	keysOnce.Do(func() {
		keysDir, keysErr = os.MkdirTemp("", "cloudfront-test")
		if keysErr != nil {
			return
		}
		mk := func(name string, args ...string) testKey {
			p := filepath.Join(keysDir, name)
			data := openssl(t, nil, args...)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				keysErr = err
			}
			s, err := ParsePrivateKeyPEM(data)
			if err != nil {
				keysErr = err
			}
			return testKey{signer: s, pem: data, path: p}
		}
		rsaKey = mk("rsa.pem", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
		ecKey = mk("ec.pem", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return rsaKey, ecKey
}

func TestMain(m *testing.M) {
	code := m.Run()
	if keysDir != "" {
		os.RemoveAll(keysDir)
	}
	os.Exit(code)
}

// awsB64 is CloudFront's base64, written out independently of EncodeBase64.
func awsB64(b []byte) string {
	return strings.NewReplacer("+", "-", "=", "_", "/", "~").Replace(base64.StdEncoding.EncodeToString(b))
}

// TestSignatureMatchesOpenSSL checks RSA signatures byte for byte against
// `openssl dgst -sign` over the policy JSON written out by hand, and the whole
// signed URL or cookie layout.
func TestSignatureMatchesOpenSSL(t *testing.T) {
	rsaK, _ := keys(t)
	const rawURL = "https://d111111abcdef8.cloudfront.net/orbit/linux/stable/orbit.tar.gz?a=1&b=<2>"
	exp := time.Unix(1767225600, 0) // 2026-01-01
	nb := time.Unix(1735689600, 0)  // 2025-01-01
	canned := fmt.Sprintf(`{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":1767225600}}}]}`, rawURL)
	custom := `{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/orbit/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767225600},"DateGreaterThan":{"AWS:EpochTime":1735689600},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}`
	customPolicy := Policy{Resource: "https://d111111abcdef8.cloudfront.net/orbit/*", Expires: exp, NotBefore: nb, IPRange: "192.0.2.0/24"}

	tests := []struct {
		name   string
		hash   crypto.Hash
		policy string // the JSON that is signed
		sign   func(s *Signer) (string, error)
		// want builds the expected output from the signature.
		want func(sig string) string
	}{
		{"canned URL sha1 (AWS SDK)", 0, canned,
			func(s *Signer) (string, error) { return s.SignURL(rawURL, exp) },
			func(sig string) string {
				return rawURL + "&Expires=1767225600&Signature=" + sig + "&Key-Pair-Id=" + keyPairID
			}},
		{"canned URL sha256", crypto.SHA256, canned,
			func(s *Signer) (string, error) { return s.SignURL(rawURL, exp) },
			func(sig string) string {
				return rawURL + "&Expires=1767225600&Signature=" + sig + "&Key-Pair-Id=" + keyPairID + "&Hash-Algorithm=SHA256"
			}},
		{"custom URL sha1", crypto.SHA1, custom,
			func(s *Signer) (string, error) { return s.SignURLWithPolicy(rawURL, customPolicy) },
			func(sig string) string {
				return rawURL + "&Policy=" + awsB64([]byte(custom)) + "&Signature=" + sig + "&Key-Pair-Id=" + keyPairID
			}},
		{"custom URL sha256", crypto.SHA256, custom,
			func(s *Signer) (string, error) { return s.SignURLWithPolicy(rawURL, customPolicy) },
			func(sig string) string {
				return rawURL + "&Policy=" + awsB64([]byte(custom)) + "&Signature=" + sig + "&Key-Pair-Id=" + keyPairID + "&Hash-Algorithm=SHA256"
			}},
		{"canned cookies sha1", 0, canned,
			func(s *Signer) (string, error) {
				return cookieString(s.SignCookies(Policy{Resource: rawURL, Expires: exp}))
			},
			func(sig string) string {
				return "CloudFront-Expires=1767225600; Path=/; HttpOnly; Secure\nCloudFront-Signature=" + sig + "; Path=/; HttpOnly; Secure\nCloudFront-Key-Pair-Id=" + keyPairID + "; Path=/; HttpOnly; Secure\n"
			}},
		{"custom cookies sha256", crypto.SHA256, custom,
			func(s *Signer) (string, error) { return cookieString(s.SignCookies(customPolicy)) },
			func(sig string) string {
				a := "; Path=/; HttpOnly; Secure\n"
				return "CloudFront-Policy=" + awsB64([]byte(custom)) + a + "CloudFront-Signature=" + sig + a + "CloudFront-Key-Pair-Id=" + keyPairID + a + "CloudFront-Hash-Algorithm=SHA256" + a
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dgst := "-sha1"
			if tt.hash == crypto.SHA256 {
				dgst = "-sha256"
			}
			sig := awsB64(openssl(t, []byte(tt.policy), "dgst", dgst, "-sign", rsaK.path))
			got, err := tt.sign(&Signer{KeyPairID: keyPairID, Key: rsaK.signer, Hash: tt.hash})
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.want(sig); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func cookieString(cs []*http.Cookie, err error) (string, error) {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.String() + "\n")
	}
	return b.String(), err
}

func TestVerifyRoundTrip(t *testing.T) {
	rsaK, ecK := keys(t)
	now := time.Unix(1767225600, 0)
	exp := now.Add(time.Hour)
	const u = "https://cdn.example.com/orbit/macos/stable/orbit.tar.gz"
	client := netip.MustParseAddr("2001:db8::7")
	tests := []struct {
		name string
		key  crypto.Signer
		hash crypto.Hash
		url  func(s *Signer) (string, error)
	}{
		{"rsa canned sha1", rsaK.signer, 0, func(s *Signer) (string, error) { return s.SignURL(u, exp) }},
		{"rsa canned sha256", rsaK.signer, crypto.SHA256, func(s *Signer) (string, error) { return s.SignURL(u, exp) }},
		{"ecdsa canned sha1", ecK.signer, crypto.SHA1, func(s *Signer) (string, error) { return s.SignURL(u, exp) }},
		{"ecdsa canned sha256", ecK.signer, crypto.SHA256, func(s *Signer) (string, error) { return s.SignURL(u, exp) }},
		{"rsa canned with query", rsaK.signer, 0, func(s *Signer) (string, error) { return s.SignURL(u+"?x=1&y=%2F", exp) }},
		{"rsa custom wildcard", rsaK.signer, 0, func(s *Signer) (string, error) {
			return s.SignURLWithPolicy(u, Policy{Resource: "https://cdn.example.com/orbit/*/stable/orbit.tar.??", Expires: exp, NotBefore: now.Add(-time.Minute), IPRange: "2001:db8::/32"})
		}},
		{"ecdsa custom sha256", ecK.signer, crypto.SHA256, func(s *Signer) (string, error) {
			return s.SignURLWithPolicy(u, Policy{Expires: exp, IPRange: "2001:db8::7"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signed, err := tt.url(&Signer{KeyPairID: keyPairID, Key: tt.key, Hash: tt.hash})
			if err != nil {
				t.Fatal(err)
			}
			keys := map[string]crypto.PublicKey{"other": ecK.signer.Public(), keyPairID: tt.key.Public()}
			if err := Verify(signed, keys, now, WithClientIP(client)); err != nil {
				t.Errorf("Verify(%s): %v", signed, err)
			}
		})
	}
}

func TestVerifyCookiesRoundTrip(t *testing.T) {
	rsaK, ecK := keys(t)
	now := time.Unix(1767225600, 0)
	const u = "https://cdn.example.com/orbit/x.tar.gz"
	tests := []struct {
		name      string
		key       crypto.Signer
		hash      crypto.Hash
		p         Policy
		wantFirst string
	}{
		{"rsa canned", rsaK.signer, 0, Policy{Resource: u, Expires: now.Add(time.Hour)}, CookieExpires},
		{"ecdsa canned sha256", ecK.signer, crypto.SHA256, Policy{Resource: u, Expires: now.Add(time.Hour)}, CookieExpires},
		{"forced custom", rsaK.signer, 0, Policy{Resource: u, Expires: now.Add(time.Hour), Custom: true}, CookiePolicy},
		{"ecdsa wildcard", ecK.signer, 0, Policy{Resource: "https://cdn.example.com/*", Expires: now.Add(time.Hour)}, CookiePolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := (&Signer{KeyPairID: keyPairID, Key: tt.key, Hash: tt.hash}).SignCookies(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if cs[0].Name != tt.wantFirst {
				t.Errorf("first cookie %s, want %s", cs[0].Name, tt.wantFirst)
			}
			keys := map[string]crypto.PublicKey{keyPairID: tt.key.Public()}
			if err := VerifyCookies(u, cs, keys, now); err != nil {
				t.Errorf("VerifyCookies: %v", err)
			}
			// The cookies grant nothing else when the policy is canned.
			if tt.wantFirst == CookieExpires {
				if err := VerifyCookies(u+"x", cs, keys, now); !errors.Is(err, ErrBadSignature) {
					t.Errorf("VerifyCookies(other URL) = %v, want ErrBadSignature", err)
				}
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	rsaK, ecK := keys(t)
	now := time.Unix(1767225600, 0)
	const u = "https://cdn.example.com/orbit/a.tar.gz?v=1"
	s := &Signer{KeyPairID: keyPairID, Key: rsaK.signer}
	s256 := &Signer{KeyPairID: keyPairID, Key: rsaK.signer, Hash: crypto.SHA256}
	canned := must(s.SignURL(u, now.Add(time.Hour)))
	canned256 := must(s256.SignURL(u, now.Add(time.Hour)))
	custom := must(s.SignURLWithPolicy(u, Policy{Resource: "https://cdn.example.com/orbit/*", Expires: now.Add(time.Hour), NotBefore: now.Add(-time.Hour), IPRange: "192.0.2.0/24"}))
	goodKeys := map[string]crypto.PublicKey{keyPairID: rsaK.signer.Public()}
	in := WithClientIP(netip.MustParseAddr("192.0.2.9"))
	sigOf := func(signed string) string {
		q, _ := url.ParseQuery(signed[strings.IndexByte(signed, '?')+1:])
		return q.Get("Signature")
	}

	tests := []struct {
		name string
		url  string
		keys map[string]crypto.PublicKey
		now  time.Time
		opts []VerifyOption
		want error
	}{
		{"control canned", canned, goodKeys, now, nil, nil},
		{"control custom", custom, goodKeys, now, []VerifyOption{in}, nil},
		{"tampered path", strings.Replace(canned, "a.tar.gz", "b.tar.gz", 1), goodKeys, now, nil, ErrBadSignature},
		{"tampered query", strings.Replace(canned, "v=1", "v=2", 1), goodKeys, now, nil, ErrBadSignature},
		{"added query", strings.Replace(canned, "v=1", "v=1&w=2", 1), goodKeys, now, nil, ErrBadSignature},
		{"tampered Expires", strings.Replace(canned, "Expires=", "Expires=1", 1), goodKeys, now, nil, ErrBadSignature},
		{"tampered signature", strings.Replace(canned, "Signature="+sigOf(canned)[:4], "Signature=AAAA", 1), goodKeys, now, nil, ErrBadSignature},
		{"unsubstituted base64", strings.Replace(canned, sigOf(canned), strings.NewReplacer("-", "+", "_", "=", "~", "/").Replace(sigOf(canned)), 1), goodKeys, now, nil, ErrMalformed},
		{"expired canned", canned, goodKeys, now.Add(time.Hour), nil, ErrExpired},
		{"expired custom", custom, goodKeys, now.Add(2 * time.Hour), []VerifyOption{in}, ErrExpired},
		{"not yet valid", custom, goodKeys, now.Add(-2 * time.Hour), []VerifyOption{in}, ErrNotYetValid},
		{"wrong key", canned, map[string]crypto.PublicKey{keyPairID: ecK.signer.Public()}, now, nil, ErrBadSignature},
		{"unknown key pair id", canned, map[string]crypto.PublicKey{"KOTHER": rsaK.signer.Public()}, now, nil, ErrUnknownKeyPairID},
		{"ip outside range", custom, goodKeys, now, []VerifyOption{WithClientIP(netip.MustParseAddr("198.51.100.1"))}, ErrIPNotAllowed},
		{"ip not given", custom, goodKeys, now, nil, ErrIPNotAllowed},
		{"resource mismatch", strings.Replace(custom, "/orbit/a.tar.gz", "/desktop/a.tar.gz", 1), goodKeys, now, []VerifyOption{in}, ErrResourceMismatch},
		{"sha256 without Hash-Algorithm", strings.TrimSuffix(canned256, "&Hash-Algorithm=SHA256"), goodKeys, now, nil, ErrBadSignature},
		{"sha1 claiming sha256", canned + "&Hash-Algorithm=SHA256", goodKeys, now, nil, ErrBadSignature},
		{"unknown Hash-Algorithm", canned + "&Hash-Algorithm=MD5", goodKeys, now, nil, ErrMalformed},
		{"Expires and Policy", canned + "&Policy=e30_", goodKeys, now, nil, ErrMalformed},
		{"duplicate Signature", canned + "&Signature=" + sigOf(canned), goodKeys, now, nil, ErrMalformed},
		{"unsigned", u, goodKeys, now, nil, ErrMalformed},
		{"no signature", strings.Replace(canned, "Signature=", "Sig=", 1), goodKeys, now, nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.url, tt.keys, tt.now, tt.opts...)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if tt.name == "ip not given" && !strings.Contains(err.Error(), "no client IP was given") {
				t.Errorf("error %q does not say that the client IP is missing", err)
			}
		})
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

func TestExpiryLimit(t *testing.T) {
	rsaK, _ := keys(t)
	s := &Signer{KeyPairID: keyPairID, Key: rsaK.signer}
	const u = "https://cdn.example.com/x"
	last := time.Date(2038, 1, 19, 3, 14, 7, 0, time.UTC)
	tooLate := last.Add(time.Second)
	tests := []struct {
		name  string
		sign  func() (string, error)
		field string // "" = accepted
	}{
		{"canned at the limit", func() (string, error) { return s.SignURL(u, last) }, ""},
		{"canned past 2038", func() (string, error) { return s.SignURL(u, tooLate) }, "Expires"},
		{"canned sha256 past 2038", func() (string, error) {
			return (&Signer{KeyPairID: keyPairID, Key: rsaK.signer, Hash: crypto.SHA256}).SignURL(u, tooLate)
		}, "Expires"},
		{"custom past 2038", func() (string, error) { return s.SignURLWithPolicy(u, Policy{Expires: tooLate}) }, "Expires"},
		{"cookies past 2038", func() (string, error) { return cookieString(s.SignCookies(Policy{Resource: u, Expires: tooLate})) }, "Expires"},
		{"not-before past 2038", func() (string, error) {
			return s.SignURLWithPolicy(u, Policy{Expires: last, NotBefore: tooLate})
		}, "NotBefore"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.sign()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *FieldError
			if !errors.Is(err, ErrTimeTooLate) || !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("err = %v, want ErrTimeTooLate on %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), "2038-01-19T03:14:07Z") {
				t.Errorf("error %q does not name the limit", err)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	rsaK, _ := keys(t)
	exp := time.Unix(1767225600, 0)
	s := &Signer{KeyPairID: keyPairID, Key: rsaK.signer}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, want string
		sign       func() (string, error)
	}{
		{"fragment", "fragment", func() (string, error) { return s.SignURL("https://x/y#z", exp) }},
		{"signing parameter in URL", "Key-Pair-Id", func() (string, error) { return s.SignURL("https://x/y?Key-Pair-Id=1", exp) }},
		{"Hash-Algorithm in URL", "Hash-Algorithm", func() (string, error) { return s.SignURL("https://x/y?Hash-Algorithm=SHA1", exp) }},
		{"non-ASCII", "ASCII", func() (string, error) { return s.SignURL("https://x/é", exp) }},
		{"ftp", "scheme", func() (string, error) { return s.SignURL("ftp://x/y", exp) }},
		{"no expiry", "not set", func() (string, error) { return s.SignURL("https://x/y", time.Time{}) }},
		{"resource does not match", "does not match", func() (string, error) {
			return s.SignURLWithPolicy("https://x/y", Policy{Resource: "https://x/z*", Expires: exp})
		}},
		{"not-before after expiry", "not before", func() (string, error) {
			return s.SignURLWithPolicy("https://x/y", Policy{Expires: exp, NotBefore: exp})
		}},
		{"bad ip range", "CIDR", func() (string, error) {
			return s.SignURLWithPolicy("https://x/y", Policy{Expires: exp, IPRange: "10.0.0.0/33"})
		}},
		{"cookie without resource", "Resource", func() (string, error) { return cookieString(s.SignCookies(Policy{Expires: exp})) }},
		{"no key pair id", "key pair ID", func() (string, error) { return (&Signer{Key: rsaK.signer}).SignURL("https://x/y", exp) }},
		{"key pair id with &", "key pair ID", func() (string, error) {
			return (&Signer{KeyPairID: "K&x=1", Key: rsaK.signer}).SignURL("https://x/y", exp)
		}},
		{"rsa 1024 signer", "1024 bits", func() (string, error) { return (&Signer{KeyPairID: "K", Key: small}).SignURL("https://x/y", exp) }},
		{"sha512", "not supported", func() (string, error) {
			return (&Signer{KeyPairID: "K", Key: rsaK.signer, Hash: crypto.SHA512}).SignURL("https://x/y", exp)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sign()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}

// assertNoKeyMaterial fails if msg contains any 10 characters in a row of the
// PEM's base64 body.
func assertNoKeyMaterial(t *testing.T, msg string, pemText []byte) {
	t.Helper()
	for _, line := range strings.Split(string(pemText), "\n") {
		if strings.HasPrefix(line, "-----") || strings.Contains(line, ":") {
			continue
		}
		for i := 0; i+10 <= len(line); i++ {
			if strings.Contains(msg, line[i:i+10]) {
				t.Fatalf("error %q contains key material %q", msg, line[i:i+10])
			}
		}
	}
}

func TestLoadPrivateKey(t *testing.T) {
	rsaK, ecK := keys(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pkcs1 := openssl(t, nil, "rsa", "-in", rsaK.path, "-traditional")
	sec1 := openssl(t, nil, "ec", "-in", ecK.path)
	withParams := openssl(t, nil, "ecparam", "-name", "prime256v1", "-genkey")
	rsa1024 := openssl(t, nil, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024")
	rsa1024pkcs1 := openssl(t, rsa1024, "rsa", "-traditional")
	p384 := openssl(t, nil, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384")
	p384sec1 := openssl(t, p384, "ec")
	ed := openssl(t, nil, "genpkey", "-algorithm", "ed25519")
	encrypted := openssl(t, ecK.pem, "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:secret")
	escaped := func(b []byte) string { return strings.ReplaceAll(string(b), "\n", `\n`) }
	body := func(b []byte) string { // base64 body only, no PEM armour
		blk, _ := pem.Decode(b)
		return base64.StdEncoding.EncodeToString(blk.Bytes)
	}

	tests := []struct {
		name    string
		arg     string
		secret  []byte           // key material that must not appear in an error
		want    crypto.PublicKey // accepted key
		wantErr string           // refused: error contains this
		check   func(crypto.Signer) bool
	}{
		{"pkcs8 rsa file", rsaK.path, rsaK.pem, rsaK.signer.Public(), "", nil},
		{"pkcs1 rsa file", write("pkcs1.pem", pkcs1), pkcs1, rsaK.signer.Public(), "", nil},
		{"pkcs8 ec file", ecK.path, ecK.pem, ecK.signer.Public(), "", nil},
		{"sec1 ec file", write("sec1.pem", sec1), sec1, ecK.signer.Public(), "", nil},
		{"sec1 after EC PARAMETERS", write("params.pem", withParams), withParams, nil, "", func(s crypto.Signer) bool { _, ok := s.(*ecdsa.PrivateKey); return ok }},
		{"inline PEM with literal \\n", escaped(rsaK.pem), rsaK.pem, rsaK.signer.Public(), "", nil},
		{"inline pkcs1 with literal \\n", escaped(pkcs1), pkcs1, rsaK.signer.Public(), "", nil},
		{"inline PEM with literal \\r\\n", strings.ReplaceAll(string(sec1), "\n", `\r\n`), sec1, ecK.signer.Public(), "", nil},
		{"inline PEM with newlines", string(ecK.pem), ecK.pem, ecK.signer.Public(), "", nil},
		{"rsa 1024 pkcs8", escaped(rsa1024), rsa1024, nil, "RSA key of 1024 bits refused: CloudFront needs RSA 2048", nil},
		{"rsa 1024 pkcs1 file", write("small.pem", rsa1024pkcs1), rsa1024pkcs1, nil, "RSA key of 1024 bits refused", nil},
		{"p-384 pkcs8", string(p384), p384, nil, "ECDSA key on P-384 refused: CloudFront needs P-256", nil},
		{"p-384 sec1 file", write("p384.pem", p384sec1), p384sec1, nil, "P-384 refused", nil},
		{"ed25519", string(ed), ed, nil, "ed25519 key refused", nil},
		{"encrypted", string(encrypted), encrypted, nil, "encrypted", nil},
		{"truncated PEM", strings.Join(strings.Split(string(rsaK.pem), "\n")[:8], `\n`) + `\n-----END PRIVATE KEY-----\n`, rsaK.pem, nil, "malformed PRIVATE KEY block", nil},
		{"bad base64 in PEM", strings.Replace(string(rsaK.pem), "\n", "\n!!!!\n", 3), rsaK.pem, nil, "no PEM private key block", nil},
		{"corrupt DER", strings.Replace(string(ecK.pem), "M", "N", 1), ecK.pem, nil, "malformed PRIVATE KEY block", nil},
		{"certificate only", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", nil, nil, "no PEM private key block", nil},
		{"missing file", filepath.Join(dir, "nope.pem"), nil, nil, "no such file", nil},
		{"bare base64 body", body(rsaK.pem), rsaK.pem, nil, "cannot open it as a file", nil},
		{"empty", "", nil, nil, "neither a file path nor a PEM", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadPrivateKey(tt.arg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				assertNoKeyMaterial(t, err.Error(), tt.secret)
				if len(tt.arg) > 40 && strings.Contains(err.Error(), tt.arg[:40]) {
					t.Fatalf("error %q echoes the argument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				if !tt.check(got) {
					t.Fatalf("unexpected key %T", got)
				}
				return
			}
			if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want) {
				t.Fatal("loaded a different key")
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	for _, kind := range []string{"rsa", "ecdsa"} {
		t.Run(kind, func(t *testing.T) {
			priv, pub, err := GenerateKey(kind)
			if err != nil {
				t.Fatal(err)
			}
			if blk, _ := pem.Decode(priv); blk == nil || blk.Type != "PRIVATE KEY" {
				t.Fatalf("private key is not PKCS#8 PEM:\n%s", priv[:30])
			}
			// openssl derives the same PKIX public key from the private key.
			if want := openssl(t, priv, "pkey", "-pubout"); !bytes.Equal(pub, want) {
				t.Fatalf("public key\n%s\nwant (openssl pkey -pubout)\n%s", pub, want)
			}
			k, err := ParsePrivateKeyPEM(priv)
			if err != nil {
				t.Fatal(err)
			}
			switch k := k.(type) {
			case *rsa.PrivateKey:
				if kind != "rsa" || k.N.BitLen() != 2048 {
					t.Fatalf("%s: RSA %d", kind, k.N.BitLen())
				}
			case *ecdsa.PrivateKey:
				if kind != "ecdsa" || k.Curve != elliptic.P256() {
					t.Fatalf("%s: EC %s", kind, k.Curve.Params().Name)
				}
			}
			p, err := ParsePublicKeyPEM(pub)
			if err != nil {
				t.Fatal(err)
			}
			signed, err := (&Signer{KeyPairID: "K", Key: k}).SignURL("https://x/y", time.Unix(2e9, 0))
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(signed, map[string]crypto.PublicKey{"K": p}, time.Unix(1e9, 0)); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, _, err := GenerateKey("dsa"); err == nil || !strings.Contains(err.Error(), `"dsa"`) {
		t.Fatalf("GenerateKey(dsa) = %v", err)
	}
}

func TestMatchResource(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"https://a/b", "https://a/b", true},
		{"https://a/b", "https://a/bc", false},
		{"https://a/*", "https://a/", true},
		{"https://a/*", "https://a/x/y?z=1", true},
		{"https://a/*", "https://b/x", false},
		{"https://a/*.gz", "https://a/x.tar.gz", true},
		{"https://a/*.gz", "https://a/x.tar.gz.sig", false},
		{"https://a/?", "https://a/x", true},
		{"https://a/?", "https://a/", false},
		{"https://a/?", "https://a/xy", false},
		{"*", "anything", true},
		{"http*://a/*/c*", "https://a/b/c", true},
		{"http*://a/*/c*", "https://a/b/d", false},
		{"https://a/*b*b", "https://a/xbyb", true},
		{"https://a/*b*b", "https://a/xbyc", false},
		{"https://a/b*", "https://a/*", false},
	}
	for _, tt := range tests {
		if got := matchResource(tt.pattern, tt.s); got != tt.want {
			t.Errorf("matchResource(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestBase64(t *testing.T) {
	raw := []byte{0xfb, 0xff, 0xfe, 0x01} // standard base64 "+//+AQ=="
	if got, want := EncodeBase64(raw), "-~~-AQ__"; got != want {
		t.Fatalf("EncodeBase64 = %q, want %q", got, want)
	}
	tests := []struct {
		in      string
		wantErr bool
	}{
		{"-~~-AQ__", false},
		{"+//+AQ==", true},
		{"-~~-AQ", true},
		{"", true},
		{"-~~-A Q__", true},
	}
	for _, tt := range tests {
		got, err := DecodeBase64(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && !bytes.Equal(got, raw)) {
			t.Errorf("DecodeBase64(%q) = %x, %v", tt.in, got, err)
		}
	}
}

// TestSDKCannedEqualsOwn checks that the AWS SDK's canned SHA-1 URL and our own
// canned policy (used for cookies) sign the same bytes, so the two code paths
// cannot drift.
func TestSDKCannedEqualsOwn(t *testing.T) {
	rsaK, _ := keys(t)
	s := &Signer{KeyPairID: keyPairID, Key: rsaK.signer}
	for _, u := range []string{"https://a.example/x", "https://a.example/x?y=1&z=<>", `https://a.example/"q"`} {
		exp := time.Unix(1767225600, 0)
		signed, err := s.SignURL(u, exp)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := s.SignCookies(Policy{Resource: u, Expires: exp})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(signed, "&Signature="+cs[1].Value+"&") {
			t.Errorf("%s: SDK URL %s, cookie signature %s", u, signed, cs[1].Value)
		}
	}
}
