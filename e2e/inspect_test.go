package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInspectVerifyLive builds a deb and an msi with --verify, checks them
// with `pkgctl verify` against the live TUF server over mTLS, inspects them
// and diffs them.
func TestInspectVerifyLive(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	deb := buildSpec{Name: "deb", Type: "deb", Arch: "amd64", Full: true}
	r := runPkgctl(t, "fleet-osquery.deb", append(deb.args(t, s, s.Nginx.URL), "--verify")...)
	mustSucceed(t, r)
	msiArgs := []string{"package", "--type=msi", "--arch=amd64", "--fleet-url=" + fleetURL, "--enroll-secret=" + s.EnrollSecret, "--cache-dir="}
	m := runPkgctl(t, "fleet-osquery.msi", append(msiArgs, updateArgs(s.Env, s.Nginx.URL)...)...)
	mustSucceed(t, m)

	live := append([]string{"verify", "--json", r.Outfile}, updateArgs(s.Env, s.Nginx.URL)...)
	v := runIn(t, r.OutDir, nil, live...)
	if v.Code != 0 {
		t.Fatalf("verify against the live server: exit %d\n%s%s", v.Code, v.Stdout, v.Stderr)
	}
	var vr struct {
		Sound    bool                    `json:"sound"`
		Findings []struct{ Code string } `json:"findings"`
	}
	if err := json.Unmarshal([]byte(v.Stdout), &vr); err != nil || !vr.Sound {
		t.Errorf("verify --json: %v %s", err, v.Stdout)
	}
	in := runIn(t, r.OutDir, nil, "inspect", "--json", r.Outfile)
	var rep struct {
		Settings   []struct{ Name, Value string } `json:"settings"`
		Components []struct {
			Name     string `json:"name"`
			TUFMatch bool   `json:"tuf_match"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(in.Stdout), &rep); err != nil || len(rep.Components) == 0 {
		t.Fatalf("inspect --json: %v\n%s", err, in.Stdout)
	}
	for _, c := range rep.Components {
		if !c.TUFMatch {
			t.Errorf("component %s does not match its TUF target", c.Name)
		}
	}
	for _, st := range rep.Settings {
		if st.Value == s.EnrollSecret {
			t.Errorf("inspect shows the enroll secret in %s", st.Name)
		}
	}
	// --show-secrets shows it (run directly: runIn fails on any secret in stdout).
	shown, err := exec.Command(pkgctlBin, "inspect", "--show-secrets", r.Outfile).Output()
	if err != nil || !strings.Contains(string(shown), s.EnrollSecret) {
		t.Errorf("inspect --show-secrets does not show the enroll secret: %v", err)
	}

	b, err := os.ReadFile(r.Outfile)
	if err != nil {
		t.Fatal(err)
	}
	d := runIn(t, r.OutDir, nil, "diff", r.Outfile, m.Outfile)
	if d.Code != 0 || !strings.Contains(d.Stdout, "format: deb -> msi") {
		t.Errorf("diff deb msi: exit %d\n%s%s", d.Code, d.Stdout, d.Stderr)
	}
	// A tampered copy is refused with the finding named.
	bad := filepath.Join(t.TempDir(), "bad.deb")
	i := strings.Index(string(b), "data.tar")
	b[i+60+200] ^= 0x40
	os.WriteFile(bad, b, 0o600)
	if v := runIn(t, r.OutDir, nil, "verify", bad); v.Code != 1 || !strings.Contains(v.Stdout, "DEB-") {
		t.Errorf("verify tampered deb: exit %d\n%s%s", v.Code, v.Stdout, v.Stderr)
	}
}
