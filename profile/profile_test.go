package profile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sassoftware/relic/v7/lib/pkcs7"
	"howett.net/plist"
)

func TestBuild(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		err  string
	}{
		{"plain", Options{FleetURL: "https://fleet.example.com", EnrollSecret: "s3cret"}, ""},
		{"xml characters", Options{FleetURL: "https://fleet.example.com/?a=1&b=<2>", EnrollSecret: `a&b<c>"d'`, EnableScripts: true}, ""},
		{"seeded", Options{FleetURL: "https://fleet.example.com", EnrollSecret: "x", Seed: "1700000000"}, ""},
		{"no secret", Options{FleetURL: "https://fleet.example.com"}, "both needed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Build(tc.o)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got configuration
			if _, err := plist.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			p := got.PayloadContent[0]
			if p.FleetURL != tc.o.FleetURL || p.EnrollSecret != tc.o.EnrollSecret || p.EnableScripts != tc.o.EnableScripts ||
				p.PayloadIdentifier != PayloadIdentifier || p.PayloadType != PayloadIdentifier || got.PayloadType != "Configuration" {
				t.Errorf("read back %+v", got)
			}
			again, _ := Build(tc.o)
			if same := bytes.Equal(b, again); same != (tc.o.Seed != "") {
				t.Errorf("seed %q: two builds equal = %v", tc.o.Seed, same)
			}
			if tc.o.Seed != "" {
				other := tc.o
				other.EnrollSecret = "another secret"
				ob, _ := Build(other)
				var og configuration
				plist.Unmarshal(ob, &og)
				if og.PayloadUUID != got.PayloadUUID {
					t.Error("the UUID depends on the secret")
				}
			}
		})
	}
}

func TestSign(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "profile signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	body, _ := Build(Options{FleetURL: "https://fleet.example.com", EnrollSecret: "x"})
	signed, err := Sign(body, []*x509.Certificate{cert}, key, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	psd, err := pkcs7.Unmarshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := psd.Content.Verify(nil, false)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	content, _ := psd.Content.ContentInfo.Bytes()
	if !bytes.Equal(content, body) || !sig.Certificate.Equal(cert) {
		t.Error("the signed content or signer differ")
	}
	if st, err := sig.SignerInfo.SigningTime(); err != nil || st.Unix() != 1700000000 {
		t.Errorf("signing time %v %v", st, err)
	}
}
