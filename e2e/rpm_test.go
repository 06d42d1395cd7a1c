package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestRPM builds .rpm installers through nginx and checks them with rpm -K,
// -qpi, -qpl, rpmlint and an rpm -i into a private root.
func TestRPM(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	rpm := needTool(t, "rpm", "rpm")
	rpmlint := needTool(t, "rpmlint", "rpmlint")
	rpmlintrc, err := filepath.Abs("testdata/rpmlintrc")
	if err != nil {
		t.Fatal(err)
	}

	for _, b := range []buildSpec{
		{Name: "amd64 stable full", Type: "rpm", Arch: "amd64", Full: true},
		{Name: "arm64 edge minimal", Type: "rpm", Arch: "arm64", OrbitChannel: "edge"},
	} {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := runPkgctl(t, "fleet-osquery.rpm", b.args(t, s, s.Nginx.URL)...)
			mustSucceed(t, r)
			file := r.Outfile
			want := expectedTree(t, s, b, s.Nginx.URL)
			rpmArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[b.Arch]

			t.Run("rpm -K", func(t *testing.T) {
				// Digests are checked, never skipped: the package is unsigned, so
				// rpm has only digests to report, and they must be OK.
				out, _ := tool(t, false, rpm, "-K", file)
				if !strings.Contains(out, "digests OK") || strings.Contains(out, "NOT OK") {
					t.Errorf("rpm -K: %s", out)
				}
			})

			t.Run("rpm -qpi", func(t *testing.T) {
				out, _ := tool(t, false, rpm, "-qpi", file)
				f := rpmFields(out)
				for k, v := range map[string]string{
					"Name":         "fleet-osquery",
					"Version":      b.orbitVersion(),
					"Architecture": rpmArch,
					"URL":          "https://fleetdm.com",
					"Vendor":       "Fleet Device Management",
					"Summary":      "Fleet osquery -- runtime and autoupdater",
				} {
					if f[k] != v {
						t.Errorf("rpm -qpi %s = %q, want %q\n%s", k, f[k], v, out)
					}
				}
			})

			t.Run("rpm -qpl", func(t *testing.T) {
				out, _ := tool(t, false, rpm, "-qpl", file)
				got := strings.Split(strings.TrimSpace(out), "\n")
				sort.Strings(got)
				var wantPaths []string
				for _, p := range want.paths() {
					if !want[p].Implied {
						wantPaths = append(wantPaths, p)
					}
				}
				if strings.Join(got, "\n") != strings.Join(wantPaths, "\n") {
					t.Errorf("rpm -qpl:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantPaths, "\n"))
				}
				// Modes, owners and link targets as rpm's header records them.
				out, _ = tool(t, false, rpm, "-qp", "--qf", "[%{FILEMODES:perms}\t%{FILEUSERNAME}\t%{FILEGROUPNAME}\t%{FILELINKTOS}\t%{FILENAMES}\n]", file)
				compareListing(t, "rpm header file list", parseRPMList(t, out), want, false)
			})

			t.Run("rpm2cpio | cpio -t", func(t *testing.T) {
				// Payload names are "./"-relative, as rpmbuild writes them, so
				// `rpm2cpio | cpio -idm` extracts into the current directory.
				archive, err := exec.Command(needTool(t, "rpm2cpio", "rpm"), file).Output()
				if err != nil {
					t.Fatalf("rpm2cpio: %v", err)
				}
				list := exec.Command(needTool(t, "cpio", "cpio"), "-t", "--quiet")
				list.Stdin = bytes.NewReader(archive)
				out, err := list.Output()
				if err != nil {
					t.Fatalf("cpio -t: %v", err)
				}
				names := strings.Fields(string(out))
				if len(names) == 0 {
					t.Fatal("cpio -t listed nothing")
				}
				for _, n := range names {
					if !strings.HasPrefix(n, "./") {
						t.Errorf("payload member %q is not ./-relative", n)
					}
				}
			})

			t.Run("rpmlint", func(t *testing.T) {
				out, err := tool(t, true, rpmlint, "-r", rpmlintrc, file)
				var bad []string
				for _, line := range strings.Split(out, "\n") {
					if strings.Contains(line, ": E: ") {
						bad = append(bad, line)
					}
				}
				if len(bad) > 0 || err != nil {
					t.Errorf("rpmlint (%v):\n%s\nfull output:\n%s", err, strings.Join(bad, "\n"), out)
				} else {
					t.Logf("rpmlint:\n%s", out)
				}
			})

			t.Run("rpm -i", func(t *testing.T) {
				root := t.TempDir()
				// rpm takes --dbpath inside --root; the database is left out of the
				// comparison. --ignorearch lets an aarch64 package install on this
				// machine; --nodeps because the root is empty; --noscripts because
				// the scriptlets would act on this machine's systemd.
				args := []string{"-i", "--root", root, "--dbpath", "/rpmdb", "--nodeps", "--noscripts"}
				if rpmArch != "x86_64" {
					args = append(args, "--ignorearch")
				}
				tool(t, false, rpm, append(args, file)...)
				q, _ := tool(t, false, rpm, "-q", "--root", root, "--dbpath", "/rpmdb", "fleet-osquery")
				if want := "fleet-osquery-" + b.orbitVersion() + "-1." + rpmArch; strings.TrimSpace(q) != want {
					t.Errorf("rpm -q: %q, want %q", q, want)
				}
				// rpm -V: what is on disk matches the header (digests, modes, owners).
				if out, err := tool(t, true, rpm, "-V", "--root", root, "--dbpath", "/rpmdb", "fleet-osquery"); err != nil {
					t.Errorf("rpm -V: %v\n%s", err, out)
				}
				compareTrees(t, "tree installed by rpm", readTree(t, root, "rpmdb"), want, isRoot())
			})

			t.Run("scriptlets", func(t *testing.T) {
				dir := t.TempDir()
				for name, tag := range map[string]string{"postinstall": "POSTIN", "preuninstall": "PREUN", "postuninstall": "POSTUN", "posttrans": "POSTTRANS"} {
					out, _ := tool(t, false, rpm, "-qp", "--qf", "%{"+tag+"}", file)
					if strings.TrimSpace(out) == "" || out == "(none)" {
						t.Errorf("no %s scriptlet", name)
					}
					if err := os.WriteFile(filepath.Join(dir, name), []byte(out), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				// rpm passes the number of installed versions: 1 on install, 0 on erase.
				checkScripts(t, dir, scriptSet{Install: "postinstall", InstallArg: "1",
					Remove: "preuninstall", RemoveArg: "0", UpgradeArg: "1", ParseOnly: []string{"postuninstall", "posttrans"}})
			})
		})
	}
}

// rpmFields parses rpm -qpi ("Name        : fleet-osquery").
func rpmFields(out string) map[string]string {
	f := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			continue
		}
		k = strings.TrimSpace(k)
		if _, seen := f[k]; !seen {
			f[k] = strings.TrimSpace(v)
		}
	}
	return f
}

// parseRPMList parses the tab-separated --qf listing of TestRPM.
func parseRPMList(t *testing.T, out string) listing {
	t.Helper()
	l := listing{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("rpm --qf line %q", line)
		}
		kind, mode, err := parseMode(f[0])
		if err != nil {
			t.Fatal(err)
		}
		l[f[4]] = listed{Kind: kind, Mode: mode, Owner: f[1], Group: f[2], Link: f[3]}
	}
	return l
}
