package notary

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenLifetime is well under the 20 minutes Apple accepts.
const tokenLifetime = 10 * time.Minute

// ParseKey reads an App Store Connect API key (.p8: PKCS#8 PEM, ECDSA P-256).
// Its errors never include the key's bytes.
func ParseKey(p8 []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(p8)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("not a .p8 key (a PEM \"PRIVATE KEY\" block, as App Store Connect downloads it)")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, errors.New("the .p8 key cannot be parsed as PKCS#8")
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("the .p8 key is not an ECDSA P-256 key (App Store Connect keys are)")
	}
	return ec, nil
}

// token mints a short-lived App Store Connect JWT.
func (c *Config) token() (string, error) {
	now := c.now()
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": c.IssuerID,
		"iat": now.Unix(),
		"exp": now.Add(tokenLifetime).Unix(),
		"aud": "appstoreconnect-v1",
	})
	t.Header["kid"] = c.KeyID
	s, err := t.SignedString(c.Key)
	if err != nil {
		return "", errors.New("sign the App Store Connect token failed")
	}
	return s, nil
}
