package e2e

import (
	"path/filepath"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestNativeToolingOutput: with --native-tooling the installer goes under
// build/ in the working directory, with and without --outfile, where scripts
// written for the fleetdm/fleetctl image look for it.
func TestNativeToolingOutput(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	for _, c := range []struct {
		name    string
		outfile string
		want    string
	}{
		{"default name", "", "build/fleet-osquery_" + testenv.StableVersion + "_amd64.deb"},
		{"outfile", "out/team-a.deb", "build/out/team-a.deb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append(buildSpec{Type: "deb", Arch: "amd64"}.args(t, s, s.Nginx.URL), "--native-tooling")
			if c.outfile != "" {
				args = append(args, "--outfile="+c.outfile)
			}
			r := runIn(t, dir, nil, args...)
			r.Outfile = filepath.Join(dir, c.want)
			r.OutDir = filepath.Dir(r.Outfile)
			mustSucceed(t, r)
			if left := listDir(t, dir); len(left) != 1 || left[0] != "build" {
				t.Errorf("working directory holds %v, want only build/", left)
			}
		})
	}
}

// TestPkgArchFlag: fleetctl accepts --arch=amd64 (its default) with
// --type=pkg and refuses any other value; CI scripts pass one --arch to
// every type.
func TestPkgArchFlag(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	base := []string{"package", "--type=pkg", "--cache-dir=" + t.TempDir()}
	base = append(base, updateArgs(s.Env, s.Nginx.URL)...)
	r := runPkgctl(t, "fleet-osquery.pkg", append(base, "--arch=amd64")...)
	mustSucceed(t, r)
	r = runPkgctl(t, "fleet-osquery.pkg", append(base, "--arch=arm64")...)
	mustFail(t, r, "can't use '--arch' with '--type pkg'")
}
