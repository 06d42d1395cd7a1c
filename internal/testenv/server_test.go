package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// clientCase is a client certificate to present to a server that requires one from e.ClientCA.
type clientCase struct {
	name         string
	certPEM, key []byte
	wantAccepted bool
}

func clientCases(t *testing.T, e *Env) []clientCase {
	t.Helper()
	otherCA, err := NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	otherCert, otherKey, err := otherCA.IssueClient("intruder")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	expiredCert, expiredKey, err := e.ClientCA.IssueClientValidity("expired", now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return []clientCase{
		{"valid client cert", e.ClientCertPEM, e.ClientKeyPEM, true},
		{"no client cert", nil, nil, false},
		{"client cert from another CA", otherCert, otherKey, false},
		{"expired client cert", expiredCert, expiredKey, false},
	}
}

// get returns the status and body of url, or an error for transport (TLS) failures.
func get(client *http.Client, url string) (int, []byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func TestServerRequiresClientCert(t *testing.T) {
	e := NewTB(t)
	const target = "/targets/orbit/linux/stable/orbit"
	want, err := os.ReadFile(filepath.Join(e.Repo.Dir, filepath.FromSlash(target)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range clientCases(t, e) {
		t.Run(tc.name, func(t *testing.T) {
			e.Server.ResetRequests()
			client, err := NewHTTPClient(e.Server.CertPEM, tc.certPEM, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			status, body, err := get(client, e.Server.URL+target)
			accepted := err == nil && status == http.StatusOK && string(body) == string(want)
			if accepted != tc.wantAccepted {
				t.Fatalf("accepted=%v (status %d, err %v), want %v", accepted, status, err, tc.wantAccepted)
			}
			wantRequests := []string(nil)
			if tc.wantAccepted {
				wantRequests = []string{target}
			}
			if got := e.Server.Requests(); !slices.Equal(got, wantRequests) {
				t.Errorf("requests %q, want %q", got, wantRequests)
			}
		})
	}
}

func TestServerWithoutClientCA(t *testing.T) {
	ca, err := NewCA("server CA")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}), ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, host := range []string{s.URL, "https://localhost:" + s.URL[len("https://127.0.0.1:"):]} {
		client, err := NewHTTPClient(s.CertPEM, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		status, body, err := get(client, host+"/a")
		if err != nil || status != http.StatusOK || string(body) != "hello" {
			t.Errorf("GET %s/a: %d %q %v", host, status, body, err)
		}
	}
	// A client that does not trust the server CA must fail.
	otherCA, err := NewCA("other")
	if err != nil {
		t.Fatal(err)
	}
	client, err := NewHTTPClient(otherCA.CertPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(client, s.URL+"/b"); err == nil {
		t.Error("client with another root CA accepted the server")
	}
	if got, want := s.Requests(), []string{"/a", "/a"}; !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

func TestCACertificates(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.NotAfter.Before(time.Now().AddDate(9, 11, 0)) {
		t.Errorf("CA: IsCA=%v NotAfter=%v", ca.Cert.IsCA, ca.Cert.NotAfter)
	}
	serverPEM, serverKey, err := ca.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	clientPEM, clientKey, err := ca.IssueClient("client")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	soonPEM, soonKey, err := ca.IssueClientValidity("soon", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		certPEM []byte
		keyPEM  []byte
		opts    x509.VerifyOptions
		wantErr bool
	}{
		{"server for IP", serverPEM, serverKey, x509.VerifyOptions{DNSName: "127.0.0.1"}, false},
		{"server for localhost", serverPEM, serverKey, x509.VerifyOptions{DNSName: "localhost"}, false},
		{"server for other host", serverPEM, serverKey, x509.VerifyOptions{DNSName: "example.com"}, true},
		{"server used as client", serverPEM, serverKey, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, true},
		{"client", clientPEM, clientKey, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, false},
		{"client in a year and a day", clientPEM, clientKey, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now.AddDate(1, 0, 1)}, true},
		{"expiring-soon client", soonPEM, soonKey, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, false},
		{"expiring-soon client in 2h", soonPEM, soonKey, x509.VerifyOptions{KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now.Add(2 * time.Hour)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pair, err := tls.X509KeyPair(tt.certPEM, tt.keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			tt.opts.Roots = ca.Pool()
			_, err = pair.Leaf.Verify(tt.opts)
			if (err != nil) != tt.wantErr {
				t.Errorf("verify error %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	for _, data := range []string{"first", "second"} {
		path, err := WriteFile(dir, "secret.txt", []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		if path != filepath.Join(dir, "secret.txt") {
			t.Errorf("path %s", path)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Errorf("content %q %v, want %q", got, err, data)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
		os.Chmod(path, 0o644) // WriteFile must reset it
	}
}
