package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestReproducible builds each Linux format three times from the same inputs
// and SOURCE_DATE_EPOCH: twice with fresh caches, once with the first run's
// (warm) cache. All three must be byte-identical, and the archive times must
// be SOURCE_DATE_EPOCH (else runs within one second could match by chance).
func TestReproducible(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	epoch := time.Unix(sourceDateEpoch, 0).UTC()
	for _, c := range []struct {
		typ       string
		tool, pkg string // checker and its Debian package
		times     func(t *testing.T, file string)
	}{
		{"deb", "dpkg-deb", "dpkg", func(t *testing.T, file string) {
			out, _ := tool(t, false, "dpkg-deb", "-c", file)
			stamp := epoch.Format("2006-01-02 15:04")
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.Contains(line, " "+stamp+" ") {
					t.Errorf("entry not stamped %s: %s", stamp, line)
				}
			}
		}},
		{"rpm", "rpm", "rpm", func(t *testing.T, file string) {
			out, _ := tool(t, false, "rpm", "-qp", "--qf", "%{BUILDTIME}\n[%{FILEMTIMES}\n]", file)
			for _, v := range strings.Fields(out) {
				if v != fmt.Sprint(sourceDateEpoch) {
					t.Errorf("rpm time %s, want %d", v, sourceDateEpoch)
				}
			}
		}},
		{"pkg.tar.zst", "bsdtar", "libarchive-tools", func(t *testing.T, file string) {
			out, _ := tool(t, false, "bsdtar", "-xOf", file, ".PKGINFO")
			if !strings.Contains(out, fmt.Sprintf("builddate = %d\n", sourceDateEpoch)) {
				t.Errorf(".PKGINFO builddate is not %d:\n%s", sourceDateEpoch, out)
			}
			out, _ = tool(t, false, "bsdtar", "-tvf", file)
			stamp := epoch.Format("Jan _2  2006")
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.Contains(line, " "+stamp+" ") {
					t.Errorf("entry not stamped %q: %s", stamp, line)
				}
			}
		}},
	} {
		t.Run(c.typ, func(t *testing.T) {
			t.Parallel()
			needTool(t, c.tool, c.pkg)
			b := buildSpec{Type: c.typ, Arch: "amd64", Full: true}
			base := b.args(t, s, s.Nginx.URL) // holds --cache-dir: the first run's cache
			var sums [][32]byte
			var first string
			for i := 0; i < 3; i++ {
				args := base
				if i == 1 {
					args = append(append([]string(nil), base...), "--cache-dir="+t.TempDir()) // the last --cache-dir wins
				}
				r := runPkgctl(t, "fleet-osquery."+c.typ, args...)
				mustSucceed(t, r)
				data, err := os.ReadFile(r.Outfile)
				if err != nil {
					t.Fatal(err)
				}
				sums = append(sums, sha256.Sum256(data))
				if i == 0 {
					first = r.Outfile
				}
			}
			if !bytes.Equal(sums[0][:], sums[1][:]) || !bytes.Equal(sums[0][:], sums[2][:]) {
				t.Errorf("builds differ: %x (fresh cache) %x (fresh cache) %x (warm cache)", sums[0], sums[1], sums[2])
			}
			c.times(t, first)
		})
	}
}
