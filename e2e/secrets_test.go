package e2e

import (
	"net"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestSecretsNeverPrinted runs pkgctl where a careless error message would
// quote the enroll secret or a private key: verbose and debug builds, bad key
// files, swapped and mismatched pairs, a misspelled secret flag, an
// unreachable server. runPkgctl fails the test if any registered secret (the
// enroll secrets, every client key as PEM, base64 lines and DER) appears in
// stdout or stderr, for these runs and for every other run of the suite.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	e := s.Env
	dir := t.TempDir()
	write := func(name string, data []byte) string { return writeFile(t, dir, name, data) }
	// A PEM private key whose body is not a key: parsers that quote what they
	// could not parse would print it.
	garbageKey := []byte("-----BEGIN PRIVATE KEY-----\nU2VjcmV0S2V5TWF0ZXJpYWxUaGF0TXVzdE5ldmVyQmVQcmludGVkMDEyMzQ1Njc4OQ==\n-----END PRIVATE KEY-----\n")
	registerSecret(garbageKey)
	garbageKeyFile := write("garbage.key", garbageKey)
	ca, err := testenv.NewCA("e2e secrets CA")
	if err != nil {
		t.Fatal(err)
	}
	_, mismatchedKey, err := ca.IssueClient("e2e mismatched")
	if err != nil {
		t.Fatal(err)
	}
	registerSecret(mismatchedKey)
	mismatchedKeyFile := write("mismatched.key", mismatchedKey)
	secret := "s3cr3t-with-$pecial \"chars\" #and spaces"
	registerSecret([]byte(secret))

	// A port that refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "https://" + ln.Addr().String()
	ln.Close()

	fleet := []string{"--fleet-url=https://fleet.example.com", "--enroll-secret=" + secret}
	upd := updateArgs(e, s.Nginx.URL)
	for _, c := range []struct {
		name string
		args []string
		ok   bool
		want []string
	}{
		{"verbose debug build", append(append([]string{"--verbose", "--debug", "--fleet-desktop",
			"--fleet-tls-client-certificate=" + s.FleetClientCertFile, "--fleet-tls-client-key=" + s.FleetClientKeyFile}, fleet...), upd...), true, nil},
		{"garbage update client key", append(append([]string{"--verbose"}, fleet...),
			"--update-url="+s.Nginx.URL, "--update-roots="+string(e.RootJSON), "--update-tls-certificate="+e.ServerCAFile,
			"--update-tls-client-certificate="+e.ClientCertFile, "--update-tls-client-key="+garbageKeyFile), false, []string{"--update-tls-client-key"}},
		{"swapped update client pair", append(append([]string{"--verbose"}, fleet...),
			"--update-url="+s.Nginx.URL, "--update-roots="+string(e.RootJSON), "--update-tls-certificate="+e.ServerCAFile,
			"--update-tls-client-certificate="+e.ClientKeyFile, "--update-tls-client-key="+e.ClientCertFile), false, []string{"--update-tls-client-certificate"}},
		{"mismatched fleet client pair", append(append([]string{"--verbose",
			"--fleet-tls-client-certificate=" + s.FleetClientCertFile, "--fleet-tls-client-key=" + mismatchedKeyFile}, fleet...), upd...), false, []string{"--fleet-tls-client-key"}},
		{"garbage fleet client key", append(append([]string{"--verbose",
			"--fleet-tls-client-certificate=" + s.FleetClientCertFile, "--fleet-tls-client-key=" + garbageKeyFile}, fleet...), upd...), false, []string{"--fleet-tls-client-key"}},
		{"enroll secret without fleet url", append([]string{"--verbose", "--enroll-secret=" + secret}, upd...), false, []string{"--enroll-secret", "--fleet-url"}},
		{"misspelled secret flag", append([]string{"--verbose", "--enrol-secret=" + secret, "--fleet-url=https://fleet.example.com"}, upd...), false, []string{"enrol-secret"}},
		{"unreachable update server", append(append([]string{"--verbose"}, fleet...),
			"--update-url="+closedURL, "--update-roots="+string(e.RootJSON), "--update-tls-certificate="+e.ServerCAFile,
			"--update-tls-client-certificate="+e.ClientCertFile, "--update-tls-client-key="+e.ClientKeyFile), false, []string{closedURL}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"package", "--type=deb", "--cache-dir=" + t.TempDir()}, c.args...)
			r := runPkgctl(t, "fleet-osquery.deb", args...)
			if c.ok {
				mustSucceed(t, r)
			} else {
				mustFail(t, r, c.want...)
			}
			t.Logf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		})
	}
}
