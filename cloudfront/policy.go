package cloudfront

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// MaxTime is the latest time a CloudFront policy can name: CloudFront reads
// AWS:EpochTime as a signed 32-bit number (2038-01-19T03:14:07Z).
var MaxTime = time.Unix(1<<31-1, 0).UTC()

// ErrTimeTooLate is wrapped by the errors for a time after MaxTime.
var ErrTimeTooLate = errors.New("after 2038-01-19T03:14:07Z, the latest time CloudFront accepts")

// Policy says what a signature grants: the resource, until when, and
// optionally from when and from which addresses.
type Policy struct {
	// Resource is the URL the policy grants; it may hold the wildcards `*`
	// (any run of characters) and `?` (one character). For
	// SignURLWithPolicy an empty Resource means the URL being signed.
	Resource string
	// Expires is the policy's DateLessThan; it is required.
	Expires time.Time
	// NotBefore, if not zero, is the policy's DateGreaterThan.
	NotBefore time.Time
	// IPRange, if set, is the policy's IpAddress: an IPv4 or IPv6 CIDR
	// (a bare address means that single address).
	IPRange string
	// Custom asks SignCookies for a custom policy even when a canned one
	// would do.
	Custom bool
}

// FieldError is an invalid Policy field or signing argument. Field is the
// Go name: "URL", "Resource", "Expires", "NotBefore" or "IPRange".
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return "cloudfront: " + e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, a...)}
}

// canned reports whether p can be expressed as a canned policy.
func (p Policy) canned() bool {
	return !p.Custom && p.NotBefore.IsZero() && p.IPRange == "" && !strings.ContainsAny(p.Resource, "*")
}

// validate checks p for signing; resource is the effective resource.
func (p Policy) validate() error {
	if err := checkTime("Expires", p.Expires); err != nil {
		return err
	}
	if !p.NotBefore.IsZero() {
		if err := checkTime("NotBefore", p.NotBefore); err != nil {
			return err
		}
		if p.NotBefore.Unix() >= p.Expires.Unix() {
			return fieldErr("NotBefore", "%s is not before the expiry %s", formatTime(p.NotBefore), formatTime(p.Expires))
		}
	}
	if p.IPRange != "" {
		if _, err := parseIPRange(p.IPRange); err != nil {
			return &FieldError{Field: "IPRange", Err: err}
		}
	}
	if p.Resource == "" {
		return fieldErr("Resource", "empty")
	}
	if !printableASCII(p.Resource) {
		return fieldErr("Resource", "must be printable ASCII without spaces (percent-encode the path, Punycode the host)")
	}
	return nil
}

func checkTime(field string, t time.Time) error {
	switch {
	case t.IsZero():
		return fieldErr(field, "not set")
	case t.Unix() <= 0:
		return fieldErr(field, "%s is not after 1970", formatTime(t))
	case t.After(MaxTime):
		return &FieldError{Field: field, Err: fmt.Errorf("%s is %w", formatTime(t), ErrTimeTooLate)}
	}
	return nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// parseIPRange parses a CIDR, or a bare address as a single-address prefix.
func parseIPRange(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 or IPv6 CIDR such as 192.0.2.0/24", s)
}

// The policy JSON. Field order is AWS's documented order (DateLessThan,
// DateGreaterThan, IpAddress), the one AWS's JavaScript signer writes. With
// only DateLessThan it is byte-identical to the canned policy CloudFront
// rebuilds, and to what github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign
// writes.
type policyJSON struct {
	Statement []statementJSON `json:"Statement"`
}

type statementJSON struct {
	Resource  string        `json:"Resource"`
	Condition conditionJSON `json:"Condition"`
}

type conditionJSON struct {
	DateLessThan    *epochJSON `json:"DateLessThan,omitempty"`
	DateGreaterThan *epochJSON `json:"DateGreaterThan,omitempty"`
	IPAddress       *ipJSON    `json:"IpAddress,omitempty"`
}

type epochJSON struct {
	Epoch int64 `json:"AWS:EpochTime"`
}

type ipJSON struct {
	SourceIP string `json:"AWS:SourceIp"`
}

// policyDocument builds the JSON for p with the given effective resource.
func policyDocument(resource string, p Policy) ([]byte, error) {
	st := statementJSON{Resource: resource}
	st.Condition.DateLessThan = &epochJSON{p.Expires.Unix()}
	if !p.NotBefore.IsZero() {
		st.Condition.DateGreaterThan = &epochJSON{p.NotBefore.Unix()}
	}
	if p.IPRange != "" {
		st.Condition.IPAddress = &ipJSON{p.IPRange}
	}
	return marshalPolicy(policyJSON{Statement: []statementJSON{st}})
}

// cannedPolicy is the canned policy CloudFront rebuilds from the URL and
// Expires to check a signature.
func cannedPolicy(resource string, expires int64) ([]byte, error) {
	return marshalPolicy(policyJSON{Statement: []statementJSON{{
		Resource:  resource,
		Condition: conditionJSON{DateLessThan: &epochJSON{expires}},
	}}})
}

func marshalPolicy(p policyJSON) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // `&` in a query string stays `&`, as CloudFront expects
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("cloudfront: encode policy: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// CloudFront's URL-safe base64: standard base64 with `+`→`-`, `=`→`_`,
// `/`→`~`.
var (
	awsEscape   = strings.NewReplacer("+", "-", "=", "_", "/", "~")
	awsUnescape = strings.NewReplacer("-", "+", "_", "=", "~", "/")
)

// EncodeBase64 encodes b in CloudFront's base64.
func EncodeBase64(b []byte) string {
	return awsEscape.Replace(base64.StdEncoding.EncodeToString(b))
}

// DecodeBase64 decodes CloudFront's base64; the unsubstituted `+`, `=` and
// `/` are refused.
func DecodeBase64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '~') {
			return nil, fmt.Errorf("character %q at offset %d is not in CloudFront's base64 alphabet (A-Z a-z 0-9 - _ ~)", c, i)
		}
	}
	b, err := base64.StdEncoding.DecodeString(awsUnescape.Replace(s))
	if err != nil {
		return nil, errors.New("malformed base64")
	}
	return b, nil
}

// matchResource reports whether s matches the policy resource pattern, where
// `*` matches any run of characters (also none) and `?` exactly one.
func matchResource(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Signing parameters CloudFront reads from (and strips off) a URL.
const (
	paramExpires   = "Expires"
	paramPolicy    = "Policy"
	paramSignature = "Signature"
	paramKeyPairID = "Key-Pair-Id"
	paramHashAlg   = "Hash-Algorithm"
)

var signingParams = []string{paramExpires, paramPolicy, paramSignature, paramKeyPairID, paramHashAlg}

func isSigningParam(name string) bool {
	for _, p := range signingParams {
		if name == p {
			return true
		}
	}
	return false
}

// checkURL checks a URL about to be signed: absolute http(s), no fragment,
// ASCII, no CloudFront signing parameters.
func checkURL(rawURL string) error {
	if !printableASCII(rawURL) {
		return fieldErr("URL", "must be printable ASCII without spaces (percent-encode the path, Punycode the host)")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fieldErr("URL", "%v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fieldErr("URL", "scheme must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" {
		return fieldErr("URL", "no host")
	}
	if strings.Contains(rawURL, "#") {
		return fieldErr("URL", "has a fragment")
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		name, _, _ := strings.Cut(kv, "=")
		if n, err := url.QueryUnescape(name); err == nil && isSigningParam(n) {
			return fieldErr("URL", "already has the CloudFront signing parameter %s", n)
		}
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
