// Package timestamp is an RFC 3161 time-stamp client: it asks a time-stamping
// authority (TSA) to countersign a signature, so that the signature keeps
// validating after the signing certificate expires. It implements relic's
// pkcs9.Timestamper, which relic's Authenticode and xar signers call.
//
// relic's own lib/pkcs9/tsclient builds here, but it registers global Prometheus
// metrics, logs through the standard logger, echoes the server's response body
// into errors and does not retry a failing server: this small client, on relic's
// lib/pkcs9 request and response types, does what pkgctl needs instead.
package timestamp

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sassoftware/relic/v7/lib/pkcs7"
	"github.com/sassoftware/relic/v7/lib/pkcs9"
)

// None is the URL value that turns timestamping off.
const None = "none"

// AppleURL is Apple's time-stamping server, which productsign and rcodesign
// use by default for Developer ID signatures.
const AppleURL = "http://timestamp.apple.com/ts01"

// maxResponse bounds a TSA's answer (a token is a few KiB).
const maxResponse = 1 << 20

// Client asks one TSA for RFC 3161 tokens. The zero values of the optional
// fields are sensible defaults.
type Client struct {
	URL       *url.URL
	HTTP      *http.Client  // nil: a client with a 30 s timeout
	Attempts  int           // tries on 5xx and network errors; 0 means 4
	Backoff   time.Duration // wait before the second try, doubled after each; 0 means 1 s
	UserAgent string
}

// New checks rawURL (an http or https URL) and returns a client for it; flag
// names the setting in errors. It returns nil, nil for "" and None.
func New(flag, rawURL string) (*Client, error) {
	if rawURL == "" || rawURL == None {
		return nil, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(rawURL, " \t\r\n\x7f") || u.Fragment != "" {
		return nil, fmt.Errorf("--%s must be an http or https URL of an RFC 3161 time-stamping server, or %q", flag, None)
	}
	if u.User != nil {
		// The URL is a plain setting: it lands in manifests and logs.
		return nil, fmt.Errorf("--%s must not carry a user name or password", flag)
	}
	return &Client{URL: u}, nil
}

// Error is a failed time-stamp request.
type Error struct {
	URL      string // without any password
	Attempts int
	Status   string // the last HTTP status, "" when the server was not reached
	Err      error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("timestamp server %s", e.URL)
	if e.Status != "" {
		msg += ": HTTP " + e.Status
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (gave up after %d attempts)", e.Attempts)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Timestamp gets a token over req.EncryptedDigest (hashed with req.Hash), as
// relic's signers ask for it. It never returns a nil token without an error.
func (c *Client) Timestamp(ctx context.Context, req *pkcs9.Request) (*pkcs7.ContentInfoSignedData, error) {
	if req.Legacy {
		return nil, &Error{URL: c.URL.Redacted(), Err: errors.New("legacy (non RFC 3161) time stamps are not supported")}
	}
	if !req.Hash.Available() {
		return nil, &Error{URL: c.URL.Redacted(), Err: fmt.Errorf("hash %v is not available", req.Hash)}
	}
	h := req.Hash.New()
	h.Write(req.EncryptedDigest)
	imprint := h.Sum(nil)

	attempts, wait := c.Attempts, c.Backoff
	if attempts <= 0 {
		attempts = 4
	}
	if wait <= 0 {
		wait = time.Second
	}
	var last *Error
	for i := 1; i <= attempts; i++ {
		if i > 1 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				last.Err = errors.Join(last.Err, ctx.Err())
				return nil, last
			case <-t.C:
			}
			wait *= 2
		}
		token, err, retry := c.once(ctx, req.Hash, imprint)
		if err == nil {
			return token, nil
		}
		err.Attempts = i
		last = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

// once sends one request; retry says whether the failure may pass.
func (c *Client) once(ctx context.Context, hash crypto.Hash, imprint []byte) (*pkcs7.ContentInfoSignedData, *Error, bool) {
	fail := func(status string, err error) *Error {
		return &Error{URL: c.URL.Redacted(), Status: status, Err: err}
	}
	msg, hreq, err := pkcs9.NewRequest(c.URL.String(), hash, imprint)
	if err != nil {
		return nil, fail("", err), false
	}
	hreq = hreq.WithContext(ctx)
	hreq.Header.Set("Accept", "application/timestamp-reply")
	if c.UserAgent != "" {
		hreq.Header.Set("User-Agent", c.UserAgent)
	}
	client := c.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(hreq)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL, password included
		}
		return nil, fail("", fmt.Errorf("not reachable: %w", err)), true
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fail("", fmt.Errorf("read the answer: %w", err)), true
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, fail(resp.Status, nil), true
	case resp.StatusCode != http.StatusOK:
		return nil, fail(resp.Status, nil), false
	case len(body) > maxResponse:
		return nil, fail("", errors.New("the answer is larger than 1 MiB")), false
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/timestamp-reply") && !strings.HasPrefix(ct, "application/timestamp-response") {
		return nil, fail("", fmt.Errorf("the answer is %q, not an RFC 3161 time-stamp reply", inert(ct))), false
	}
	token, err := msg.ParseResponse(body)
	if err != nil {
		return nil, fail("", fmt.Errorf("invalid time-stamp reply: %w", err)), false
	}
	return token, nil, false
}

// inert keeps printable ASCII only, so a server's text is safe on a terminal.
func inert(s string) string {
	if len(s) > 80 {
		s = s[:80]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
