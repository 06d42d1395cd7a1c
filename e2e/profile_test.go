package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const plistCheck = `
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
c = p["PayloadContent"][0]
assert p["PayloadType"] == "Configuration", p["PayloadType"]
assert p["PayloadIdentifier"] == "com.fleetdm.fleetd.config"
assert c["PayloadIdentifier"] == "com.fleetdm.fleetd.config"
assert c["PayloadType"] == "com.fleetdm.fleetd.config"
assert p["PayloadUUID"] != c["PayloadUUID"]
print(c["FleetURL"]); print(c["EnrollSecret"]); print(c.get("EnableScripts", False)); print(p["PayloadUUID"], c["PayloadUUID"])
`

// TestProfile: `pkgctl profile` writes the com.fleetdm.fleetd.config profile
// that python's plistlib reads with the settings given; UUIDs are fresh per
// build and derived from the inputs under SOURCE_DATE_EPOCH; signed with the
// Developer ID PEM, `openssl cms -verify` accepts it and yields the profile,
// and refuses it once a byte changes.
func TestProfile(t *testing.T) {
	t.Parallel()
	python := needTool(t, "/usr/bin/python3", "python3")
	openssl := needTool(t, "openssl", "openssl")
	const secret = "profile-enroll-s3cret<&>"
	registerSecret([]byte(secret))
	args := []string{"profile", "--fleet-url=https://fleet.example.com", "--enroll-secret=" + secret, "--enable-scripts"}
	read := func(p string) []string {
		t.Helper()
		out, err := exec.Command(python, "-c", plistCheck, p).CombinedOutput()
		if err != nil {
			t.Fatalf("plistlib: %v\n%s", err, out)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	run := func(env []string, extra ...string) (runResult, []byte) {
		t.Helper()
		r := runPkgctlEnv(t, env, "team-a.mobileconfig", append(append([]string{}, args...), extra...)...)
		if r.Code != 0 {
			t.Fatalf("pkgctl profile: exit %d\n%s", r.Code, r.Stderr)
		}
		data, _ := os.ReadFile(r.Outfile)
		if st, err := os.Stat(r.Outfile); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("profile mode: %v %v", st.Mode(), err)
		}
		return r, data
	}

	r, a := run(nil)
	got := read(r.Outfile)
	if got[0] != "https://fleet.example.com" || got[1] != secret || got[2] != "True" {
		t.Errorf("plistlib read %q", got)
	}
	if _, b := run(nil); !bytes.Equal(a, b) {
		t.Error("two builds under the same SOURCE_DATE_EPOCH differ")
	}
	r1, _ := run([]string{"SOURCE_DATE_EPOCH="})
	r2, _ := run([]string{"SOURCE_DATE_EPOCH="})
	if u1, u2 := read(r1.Outfile)[3], read(r2.Outfile)[3]; u1 == u2 || u1 == got[3] {
		t.Errorf("UUIDs without SOURCE_DATE_EPOCH repeat: %s %s %s", u1, u2, got[3])
	}

	sg := newPkgSigner(t)
	rs, signed := run(nil, "--macos-devid-pem="+sg.PEMFile)
	content := filepath.Join(t.TempDir(), "content.plist")
	if out, err := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-in", rs.Outfile, "-CAfile", sg.CAFile, "-purpose", "any", "-out", content).CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
	if got := read(content); got[1] != secret {
		t.Errorf("signed profile content: %q", got)
	}
	bad := bytes.Clone(signed)
	i := bytes.Index(bad, []byte("fleet.example.com"))
	bad[i] ^= 0x01
	badFile := writeFile(t, t.TempDir(), "bad.mobileconfig", bad)
	if out, err := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-in", badFile, "-CAfile", sg.CAFile, "-purpose", "any", "-out", os.DevNull).CombinedOutput(); err == nil {
		t.Errorf("openssl accepts a changed signed profile:\n%s", out)
	}

	// Refusals write nothing.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"profile", "--fleet-url=https://fleet.example.com"}, "--enroll-secret"},
		{[]string{"profile", "--fleet-url=fleet.example.com", "--enroll-secret=x"}, "https URL"},
		{[]string{"profile", "--fleet-url=https://f.example.com", "--enroll-secret=x", "--sign-pem=/nonexistent.pem"}, "--sign-pem"},
	} {
		r := runPkgctlEnv(t, nil, "x.mobileconfig", c.args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %s", c.args, r.Code, r.Stderr)
		}
		if left := listDir(t, r.OutDir); len(left) > 0 {
			t.Errorf("%v left %v", c.args, left)
		}
	}
}
