package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// The operator's osquery flags, written on the host between two installs.
var operatorFlags = []byte("--operator_flag=kept\n")

// upgradeCase is one install-edit-upgrade sequence: v1 is installed, the
// operator writes osquery.flags, v2 is installed over it; want is what the file
// must then hold.
type upgradeCase struct {
	name     string
	flagfile bool // v2 built with --osquery-flagfile
}

var upgradeCases = []upgradeCase{
	{"v2 without flagfile keeps the operator's flags", false},
	{"v2 with flagfile replaces them", true},
}

func (c upgradeCase) want(s *sharedEnv) []byte {
	if c.flagfile {
		return s.FlagfileData
	}
	return operatorFlags
}

// linuxUpgradeBuilds builds v1 (stable, no flagfile) and v2 (edge, with or
// without the flagfile) of typ.
func linuxUpgradeBuilds(t *testing.T, s *sharedEnv, typ string, flagfile bool) (v1, v2 string) {
	t.Helper()
	build := func(channel string, flags bool) string {
		args := buildSpec{Type: typ, Arch: "amd64", OrbitChannel: channel}.args(t, s, s.Nginx.URL)
		if flags {
			args = append(args, "--osquery-flagfile="+s.FlagfilePath)
		}
		r := runPkgctl(t, "fleet-osquery."+typ, args...)
		mustSucceed(t, r)
		return r.Outfile
	}
	return build("", false), build(testenv.EdgeChannel, flagfile)
}

func writeOperatorFlags(t *testing.T, root string) string {
	t.Helper()
	p := filepath.Join(root, "opt", "orbit", "osquery.flags")
	if err := os.WriteFile(p, operatorFlags, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkFlags(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("after the upgrade: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("osquery.flags after the upgrade = %q, want %q", got, want)
	}
}

// TestUpgradeDebKeepsOperatorFiles upgrades with dpkg in a private root and
// admin dir (fleetd-compat.md §2, fleet#50720).
func TestUpgradeDebKeepsOperatorFiles(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	dpkg := needTool(t, "dpkg", "dpkg")
	for _, c := range upgradeCases {
		t.Run(c.name, func(t *testing.T) {
			v1, v2 := linuxUpgradeBuilds(t, s, "deb", c.flagfile)
			root, admin, args := privateDpkg(t)
			// dpkg --unpack runs no postinst; the packages have no preinst (TestDeb).
			// An upgrade would run v1's prerm and postrm ("upgrade": no-ops, but
			// dpkg runs them chrooted into the root, which has no shell), so they
			// are dropped from the private admin dir: this checks dpkg's own file
			// handling, which is what decides the operator's file. The scripts
			// are checked in TestDeb.
			dropScripts := func() {
				for _, s := range []string{"prerm", "postrm", "postinst"} {
					if err := os.Remove(filepath.Join(admin, "info", "fleet-osquery."+s)); err != nil {
						t.Fatal(err)
					}
				}
			}
			tool(t, false, dpkg, append(args, "--unpack", v1)...)
			dropScripts()
			flags := writeOperatorFlags(t, root)
			tool(t, false, dpkg, append(args, "--unpack", v2)...)
			st, _ := tool(t, false, dpkg, "--admindir="+admin, "-s", "fleet-osquery")
			if v := controlFields(st)["Version"]; v != testenv.EdgeVersion {
				t.Fatalf("dpkg -s after the upgrade: Version %q, want %s", v, testenv.EdgeVersion)
			}
			checkFlags(t, flags, c.want(s))
		})
	}
}

// TestUpgradeRPMKeepsOperatorFiles upgrades with rpm -U in a private root and
// database; --noscripts because the scriptlets would act on this machine.
func TestUpgradeRPMKeepsOperatorFiles(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	rpm := needTool(t, "rpm", "rpm")
	for _, c := range upgradeCases {
		t.Run(c.name, func(t *testing.T) {
			v1, v2 := linuxUpgradeBuilds(t, s, "rpm", c.flagfile)
			root := t.TempDir()
			common := []string{"--root", root, "--dbpath", "/rpmdb", "--nodeps", "--noscripts", "--ignorearch"}
			tool(t, false, rpm, append([]string{"-i"}, append(common, v1)...)...)
			flags := writeOperatorFlags(t, root)
			tool(t, false, rpm, append([]string{"-U"}, append(common, v2)...)...)
			q, _ := tool(t, false, rpm, "-q", "--root", root, "--dbpath", "/rpmdb", "--qf", "%{VERSION}", "fleet-osquery")
			if q != testenv.EdgeVersion {
				t.Fatalf("rpm -q after the upgrade: %q, want %s", q, testenv.EdgeVersion)
			}
			checkFlags(t, flags, c.want(s))
		})
	}
}

// TestUpgradeMSIKeepsOperatorFiles does the same with a major upgrade in Wine's
// Windows Installer. Not parallel: it shares the Wine prefix.
//
// Windows' RemoveExistingProducts removes the old product with
// UPGRADINGPRODUCTCODE set, which keeps the old product's full-uninstall
// cleanup (rd /s of the orbit root) from running; Wine's runs
// "msiexec /i {old} REMOVE=ALL" without it, so the cleanup would run. The test
// therefore performs the removal step of the major upgrade as Windows does
// (msiexec /x v1 UPGRADINGPRODUCTCODE={v2}), then installs v2 and checks that
// it is the one product registered. TestMSIWine covers Wine's own major upgrade.
func TestUpgradeMSIKeepsOperatorFiles(t *testing.T) {
	s := getShared(t)
	env, w := wineEnv(t)
	msiinfo := needTool(t, "msiinfo", "msitools")
	const root = "Program Files/Orbit"
	build := func(channel string, flags bool) string {
		args := []string{"package", "--type=msi", "--cache-dir=" + t.TempDir(), "--orbit-channel=" + channel}
		args = append(args, updateArgs(env, env.Server.URL)...)
		if flags {
			args = append(args, "--osquery-flagfile="+s.FlagfilePath)
		}
		r := runPkgctl(t, "fleet-osquery-"+channel+".msi", args...)
		mustSucceed(t, r)
		return r.Outfile
	}
	productCode := func(msi string) string {
		out, _ := tool(t, false, msiinfo, "export", msi, "Property")
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok && k == "ProductCode" {
				return v
			}
		}
		t.Fatalf("%s has no ProductCode:\n%s", msi, out)
		return ""
	}
	v1 := build(testenv.StableChannel, false)
	for _, c := range upgradeCases {
		t.Run(c.name, func(t *testing.T) {
			v2 := build(testenv.EdgeChannel, c.flagfile)
			if log, err := w.Install(v1); err != nil {
				t.Fatalf("%v\n%s", err, tail(log))
			}
			flags := w.DriveC(root + "/osquery.flags")
			if _, err := os.Stat(flags); err == nil {
				t.Fatal("v1, built without --osquery-flagfile, installed osquery.flags")
			}
			if err := os.WriteFile(flags, operatorFlags, 0o600); err != nil {
				t.Fatal(err)
			}
			if code, log, err := w.MsiExec("/x", v1, "UPGRADINGPRODUCTCODE="+productCode(v2)); err != nil || code != 0 {
				t.Fatalf("msiexec /x v1 UPGRADINGPRODUCTCODE=…: exit %d %v\n%s", code, err, tail(log))
			}
			log, err := w.Install(v2)
			if err != nil {
				t.Fatalf("%v\n%s", err, tail(log))
			}
			defer func() {
				if log, err := w.Uninstall(v2); err != nil {
					t.Errorf("%v\n%s", err, tail(log))
				}
			}()
			p := fleetProducts(t, w)
			if len(p) != 1 {
				t.Fatalf("registered products after the upgrade: %v, want one", p)
			}
			for _, v := range p {
				if v != testenv.EdgeVersion {
					t.Fatalf("registered version %s, want %s", v, testenv.EdgeVersion)
				}
			}
			checkFlags(t, flags, c.want(s))
		})
	}
}

// privateDpkg makes an empty installation root and dpkg database in temp
// directories and returns them and the dpkg flags that use them.
func privateDpkg(t *testing.T) (root, admin string, args []string) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "root")
	admin = filepath.Join(t.TempDir(), "dpkg")
	for _, d := range []string{root, filepath.Join(admin, "info"), filepath.Join(admin, "updates"), filepath.Join(admin, "triggers")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(admin, "status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	args = []string{"--instdir=" + root, "--admindir=" + admin, "--log=/dev/null", "--no-triggers"}
	if !isRoot() {
		args = append(args, "--force-not-root")
	}
	return root, admin, args
}
