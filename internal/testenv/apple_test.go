package testenv

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/golang-jwt/jwt/v5"
)

// TestAppleStubAuth: the stubs refuse what Apple refuses: a token with a
// wrong kid or a lifetime over 20 minutes (401), and an S3 PUT signed with
// the wrong secret (403 SignatureDoesNotMatch).
func TestAppleStubAuth(t *testing.T) {
	a, err := NewApple()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _ := pem.Decode(a.KeyP8)
	key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	token := func(kid string, life time.Duration) string {
		now := time.Now()
		tk := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": a.IssuerID, "iat": now.Unix(), "exp": now.Add(life).Unix(), "aud": "appstoreconnect-v1"})
		tk.Header["kid"] = kid
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	submit := func(tok string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", a.APIURL+"/notary/v2/submissions", strings.NewReader(`{"sha256":"`+strings.Repeat("0", 64)+`","submissionName":"x.pkg"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	for _, tok := range []string{token("WRONGKID", 10*time.Minute), token(a.KeyID, time.Hour), "not-a-jwt"} {
		if code, body := submit(tok); code != 401 || !strings.Contains(toJSON(body), "NOT_AUTHORIZED") {
			t.Errorf("token accepted: %d %v", code, body)
		}
	}
	code, body := submit(token(a.KeyID, 10*time.Minute))
	if code != 200 {
		t.Fatalf("submit: %d %v", code, body)
	}
	attrs := body["data"].(map[string]any)["attributes"].(map[string]any)
	put := func(secret string) error {
		creds := aws.Credentials{AccessKeyID: attrs["awsAccessKeyId"].(string), SecretAccessKey: secret, SessionToken: attrs["awsSessionToken"].(string)}
		c := s3.New(s3.Options{Region: "us-west-2", BaseEndpoint: aws.String(a.S3URL), UsePathStyle: true,
			Credentials:                aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired, RetryMaxAttempts: 1})
		_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(attrs["bucket"].(string)), Key: aws.String(attrs["object"].(string)), Body: bytes.NewReader([]byte("xar!"))})
		return err
	}
	var ae smithy.APIError
	if err := put("wrong-secret"); !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Errorf("PUT with a wrong secret: %v", err)
	}
	if err := put(attrs["awsSecretAccessKey"].(string)); err != nil {
		t.Errorf("PUT with the submission's credentials: %v", err)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
