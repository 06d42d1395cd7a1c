package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestConfigRunVerifiesByDefault: a --config run checks each installer as
// `pkgctl verify` does before renaming it into place. The check is watched,
// and a byte of the finished (unrenamed) deb is flipped just before it runs:
// the build fails naming the finding and nothing is written at the outfile.
// --verify=false turns the check off; a run without --config has it off
// unless --verify is given.
func TestConfigRunVerifiesByDefault(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	t.Setenv("TEST_SECRET", "s3cret")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()

	var checked []string
	tamper := true
	defer func(v func(string) error) { verifyOutput = v }(verifyOutput)
	verifyOutput = func(tmp string) error {
		checked = append(checked, tmp)
		if tamper {
			b, err := os.ReadFile(tmp)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 0x20
			if err := os.WriteFile(tmp, b, 0o644); err != nil {
				return err
			}
		}
		return verifyInstaller(tmp)
	}
	update := []string{"--update-url=" + env.Server.URL, "--update-roots=" + string(env.RootJSON), "--update-tls-certificate=" + env.ServerCAFile,
		"--update-tls-client-certificate=" + env.ClientCertFile, "--update-tls-client-key=" + env.ClientKeyFile}

	run := func(t *testing.T, config bool, extra ...string) (string, int, string) {
		dir := t.TempDir()
		out := filepath.Join(dir, "a.deb")
		args := []string{"package"}
		if config {
			cfg := fmt.Sprintf("fleet-url: https://fleet.example.com\nenroll-secret-env: TEST_SECRET\ncache-dir: \"\"\nbuilds:\n  - {name: deb, type: deb, outfile: %s}\n", out)
			path := filepath.Join(dir, "pkgctl.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			args = append(args, "--config", path)
		} else {
			args = append(args, "--type=deb", "--fleet-url=https://fleet.example.com", "--enroll-secret=s3cret", "--cache-dir=", "--outfile="+out)
		}
		args = append(append(args, update...), extra...)
		var stdout, stderr bytes.Buffer
		code := Execute(args, Streams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
		return out, code, stdout.String() + stderr.String()
	}

	t.Run("config run verifies by default", func(t *testing.T) {
		checked = nil
		out, code, log := run(t, true)
		if code == 0 || len(checked) != 1 {
			t.Fatalf("exit %d, %d checks, want a failure after one check:\n%s", code, len(checked), log)
		}
		if !strings.Contains(log, "--verify") || !strings.Contains(log, "not sound") || !strings.Contains(log, "DEB-") {
			t.Errorf("the failure does not name the check and its finding:\n%s", log)
		}
		if _, err := os.Stat(out); err == nil {
			t.Error("the tampered deb was renamed into place")
		}
		if _, err := os.Stat(checked[0]); err == nil {
			t.Errorf("the temporary file %s is left behind", checked[0])
		}
	})
	t.Run("config run with --verify=false", func(t *testing.T) {
		checked = nil
		out, code, log := run(t, true, "--verify=false")
		if code != 0 || len(checked) != 0 {
			t.Fatalf("exit %d, %d checks, want success and none:\n%s", code, len(checked), log)
		}
		if _, err := os.Stat(out); err != nil {
			t.Error(err)
		}
	})
	t.Run("config run with an expired entry in a CA bundle", func(t *testing.T) {
		// package accepts a bundle that still holds a valid certificate with
		// a warning; the default verify must follow the same rule.
		checked, tamper = nil, false
		defer func() { tamper = true }()
		old, _, err := env.ServerCA.IssueClientValidity("retired ca", time.Now().AddDate(-2, 0, 0), time.Now().AddDate(-1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		ca, err := os.ReadFile(env.ServerCAFile)
		if err != nil {
			t.Fatal(err)
		}
		bundle := filepath.Join(t.TempDir(), "bundle.pem")
		if err := os.WriteFile(bundle, append(old, ca...), 0o600); err != nil {
			t.Fatal(err)
		}
		out, code, log := run(t, true, "--fleet-certificate="+bundle, "--update-tls-certificate="+bundle)
		if code != 0 || len(checked) != 1 {
			t.Fatalf("exit %d, %d checks, want success after one check:\n%s", code, len(checked), log)
		}
		if !strings.Contains(log, `certificate "retired ca" expired on`) {
			t.Errorf("no warning on the expired entry:\n%s", log)
		}
		if _, err := os.Stat(out); err != nil {
			t.Error(err)
		}
	})
	t.Run("single build is not verified unless asked", func(t *testing.T) {
		checked = nil
		if _, code, log := run(t, false); code != 0 || len(checked) != 0 {
			t.Fatalf("exit %d, %d checks, want success and none:\n%s", code, len(checked), log)
		}
		tamper = false
		out, code, log := run(t, false, "--verify")
		if code != 0 || len(checked) != 1 {
			t.Fatalf("--verify: exit %d, %d checks, want success after one check:\n%s", code, len(checked), log)
		}
		if _, err := os.Stat(out); err != nil {
			t.Error(err)
		}
	})
}
