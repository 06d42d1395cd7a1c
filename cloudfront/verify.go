package cloudfront

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors of Verify and VerifyCookies, to be checked with errors.Is: a CDN
// answers each of them with 403.
var (
	ErrMalformed        = errors.New("malformed CloudFront signature parameters")
	ErrUnknownKeyPairID = errors.New("unknown Key-Pair-Id")
	ErrBadSignature     = errors.New("signature does not match")
	ErrExpired          = errors.New("expired")
	ErrNotYetValid      = errors.New("not yet valid")
	ErrResourceMismatch = errors.New("URL does not match the policy's resource")
	ErrIPNotAllowed     = errors.New("client IP not allowed by the policy")
)

// VerifyOption adjusts Verify and VerifyCookies.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	clientIP netip.Addr
}

// WithClientIP gives the client's address, checked against a custom
// policy's IpAddress. Without it, a policy that limits the source IP fails
// with ErrIPNotAllowed.
func WithClientIP(ip netip.Addr) VerifyOption {
	return func(c *verifyConfig) { c.clientIP = ip.Unmap() }
}

// Verify checks a signed URL as CloudFront does: Key-Pair-Id names a key in
// keys; the signature (SHA-1, or SHA-256 with Hash-Algorithm=SHA256) is over
// the canned policy rebuilt from the URL and Expires, or over the custom
// Policy; and at now the policy is in force, its resource (with wildcards)
// matches the URL without the signing parameters, and, with WithClientIP,
// the client's address is in its IpAddress range.
func Verify(rawURL string, keys map[string]crypto.PublicKey, now time.Time, opts ...VerifyOption) error {
	base, params, err := splitSignedURL(rawURL)
	if err != nil {
		return err
	}
	return verify(base, params, keys, now, opts)
}

// VerifyCookies checks CloudFront signed cookies (CloudFront-Expires or
// CloudFront-Policy, CloudFront-Signature, CloudFront-Key-Pair-Id,
// CloudFront-Hash-Algorithm) for a request to rawURL, as Verify does for a
// signed URL.
func VerifyCookies(rawURL string, cookies []*http.Cookie, keys map[string]crypto.PublicKey, now time.Time, opts ...VerifyOption) error {
	if _, err := url.Parse(rawURL); err != nil {
		return fmt.Errorf("cloudfront: %w: URL: %v", ErrMalformed, err)
	}
	params := map[string]string{}
	for _, c := range cookies {
		name, ok := strings.CutPrefix(c.Name, "CloudFront-")
		if !ok || !isSigningParam(name) {
			continue
		}
		if _, dup := params[name]; dup {
			return fmt.Errorf("cloudfront: %w: cookie %s given twice", ErrMalformed, c.Name)
		}
		params[name] = c.Value
	}
	return verify(rawURL, params, keys, now, opts)
}

// splitSignedURL takes CloudFront's signing parameters off rawURL and returns
// the URL that was signed and the parameters.
func splitSignedURL(rawURL string) (string, map[string]string, error) {
	if _, err := url.Parse(rawURL); err != nil {
		return "", nil, fmt.Errorf("cloudfront: %w: URL: %v", ErrMalformed, err)
	}
	if strings.Contains(rawURL, "#") {
		return "", nil, fmt.Errorf("cloudfront: %w: URL has a fragment", ErrMalformed)
	}
	base, query, ok := strings.Cut(rawURL, "?")
	params := map[string]string{}
	if !ok {
		return rawURL, params, nil
	}
	var kept []string
	for _, kv := range strings.Split(query, "&") {
		rawName, rawValue, _ := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil || !isSigningParam(name) {
			kept = append(kept, kv)
			continue
		}
		if _, dup := params[name]; dup {
			return "", nil, fmt.Errorf("cloudfront: %w: %s given twice", ErrMalformed, name)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return "", nil, fmt.Errorf("cloudfront: %w: %s: bad percent-encoding", ErrMalformed, name)
		}
		params[name] = value
	}
	if len(kept) > 0 {
		base += "?" + strings.Join(kept, "&")
	}
	return base, params, nil
}

func verify(resourceURL string, params map[string]string, keys map[string]crypto.PublicKey, now time.Time, opts []VerifyOption) error {
	var cfg verifyConfig
	for _, o := range opts {
		o(&cfg)
	}
	malformed := func(format string, a ...any) error {
		return fmt.Errorf("cloudfront: %w: %s", ErrMalformed, fmt.Sprintf(format, a...))
	}
	keyID, ok := params[paramKeyPairID]
	if !ok || keyID == "" {
		return malformed("no Key-Pair-Id")
	}
	pub, ok := keys[keyID]
	if !ok {
		return fmt.Errorf("cloudfront: %w %q", ErrUnknownKeyPairID, keyID)
	}
	var h crypto.Hash
	switch alg, ok := params[paramHashAlg]; {
	case !ok || alg == "SHA1":
		h = crypto.SHA1
	case alg == "SHA256":
		h = crypto.SHA256
	default:
		return malformed("Hash-Algorithm %q is neither SHA1 nor SHA256", alg)
	}
	sigText, ok := params[paramSignature]
	if !ok {
		return malformed("no Signature")
	}
	sig, err := DecodeBase64(sigText)
	if err != nil {
		return malformed("Signature: %v", err)
	}
	expText, canned := params[paramExpires]
	polText, custom := params[paramPolicy]
	var doc []byte
	switch {
	case canned && custom:
		return malformed("both Expires and Policy")
	case canned:
		exp, err := strconv.ParseInt(expText, 10, 64)
		if err != nil || exp <= 0 || strings.HasPrefix(expText, "+") {
			return malformed("Expires %q is not a positive Unix time", expText)
		}
		if doc, err = cannedPolicy(resourceURL, exp); err != nil {
			return err
		}
	case custom:
		if doc, err = DecodeBase64(polText); err != nil {
			return malformed("Policy: %v", err)
		}
	default:
		return malformed("neither Expires nor Policy")
	}
	if err := verifySignature(pub, h, doc, sig); err != nil {
		return err
	}

	st, err := parsePolicy(doc)
	if err != nil {
		return malformed("Policy: %v", err)
	}
	if !matchResource(st.Resource, resourceURL) {
		return fmt.Errorf("cloudfront: %w: %q does not match %q", ErrResourceMismatch, resourceURL, st.Resource)
	}
	t := now.Unix()
	if lt := st.Condition.DateLessThan.Epoch; t >= lt {
		return fmt.Errorf("cloudfront: %w at %s", ErrExpired, formatTime(time.Unix(lt, 0)))
	}
	if gt := st.Condition.DateGreaterThan; gt != nil && t < gt.Epoch {
		return fmt.Errorf("cloudfront: %w before %s", ErrNotYetValid, formatTime(time.Unix(gt.Epoch, 0)))
	}
	if ipc := st.Condition.IPAddress; ipc != nil {
		prefix, err := parseIPRange(ipc.SourceIP)
		if err != nil {
			return malformed("Policy: IpAddress: %v", err)
		}
		switch {
		case !cfg.clientIP.IsValid():
			return fmt.Errorf("cloudfront: %w: the policy limits the source to %s and no client IP was given", ErrIPNotAllowed, prefix)
		case !prefix.Contains(cfg.clientIP):
			return fmt.Errorf("cloudfront: %w: %s is outside %s", ErrIPNotAllowed, cfg.clientIP, prefix)
		}
	}
	return nil
}

// parsePolicy reads a policy document strictly: one statement, a resource,
// DateLessThan, and no fields CloudFront's policies don't have.
func parsePolicy(doc []byte) (statementJSON, error) {
	var p policyJSON
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return statementJSON{}, errors.New("not a CloudFront policy document")
	}
	if dec.More() {
		return statementJSON{}, errors.New("data after the policy document")
	}
	if len(p.Statement) != 1 {
		return statementJSON{}, fmt.Errorf("%d statements, want 1", len(p.Statement))
	}
	st := p.Statement[0]
	if st.Resource == "" {
		return statementJSON{}, errors.New("no Resource")
	}
	if st.Condition.DateLessThan == nil {
		return statementJSON{}, errors.New("no DateLessThan")
	}
	return st, nil
}

func verifySignature(pub crypto.PublicKey, h crypto.Hash, doc, sig []byte) error {
	d := h.New()
	d.Write(doc)
	digest := d.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, h, digest, sig) != nil {
			return fmt.Errorf("cloudfront: %w", ErrBadSignature)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return fmt.Errorf("cloudfront: %w", ErrBadSignature)
		}
	default:
		return fmt.Errorf("cloudfront: verify: %s public keys are not supported", keyKind(pub))
	}
	return nil
}
