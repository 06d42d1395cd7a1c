package testenv

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/golang-jwt/jwt/v5"
)

// NotaryOutcome is how the stub notary service judges a submission.
type NotaryOutcome int

const (
	NotaryAccept  NotaryOutcome = iota // Accepted, and the ticket is published in CloudKit
	NotaryInvalid                      // Invalid, with a developer log listing issues
	NotaryStuck                        // In Progress for ever
)

// Apple stubs the three services of notarization, each its own HTTP server,
// checking what the real ones check: the Notary API v2 (ES256 App Store
// Connect JWTs: kid, iss, aud, a lifetime of at most 20 minutes; JSON:API
// errors), S3 (AWS Signature V4 with the submission's temporary credentials,
// XML errors) and CloudKit's public ticket-delivery database.
type Apple struct {
	APIURL, S3URL, TicketURL string
	KeyID, IssuerID          string
	KeyP8                    []byte // the App Store Connect API key, as downloaded
	// LogIssue is the message of the issue an Invalid submission's log lists.
	LogIssue string

	key           *ecdsa.PrivateKey
	api, s3, ck   *httptest.Server
	mu            sync.Mutex
	outcome       NotaryOutcome
	uploadFailure int // HTTP status S3 answers PUTs with; 0 = none
	subs          map[string]*notarySub
	tickets       map[string][]byte
	polls         int
	seq           int
}

type notarySub struct {
	ID, Name, SHA256   string
	AKID, Secret, Tok  string
	Object             string
	Uploaded           []byte
	Status             string
	LogURL, StatusNote string
}

const notaryBucket = "notary-submissions-prod"

// NewApple starts the three stubs with a fresh API key.
func NewApple() (*Apple, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	a := &Apple{
		KeyID: "TESTKEY042", IssuerID: "69a6de7e-0000-47e3-e053-5b8c7c11a4d1",
		KeyP8:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		LogIssue: "The binary is not signed with a valid Developer ID certificate.",
		key:      key, subs: map[string]*notarySub{}, tickets: map[string][]byte{},
	}
	a.api = httptest.NewServer(http.HandlerFunc(a.serveAPI))
	a.s3 = httptest.NewServer(http.HandlerFunc(a.serveS3))
	a.ck = httptest.NewServer(http.HandlerFunc(a.serveCloudKit))
	a.APIURL, a.S3URL = a.api.URL, a.s3.URL
	a.TicketURL = a.ck.URL + "/database/1/com.apple.gk.ticket-delivery/production/public/records/lookup"
	return a, nil
}

// Close stops the stubs.
func (a *Apple) Close() { a.api.Close(); a.s3.Close(); a.ck.Close() }

// SetOutcome sets how later submissions are judged.
func (a *Apple) SetOutcome(o NotaryOutcome) { a.mu.Lock(); a.outcome = o; a.mu.Unlock() }

// FailUploads makes S3 answer every PUT with status (403: AccessDenied,
// 5xx: InternalError); 0 restores success.
func (a *Apple) FailUploads(status int) { a.mu.Lock(); a.uploadFailure = status; a.mu.Unlock() }

// Ticket is the ticket published for a CloudKit record, or nil.
func (a *Apple) Ticket(record string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tickets[record]
}

// Submissions is how many submissions were created.
func (a *Apple) Submissions() int { a.mu.Lock(); defer a.mu.Unlock(); return len(a.subs) }

func writeAPIError(w http.ResponseWriter, status int, code, title, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{
		"id": "00000000-0000-0000-0000-000000000000", "status": fmt.Sprint(status), "code": code, "title": title, "detail": detail,
	}}})
}

// checkToken does what App Store Connect does with the bearer token.
func (a *Apple) checkToken(r *http.Request) error {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return fmt.Errorf("no bearer token")
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != a.KeyID {
			return nil, fmt.Errorf("unknown kid %v", t.Header["kid"])
		}
		return &a.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("appstoreconnect-v1"), jwt.WithIssuer(a.IssuerID),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil || !tok.Valid {
		return fmt.Errorf("invalid token: %v", err)
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	if iat == nil || exp.Sub(iat.Time) > 20*time.Minute {
		return fmt.Errorf("token lifetime over 20 minutes")
	}
	return nil
}

var subPath = regexp.MustCompile(`^/notary/v2/submissions/([0-9a-f-]+)(/logs)?$`)

func (a *Apple) serveAPI(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/developer-log/") {
		a.serveLog(w, r)
		return
	}
	if err := a.checkToken(r); err != nil {
		writeAPIError(w, http.StatusUnauthorized, "NOT_AUTHORIZED", "Authentication credentials are missing or invalid.",
			"Provide a properly configured and signed bearer token, and make sure that it has not expired.")
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/notary/v2/submissions":
		a.createSubmission(w, r)
	case r.Method == http.MethodGet && subPath.MatchString(r.URL.Path):
		m := subPath.FindStringSubmatch(r.URL.Path)
		a.mu.Lock()
		s := a.subs[m[1]]
		if s != nil && m[2] == "" {
			a.polls++
			a.judge(s)
		}
		a.mu.Unlock()
		if s == nil {
			writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "The specified resource does not exist", "There is no resource of type 'submissions' with id '"+m[1]+"'")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if m[2] != "" {
			if s.Status != "Accepted" && s.Status != "Invalid" {
				writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "The specified resource does not exist", "No log yet for submission "+s.ID)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"id": s.ID, "type": "submissionsLog",
				"attributes": map[string]any{"developerLogUrl": a.api.URL + "/developer-log/" + s.ID + "?X-Amz-Signature=stub"}}, "meta": map[string]any{}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"id": s.ID, "type": "submissions",
			"attributes": map[string]any{"status": s.Status, "name": s.Name, "createdDate": "2026-12-06T18:00:00.000Z"}}, "meta": map[string]any{}})
	default:
		writeAPIError(w, http.StatusNotFound, "NOT_FOUND", "The specified resource does not exist", r.Method+" "+r.URL.Path)
	}
}

func (a *Apple) createSubmission(w http.ResponseWriter, r *http.Request) {
	var req struct {
		SHA256         string `json:"sha256"`
		SubmissionName string `json:"submissionName"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || len(req.SHA256) != 64 || req.SubmissionName == "" {
		writeAPIError(w, http.StatusBadRequest, "PARAMETER_ERROR.INVALID", "A parameter has an invalid value", "sha256 and submissionName are required")
		return
	}
	a.mu.Lock()
	a.seq++
	s := &notarySub{
		ID: fmt.Sprintf("2efe2717-52ef-43a5-96dc-%012x", a.seq), Name: req.SubmissionName, SHA256: req.SHA256,
		AKID: fmt.Sprintf("ASIASTUB%08d", a.seq), Secret: randomHex(20), Tok: randomHex(40), Status: "In Progress",
	}
	s.Object = "prod/AROARQRX7CZS3PRF6ZA5L:" + s.ID
	a.subs[s.ID] = s
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"id": s.ID, "type": "newSubmissions", "attributes": map[string]any{
		"awsAccessKeyId": s.AKID, "awsSecretAccessKey": s.Secret, "awsSessionToken": s.Tok, "bucket": notaryBucket, "object": s.Object,
	}}, "meta": map[string]any{}})
}

// judge moves an uploaded submission to its outcome (a.mu held).
func (a *Apple) judge(s *notarySub) {
	if s.Status != "In Progress" || s.Uploaded == nil || a.outcome == NotaryStuck {
		return
	}
	sum := sha256.Sum256(s.Uploaded)
	if hex.EncodeToString(sum[:]) != s.SHA256 {
		s.Status, s.StatusNote = "Invalid", "The uploaded file does not match the sha256 of the submission."
		return
	}
	if a.outcome == NotaryInvalid {
		s.Status, s.StatusNote = "Invalid", a.LogIssue
		return
	}
	record, err := xarRecordName(s.Uploaded)
	if err != nil {
		s.Status, s.StatusNote = "Invalid", "The file is not a flat package: "+err.Error()
		return
	}
	s.Status = "Accepted"
	a.tickets[record] = append([]byte("s8ch"), []byte("stub ticket for "+record)...)
}

func (a *Apple) serveLog(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/developer-log/")
	a.mu.Lock()
	s := a.subs[id]
	a.mu.Unlock()
	if s == nil {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	log := map[string]any{"logFormatVersion": 1, "jobId": s.ID, "status": s.Status, "archiveFilename": s.Name, "sha256": s.SHA256, "ticketContents": nil, "issues": nil}
	if s.Status == "Invalid" {
		log["statusSummary"] = "Archive contains critical validation errors"
		log["statusCode"] = 4000
		log["issues"] = []map[string]any{{"severity": "error", "code": nil, "path": s.Name, "message": s.StatusNote,
			"docUrl": "https://developer.apple.com/documentation/security/notarizing_macos_software_before_distribution/resolving_common_notarization_issues", "architecture": nil}}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(log)
}

func writeS3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<Error><Code>%s</Code><Message>%s</Message><RequestId>STUB</RequestId></Error>", code, msg)
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)

// serveS3 takes path-style PUT /<bucket>/<object> signed with a submission's credentials.
func (a *Apple) serveS3(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut {
		writeS3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		return
	}
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		writeS3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	}
	a.mu.Lock()
	var s *notarySub
	for _, c := range a.subs {
		if c.AKID == m[1] {
			s = c
		}
	}
	fail := a.uploadFailure
	a.mu.Unlock()
	if s == nil {
		writeS3Error(w, http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		return
	}
	if r.Header.Get("X-Amz-Security-Token") != s.Tok {
		writeS3Error(w, http.StatusBadRequest, "InvalidToken", "The provided token is malformed or otherwise invalid.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 2<<30))
	if err != nil {
		writeS3Error(w, http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
		return
	}
	if err := verifySigV4(r, m, s, body); err != nil {
		writeS3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
		return
	}
	if r.URL.Path != "/"+notaryBucket+"/"+s.Object {
		writeS3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	}
	if fail != 0 {
		code, msg := "InternalError", "We encountered an internal error. Please try again."
		if fail == http.StatusForbidden {
			code, msg = "AccessDenied", "Access Denied"
		}
		writeS3Error(w, fail, code, msg)
		return
	}
	a.mu.Lock()
	s.Uploaded = body
	a.mu.Unlock()
	sum := md5Hex(body)
	w.Header().Set("ETag", `"`+sum+`"`)
	w.WriteHeader(http.StatusOK)
}

// verifySigV4 recomputes the request's Signature V4 with the SDK's signer.
func verifySigV4(r *http.Request, m []string, s *notarySub, body []byte) error {
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash != "UNSIGNED-PAYLOAD" {
		sum := sha256.Sum256(body)
		if payloadHash != hex.EncodeToString(sum[:]) {
			return fmt.Errorf("payload hash mismatch")
		}
	}
	t, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || t.Format("20060102") != m[2] {
		return fmt.Errorf("bad date")
	}
	req, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	req.ContentLength = r.ContentLength
	for _, h := range strings.Split(m[4], ";") {
		switch h {
		case "host", "content-length", "x-amz-date", "x-amz-security-token":
			continue
		}
		req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	creds := aws.Credentials{AccessKeyID: s.AKID, SecretAccessKey: s.Secret, SessionToken: s.Tok}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), creds, req, payloadHash, "s3", m[3], t); err != nil {
		return err
	}
	if !strings.HasSuffix(req.Header.Get("Authorization"), "Signature="+m[5]) {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

func (a *Apple) serveCloudKit(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/com.apple.gk.ticket-delivery/production/public/records/lookup") {
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"serverErrorCode": "NOT_FOUND", "reason": "unknown path"})
		return
	}
	var req struct {
		Records []struct {
			RecordName string `json:"recordName"`
		} `json:"records"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || len(req.Records) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"serverErrorCode": "BAD_REQUEST", "reason": "BadRequestException: missing required field 'records'"})
		return
	}
	var out []map[string]any
	for _, rec := range req.Records {
		t := a.Ticket(rec.RecordName)
		if t == nil {
			out = append(out, map[string]any{"recordName": rec.RecordName, "reason": "Record not found", "serverErrorCode": "NOT_FOUND"})
			continue
		}
		out = append(out, map[string]any{"recordName": rec.RecordName, "recordType": "DeveloperIDTicket", "deleted": false,
			"recordChangeTag": "stub", "fields": map[string]any{"signedTicket": map[string]any{"type": "BYTES", "value": base64.StdEncoding.EncodeToString(t)}},
			"created":  map[string]any{"timestamp": 1765000000000, "userRecordName": "_stub", "deviceID": "stub"},
			"modified": map[string]any{"timestamp": 1765000000000, "userRecordName": "_stub", "deviceID": "stub"}})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"records": out})
}

// xarRecordName is the CloudKit record of a flat package: 2/1/<SHA-1 of the
// compressed TOC>, read straight from the xar header (SHA-1 TOC checksums only).
func xarRecordName(b []byte) (string, error) {
	if len(b) < 28 || string(b[:4]) != "xar!" {
		return "", fmt.Errorf("no xar header")
	}
	hdr := int64(binary.BigEndian.Uint16(b[4:6]))
	toc := int64(binary.BigEndian.Uint64(b[8:16]))
	if alg := binary.BigEndian.Uint32(b[24:28]); alg != 1 {
		return "", fmt.Errorf("TOC checksum algorithm %d, want SHA-1", alg)
	}
	if hdr+toc > int64(len(b)) {
		return "", fmt.Errorf("TOC beyond the file")
	}
	sum := sha1.Sum(b[hdr : hdr+toc])
	return "2/1/" + hex.EncodeToString(sum[:]), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}
