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

// TestProfileConfigRun: in a --config run, one base pkg built with
// --use-system-configuration and no secret pairs with one profile per team;
// the profiles stay out of the manifest (they hold the secrets).
func TestProfileConfigRun(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	python := needTool(t, "/usr/bin/python3", "python3")
	dir := t.TempDir()
	cfg := `cache-dir: ` + t.TempDir() + `
builds:
  - {name: base, type: pkg, use-system-configuration: true, outfile: out/fleetd-base.pkg}
  - {name: team-a, type: mobileconfig, fleet-url: https://fleet.example.com, enroll-secret-env: TEAM_A_SECRET, outfile: out/team-a.mobileconfig}
  - {name: team-b, type: mobileconfig, fleet-url: https://fleet.example.com, enroll-secret-env: TEAM_B_SECRET}
`
	writeFile(t, dir, "pkgctl.yaml", []byte(cfg))
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	registerSecret([]byte("team-a-s3cret"))
	registerSecret([]byte("team-b-s3cret"))
	r := runIn(t, dir, []string{"TEAM_A_SECRET=team-a-s3cret", "TEAM_B_SECRET=team-b-s3cret"},
		append([]string{"package", "--config=pkgctl.yaml", "--manifest=out/manifest.json"}, updateArgs(s.Env, s.Nginx.URL)...)...)
	if r.Code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for file, secret := range map[string]string{"out/team-a.mobileconfig": "team-a-s3cret", "team-b.mobileconfig": "team-b-s3cret"} {
		out, err := exec.Command(python, "-c", plistCheck, filepath.Join(dir, file)).CombinedOutput()
		if err != nil || strings.Split(string(out), "\n")[1] != secret {
			t.Errorf("%s: %v\n%s", file, err, out)
		}
	}
	m, err := os.ReadFile(filepath.Join(dir, "out/manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(m), "mobileconfig") || strings.Contains(string(m), "enroll-secret") || !strings.Contains(string(m), "fleetd-base.pkg") {
		t.Errorf("manifest:\n%s", m)
	}
	// The manifest names every secret setting a build was given: the pkg had none.
	if st, err := os.Stat(filepath.Join(dir, "out/fleetd-base.pkg")); err != nil || st.Size() == 0 || strings.Contains(string(m), "secrets_set") {
		t.Errorf("the base pkg: %v; manifest:\n%s", err, m)
	}
}
