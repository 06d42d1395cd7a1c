package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/repodir"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestDemoNeedsOnlyGo runs the demo (its deb builds) with a PATH that holds
// only the go command and stubs of apt-get, sudo and the Debian tools that
// record any call: the demo must succeed and call none of them. Then `demo
// serve` serves the repository it made, to clients of the demo's CA only.
func TestDemoNeedsOnlyGo(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	stubs := t.TempDir()
	log := filepath.Join(stubs, "calls.log")
	for _, name := range []string{"apt-get", "apt", "sudo", "dpkg", "dpkg-deb", "rpm", "rpmlint", "lintian", "nginx", "wine", "msiextract", "bsdtar", "git", "gcc", "cc"} {
		stub := "#!/bin/sh\necho \"" + name + " $*\" >> " + log + "\nexit 1\n"
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", stubs+string(os.PathListSeparator)+filepath.Dir(goBin))
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	base := t.TempDir()
	t.Chdir(".") // run changes the working directory; restore it after the test

	if code := run([]string{"-dir", base, "-only", "deb"}); code != 0 {
		t.Fatalf("demo exited %d", code)
	}
	if calls, err := os.ReadFile(log); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the demo called tools beyond Go (%v):\n%s", err, calls)
	}
	for _, f := range []string{"fleet-osquery-amd64.deb", "fleet-osquery_1.2.3_arm64.deb"} {
		if _, err := os.Stat(filepath.Join(base, "demo/out", f)); err != nil {
			t.Errorf("demo output: %v", err)
		}
	}

	// demo serve: the demo's files are enough to serve the repository again.
	env := filepath.Join(base, "demo/env")
	srv, err := newServeServer(env, filepath.Join(base, tufDir, "repository"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	url := "https://" + ln.Addr().String() + "/root.json"
	caPEM, err := os.ReadFile(filepath.Join(env, "server-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := func(withCert bool) *http.Client {
		cfg := &tls.Config{RootCAs: pool}
		if withCert {
			cert, err := tls.LoadX509KeyPair(filepath.Join(env, "client.crt"), filepath.Join(env, "client.key"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	resp, err := client(true).Get(url)
	if err != nil {
		t.Fatalf("demo serve: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"signed"`) {
		t.Errorf("demo serve root.json: %d %.100s", resp.StatusCode, body)
	}
	if resp, err := client(false).Get(url); err == nil {
		resp.Body.Close()
		t.Error("demo serve answered a client without a certificate")
	}
}

// TestMakeDemoRunsOnlyTheDemo: `make demo` runs the demo program and nothing
// else: not .ci/deps, apt-get or sudo (those belong to `make test`).
func TestMakeDemoRunsOnlyTheDemo(t *testing.T) {
	makeBin := testenv.NeedTool(t, "make", "make")
	root, err := repodir.Root()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(makeBin, "-n", "-C", root, "demo").Output()
	if err != nil {
		t.Fatalf("make -n demo: %v", err)
	}
	var cmds []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(line, "make") { // make's own "Entering directory" lines
			cmds = append(cmds, line)
		}
	}
	if len(cmds) != 1 || !strings.HasSuffix(cmds[0], "run ./internal/cmd/demo") {
		t.Errorf("make demo runs %q, want only `go run ./internal/cmd/demo`", cmds)
	}
}
