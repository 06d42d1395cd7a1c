package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestDeb builds .deb installers through nginx and checks them with dpkg-deb,
// lintian, dpkg and the maintainer scripts.
func TestDeb(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	dpkgDeb := needTool(t, "dpkg-deb", "dpkg")
	dpkg := needTool(t, "dpkg", "dpkg")
	lintian := needTool(t, "lintian", "lintian")

	for _, b := range []buildSpec{
		{Name: "amd64 stable full", Type: "deb", Arch: "amd64", Full: true},
		{Name: "arm64 edge minimal", Type: "deb", Arch: "arm64", OrbitChannel: "edge"},
		{Name: "arm64 stable full", Type: "deb", Arch: "arm64", Full: true},
	} {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := runPkgctl(t, "fleet-osquery.deb", b.args(t, s, s.Nginx.URL)...)
			mustSucceed(t, r)
			deb := r.Outfile
			want := expectedTree(t, s, b, s.Nginx.URL)

			t.Run("dpkg-deb -I", func(t *testing.T) {
				out, _ := tool(t, false, dpkgDeb, "-I", deb)
				fields := controlFields(out)
				for k, v := range map[string]string{
					"Package":      "fleet-osquery",
					"Version":      b.orbitVersion(),
					"Architecture": b.Arch,
					"Maintainer":   "Fleet Device Management",
					"Homepage":     "https://fleetdm.com",
				} {
					if fields[k] != v {
						t.Errorf("control %s = %q, want %q", k, fields[k], v)
					}
				}
				if d := fields["Description"]; !strings.HasPrefix(d, "Fleet osquery -- runtime and autoupdater") {
					t.Errorf("control Description = %q", d)
				}
				// Members of control.tar: the scripts orbit's service needs, and
				// no preinst (dpkg --unpack below relies on that to run no script),
				// no conffiles (/etc/default/orbit must follow each new build).
				members := controlMembers(out)
				for _, m := range []string{"control", "md5sums", "postinst", "prerm", "postrm"} {
					if !contains(members, m) {
						t.Errorf("control archive lacks %s (has %v)", m, members)
					}
				}
				for _, m := range []string{"preinst", "conffiles"} {
					if contains(members, m) {
						t.Errorf("control archive has %s (has %v)", m, members)
					}
				}
			})

			t.Run("dpkg-deb -c", func(t *testing.T) {
				out, _ := tool(t, false, dpkgDeb, "-c", deb)
				compareListing(t, "dpkg-deb -c", parseDpkgList(t, out), want, true)
			})

			t.Run("lintian", func(t *testing.T) {
				// -I shows info tags too, so a stale override (unused-override)
				// is seen; --no-cfg ignores any lintianrc of the machine.
				out, _ := tool(t, true, lintian, "--no-cfg", "-I", deb)
				var bad []string
				for _, line := range strings.Split(out, "\n") {
					if strings.HasPrefix(line, "E: ") || strings.Contains(line, "unused-override") ||
						strings.Contains(line, "mismatched-override") || strings.Contains(line, "malformed-override") {
						bad = append(bad, line)
					}
				}
				if len(bad) > 0 {
					t.Errorf("lintian: %d errors or stale overrides; full output:\n%s", len(bad), out)
				} else {
					t.Logf("lintian:\n%s", out)
				}
			})

			t.Run("dpkg --unpack", func(t *testing.T) {
				// dpkg has no switch to turn maintainer scripts off, and
				// --force-script-chrootless would run them on this machine. So the
				// package is installed with --unpack: dpkg's own unpack, database
				// and file-list code, which runs only a preinst, and the package has
				// none (asserted above). postinst/prerm run separately below,
				// against stubs; postrm (rm -rf /opt/orbit ...) never runs.
				info, _ := tool(t, false, dpkgDeb, "-I", deb)
				if contains(controlMembers(info), "preinst") {
					t.Fatal("the package has a preinst: dpkg --unpack would run it")
				}
				root, admin, args := privateDpkg(t)
				if b.Arch != hostDebArch(t) {
					args = append(args, "--force-architecture") // an arm64 package on an amd64 host
				}
				tool(t, false, dpkg, append(args, "--unpack", deb)...)
				st, _ := tool(t, false, dpkg, "--admindir="+admin, "-s", "fleet-osquery")
				if f := controlFields(st); f["Status"] != "install ok unpacked" || f["Version"] != b.orbitVersion() {
					t.Errorf("dpkg -s: Status %q Version %q", f["Status"], f["Version"])
				}
				compareTrees(t, "tree installed by dpkg", readTree(t, root), want, isRoot())
				// dpkg's file list of the package holds every path of the layout.
				list, _ := tool(t, false, dpkg, "--admindir="+admin, "-L", "fleet-osquery")
				listed := map[string]bool{}
				for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
					listed[l] = true
				}
				for _, p := range want.paths() {
					if !listed[p] {
						t.Errorf("dpkg -L does not list %s", p)
					}
				}
			})

			t.Run("dpkg-deb -x", func(t *testing.T) {
				// A second, independent extraction (dpkg-deb's own tar reader).
				root := t.TempDir()
				tool(t, false, dpkgDeb, "-x", deb, root)
				if err := os.Chmod(root, 0o755); err != nil {
					t.Fatal(err)
				}
				compareTrees(t, "tree extracted by dpkg-deb -x", readTree(t, root), want, false)
			})

			t.Run("maintainer scripts", func(t *testing.T) {
				dir := t.TempDir()
				tool(t, false, dpkgDeb, "-e", deb, dir)
				checkScripts(t, dir, scriptSet{Install: "postinst", InstallArg: "configure",
					Remove: "prerm", RemoveArg: "remove", UpgradeArg: "upgrade", ParseOnly: []string{"postrm"}})
			})
		})
	}
}

// scriptSet names a package's maintainer scripts and the first argument the
// package manager passes them.
type scriptSet struct {
	Install, InstallArg           string   // runs after install: deb postinst configure, rpm %post 1
	Remove, RemoveArg, UpgradeArg string   // runs before removal: deb prerm remove/upgrade, rpm %preun 0/1
	ParseOnly                     []string // checked with sh -n only (postrm: rm -rf /opt/orbit ...)
}

// checkScripts parses every script with sh -n, then runs the install and
// remove scripts with systemctl, systemd-run and pkill replaced by stubs that
// record their calls, and compares the calls with fleetd-compat.md §2.3.
func checkScripts(t *testing.T, dir string, ss scriptSet) {
	t.Helper()
	stubs := t.TempDir()
	log := filepath.Join(stubs, "calls.log")
	for _, name := range []string{"systemctl", "systemd-run", "pkill"} {
		stub := "#!/bin/sh\necho \"" + name + " $*\" >> \"$STUB_LOG\"\n"
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range append([]string{ss.Install, ss.Remove}, ss.ParseOnly...) {
		if out, err := exec.Command("/bin/sh", "-n", filepath.Join(dir, name)).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", name, err, out)
		}
	}
	run := func(script string, env []string, arg string) []string {
		t.Helper()
		if err := os.WriteFile(log, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := testenv.Command("/bin/sh", filepath.Join(dir, script), arg)
		cmd.Env = append([]string{"PATH=" + stubs + ":/usr/bin:/bin", "STUB_LOG=" + log}, env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s %s: %v\n%s", script, arg, err, out)
		}
		data, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		var calls []string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if l != "" {
				calls = append(calls, l)
			}
		}
		return calls
	}
	restart := []string{"systemctl daemon-reload", "systemctl restart orbit.service", "systemctl enable orbit.service"}
	// orbit upgrading itself sets INSTALLER_PATH: restart later, not from under it.
	safeRestart := []string{"systemctl daemon-reload", "systemd-run --on-active=60 --working-directory=/ systemctl restart --no-block orbit.service", "systemctl enable orbit.service"}
	for _, c := range []struct {
		script, arg string
		env         []string
		want        []string
	}{
		{ss.Install, ss.InstallArg, nil, restart},
		{ss.Install, ss.InstallArg, []string{"INSTALLER_PATH=/opt/orbit/staging/fleet-osquery.pkg"}, safeRestart},
		{ss.Remove, ss.RemoveArg, nil, []string{"systemctl disable --now orbit.service", "pkill fleet-desktop"}},
		{ss.Remove, ss.UpgradeArg, nil, nil},
	} {
		got := run(c.script, c.env, c.arg)
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s %s %v called:\n  %s\nwant:\n  %s", c.script, c.arg, c.env, strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
		}
	}
}

// hostDebArch is dpkg's architecture of this machine.
func hostDebArch(t *testing.T) string {
	t.Helper()
	out, _ := tool(t, false, "dpkg", "--print-architecture")
	return strings.TrimSpace(out)
}

// controlFields parses "Key: value" lines (indented or not) of dpkg output.
func controlFields(out string) map[string]string {
	f := map[string]string{}
	last := ""
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimPrefix(line, " ")
		if k, v, ok := strings.Cut(trimmed, ": "); ok && !strings.HasPrefix(trimmed, " ") && !strings.Contains(k, " ") {
			f[k] = v
			last = k
		} else if last != "" && strings.HasPrefix(trimmed, " ") {
			f[last] += "\n" + strings.TrimSpace(trimmed)
		}
	}
	return f
}

var memberRE = regexp.MustCompile(`^\s+\d+ bytes,\s+\d+ lines\s+(?:\*\s+)?(\S+)`)

// controlMembers lists the files of control.tar that dpkg-deb -I prints.
func controlMembers(out string) []string {
	var m []string
	for _, line := range strings.Split(out, "\n") {
		if s := memberRE.FindStringSubmatch(line); s != nil {
			m = append(m, s[1])
		}
	}
	return m
}

// parseDpkgList parses dpkg-deb -c ("drwxr-xr-x root/root 0 2023-11-14 22:13 ./etc/").
func parseDpkgList(t *testing.T, out string) listing {
	t.Helper()
	l := listing{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		kind, mode, err := parseMode(f[0])
		if err != nil {
			t.Fatal(err)
		}
		owner, group, _ := strings.Cut(f[1], "/")
		p := "/" + strings.Trim(strings.TrimPrefix(f[5], "./"), "/")
		if p == "/" {
			continue // the archive's root entry
		}
		e := listed{Kind: kind, Mode: mode, Owner: owner, Group: group}
		if kind == "symlink" {
			if len(f) != 8 || f[6] != "->" {
				t.Fatalf("dpkg-deb -c symlink line %q", line)
			}
			e.Link = f[7]
		}
		if _, dup := l[p]; dup {
			t.Errorf("dpkg-deb -c lists %s twice", p)
		}
		l[p] = e
	}
	if len(l) == 0 {
		t.Fatal(fmt.Errorf("dpkg-deb -c listed nothing:\n%s", out))
	}
	return l
}
