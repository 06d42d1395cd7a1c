package testenv

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNginx needs a real nginx: it fails, never skips, if nginx is missing.
func TestNginx(t *testing.T) {
	e := NewTB(t)
	n := StartNginxTB(t, e)
	if !strings.HasPrefix(n.URL, "https://127.0.0.1:") {
		t.Errorf("URL %q", n.URL)
	}
	const target = "/targets/desktop/linux/stable/desktop.tar.gz"
	want, err := os.ReadFile(filepath.Join(e.Repo.Dir, filepath.FromSlash(target)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range clientCases(t, e) {
		t.Run(tc.name, func(t *testing.T) {
			client, err := NewHTTPClient(e.ServerCA.CertPEM, tc.certPEM, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			status, body, err := get(client, n.URL+target)
			accepted := err == nil && status == http.StatusOK && string(body) == string(want)
			if accepted != tc.wantAccepted {
				t.Fatalf("accepted=%v (status %d, err %v), want %v", accepted, status, err, tc.wantAccepted)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		client, err := e.HTTPClient()
		if err != nil {
			t.Fatal(err)
		}
		if status, _, err := get(client, n.URL+"/2.root.json"); err != nil || status != http.StatusNotFound {
			t.Errorf("status %d, err %v, want 404", status, err)
		}
	})

	t.Run("go-tuf client", func(t *testing.T) {
		_, data, err := fetchTarget(t, e, n.URL, "orbit/macos/edge/orbit")
		if err != nil {
			t.Fatal(err)
		}
		if want := "#!/bin/sh\necho orbit macos edge 1.3.0\n"; string(data) != want {
			t.Errorf("content %q, want %q", data, want)
		}
	})

	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	client, err := e.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(client, n.URL+target); err == nil {
		t.Error("nginx still serves after Stop")
	}
}

func TestStartNginxErrors(t *testing.T) {
	e := NewTB(t)
	dir := t.TempDir()
	// A missing certificate makes nginx exit at start-up; the error must carry its log.
	_, err := StartNginx(filepath.Join(dir, "work"), e.Repo.Dir, filepath.Join(dir, "missing.crt"), filepath.Join(dir, "missing.key"), e.ClientCAFile)
	if err == nil {
		t.Fatal("StartNginx succeeded without a certificate")
	}
	if !strings.Contains(err.Error(), "missing.crt") {
		t.Errorf("error does not show nginx's log: %v", err)
	}

}
