package e2e

import (
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestMTLSFailures checks the update server's mutual TLS from both sides,
// against nginx (ssl_verify_client on) and against the Go server: every
// misconfiguration fails with an error naming the flag to fix, and no file.
func TestMTLSFailures(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	e := s.Env
	dir := t.TempDir()
	write := func(name string, data []byte) string { return writeFile(t, dir, name, data) }
	otherCA, err := testenv.NewCA("e2e other CA")
	if err != nil {
		t.Fatal(err)
	}
	// A client certificate that the server's client CA did not issue.
	strangerCert, strangerKey, err := otherCA.IssueClient("e2e stranger")
	if err != nil {
		t.Fatal(err)
	}
	registerSecret(strangerKey)
	strangerCertFile, strangerKeyFile := write("stranger.crt", strangerCert), write("stranger.key", strangerKey)
	// A key of another certificate from the right CA: not the pair of ClientCertFile.
	_, otherKey, err := e.ClientCA.IssueClient("e2e other client")
	if err != nil {
		t.Fatal(err)
	}
	registerSecret(otherKey)
	otherKeyFile := write("other.key", otherKey)
	otherCAFile := write("other-ca.pem", otherCA.CertPEM)

	type flags struct{ serverCA, cert, key string }
	good := flags{e.ServerCAFile, e.ClientCertFile, e.ClientKeyFile}
	for _, c := range []struct {
		name string
		f    flags
		want []string
	}{
		{"no client certificate", flags{serverCA: good.serverCA}, []string{"--update-tls-client-certificate"}},
		{"client certificate from another CA", flags{good.serverCA, strangerCertFile, strangerKeyFile}, []string{"--update-tls-client-certificate"}},
		{"key of another certificate", flags{good.serverCA, good.cert, otherKeyFile}, []string{"--update-tls-client-key"}},
		{"server not signed by --update-tls-certificate", flags{otherCAFile, good.cert, good.key}, []string{"--update-tls-certificate"}},
	} {
		for _, srv := range []struct{ name, url string }{{"nginx", s.Nginx.URL}, {"go", e.Server.URL}} {
			t.Run(c.name+"/"+srv.name, func(t *testing.T) {
				t.Parallel()
				args := []string{"package", "--type=deb", "--cache-dir=" + t.TempDir(), "--verbose",
					"--fleet-url=https://fleet.example.com", "--enroll-secret=" + s.EnrollSecret,
					"--update-url=" + srv.url, "--update-roots=" + string(e.RootJSON)}
				if c.f.serverCA != "" {
					args = append(args, "--update-tls-certificate="+c.f.serverCA)
				}
				if c.f.cert != "" {
					args = append(args, "--update-tls-client-certificate="+c.f.cert, "--update-tls-client-key="+c.f.key)
				}
				r := runPkgctl(t, "fleet-osquery.deb", args...)
				mustFail(t, r, c.want...)
				t.Logf("stderr: %s", r.Stderr)
			})
		}
	}
}
