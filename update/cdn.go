package update

import (
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/pkgctl/pkgctl/cloudfront"
)

// CDNOptions configure fetching through an Amazon CloudFront distribution that only serves
// signed URLs. Every request goes to the distribution first, signed just before it is sent;
// a request CloudFront refuses (403), fails (5xx) or cannot take (connection, TLS) is sent
// once more, unchanged and unsigned, to the origin (Options.URL). go-tuf verifies the bytes
// the same way whichever host served them.
type CDNOptions struct {
	// URL is --cloudfront-url: the distribution's base URL, serving the same repository
	// layout as Options.URL (root.json, timestamp.json, targets/...). It must be https.
	URL string
	// Signer signs each URL with a canned policy (--cloudfront-key-pair-id,
	// --cloudfront-private-key, --cloudfront-hash-algorithm).
	Signer *cloudfront.Signer
	// TTL is --cloudfront-url-ttl: each URL expires TTL after it is signed.
	TTL time.Duration
	// Now is the signing clock; nil means time.Now (tests sign in the past).
	Now func() time.Time
}

// cdnClient is the CloudFront side of a Client.
type cdnClient struct {
	base         string // distribution base URL, no trailing slash
	signer       *cloudfront.Signer
	ttl          time.Duration
	now          func() time.Time
	httpClient   *http.Client
	ownTransport *http.Transport // closed by Close; nil when Options.Transport was given
}

// newCDN validates opts.CDN. tr is the origin's transport (nil when Options.Transport was
// given); caPEM is --update-tls-certificate's content.
func newCDN(o *CDNOptions, tr *http.Transport, given http.RoundTripper, caPEM []byte) (*cdnClient, error) {
	u, err := url.Parse(strings.TrimSpace(o.URL))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("invalid --cloudfront-url %q: must be an absolute https URL such as https://d111111abcdef8.cloudfront.net", o.URL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("invalid --cloudfront-url %q: must not have a query, fragment or user name", o.URL)
	}
	if o.Signer == nil || o.Signer.Key == nil || o.Signer.KeyPairID == "" {
		return nil, errors.New("--cloudfront-url needs --cloudfront-key-pair-id and --cloudfront-private-key")
	}
	if o.TTL < time.Second {
		return nil, fmt.Errorf("--cloudfront-url-ttl must be at least 1s, got %s", o.TTL)
	}
	c := &cdnClient{base: strings.TrimRight(u.String(), "/"), signer: o.Signer, ttl: o.TTL, now: o.Now}
	if c.now == nil {
		c.now = time.Now
	}
	if given != nil {
		c.httpClient = &http.Client{Transport: given}
		return c, nil
	}
	// CloudFront presents a publicly trusted certificate even when the origin uses a
	// private CA: trust the system roots plus --update-tls-certificate (which, for the
	// origin, replaces the system roots). TUF verifies everything either way.
	tr = tr.Clone()
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	if len(caPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pool.AppendCertsFromPEM(caPEM)
		tr.TLSClientConfig.RootCAs = pool
	}
	c.ownTransport = tr
	c.httpClient = &http.Client{Transport: tr}
	return c, nil
}

// attempt is one way to send a request: to the origin as is, or to CloudFront signed.
type attempt struct {
	send   string // the URL sent; for CloudFront it holds a signature: never print it
	show   string // the URL for logs and errors, signature redacted
	cdn    bool
	client *http.Client
}

func (c *Client) originAttempt(u string) attempt {
	return attempt{send: u, show: u, client: c.httpClient}
}

// cdnAttempt maps an origin URL to the distribution and signs it now.
func (c *Client) cdnAttempt(originURL string) (attempt, error) {
	rest, ok := strings.CutPrefix(originURL, c.url)
	if !ok {
		return attempt{}, fmt.Errorf("internal error: %s is not under %s", originURL, c.url)
	}
	u := c.cdn.base + rest
	signed, err := c.cdn.signer.SignURL(u, c.cdn.now().Add(c.cdn.ttl))
	if err != nil {
		return attempt{}, fmt.Errorf("sign CloudFront URL for %s: %w", u, err)
	}
	return attempt{send: signed, show: RedactSignedURL(signed), cdn: true, client: c.cdn.httpClient}, nil
}

// send sends GET a.send with pkgctl's User-Agent. A transport error never carries the
// signed URL: net/http puts the request URL into *url.Error, which is replaced here.
func (c *Client) send(ctx context.Context, a attempt) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.send, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", a.show, scrubURLError(err, a.show))
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, scrubURLError(err, a.show)
	}
	return resp, nil
}

func scrubURLError(err error, show string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = show
	}
	return err
}

// signingParam matches CloudFront's secret-bearing query parameters and cookies.
var signingParam = regexp.MustCompile(`(?i)\b((?:CloudFront-)?(?:Signature|Policy))=[^&\s"'<>;]*`)

// userinfoPassword matches the password of a URL's user information
// (https://user:password@host), anywhere in a message, %-escaped or not.
var userinfoPassword = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^/?#@\s:"'<>]*):[^/?#@\s"'<>]*@`)

// RedactSignedURL replaces the credentials that URLs carry (in a URL, or anywhere in
// a message) with REDACTED: the values of CloudFront's Signature and Policy (a signed
// URL is a bearer credential until it expires) and the password of user information
// (https://user:REDACTED@host). Expires, Key-Pair-Id, Hash-Algorithm and the user name
// stay, as they help diagnose a refusal.
func RedactSignedURL(s string) string {
	s = userinfoPassword.ReplaceAllString(s, "${1}:REDACTED@")
	return signingParam.ReplaceAllString(s, "${1}=REDACTED")
}

// Redact is RedactSignedURL: every credential a URL can carry, redacted.
func Redact(s string) string { return RedactSignedURL(s) }

// redactedError shows err with its URL credentials redacted and unwraps to it.
type redactedError struct{ err error }

func (e *redactedError) Error() string { return Redact(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr wraps err so that its message never shows a URL's credentials.
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{err}
}

// withFallback runs try against CloudFront, then against the origin if CloudFront failed
// in a way the origin may not share. Without a CDN it runs try against the origin once.
// try must start afresh on every call (it is given a new attempt).
func (c *Client) withFallback(ctx context.Context, originURL string, try func(attempt) error) error {
	if c.cdn == nil {
		return try(c.originAttempt(originURL))
	}
	a, err := c.cdnAttempt(originURL)
	if err != nil {
		return err
	}
	cdnErr := try(a)
	if cdnErr == nil || ctx.Err() != nil || !cdnFailure(cdnErr) {
		return cdnErr
	}
	c.logf("%v; retrying from the origin %s", cdnErr, originURL)
	if originErr := try(c.originAttempt(originURL)); originErr != nil {
		var he *metadata.ErrDownloadHTTP
		if errors.As(originErr, &he) && !explained(originErr) {
			originErr = c.httpStatusError(he.URL, he.StatusCode) // still unwraps to he
		}
		return &fallbackError{url: originURL, cdn: cdnErr, origin: originErr}
	}
	c.warnf("CloudFront %s could not serve %s (%s); fetched it from the origin %s instead", c.cdn.base, c.relPath(originURL), cdnSummary(cdnErr), serverOf(originURL))
	return nil
}

// relPath is u relative to the repository base, for messages.
func (c *Client) relPath(u string) string {
	if rest, ok := strings.CutPrefix(u, c.url+"/"); ok {
		return rest
	}
	return u
}

// cdnFailure reports whether err is a failure of CloudFront that the origin may not share:
// 403 (a signature, key or policy refused), any 5xx, or no usable connection. Verification
// failures and other statuses (404) are answers about the repository, not the CDN.
func cdnFailure(err error) bool {
	var he *cdnHTTPError
	if errors.As(err, &he) {
		return he.status == http.StatusForbidden || he.status >= 500
	}
	var te *cdnTransportError
	return errors.As(err, &te)
}

// cdnSummary is the short reason CloudFront failed, for the fallback warning.
func cdnSummary(err error) string {
	var he *cdnHTTPError
	if errors.As(err, &he) {
		return he.summary()
	}
	var te *cdnTransportError
	if errors.As(err, &te) {
		return te.summary()
	}
	return RedactSignedURL(err.Error())
}

// cdnHTTPError is a CloudFront answer other than 200 OK. It unwraps to go-tuf's
// ErrDownloadHTTP so that go-tuf sees a 404 for a root version that does not exist.
type cdnHTTPError struct {
	status        int
	code, message string // CloudFront's XML <Error>, when it sent one
	url           string // redacted
	http          *metadata.ErrDownloadHTTP
}

func (e *cdnHTTPError) summary() string {
	s := fmt.Sprintf("HTTP %d %s", e.status, http.StatusText(e.status))
	if e.code != "" {
		s += ", " + e.code
		if e.message != "" {
			s += ": " + e.message
		}
	}
	return s
}

func (e *cdnHTTPError) Error() string {
	msg := fmt.Sprintf("CloudFront answered %s for %s", e.summary(), e.url)
	switch {
	case e.status == http.StatusNotFound:
		msg += "; check --cloudfront-url (it must serve the same TUF repository as the origin)"
	case e.code == "MissingKey" || e.code == "InvalidKey":
		msg += "; check --cloudfront-key-pair-id against the public keys in the distribution's trusted key group"
	case e.status == http.StatusForbidden:
		msg += "; check --cloudfront-key-pair-id, --cloudfront-private-key (it must pair with a public key of the distribution's trusted key group) and this machine's clock"
	}
	return msg
}

func (e *cdnHTTPError) Unwrap() error { return e.http }

// cdnTransportError is a request CloudFront never answered (connection, TLS, timeout).
type cdnTransportError struct {
	url    string // redacted
	reason string // what went wrong in terms of the flags; "" = err says it
	err    error
}

func (e *cdnTransportError) Error() string {
	msg := fmt.Sprintf("CloudFront %s: fetch %s: ", serverOf(e.url), e.url)
	if e.reason != "" {
		msg += e.reason + ": "
	}
	return RedactSignedURL(msg + e.inner().Error())
}

func (e *cdnTransportError) Unwrap() error { return e.err }

// inner is err without net/http's `Get "<url>":` prefix.
func (e *cdnTransportError) inner() error {
	var ue *url.Error
	if errors.As(e.err, &ue) {
		return ue.Err
	}
	return e.err
}

func (e *cdnTransportError) summary() string {
	if e.reason != "" {
		return RedactSignedURL(e.reason + ": " + e.inner().Error())
	}
	return RedactSignedURL(e.inner().Error())
}

// cdnTransport explains a failed request to CloudFront.
func (c *Client) cdnTransport(ctx context.Context, a attempt, err error) error {
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	reason := ""
	switch {
	case errors.Is(context.Cause(ctx), errStalled):
		reason = fmt.Sprintf("stalled: no data for %s", stallTimeout)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		reason = "timed out"
	case errors.As(err, &unknownAuthority):
		reason = "its TLS certificate is signed neither by a CA this system trusts nor by one in --update-tls-certificate"
	case errors.As(err, &hostnameErr):
		reason = "its TLS certificate is not valid for that host name; check --cloudfront-url"
	}
	return &cdnTransportError{url: a.show, reason: reason, err: err}
}

// cdnStatus reads CloudFront's XML error body (a few KiB at most) into a cdnHTTPError.
func cdnStatus(a attempt, resp *http.Response) error {
	e := &cdnHTTPError{status: resp.StatusCode, url: a.show,
		http: &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: a.show}}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	var x struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}
	if xml.Unmarshal(body, &x) == nil {
		e.code = printable(x.Code, 64, false)
		e.message = RedactSignedURL(printable(x.Message, 200, true))
	}
	return e
}

// printable keeps a server-supplied string short and free of control characters (and,
// for codes, of anything but letters and digits).
func printable(s string, max int, spaces bool) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case b.Len() >= max:
			return b.String() + "..."
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
		case spaces && r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fallbackError is a request that failed at CloudFront and then at the origin. It unwraps
// to the origin's error first: that is the answer about the repository (a 404 for a root
// version that does not exist ends go-tuf's root update).
type fallbackError struct {
	url         string // origin URL
	cdn, origin error
}

func (e *fallbackError) Error() string {
	return RedactSignedURL(fmt.Sprintf("fetch %s: CloudFront failed (%v), and so did the origin: %v", e.url, e.cdn, e.origin))
}

func (e *fallbackError) Unwrap() []error { return []error{e.origin, e.cdn} }

// explained reports whether err already says what failed in terms of the flags.
func explained(err error) bool {
	var fe *fetchError
	var fb *fallbackError
	var he *cdnHTTPError
	var te *cdnTransportError
	return errors.As(err, &fb) || errors.As(err, &he) || errors.As(err, &te) || errors.As(err, &fe)
}
