package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
)

// TestArchSignatureFile: a signed Arch build's detached .sig is in the
// manifest (it ships with the package); an unsigned rebuild to the same
// outfile removes the .sig the signed build left, which would no longer
// match, and says so.
func TestArchSignatureFile(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	t.Setenv(packaging.LinuxSignPassphraseEnv, "")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	key, err := testenv.NewPGPKey("ed25519", "", time.Unix(1600000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing.asc")
	if err := os.WriteFile(keyFile, key.Private, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dist", "fleet-osquery.pkg.tar.zst")
	manifest := filepath.Join(dir, "dist", "manifest.json")
	if err := os.Mkdir(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(extra ...string) (int, string) {
		args := append([]string{"package", "--type=pkg.tar.zst", "--fleet-url=https://fleet.example.com", "--enroll-secret=s3cret", "--cache-dir=",
			"--outfile=" + out, "--update-url=" + env.Server.URL, "--update-roots=" + string(env.RootJSON), "--update-tls-certificate=" + env.ServerCAFile,
			"--update-tls-client-certificate=" + env.ClientCertFile, "--update-tls-client-key=" + env.ClientKeyFile}, extra...)
		var stdout, stderr bytes.Buffer
		code := Execute(args, Streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
		return code, stdout.String() + stderr.String()
	}

	if code, log := run("--linux-sign-key="+keyFile, "--manifest="+manifest); code != 0 {
		t.Fatalf("signed build: exit %d\n%s", code, log)
	}
	sig, err := os.ReadFile(out + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	m, err := packaging.ReadManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sig)
	want := packaging.ManifestFile{Path: "fleet-osquery.pkg.tar.zst.sig", Size: int64(len(sig)), SHA256: hex.EncodeToString(sum[:])}
	if len(m.Outputs) != 1 || m.Outputs[0].Signature == nil || *m.Outputs[0].Signature != want {
		t.Errorf("manifest signature: %+v, want %+v", m.Outputs, want)
	}

	code, log := run()
	if code != 0 {
		t.Fatalf("unsigned rebuild: exit %d\n%s", code, log)
	}
	if _, err := os.Lstat(out + ".sig"); !os.IsNotExist(err) {
		t.Errorf("the stale signature is still beside the unsigned package: %v", err)
	}
	if !strings.Contains(log, "removed "+out+".sig") {
		t.Errorf("the removal is not reported:\n%s", log)
	}
}
