package cloudfront

import (
	"crypto"
	"crypto/rand"
	_ "crypto/sha1" // registers crypto.SHA1 for Hash.New
	_ "crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
)

// Why not github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign throughout:
// it hashes with SHA-1 only and has no Hash-Algorithm; its NewCookieSigner
// takes only RSA keys and writes CloudFront-Policy even for a canned policy
// (CloudFront documents CloudFront-Expires); and its custom-policy JSON puts
// the Condition keys in struct order (IpAddress, DateGreaterThan,
// DateLessThan), unlike AWS's documented order that the JavaScript signer
// writes. So SignURL uses it for the canned SHA-1 URL, which it does exactly,
// and everything else is written here: policy JSON in AWS's order, SHA-256,
// cookies, ECDSA cookies.

// Signer signs CloudFront URLs and cookies with one key of a trusted key
// group. It holds no state of its own: it is safe for concurrent use when
// its Key is (the standard library's RSA and ECDSA keys are).
type Signer struct {
	// KeyPairID is the ID of the public key in the CloudFront key group.
	KeyPairID string
	// Key is an RSA (at least 2048 bits) or ECDSA P-256 private key; see
	// LoadPrivateKey.
	Key crypto.Signer
	// Hash is crypto.SHA1 (also when zero), CloudFront's default, or
	// crypto.SHA256, which adds Hash-Algorithm=SHA256 to the URL (the
	// CloudFront-Hash-Algorithm cookie).
	Hash crypto.Hash
}

// check validates the signer and returns its hash.
func (s *Signer) check() (crypto.Hash, error) {
	if s == nil || s.Key == nil {
		return 0, errors.New("cloudfront: signer has no key")
	}
	if s.KeyPairID == "" {
		return 0, errors.New("cloudfront: signer has no key pair ID")
	}
	for _, c := range s.KeyPairID {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return 0, fmt.Errorf("cloudfront: key pair ID %q: only letters, digits, - and _ are allowed", s.KeyPairID)
		}
	}
	if err := checkPublicKey(s.Key.Public()); err != nil {
		return 0, err
	}
	switch s.Hash {
	case 0, crypto.SHA1:
		return crypto.SHA1, nil
	case crypto.SHA256:
		return crypto.SHA256, nil
	}
	return 0, fmt.Errorf("cloudfront: hash %v not supported (SHA-1 or SHA-256)", s.Hash)
}

// SignURL signs rawURL with a canned policy valid until expires, which must
// not be after MaxTime. rawURL is an absolute http or https URL, ASCII,
// without fragment and without CloudFront's signing parameters.
func (s *Signer) SignURL(rawURL string, expires time.Time) (string, error) {
	h, err := s.check()
	if err != nil {
		return "", err
	}
	if err := checkURL(rawURL); err != nil {
		return "", err
	}
	if err := checkTime("Expires", expires); err != nil {
		return "", err
	}
	if h == crypto.SHA1 {
		signed, err := sign.NewURLSigner(s.KeyPairID, s.Key).Sign(rawURL, expires)
		if err != nil {
			return "", fmt.Errorf("cloudfront: sign URL: %w", err)
		}
		return signed, nil
	}
	doc, err := cannedPolicy(rawURL, expires.Unix())
	if err != nil {
		return "", err
	}
	sig, err := s.signDocument(doc, h)
	if err != nil {
		return "", err
	}
	return s.buildURL(rawURL, paramExpires, strconv.FormatInt(expires.Unix(), 10), sig, h), nil
}

// SignURLWithPolicy signs rawURL with the custom policy p. An empty
// p.Resource means rawURL; a wildcard Resource must match rawURL.
func (s *Signer) SignURLWithPolicy(rawURL string, p Policy) (string, error) {
	h, err := s.check()
	if err != nil {
		return "", err
	}
	if err := checkURL(rawURL); err != nil {
		return "", err
	}
	if p.Resource == "" {
		p.Resource = rawURL
	}
	if err := p.validate(); err != nil {
		return "", err
	}
	if !matchResource(p.Resource, rawURL) {
		return "", fieldErr("Resource", "%q does not match the URL %q", p.Resource, rawURL)
	}
	doc, err := policyDocument(p.Resource, p)
	if err != nil {
		return "", err
	}
	sig, err := s.signDocument(doc, h)
	if err != nil {
		return "", err
	}
	return s.buildURL(rawURL, paramPolicy, EncodeBase64(doc), sig, h), nil
}

// Cookie names of CloudFront signed cookies.
const (
	CookieExpires       = "CloudFront-Expires"
	CookiePolicy        = "CloudFront-Policy"
	CookieSignature     = "CloudFront-Signature"
	CookieKeyPairID     = "CloudFront-Key-Pair-Id"
	CookieHashAlgorithm = "CloudFront-Hash-Algorithm"
)

// SignCookies returns CloudFront's signed cookies for p: CloudFront-Expires
// (canned policy) or CloudFront-Policy (custom), CloudFront-Signature and
// CloudFront-Key-Pair-Id, plus CloudFront-Hash-Algorithm for SHA-256. The
// policy is canned unless p has NotBefore, IPRange, a `*` in Resource, or
// Custom; a canned policy's Resource must be the one URL it grants. The
// cookies are HttpOnly with Path=/, and Secure for an https resource; set
// Domain and Path as the site needs.
func (s *Signer) SignCookies(p Policy) ([]*http.Cookie, error) {
	h, err := s.check()
	if err != nil {
		return nil, err
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	var first *http.Cookie
	var doc []byte
	if p.canned() {
		if err := checkURL(p.Resource); err != nil {
			return nil, &FieldError{Field: "Resource", Err: errors.Unwrap(err)}
		}
		if doc, err = cannedPolicy(p.Resource, p.Expires.Unix()); err != nil {
			return nil, err
		}
		first = &http.Cookie{Name: CookieExpires, Value: strconv.FormatInt(p.Expires.Unix(), 10)}
	} else {
		if doc, err = policyDocument(p.Resource, p); err != nil {
			return nil, err
		}
		first = &http.Cookie{Name: CookiePolicy, Value: EncodeBase64(doc)}
	}
	sig, err := s.signDocument(doc, h)
	if err != nil {
		return nil, err
	}
	cookies := []*http.Cookie{first, {Name: CookieSignature, Value: sig}, {Name: CookieKeyPairID, Value: s.KeyPairID}}
	if h == crypto.SHA256 {
		cookies = append(cookies, &http.Cookie{Name: CookieHashAlgorithm, Value: "SHA256"})
	}
	secure := strings.HasPrefix(strings.ToLower(p.Resource), "https://")
	for _, c := range cookies {
		c.Path, c.HttpOnly, c.Secure = "/", true, secure
	}
	return cookies, nil
}

// signDocument signs the policy JSON and returns the signature in
// CloudFront's base64. RSA keys sign PKCS #1 v1.5, ECDSA keys ASN.1 DER.
func (s *Signer) signDocument(doc []byte, h crypto.Hash) (string, error) {
	d := h.New()
	d.Write(doc)
	sig, err := s.Key.Sign(rand.Reader, d.Sum(nil), h)
	if err != nil {
		return "", fmt.Errorf("cloudfront: sign policy: %w", err)
	}
	return EncodeBase64(sig), nil
}

// buildURL appends the signing parameters in the AWS SDK's order
// (Expires|Policy, Signature, Key-Pair-Id), then Hash-Algorithm.
func (s *Signer) buildURL(rawURL, policyParam, policyValue, sig string, h crypto.Hash) string {
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	u := rawURL + sep + policyParam + "=" + policyValue + "&" + paramSignature + "=" + sig + "&" + paramKeyPairID + "=" + s.KeyPairID
	if h == crypto.SHA256 {
		u += "&" + paramHashAlg + "=SHA256"
	}
	return u
}
