package timestamp

import (
	"bytes"
	"context"
	"crypto"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sassoftware/relic/v7/lib/pkcs9"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

func client(t *testing.T, raw string) *Client {
	t.Helper()
	c, err := New("test-timestamp-url", raw)
	if err != nil || c == nil {
		t.Fatalf("New(%q) = %v, %v", raw, c, err)
	}
	c.Backoff = time.Millisecond
	return c
}

func TestTimestamp(t *testing.T) {
	sig := []byte("an encrypted digest")
	for _, tc := range []struct {
		name     string
		fail     []int
		down     bool
		want     string // "" = success
		requests int
	}{
		{"granted", nil, false, "", 1},
		{"503 then granted", []int{503, 502}, false, "", 3},
		{"always 503", []int{503, 503, 503, 503}, false, "HTTP 503 Service Unavailable (gave up after 4 attempts)", 4},
		{"400 is not retried", []int{400}, false, "HTTP 400 Bad Request", 1},
		{"down", nil, true, "not reachable", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tsa := testenv.NewTSATB(t)
			tsa.FailNext(tc.fail...)
			c := client(t, tsa.URL)
			if tc.down {
				tsa.Close()
			}
			token, err := c.Timestamp(context.Background(), &pkcs9.Request{EncryptedDigest: sig, Hash: crypto.SHA256})
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tsa.URL) {
					t.Fatalf("err = %v, want one naming %s and %q", err, tsa.URL, tc.want)
				}
				if token != nil {
					t.Error("a token came with the error")
				}
			} else if err != nil {
				t.Fatal(err)
			} else {
				cs, err := pkcs9.Verify(token, sig, nil)
				if err != nil {
					t.Fatalf("the token does not verify: %v", err)
				}
				if d := time.Since(cs.SigningTime); d < -time.Minute || d > time.Minute {
					t.Errorf("token time %v", cs.SigningTime)
				}
			}
			if got := tsa.Requests(); !tc.down && got != tc.requests {
				t.Errorf("%d requests, want %d", got, tc.requests)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	for _, raw := range []string{"ftp://x/ts", "timestamp.example.com", "http://", "http://x/\nts"} {
		if _, err := New("macos-sign-timestamp-url", raw); err == nil || !strings.Contains(err.Error(), "--macos-sign-timestamp-url") {
			t.Errorf("New(%q): %v", raw, err)
		}
	}
	for _, raw := range []string{"", None} {
		if c, err := New("x", raw); c != nil || err != nil {
			t.Errorf("New(%q) = %v, %v; want nil, nil", raw, c, err)
		}
	}
}

func TestPasswordRefused(t *testing.T) {
	_, err := New("windows-sign-timestamp-url", "http://user:s3cr3t@tsa.example.com/")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "password") {
		t.Fatalf("err = %v", err)
	}
}

// TestTSAWithOpenSSL: openssl ts checks the test TSA's reply to a query it
// made itself, so the TSA the other tests trust is a real one.
func TestTSAWithOpenSSL(t *testing.T) {
	openssl := testenv.NeedTool(t, "openssl", "openssl")
	tsa := testenv.NewTSATB(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.WriteFile(data, []byte("hello"), 0o644)
	query := filepath.Join(dir, "q.tsq")
	if out, err := exec.Command(openssl, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query).CombinedOutput(); err != nil {
		t.Fatalf("openssl ts -query: %v\n%s", err, out)
	}
	q, _ := os.ReadFile(query)
	resp, err := http.Post(tsa.URL, "application/timestamp-query", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	var reply bytes.Buffer
	reply.ReadFrom(resp.Body)
	resp.Body.Close()
	replyFile := filepath.Join(dir, "r.tsr")
	os.WriteFile(replyFile, reply.Bytes(), 0o644)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, tsa.CA.CertPEM, 0o644)
	out, err := exec.Command(openssl, "ts", "-verify", "-queryfile", query, "-in", replyFile, "-CAfile", caFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
	// And a reply to another query does not verify.
	os.WriteFile(data, []byte("other"), 0o644)
	other := filepath.Join(dir, "o.tsq")
	exec.Command(openssl, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", other).Run()
	if out, err := exec.Command(openssl, "ts", "-verify", "-queryfile", other, "-in", replyFile, "-CAfile", caFile).CombinedOutput(); err == nil {
		t.Fatalf("openssl ts -verify accepts a reply to another query:\n%s", out)
	}
}
