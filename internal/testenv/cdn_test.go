package testenv

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/cloudfront"
)

func genSigner(t *testing.T, kind, id string, h crypto.Hash) *cloudfront.Signer {
	t.Helper()
	priv, _, err := cloudfront.GenerateKey(kind)
	if err != nil {
		t.Fatal(err)
	}
	key, err := cloudfront.ParsePrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &cloudfront.Signer{KeyPairID: id, Key: key, Hash: h}
}

// get fetches u with client and returns the status and body.
func cdnGet(t *testing.T, c *http.Client, u string, cookies ...*http.Cookie) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func cfBody(code string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>` + cdnMessages[code] + `</Message></Error>`
}

// TestCDNChecksSignatures signs with the cloudfront package and checks what the test
// CDN serves and refuses, with CloudFront's exact 403 bodies.
func TestCDNChecksSignatures(t *testing.T) {
	e := NewTB(t)
	rsa1 := genSigner(t, "rsa", "K2RSA", 0)
	ec := genSigner(t, "ecdsa", "K2EC", crypto.SHA256)
	stranger := genSigner(t, "rsa", "K2RSA", 0) // right ID, key not in the group
	cdn, err := e.StartCDN(map[string]crypto.PublicKey{rsa1.KeyPairID: rsa1.Key.Public(), ec.KeyPairID: ec.Key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cdn.Close)
	client, err := NewHTTPClient(cdn.CertPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(e.Repo.Dir, "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	u := cdn.URL + "/timestamp.json"
	exp := time.Now().Add(time.Hour)
	must := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	canned := must(rsa1.SignURL(u, exp))
	sig := url.Values{}
	if p, err := url.Parse(canned); err == nil {
		sig = p.Query()
	}
	// The same signature in standard base64 (+ / =) instead of CloudFront's - ~ _.
	std := base64.StdEncoding.EncodeToString(mustDecode(t, sig.Get("Signature")))
	stdURL := u + "?Expires=" + sig.Get("Expires") + "&Signature=" + url.QueryEscape(std) + "&Key-Pair-Id=" + rsa1.KeyPairID
	if !strings.Contains(std, "=") { // 256 signature bytes always need padding
		t.Fatalf("standard base64 %s has no padding: the case would test nothing", std)
	}

	cases := []struct {
		name    string
		url     string
		cookies []*http.Cookie
		status  int
		code    string
		err     error
	}{
		{"canned sha1 rsa", canned, nil, 200, "", nil},
		{"canned sha256 ecdsa", must(ec.SignURL(u, exp)), nil, 200, "", nil},
		{"custom wildcard", must(rsa1.SignURLWithPolicy(u, cloudfront.Policy{Resource: cdn.URL + "/*", Expires: exp, IPRange: "127.0.0.0/8"})), nil, 200, "", nil},
		{"custom wrong source ip", must(rsa1.SignURLWithPolicy(u, cloudfront.Policy{Resource: cdn.URL + "/*", Expires: exp, IPRange: "192.0.2.0/24"})), nil, 403, CodeAccessDenied, cloudfront.ErrIPNotAllowed},
		{"cookies", u, mustCookies(t, rsa1, cloudfront.Policy{Resource: cdn.URL + "/*", Expires: exp}), 200, "", nil},
		{"unsigned", u, nil, 403, CodeMissingKey, nil},
		{"unknown key pair id", strings.Replace(canned, "Key-Pair-Id=K2RSA", "Key-Pair-Id=K2NOPE", 1), nil, 403, CodeInvalidKey, cloudfront.ErrUnknownKeyPairID},
		{"expired", must(rsa1.SignURL(u, time.Now().Add(-time.Minute))), nil, 403, CodeAccessDenied, cloudfront.ErrExpired},
		{"wrong key", must(stranger.SignURL(u, exp)), nil, 403, CodeAccessDenied, cloudfront.ErrBadSignature},
		{"tampered path", strings.Replace(canned, "/timestamp.json", "/root.json", 1), nil, 403, CodeAccessDenied, cloudfront.ErrBadSignature},
		{"tampered expiry", strings.Replace(canned, "Expires="+sig.Get("Expires"), "Expires=2000000000", 1), nil, 403, CodeAccessDenied, cloudfront.ErrBadSignature},
		{"standard base64", stdURL, nil, 403, CodeAccessDenied, cloudfront.ErrMalformed},
		{"malformed policy", u + "?Policy=bm90LWpzb24_&Signature=" + sig.Get("Signature") + "&Key-Pair-Id=K2RSA", nil, 403, CodeMalformedPolicy, cloudfront.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cdn.ResetRequests()
			status, body := cdnGet(t, client, c.url, c.cookies...)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			if c.status == 200 {
				if !bytes.Equal(body, want) {
					t.Errorf("body differs from the repository's timestamp.json")
				}
			} else if string(body) != cfBody(c.code) {
				t.Errorf("body %s\nwant %s", body, cfBody(c.code))
			}
			reqs := cdn.Requests()
			if len(reqs) != 1 {
				t.Fatalf("CDN saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Verified != (c.status == 200) || r.Code != c.code || r.Status != c.status {
				t.Errorf("recorded %+v", r)
			}
			if c.err != nil && !errors.Is(r.Err, c.err) {
				t.Errorf("refusal reason %v, want %v", r.Err, c.err)
			}
		})
	}

	t.Run("clock", func(t *testing.T) {
		cdn.SetNow(func() time.Time { return exp.Add(time.Second) })
		defer cdn.SetNow(time.Now)
		if status, _ := cdnGet(t, client, canned); status != 403 {
			t.Errorf("URL past its expiry on the CDN's clock: status %d, want 403", status)
		}
	})
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := cloudfront.DecodeBase64(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCookies(t *testing.T, s *cloudfront.Signer, p cloudfront.Policy) []*http.Cookie {
	t.Helper()
	cs, err := s.SignCookies(p)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestCDNFailures checks the knobs: forced 403 and 502 with their bodies, and a hang-up
// that the client sees as a transport error; each is counted.
func TestCDNFailures(t *testing.T) {
	e := NewTB(t)
	s := genSigner(t, "rsa", "K2RSA", 0)
	cdn, err := e.StartCDN(map[string]crypto.PublicKey{s.KeyPairID: s.Key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cdn.Close)
	client, err := NewHTTPClient(cdn.CertPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := s.SignURL(cdn.URL+"/root.json", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	cdn.SetFailure(CDNForbidden)
	if status, body := cdnGet(t, client, signed); status != 403 || string(body) != cfBody(CodeAccessDenied) {
		t.Errorf("forbidden: %d %s", status, body)
	}
	cdn.SetFailure(CDNBadGateway)
	if status, body := cdnGet(t, client, signed); status != 502 || !strings.Contains(string(body), "could not be satisfied") {
		t.Errorf("bad gateway: %d %s", status, body)
	}
	cdn.SetFailure(CDNHangup)
	if resp, err := client.Get(signed); err == nil {
		resp.Body.Close()
		t.Errorf("hang-up: got HTTP %d, want a transport error", resp.StatusCode)
	}
	cdn.SetFailure(CDNServe)
	if status, _ := cdnGet(t, client, signed); status != 200 {
		t.Errorf("served again: %d", status)
	}
	reqs := cdn.Requests()
	if len(reqs) != 4 {
		t.Fatalf("CDN counted %d requests, want 4: %+v", len(reqs), reqs)
	}
	for i, want := range []int{403, 502, 0, 200} {
		if reqs[i].Status != want {
			t.Errorf("request %d: status %d, want %d", i, reqs[i].Status, want)
		}
	}
}
