package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestURLPasswordRedacted: a password in --update-url never shows in
// stdout, stderr (errors, warnings, --verbose logs) or the manifest, in a
// successful build and in failing ones. runPkgctl checks the streams.
func TestURLPasswordRedacted(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	const password = "Hunter2-url-Pa55word"
	registerSecret([]byte(password))
	withPassword := func(u string) string {
		return strings.Replace(u, "://", "://fleet-user:"+password+"@", 1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()
	e := s.Env
	tls := []string{"--update-roots=" + string(e.RootJSON), "--update-tls-certificate=" + e.ServerCAFile,
		"--update-tls-client-certificate=" + e.ClientCertFile, "--update-tls-client-key=" + e.ClientKeyFile}
	for _, c := range []struct {
		name string
		url  string
		ok   bool
	}{
		{"verbose build", withPassword(s.Nginx.URL), true},
		{"unreachable server", withPassword(closed), false},
		{"not found", withPassword(s.Nginx.URL) + "/no-such-repo", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			manifest := filepath.Join(t.TempDir(), "manifest.json")
			args := append([]string{"package", "--type=deb", "--verbose", "--cache-dir=" + t.TempDir(),
				"--manifest=" + manifest, "--update-url=" + c.url}, tls...)
			r := runPkgctl(t, "fleet-osquery.deb", args...)
			if c.ok {
				if r.Code != 0 {
					t.Fatalf("exit %d\n%s", r.Code, r.Stderr)
				}
				if !strings.Contains(r.Stderr, "fleet-user:REDACTED@") {
					t.Errorf("--verbose shows no redacted URL:\n%s", r.Stderr)
				}
			} else if r.Code == 0 {
				t.Fatal("the build succeeded")
			}
			if data, err := os.ReadFile(manifest); err == nil {
				assertNoSecrets(t, "manifest", data)
			}
		})
	}
}
