package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// gpgIn runs gpg with a private GNUPGHOME (nothing of the user's keyring is read or written).
func gpgIn(t *testing.T, gpg, home string, allowFail bool, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(gpg, append([]string{"--batch", "--no-autostart", "--homedir", home}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "GNUPGHOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil && !allowFail {
		t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), err
}

// mustSucceedSigned is mustSucceed for a signed Linux build: an Arch package
// has its detached signature beside it, and nothing else is there.
func mustSucceedSigned(t *testing.T, r runResult, detached bool) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("pkgctl exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	want := []string{filepath.Base(r.Outfile)}
	if detached {
		want = append(want, filepath.Base(r.Outfile)+".sig")
	}
	for _, w := range want {
		if st, err := os.Stat(filepath.Join(r.OutDir, w)); err != nil || st.Size() == 0 {
			t.Fatalf("output file %s: %v", w, err)
		}
	}
	if left := listDir(t, r.OutDir, want...); len(left) > 0 {
		t.Errorf("output directory holds more than %v: %v", want, left)
	}
}

// TestLinuxSigned: --linux-sign-key signs the rpm (rpm -K with the key in a
// private rpmdb: "digests signatures OK"), the deb (_gpgorigin, checked with gpg)
// and the Arch package (a detached .sig, checked with gpg); a changed byte
// fails each check. The signatures carry SOURCE_DATE_EPOCH, so two builds are
// identical. A wrong passphrase or key type fails before any download.
func TestLinuxSigned(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	rpm := needTool(t, "rpm", "rpm")
	gpg := needTool(t, "gpg", "gpg")
	bsdtar := needTool(t, "bsdtar", "libarchive-tools")
	now := time.Now().Truncate(time.Second)
	key, err := testenv.NewPGPKey("rsa", "correct horse", now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	registerSecret(key.Private)
	registerSecret([]byte("correct horse"))
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "signing.asc", key.Private)
	pubFile := writeFile(t, dir, "signing.pub.asc", key.Public)
	env := []string{"PKGCTL_LINUX_SIGN_PASSPHRASE=correct horse", fmt.Sprintf("SOURCE_DATE_EPOCH=%d", now.Unix())}
	gnupg := t.TempDir()
	os.Chmod(gnupg, 0o700)
	gpgIn(t, gpg, gnupg, false, "--import", pubFile)
	tamper := func(data []byte, at int) string {
		bad := bytes.Clone(data)
		bad[at] ^= 0x01
		return writeFile(t, t.TempDir(), "tampered", bad)
	}

	for _, b := range []buildSpec{
		{Name: "rpm", Type: "rpm", Arch: "amd64"},
		{Name: "deb", Type: "deb", Arch: "amd64"},
		{Name: "arch", Type: "pkg.tar.zst", Arch: "amd64"},
	} {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			args := append(b.args(t, s, s.Nginx.URL), "--linux-sign-key="+keyFile)
			r := runPkgctlEnv(t, env, "fleet-osquery."+b.Type, args...)
			mustSucceedSigned(t, r, b.Type == "pkg.tar.zst")
			data, _ := os.ReadFile(r.Outfile)
			switch b.Type {
			case "rpm":
				db := t.TempDir()
				tool(t, false, rpm, "--dbpath", db, "--initdb")
				tool(t, false, rpm, "--dbpath", db, "--import", pubFile)
				if out, _ := tool(t, true, rpm, "--dbpath", db, "-K", r.Outfile); !strings.Contains(out, "digests signatures OK") {
					t.Errorf("rpm -K: %s", out)
				}
				bad := tamper(data, len(data)-200) // in the payload
				if out, err := tool(t, true, rpm, "--dbpath", db, "-K", bad); err == nil || strings.Contains(out, "digests signatures OK") {
					t.Errorf("rpm -K accepts a changed payload byte: %s", out)
				}
			case "deb":
				x := t.TempDir()
				tool(t, false, bsdtar, "-xf", r.Outfile, "-C", x)
				var signed []byte
				for _, m := range []string{"debian-binary", "control.tar.gz", "data.tar.gz"} {
					b, err := os.ReadFile(filepath.Join(x, m))
					if err != nil {
						t.Fatalf("deb member %s: %v", m, err)
					}
					signed = append(signed, b...)
				}
				sig := filepath.Join(x, "_gpgorigin")
				content := writeFile(t, x, "signed-content", signed)
				if out, err := gpgIn(t, gpg, gnupg, true, "--verify", sig, content); err != nil || !strings.Contains(out, "Good signature") {
					t.Errorf("gpg --verify _gpgorigin: %v\n%s", err, out)
				}
				if out, err := gpgIn(t, gpg, gnupg, true, "--verify", sig, tamper(signed, len(signed)-100)); err == nil {
					t.Errorf("gpg accepts the deb with a changed data byte:\n%s", out)
				}
			case "pkg.tar.zst":
				sig := r.Outfile + ".sig"
				if out, err := gpgIn(t, gpg, gnupg, true, "--verify", sig, r.Outfile); err != nil || !strings.Contains(out, "Good signature") {
					t.Errorf("gpg --verify %s: %v\n%s", filepath.Base(sig), err, out)
				}
				if out, err := gpgIn(t, gpg, gnupg, true, "--verify", sig, tamper(data, len(data)/2)); err == nil {
					t.Errorf("gpg accepts the package with a changed byte:\n%s", out)
				}
			}
			// Reproducible: the same inputs and SOURCE_DATE_EPOCH give the same bytes.
			r2 := runPkgctlEnv(t, env, "fleet-osquery."+b.Type, args...)
			mustSucceedSigned(t, r2, b.Type == "pkg.tar.zst")
			if data2, _ := os.ReadFile(r2.Outfile); !bytes.Equal(data, data2) {
				t.Error("two signed builds differ")
			}
		})
	}

	t.Run("refused before download", func(t *testing.T) {
		t.Parallel()
		ec, err := testenv.NewPGPKey("ecdsa", "", now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		ecFile := writeFile(t, t.TempDir(), "ec.asc", ec.Private)
		b := buildSpec{Type: "rpm", Arch: "amd64"}
		bad := []string{"PKGCTL_LINUX_SIGN_PASSPHRASE=wrong", fmt.Sprintf("SOURCE_DATE_EPOCH=%d", now.Unix())}
		mustFail(t, runPkgctlEnv(t, bad, "x.rpm", append(b.args(t, s, s.Nginx.URL), "--linux-sign-key="+keyFile)...), "--linux-sign-key", "wrong passphrase")
		mustFail(t, runPkgctlEnv(t, env, "x.rpm", append(b.args(t, s, s.Nginx.URL), "--linux-sign-key="+ecFile)...), "--linux-sign-key", "rpm cannot verify")
		mustFail(t, runPkgctlEnv(t, env, "x.rpm", append(b.args(t, s, s.Nginx.URL), "--linux-sign-key="+pubFile)...), "--linux-sign-key", "not an OpenPGP private key")
	})
}
