package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// updatesRun runs `pkgctl updates args...` with the binary, extra environment variables
// (FLEET_*_PASSPHRASE) and stdin not a terminal. Like runPkgctl it fails on any registered
// secret in the output (the passphrases are registered) and on a panic.
func updatesRun(t *testing.T, env []string, args ...string) runResult {
	t.Helper()
	return runIn(t, t.TempDir(), env, append([]string{"updates"}, args...)...)
}

// passEnv returns FLEET_<ROLE>_PASSPHRASE for every role (registered as secrets) with
// over replacing some ("" value: unset).
func passEnv(prefix string, over map[string]string) []string {
	var env []string
	for _, role := range []string{"ROOT", "TARGETS", "SNAPSHOT", "TIMESTAMP"} {
		k := "FLEET_" + role + "_PASSPHRASE"
		v := prefix + "-" + strings.ToLower(role) + "-Pass"
		if o, ok := over[k]; ok {
			v = o
		}
		if v == "" {
			continue
		}
		registerSecret([]byte(v))
		env = append(env, k+"="+v)
	}
	return env
}

// updatesServer serves a `pkgctl updates` repository/ with nginx and ssl_verify_client on.
type updatesServer struct {
	URL                                 string
	ServerCAFile, ClientCert, ClientKey string
}

func startUpdatesNginx(t *testing.T, repository string) *updatesServer {
	t.Helper()
	dir := t.TempDir()
	serverCA, err := testenv.NewCA("e2e updates server CA")
	if err != nil {
		t.Fatal(err)
	}
	clientCA, err := testenv.NewCA("e2e updates client CA")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := serverCA.IssueServer("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, clientKey, err := clientCA.IssueClient("e2e updates client")
	if err != nil {
		t.Fatal(err)
	}
	registerSecret(clientKey)
	s := &updatesServer{
		ServerCAFile: writeFile(t, dir, "server-ca.pem", serverCA.CertPEM),
		ClientCert:   writeFile(t, dir, "client.crt", clientCert),
		ClientKey:    writeFile(t, dir, "client.key", clientKey),
	}
	n, err := testenv.StartNginx(filepath.Join(dir, "nginx"), repository,
		writeFile(t, dir, "server.crt", certPEM), writeFile(t, dir, "server.key", keyPEM),
		writeFile(t, dir, "client-ca.pem", clientCA.CertPEM))
	if err != nil {
		t.Fatalf("%v (nginx comes from the Debian package nginx)", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Error(err)
		}
	})
	s.URL = n.URL
	return s
}

// TestUpdatesRepository drives `pkgctl updates` as an administrator would: init, add the
// linux components, roots; nginx serves repository/; `pkgctl package` builds a .deb from it
// that dpkg-deb checks byte for byte. Then each key is rotated and a build that trusts the
// first root still succeeds; wrong, missing and empty passphrases are refused without
// changing anything.
func TestUpdatesRepository(t *testing.T) {
	t.Parallel()
	dpkgDeb := needTool(t, "dpkg-deb", "dpkg")
	path := filepath.Join(t.TempDir(), "tuf")
	env := passEnv("e2e", nil)

	r := updatesRun(t, env, "init", "--path", path)
	if r.Code != 0 || strings.Count(r.Stdout, "Generated ") != 4 {
		t.Fatalf("init: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for p, mode := range map[string]fs.FileMode{"keys": 0o700, "keys/root.json": 0o600, "keys/timestamp.json": 0o600} {
		if st, err := os.Stat(filepath.Join(path, p)); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v, want mode %v", p, err, mode)
		}
	}

	src := t.TempDir()
	want := map[string][]byte{}
	for _, c := range testenv.Components {
		if c.Platform != "linux" {
			continue
		}
		data, err := testenv.SampleFile(c, "stable", "2.4.6")
		if err != nil {
			t.Fatal(err)
		}
		f := writeFile(t, src, "build-output-"+c.Name, data)
		r := updatesRun(t, env, "add", "--path", path, "--target", f, "--name", c.Name, "--platform", "linux",
			"--version", "2.4.6", "-t", "2.4", "-t", "2", "--tag", "stable")
		if r.Code != 0 {
			t.Fatalf("add %s: exit %d\n%s", c.Name, r.Code, r.Stderr)
		}
		want[c.Path("stable")] = data
	}
	firstRoot := updatesRun(t, nil, "roots", "--path", path) // needs no passphrase
	if firstRoot.Code != 0 || !strings.HasPrefix(firstRoot.Stdout, "{") {
		t.Fatalf("roots: exit %d\n%s", firstRoot.Code, firstRoot.Stderr)
	}

	srv := startUpdatesNginx(t, filepath.Join(path, "repository"))
	build := func(t *testing.T, roots string) string {
		t.Helper()
		res := runPkgctl(t, "fleet-osquery.deb", "package", "--type=deb", "--fleet-desktop", "--cache-dir=",
			"--fleet-url=https://fleet.example.com", "--enroll-secret=e2e-updates-secret",
			"--update-url="+srv.URL, "--update-roots="+roots, "--update-tls-certificate="+srv.ServerCAFile,
			"--update-tls-client-certificate="+srv.ClientCert, "--update-tls-client-key="+srv.ClientKey)
		mustSucceed(t, res)
		root := t.TempDir()
		tool(t, false, dpkgDeb, "-x", res.Outfile, root)
		for p, data := range want {
			got, err := os.ReadFile(filepath.Join(root, "opt/orbit/bin", filepath.FromSlash(p)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("%s in the deb is not what updates add published", p)
			}
		}
		if v, _ := tool(t, false, dpkgDeb, "-f", res.Outfile, "Version"); strings.TrimSpace(v) != "2.4.6" {
			t.Errorf("deb Version %q, want 2.4.6", v)
		}
		return res.Outfile
	}
	build(t, firstRoot.Stdout)

	for _, role := range []string{"targets", "snapshot", "timestamp", "root"} {
		r := updatesRun(t, env, "rotate", role, "--path", path)
		if r.Code != 0 || !strings.Contains(r.Stdout, "Generated "+role+" key with ID: ") {
			t.Fatalf("rotate %s: exit %d\n%s%s", role, r.Code, r.Stdout, r.Stderr)
		}
		t.Run("build trusting the first root after rotating "+role, func(t *testing.T) { build(t, firstRoot.Stdout) })
	}
	newRoot := updatesRun(t, nil, "roots", "--path", path)
	if newRoot.Stdout == firstRoot.Stdout {
		t.Error("roots did not change after rotating the root key")
	}
	if _, err := os.Stat(filepath.Join(path, "repository", "5.root.json")); err != nil {
		t.Errorf("four rotations: %v", err)
	}
	build(t, newRoot.Stdout)

	// Refusals: nothing may change.
	before := testenv.TreeHash(t, path)
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"wrong env passphrase", passEnv("e2e", map[string]string{"FLEET_TIMESTAMP_PASSPHRASE": "e2e-not-the-timestamp-pass"}),
			[]string{"timestamp"}, []string{"timestamp key passphrase from FLEET_TIMESTAMP_PASSPHRASE is wrong"}},
		{"missing variable, no terminal", passEnv("e2e", map[string]string{"FLEET_SNAPSHOT_PASSPHRASE": ""}),
			[]string{"add", "--target", filepath.Join(src, "build-output-orbit"), "--name", "orbit", "--platform", "linux", "--version", "9.0.0"},
			[]string{"set FLEET_SNAPSHOT_PASSPHRASE", "not a terminal"}},
		{"init twice", env, []string{"init"}, []string{"already initialized"}},
		{"missing target", env, []string{"add", "--target", "/nonexistent/orbit", "--name", "orbit", "--platform", "linux", "--version", "9"},
			[]string{"--target /nonexistent/orbit: no such file"}},
		{"passphrase flag", env, []string{"timestamp", "--passphrase=x"}, []string{"unknown flag: --passphrase"}},
	} {
		r := updatesRun(t, c.env, append(c.args, "--path", path)...)
		if r.Code == 0 {
			t.Errorf("%s: succeeded", c.name)
		}
		for _, w := range c.want {
			if !strings.Contains(r.Stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", c.name, w, r.Stderr)
			}
		}
		if testenv.TreeHash(t, path) != before {
			t.Errorf("%s changed the repository or keys", c.name)
		}
	}
	// An empty passphrase is refused at init, before anything is created.
	empty := append(passEnv("e2e2", nil), "FLEET_TARGETS_PASSPHRASE=")
	fresh := filepath.Join(t.TempDir(), "fresh")
	if r := updatesRun(t, empty, "init", "--path", fresh); r.Code == 0 || !strings.Contains(r.Stderr, "FLEET_TARGETS_PASSPHRASE is set but empty") {
		t.Errorf("empty passphrase: exit %d\n%s", r.Code, r.Stderr)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("a refused init created its directory")
	}
}
