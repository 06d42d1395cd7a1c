package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

func TestSmokeDeb(t *testing.T) {
	e := testenv.NewTB(t)
	out := filepath.Join(t.TempDir(), "x.deb")
	var so, se bytes.Buffer
	code := Execute([]string{"package", "--type=deb", "--fleet-url=https://fleet.example.com", "--enroll-secret=s3cr3t",
		"--update-url=" + e.Server.URL, "--update-roots=" + string(e.RootJSON), "--update-tls-certificate=" + e.ServerCAFile,
		"--update-tls-client-certificate=" + e.ClientCertFile, "--update-tls-client-key=" + e.ClientKeyFile,
		"--fleet-desktop", "--cache-dir=" + t.TempDir(), "--outfile=" + out, "--verbose"}, Streams{Out: &so, ErrOut: &se})
	t.Logf("stdout: %s\nstderr: %s", so.String(), se.String())
	if code != 0 {
		t.Fatal("exit", code)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile("/tmp/smoke.deb", data, 0o644)
}
