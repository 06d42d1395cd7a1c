package e2e

import "testing"

// TestUnsupportedTypes: pkg is a valid fleetctl type that pkgctl does not
// build yet; it fails clearly and writes nothing.
func TestUnsupportedTypes(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	for _, typ := range []string{"pkg"} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"package", "--type=" + typ, "--cache-dir=" + t.TempDir(),
				"--fleet-url=https://fleet.example.com", "--enroll-secret=" + s.EnrollSecret},
				updateArgs(s.Env, s.Nginx.URL)...)
			r := runPkgctl(t, "fleet-osquery."+typ, args...)
			mustFail(t, r, "--type="+typ, "not supported yet")
		})
	}
}
