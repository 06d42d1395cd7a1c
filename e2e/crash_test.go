package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKilledBuildLeavesNoSecret kills deb, rpm, Arch, pkg and msi builds (SIGKILL:
// no cleanup runs) at random moments, then checks that no byte string of the
// enroll secret or of a private key's PEM body is left anywhere under the
// TMPDIR, the output directory or the cache, and that no partial installer
// is left beside the outfile. Stage directories a killed build could not
// remove are named with its pid; the next run removes them, which the test
// checks by running one more build before the last scan.
func TestKilledBuildLeavesNoSecret(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	tmp, out, cache := t.TempDir(), t.TempDir(), t.TempDir()
	args := func(typ string) []string {
		return append([]string{"package", "--type=" + typ, "--cache-dir=" + cache,
			"--fleet-url=https://fleet.example.com", "--enroll-secret=" + s.EnrollSecret,
			"--fleet-tls-client-certificate=" + s.FleetClientCertFile, "--fleet-tls-client-key=" + s.FleetClientKeyFile,
			"--outfile=" + filepath.Join(out, "fleet-osquery."+typ)}, updateArgs(s.Env, s.Nginx.URL)...)
	}
	start := func(typ string) *exec.Cmd {
		cmd := exec.Command(pkgctlBin, args(typ)...)
		cmd.Dir = out
		cmd.Env = append(filteredEnv(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", sourceDateEpoch), "TMPDIR="+tmp, "HOME="+tmp)
		var se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &se, &se
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	types := []string{"deb", "rpm", "pkg.tar.zst", "pkg", "msi"}
	// One full build of each type tells how long the kill window is.
	longest := time.Duration(0)
	for _, typ := range types {
		begin := time.Now()
		if err := start(typ).Wait(); err != nil {
			t.Fatalf("%s build: %v", typ, err)
		}
		longest = max(longest, time.Since(begin))
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 15))
	kills := 0
	for i := 0; i < 20; i++ {
		typ := types[i%len(types)]
		os.Remove(filepath.Join(out, "fleet-osquery."+typ)) // so each run writes it anew
		cmd := start(typ)
		delay := time.Duration(rng.Int64N(int64(longest) + 1))
		time.Sleep(delay)
		if cmd.Process.Kill() == nil {
			kills++
		}
		cmd.Wait()
		// A partial installer never has a name (Linux: O_TMPFILE).
		for _, e := range listDir(t, out) {
			if strings.Contains(e, ".pkgctl-") {
				t.Errorf("kill after %v: partial output %s left beside the outfile", delay, e)
			}
		}
	}
	t.Logf("%d builds killed at random points within %v", kills, longest)

	// The next run sweeps what the killed ones left, then builds.
	r := runIn(t, out, []string{"TMPDIR=" + tmp, "HOME=" + tmp}, args("deb")...)
	if r.Code != 0 {
		t.Fatalf("build after the kills: exit %d\n%s", r.Code, r.Stderr)
	}
	for _, dir := range []string{tmp, cache, out} {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if filepath.Dir(p) == out && strings.HasPrefix(d.Name(), "fleet-osquery") {
				return nil // finished installers carry the secret by design
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("read %s: %v", p, err)
				return nil
			}
			assertNoSecrets(t, p, data)
			return nil
		})
	}
	for _, e := range listDir(t, tmp) {
		if strings.HasPrefix(e, "pkgctl-") {
			t.Errorf("%s is still in TMPDIR after the next run", e)
		}
	}
}
