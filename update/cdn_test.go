package update

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/cloudfront"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// cdnRig is a TUF repository behind an mTLS origin and a test CDN, and what a client
// printed while using them.
type cdnRig struct {
	e      *testenv.Env
	cdn    *testenv.CDN
	signer *cloudfront.Signer

	mu       sync.Mutex
	logs     []string
	warnings []string
}

func newSigner(t *testing.T, kind, id string, h crypto.Hash) *cloudfront.Signer {
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

// newCDNRig starts a CDN in front of a fresh repository; origin replaces the repository's
// files as what the CDN serves when not nil.
func newCDNRig(t *testing.T, s *cloudfront.Signer, origin http.Handler) *cdnRig {
	t.Helper()
	r := &cdnRig{e: testenv.NewTB(t), signer: s}
	if origin == nil {
		origin = http.FileServer(http.Dir(r.e.Repo.Dir))
	}
	cdn, err := testenv.NewCDN(origin, r.e.ServerCA, map[string]crypto.PublicKey{s.KeyPairID: s.Key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cdn.Close)
	r.cdn = cdn
	return r
}

func (r *cdnRig) options(t *testing.T) Options {
	opts := envOptions(r.e)
	opts.CDN = &CDNOptions{URL: r.cdn.URL, Signer: r.signer, TTL: time.Hour}
	opts.Logf = func(format string, args ...any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.logs = append(r.logs, fmt.Sprintf(format, args...))
	}
	opts.Warnf = func(format string, args ...any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
	}
	return opts
}

// output is everything the client logged and warned.
func (r *cdnRig) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.logs, "\n") + "\n" + strings.Join(r.warnings, "\n")
}

// assertNoSignatures fails if text holds any Signature the CDN was sent.
func (r *cdnRig) assertNoSignatures(t *testing.T, what, text string) {
	t.Helper()
	n := 0
	for _, req := range r.cdn.Requests() {
		q, err := url.ParseQuery(req.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		if sig := q.Get("Signature"); sig != "" {
			n++
			if strings.Contains(text, sig) || strings.Contains(text, url.QueryEscape(sig)) {
				t.Errorf("%s holds a signed URL's Signature:\n%s", what, text)
				return
			}
		}
	}
	if n == 0 {
		t.Errorf("the CDN saw no signed request: nothing to look for in %s", what)
	}
}

// fetchAll refreshes and fetches the linux components, returning the first error.
func fetchAll(c *Client) error {
	ctx := context.Background()
	if err := c.Refresh(ctx); err != nil {
		return err
	}
	for _, p := range [][4]string{{"orbit", "linux", "stable", "orbit"}, {"osqueryd", "linux", "stable", "osqueryd"}, {"desktop", "linux", "stable", "desktop.tar.gz"}} {
		if _, err := c.Fetch(ctx, p[0], p[1], p[2], p[3]); err != nil {
			return err
		}
	}
	_, err := c.Metadata()
	return err
}

// TestCDNServes fetches everything through the CDN, with RSA/SHA-1 (the AWS SDK's
// signer) and ECDSA/SHA-256 keys: every request is signed, valid, and signed when it is
// sent; the origin sees nothing; logs never show a signature.
func TestCDNServes(t *testing.T) {
	for _, s := range []struct {
		kind string
		hash crypto.Hash
	}{{"rsa", crypto.SHA1}, {"ecdsa", crypto.SHA256}} {
		t.Run(s.kind, func(t *testing.T) {
			r := newCDNRig(t, newSigner(t, s.kind, "K2TEST"+strings.ToUpper(s.kind), s.hash), nil)
			opts := r.options(t)
			// A clock that moves a minute per signature: each URL must be signed with the
			// time it is sent at.
			base := time.Now().Truncate(time.Second)
			var mu sync.Mutex
			tick := 0
			var signedAt []int64
			opts.CDN.Now = func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				tick++
				at := base.Add(time.Duration(tick) * time.Minute)
				signedAt = append(signedAt, at.Add(time.Hour).Unix())
				return at
			}
			c := newClient(t, opts)
			if err := fetchAll(c); err != nil {
				t.Fatalf("fetch through the CDN: %v", err)
			}
			reqs := r.cdn.Requests()
			if len(reqs) < 6 {
				t.Fatalf("CDN saw %d requests, want the metadata and 3 targets", len(reqs))
			}
			for i, req := range reqs {
				q, _ := url.ParseQuery(req.RawQuery)
				wantHash := ""
				if s.hash == crypto.SHA256 {
					wantHash = "SHA256"
				}
				exp, _ := strconv.ParseInt(q.Get("Expires"), 10, 64)
				if q.Get("Key-Pair-Id") != r.signer.KeyPairID || q.Get("Hash-Algorithm") != wantHash || q.Get("Policy") != "" {
					t.Errorf("%s: not a canned-policy URL with the key pair and hash: %s", req.Path, req.RawQuery)
				}
				if i < len(signedAt) && exp != signedAt[i] {
					t.Errorf("%s: Expires %d, want %d (signing time + ttl)", req.Path, exp, signedAt[i])
				}
				if req.Path == "/2.root.json" {
					if req.Status != http.StatusNotFound || !req.Verified {
						t.Errorf("root probe: %+v", req)
					}
					continue
				}
				if !req.Verified || req.Status != http.StatusOK {
					t.Errorf("%s: verified %v, status %d, refusal %v", req.Path, req.Verified, req.Status, req.Err)
				}
			}
			if got := r.e.Server.Requests(); len(got) != 0 {
				t.Errorf("origin saw %v; everything should come from the CDN", got)
			}
			if len(r.warnings) != 0 {
				t.Errorf("warnings without a failure: %v", r.warnings)
			}
			out := r.output()
			if !strings.Contains(out, "Signature=REDACTED") {
				t.Errorf("logs do not show the redacted CDN requests:\n%s", out)
			}
			r.assertNoSignatures(t, "logs", out)
		})
	}
}

// TestCDNFallback makes the CDN fail in each way the origin may not share: every request
// is then served by the origin, with a warning naming CloudFront's error.
func TestCDNFallback(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(r *cdnRig, opts *Options)
		warning string
	}{
		{"forced 403", func(r *cdnRig, _ *Options) { r.cdn.SetFailure(testenv.CDNForbidden) }, "HTTP 403 Forbidden, AccessDenied: Access denied"},
		{"502", func(r *cdnRig, _ *Options) { r.cdn.SetFailure(testenv.CDNBadGateway) }, "HTTP 502 Bad Gateway"},
		{"hang-up", func(r *cdnRig, _ *Options) { r.cdn.SetFailure(testenv.CDNHangup) }, "EOF"},
		{"expired URL", func(r *cdnRig, opts *Options) {
			opts.CDN.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
		}, "AccessDenied: Access denied"},
		{"key not in the key group", func(r *cdnRig, _ *Options) { r.cdn.SetKey(r.signer.KeyPairID, nil) }, "InvalidKey: Unknown Key"},
		{"wrong key", func(r *cdnRig, _ *Options) {
			r.cdn.SetKey(r.signer.KeyPairID, newSigner(t, "rsa", "x", 0).Key.Public())
		}, "AccessDenied"},
		{"CDN down", func(r *cdnRig, opts *Options) { opts.CDN.URL = closedURL(t) }, "connection refused"},
		{"CDN certificate from an unknown CA", func(r *cdnRig, opts *Options) {
			other, err := testenv.NewCA("untrusted CDN CA")
			if err != nil {
				t.Fatal(err)
			}
			cdn, err := testenv.NewCDN(http.FileServer(http.Dir(r.e.Repo.Dir)), other, map[string]crypto.PublicKey{r.signer.KeyPairID: r.signer.Key.Public()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cdn.Close)
			opts.CDN.URL = cdn.URL
		}, "signed neither by a CA this system trusts nor by one in --update-tls-certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newCDNRig(t, newSigner(t, "rsa", "K2FALLBACK", 0), nil)
			opts := r.options(t)
			tt.setup(r, &opts)
			c := newClient(t, opts)
			if err := fetchAll(c); err != nil {
				t.Fatalf("fetch with fallback: %v", err)
			}
			if n := len(targetRequests(r.e.Server)); n != 3 {
				t.Errorf("origin served %d targets, want 3", n)
			}
			joined := strings.Join(r.warnings, "\n")
			if len(r.warnings) < 4 || !strings.Contains(joined, tt.warning) || !strings.Contains(joined, "from the origin "+r.e.Server.URL) {
				t.Errorf("warnings do not name the CDN error %q and the origin:\n%s", tt.warning, joined)
			}
			for _, w := range r.warnings {
				if !strings.HasPrefix(w, "CloudFront "+opts.CDN.URL+" could not serve ") {
					t.Errorf("warning %q", w)
				}
			}
			if !strings.HasPrefix(tt.name, "CDN ") {
				r.assertNoSignatures(t, "logs and warnings", r.output())
			}
		})
	}
}

func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "https://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestCDNBrokenBody cuts every target body short at the CDN: the partial download is
// dropped and the origin's copy, verified, is used.
func TestCDNBrokenBody(t *testing.T) {
	var r *cdnRig
	cut := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !strings.HasPrefix(req.URL.Path, "/targets/") {
			http.FileServer(http.Dir(r.e.Repo.Dir)).ServeHTTP(w, req)
			return
		}
		data, err := os.ReadFile(filepath.Join(r.e.Repo.Dir, filepath.FromSlash(req.URL.Path)))
		if err != nil {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	r = newCDNRig(t, newSigner(t, "rsa", "K2CUT", 0), cut)
	c := newClient(t, r.options(t))
	if err := fetchAll(c); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if n := len(targetRequests(r.e.Server)); n != 3 {
		t.Errorf("origin served %d targets, want 3", n)
	}
	if len(r.warnings) != 3 {
		t.Errorf("want one warning per target, got %q", r.warnings)
	}
}

// TestCDNBothFail: the CDN refuses and the origin is down: the error names both, and
// carries no signature.
func TestCDNBothFail(t *testing.T) {
	r := newCDNRig(t, newSigner(t, "rsa", "K2BOTH", 0), nil)
	r.cdn.SetFailure(testenv.CDNForbidden)
	opts := r.options(t)
	origin := closedURL(t)
	opts.URL = origin
	c := newClient(t, opts)
	err := fetchAll(c)
	if err == nil {
		t.Fatal("fetch succeeded with both hosts down")
	}
	msg := err.Error()
	for _, want := range []string{"CloudFront failed", "AccessDenied", "and so did the origin", origin, "root.json"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	r.assertNoSignatures(t, "error", msg)
	r.assertNoSignatures(t, "logs", r.output())
}

// TestCDNNoFallback: answers about the repository itself are not CDN failures. A 404 is
// reported naming --cloudfront-url, and a file that fails TUF verification fails the
// same way it would from the origin: the origin is never asked.
func TestCDNNoFallback(t *testing.T) {
	t.Run("404", func(t *testing.T) {
		r := newCDNRig(t, newSigner(t, "rsa", "K2404", 0), http.FileServer(http.Dir(t.TempDir())))
		c := newClient(t, r.options(t))
		err := fetchAll(c)
		if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "--cloudfront-url") {
			t.Fatalf("error %v, want a 404 naming --cloudfront-url", err)
		}
		if got := r.e.Server.Requests(); len(got) != 0 {
			t.Errorf("origin asked for %v", got)
		}
		r.assertNoSignatures(t, "error", err.Error())
	})
	t.Run("tampered target", func(t *testing.T) {
		var r *cdnRig
		evil := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/targets/orbit/linux/stable/orbit" {
				data, _ := os.ReadFile(filepath.Join(r.e.Repo.Dir, filepath.FromSlash(req.URL.Path)))
				w.Write(bytes.ToUpper(data)) // same length, other bytes
				return
			}
			http.FileServer(http.Dir(r.e.Repo.Dir)).ServeHTTP(w, req)
		})
		r = newCDNRig(t, newSigner(t, "rsa", "K2EVIL", 0), evil)
		c := newClient(t, r.options(t))
		err := fetchAll(c)
		if err == nil || !strings.Contains(err.Error(), "TUF verification of target orbit/linux/stable/orbit") ||
			!strings.Contains(err.Error(), r.cdn.URL) || !strings.Contains(err.Error(), "hash mismatch") {
			t.Fatalf("error %v, want a TUF hash mismatch naming the CDN", err)
		}
		if got := targetRequests(r.e.Server); len(got) != 0 {
			t.Errorf("origin asked for %v", got)
		}
		r.assertNoSignatures(t, "error", err.Error())
	})
}

func TestRedactSignedURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://d.example/x?Expires=1&Signature=abc~-_&Key-Pair-Id=K":                    "https://d.example/x?Expires=1&Signature=REDACTED&Key-Pair-Id=K",
		"https://d.example/x?Policy=eyJ9&Signature=s&Key-Pair-Id=K&Hash-Algorithm=SHA256": "https://d.example/x?Policy=REDACTED&Signature=REDACTED&Key-Pair-Id=K&Hash-Algorithm=SHA256",
		`Get "https://d/x?a=1&signature=zz": EOF`:                                         `Get "https://d/x?a=1&signature=REDACTED": EOF`,
		"CloudFront-Signature=abc; Path=/":                                                "CloudFront-Signature=REDACTED; Path=/",
		"https://d.example/x":                                                             "https://d.example/x",
	} {
		if got := RedactSignedURL(in); got != want {
			t.Errorf("RedactSignedURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCDNOptionsErrors(t *testing.T) {
	e := testenv.NewTB(t)
	s := newSigner(t, "rsa", "K2", 0)
	for _, c := range []struct {
		name string
		cdn  CDNOptions
		want string
	}{
		{"http", CDNOptions{URL: "http://d.example", Signer: s, TTL: time.Hour}, "must be an absolute https URL"},
		{"query", CDNOptions{URL: "https://d.example/?a=1", Signer: s, TTL: time.Hour}, "must not have a query"},
		{"no signer", CDNOptions{URL: "https://d.example", TTL: time.Hour}, "--cloudfront-key-pair-id"},
		{"ttl", CDNOptions{URL: "https://d.example", Signer: s, TTL: 0}, "--cloudfront-url-ttl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := envOptions(e)
			opts.CDN = &c.cdn
			if _, err := New(opts); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, want %q", err, c.want)
			}
		})
	}
}

func TestRedactURLPasswords(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:hunter2@tuf.example.com/x":                           "https://user:REDACTED@tuf.example.com/x",
		`fetch "https://u:p%40ss@h:8443/timestamp.json": refused`:          `fetch "https://u:REDACTED@h:8443/timestamp.json": refused`,
		"GET https://:secret@h/ and http://a:b@c/":                         "GET https://:REDACTED@h/ and http://a:REDACTED@c/",
		"https://user@h/ keeps a user without password":                    "https://user@h/ keeps a user without password",
		"https://d.cloudfront.net/x?Expires=1&Signature=abc&Key-Pair-Id=K": "https://d.cloudfront.net/x?Expires=1&Signature=REDACTED&Key-Pair-Id=K",
		"no URL here: a:b@c":                                               "no URL here: a:b@c",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	err := redactErr(fmt.Errorf("wrap: %w", io.ErrUnexpectedEOF))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Error("redactErr breaks the error chain")
	}
}

// FuzzRedact: after Redact, no password of a scheme://user:password@ URL
// remains in the text.
func FuzzRedact(f *testing.F) {
	f.Add("https://u:", "hunter2", "@host/x")
	f.Fuzz(func(t *testing.T, before, password, after string) {
		if len(password) < 4 || strings.ContainsAny(password, "/?#@ \t\n\f\r\"'<>") {
			return
		}
		in := before + "https://user:" + password + "@" + after
		if got := Redact(in); strings.Contains(got, "https://user:"+password+"@") {
			t.Fatalf("Redact(%q) = %q keeps the password", in, got)
		}
	})
}
