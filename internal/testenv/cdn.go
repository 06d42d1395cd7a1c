package testenv

import (
	"crypto"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pkgctl/pkgctl/cloudfront"
)

// CDN is a local HTTPS stand-in for a CloudFront distribution whose cache behavior
// restricts viewer access to a trusted key group: every request must carry a signed URL
// (or signed cookies) that cloudfront.Verify accepts for one of the group's public keys,
// else it gets CloudFront's 403 with its XML error body. Accepted requests are served by
// the origin handler (the test TUF repository's files).
type CDN struct {
	URL     string // https://127.0.0.1:PORT
	CertPEM []byte // PEM of the CA that issued the CDN's certificate

	srv  *http.Server
	done chan struct{}

	mu       sync.Mutex
	keys     map[string]crypto.PublicKey
	failure  CDNFailure
	now      func() time.Time
	requests []CDNRequest
}

// CDNFailure makes the CDN fail every request in one way, to test a client's fallback.
type CDNFailure int

// Failures a test can force.
const (
	CDNServe      CDNFailure = iota // check signatures and serve (the default)
	CDNForbidden                    // 403 AccessDenied whatever the signature
	CDNBadGateway                   // 502 with CloudFront's HTML error page
	CDNHangup                       // close the connection without an answer
)

// CDNRequest is one request the CDN saw.
type CDNRequest struct {
	Path     string // URL path
	RawQuery string // query as sent, signature included
	Status   int    // status answered; 0 for a hang-up
	Code     string // CloudFront error code of a 403 (MissingKey, InvalidKey, AccessDenied, ...)
	Err      error  // why the signature was refused; nil when it was valid
	Verified bool   // the signature was checked and valid
}

// CloudFront's 403 bodies, as the distribution sends them.
const (
	CodeMissingKey      = "MissingKey"
	CodeInvalidKey      = "InvalidKey"
	CodeAccessDenied    = "AccessDenied"
	CodeMalformedPolicy = "MalformedPolicy"
)

var cdnMessages = map[string]string{
	CodeMissingKey:      "Missing Key-Pair-Id query parameter or cookie value",
	CodeInvalidKey:      "Unknown Key",
	CodeAccessDenied:    "Access denied",
	CodeMalformedPolicy: "Malformed Policy",
}

// NewCDN serves origin over HTTPS on 127.0.0.1:0 with a certificate from serverCA for
// 127.0.0.1 and localhost, accepting URLs signed by keys (Key-Pair-Id → public key: the
// distribution's key group). It speaks HTTP/1.1 only, so that CDNHangup can hijack the
// connection.
func NewCDN(origin http.Handler, serverCA *CA, keys map[string]crypto.PublicKey) (*CDN, error) {
	certPEM, keyPEM, err := serverCA.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		return nil, fmt.Errorf("new cdn: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("new cdn: load key pair: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("new cdn: listen: %w", err)
	}
	c := &CDN{
		URL:     "https://" + ln.Addr().String(),
		CertPEM: serverCA.CertPEM,
		done:    make(chan struct{}),
		keys:    map[string]crypto.PublicKey{},
		now:     time.Now,
	}
	for id, k := range keys {
		c.keys[id] = k
	}
	c.srv = &http.Server{
		Handler:           c.handler(origin),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // no HTTP/2
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(c.done)
		_ = c.srv.ServeTLS(ln, "", "")
	}()
	return c, nil
}

// StartCDN puts a CDN in front of e's repository files, trusting keys. Close it when done.
func (e *Env) StartCDN(keys map[string]crypto.PublicKey) (*CDN, error) {
	return NewCDN(http.FileServer(http.Dir(e.Repo.Dir)), e.ServerCA, keys)
}

// SetFailure makes every following request fail as f says (CDNServe restores service).
func (c *CDN) SetFailure(f CDNFailure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failure = f
}

// SetNow replaces the clock that expiry is checked against.
func (c *CDN) SetNow(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// SetKey adds (or, with a nil key, removes) a public key of the key group.
func (c *CDN) SetKey(keyPairID string, pub crypto.PublicKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if pub == nil {
		delete(c.keys, keyPairID)
		return
	}
	c.keys[keyPairID] = pub
}

// Requests returns the requests seen so far, in order.
func (c *CDN) Requests() []CDNRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CDNRequest(nil), c.requests...)
}

// ResetRequests forgets the recorded requests.
func (c *CDN) ResetRequests() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = nil
}

// Close stops the CDN and closes its connections.
func (c *CDN) Close() {
	_ = c.srv.Close()
	<-c.done
}

func (c *CDN) record(r CDNRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, r)
}

func (c *CDN) handler(origin http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		failure, now := c.failure, c.now()
		keys := make(map[string]crypto.PublicKey, len(c.keys))
		for id, k := range c.keys {
			keys[id] = k
		}
		c.mu.Unlock()
		rec := CDNRequest{Path: r.URL.Path, RawQuery: r.URL.RawQuery}

		switch failure {
		case CDNHangup:
			c.record(rec)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case CDNBadGateway:
			rec.Status = http.StatusBadGateway
			c.record(rec)
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Server", "CloudFront")
			w.Header().Set("X-Cache", "Error from cloudfront")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY><H1>502 ERROR</H1><H2>The request could not be satisfied.</H2></BODY></HTML>\n")
			return
		case CDNForbidden:
			rec.Status, rec.Code = http.StatusForbidden, CodeAccessDenied
			c.record(rec)
			writeCloudFrontError(w, CodeAccessDenied)
			return
		}

		code, err := c.check(r, keys, now)
		rec.Err = err
		if code != "" {
			rec.Status, rec.Code = http.StatusForbidden, code
			c.record(rec)
			writeCloudFrontError(w, code)
			return
		}
		rec.Verified = true
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		w.Header().Set("Server", "CloudFront")
		origin.ServeHTTP(sw, r)
		rec.Status = sw.status
		c.record(rec)
	})
}

// check verifies the request's signed URL (or cookies) as CloudFront does and returns the
// CloudFront error code to answer, or "" to serve.
func (c *CDN) check(r *http.Request, keys map[string]crypto.PublicKey, now time.Time) (string, error) {
	full := "https://" + r.Host + r.URL.RequestURI()
	var opts []cloudfront.VerifyOption
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		opts = append(opts, cloudfront.WithClientIP(ap.Addr()))
	}
	q := r.URL.Query()
	if pol, ok := q["Policy"]; ok {
		// CloudFront reads the policy before it checks the signature over it.
		doc, err := cloudfront.DecodeBase64(pol[0])
		if err != nil || !json.Valid(doc) {
			return CodeMalformedPolicy, fmt.Errorf("%w: Policy is not base64 JSON", cloudfront.ErrMalformed)
		}
	}
	var err error
	switch {
	case q.Get("Key-Pair-Id") != "":
		err = cloudfront.Verify(full, keys, now, opts...)
	case cookieValue(r, cloudfront.CookieKeyPairID) != "":
		err = cloudfront.VerifyCookies(full, r.Cookies(), keys, now, opts...)
	default:
		return CodeMissingKey, errors.New("no Key-Pair-Id query parameter or cookie")
	}
	switch {
	case err == nil:
		return "", nil
	case errors.Is(err, cloudfront.ErrUnknownKeyPairID):
		return CodeInvalidKey, err
	case errors.Is(err, cloudfront.ErrMalformed) && strings.Contains(err.Error(), "Policy"):
		return CodeMalformedPolicy, err
	default:
		// A bad signature, an expired or not-yet-valid policy, another resource or
		// source IP: CloudFront says no more than this.
		return CodeAccessDenied, err
	}
}

func cookieValue(r *http.Request, name string) string {
	if ck, err := r.Cookie(name); err == nil {
		return ck.Value
	}
	return ""
}

// writeCloudFrontError writes CloudFront's 403 with its XML error body.
func writeCloudFrontError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Server", "CloudFront")
	w.Header().Set("X-Cache", "Error from cloudfront")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, cdnMessages[code])
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
