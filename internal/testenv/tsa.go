package testenv

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/sassoftware/relic/v7/lib/pkcs7"
	"github.com/sassoftware/relic/v7/lib/pkcs9"
	"github.com/sassoftware/relic/v7/lib/x509tools"
)

// TSA is a local RFC 3161 time-stamping authority over plain HTTP, as public
// TSAs (Apple's, DigiCert's) serve: it answers application/timestamp-query
// POSTs with a token signed by a certificate for timeStamping (critical
// extended key usage) issued by CA. It can be told to fail.
type TSA struct {
	URL  string
	CA   *CA // issued Cert; trust CA.CertPEM to verify tokens
	Cert *x509.Certificate

	key crypto.Signer
	srv *httptest.Server

	mu       sync.Mutex
	fail     []int // HTTP statuses to answer the next requests with
	requests int
	serial   int64
	now      func() time.Time
}

// tsaPolicy is the policy OID the test TSA stamps (a private arc).
var tsaPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1, 1}

// oidSigningCertificate is RFC 2634's signingCertificate attribute, which
// RFC 3161 requires in a token (OpenSSL's TS verification checks it).
var oidSigningCertificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}

type essCertID struct{ CertHash []byte }
type signingCertificate struct{ Certs []essCertID }

// NewTSA starts a TSA with its own CA.
func NewTSA() (*TSA, error) {
	ca, err := NewCA("pkgctl testenv TSA root")
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate TSA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	ekuDER, err := asn1.Marshal([]asn1.ObjectIdentifier{pkcs9.OidKeyPurposeTimeStamping})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "pkgctl testenv TSA", Organization: []string{"pkgctl testenv"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// RFC 3161 §2.3: the only extended key usage, and critical.
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: ekuDER}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue TSA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	t := &TSA{CA: ca, Cert: cert, key: key, now: time.Now}
	t.srv = httptest.NewServer(http.HandlerFunc(t.serve))
	t.URL = t.srv.URL + "/tsa"
	return t, nil
}

// CertPEM is the TSA's certificate in PEM.
func (t *TSA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: t.Cert.Raw})
}

// FailNext makes the next len(statuses) requests answer with these HTTP statuses.
func (t *TSA) FailNext(statuses ...int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fail = append(t.fail, statuses...)
}

// SetNow sets the TSA's clock.
func (t *TSA) SetNow(now func() time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.now = now
}

// Requests is how many requests reached the TSA.
func (t *TSA) Requests() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.requests
}

// Close stops the server; later requests fail to connect.
func (t *TSA) Close() { t.srv.Close() }

func (t *TSA) serve(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	t.requests++
	var status int
	if len(t.fail) > 0 {
		status, t.fail = t.fail[0], t.fail[1:]
	}
	t.serial++
	serial, now := t.serial, t.now()
	t.mu.Unlock()
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/timestamp-query" {
		http.Error(w, "want a POST of application/timestamp-query", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := t.respond(body, serial, now)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(resp)
}

// respond builds the TimeStampResp to one DER TimeStampReq: a rejection
// (badAlg, badDataFormat) for a request it cannot honour, as real TSAs do.
func (t *TSA) respond(der []byte, serial int64, now time.Time) ([]byte, error) {
	var req pkcs9.TimeStampReq
	reject := func(failBit int) ([]byte, error) {
		bits := asn1.BitString{Bytes: make([]byte, 4), BitLength: 26}
		bits.Bytes[failBit/8] |= 0x80 >> (failBit % 8)
		return asn1.Marshal(struct{ Status pkcs9.PKIStatusInfo }{pkcs9.PKIStatusInfo{Status: pkcs9.StatusRejection, FailInfo: bits}})
	}
	if rest, err := asn1.Unmarshal(der, &req); err != nil || len(rest) != 0 || req.Version != 1 {
		return reject(pkcs9.FailureBadDataFormat)
	}
	hash, ok := x509tools.PkixDigestToHash(req.MessageImprint.HashAlgorithm)
	if !ok || len(req.MessageImprint.HashedMessage) != hash.Size() {
		return reject(pkcs9.FailureBadAlg)
	}
	genTime, err := asn1.MarshalWithParams(now.UTC().Truncate(time.Second), "generalized")
	if err != nil {
		return nil, err
	}
	info := pkcs9.TSTInfo{
		Version:        1,
		Policy:         tsaPolicy,
		MessageImprint: req.MessageImprint,
		SerialNumber:   big.NewInt(serial),
		GenTime:        asn1.RawValue{FullBytes: genTime},
		Nonce:          req.Nonce,
	}
	infoDER, err := asn1.Marshal(info)
	if err != nil {
		return nil, err
	}
	b := pkcs7.NewBuilder(t.key, []*x509.Certificate{t.Cert}, crypto.SHA256)
	if err := b.SetContent(pkcs9.OidTSTInfo, infoDER); err != nil {
		return nil, err
	}
	certHash := sha1.Sum(t.Cert.Raw)
	if err := b.AddAuthenticatedAttribute(oidSigningCertificate, signingCertificate{Certs: []essCertID{{CertHash: certHash[:]}}}); err != nil {
		return nil, err
	}
	token, err := b.Sign()
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pkcs9.TimeStampResp{Status: pkcs9.PKIStatusInfo{Status: pkcs9.StatusGranted}, TimeStampToken: *token})
}
