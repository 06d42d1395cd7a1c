package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/templates"
)

// Secret and URL with every character that means something in an installer
// formatted string, a condition or a command line, and non-ASCII.
const (
	msiOddSecret = `s[e]c{r}e%t;"q" é€日-Enr0ll`
	msiOddURL    = `https://fleet.example.com:8080/a[b]{c}%20;"x"/é`
)

// msiBuild is one pkgctl --type=msi build and what it must install.
type msiBuild struct {
	args  []string
	files map[string][]byte // path under the orbit root → content (nil: checked apart)
}

// msiArgs are the flags of a build with every file-bearing setting against env.
func msiArgs(t *testing.T, s *sharedEnv, env *testenv.Env, url, arch, channel, secret, fleetURL string) []string {
	args := []string{"package", "--type=msi", "--arch=" + arch, "--cache-dir=" + t.TempDir(), "--orbit-channel=" + channel}
	args = append(args, updateArgs(env, url)...)
	if secret != "" {
		args = append(args, "--enroll-secret="+secret, "--fleet-url="+fleetURL)
	}
	return append(args,
		"--fleet-certificate="+s.FleetCAFile,
		"--fleet-tls-client-certificate="+s.FleetClientCertFile, "--fleet-tls-client-key="+s.FleetClientKeyFile,
		"--fleet-desktop", "--osquery-flagfile="+s.FlagfilePath, "--disable-keystore", "--debug",
	)
}

// msiExpected is every file the build puts under the orbit root, by content.
func msiExpected(t *testing.T, s *sharedEnv, env *testenv.Env, arch, channel, secret string) map[string][]byte {
	t.Helper()
	plat := "windows"
	if arch == "arm64" {
		plat = "windows-arm64"
	}
	repo := func(name, file string) []byte {
		ch := testenv.StableChannel
		if name == "orbit" {
			ch = channel
		}
		b, err := os.ReadFile(filepath.Join(env.Repo.Dir, "targets", name, plat, ch, file))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return map[string][]byte{
		"secret.txt":        []byte(secret),
		"osquery.flags":     s.FlagfileData,
		"certs.pem":         templates.CertsPEM(),
		"fleet.pem":         s.FleetCAPEM,
		"fleet_client.crt":  s.FleetClientCertPEM,
		"fleet_client.key":  s.FleetClientKeyPEM,
		"update.pem":        env.ServerCA.CertPEM,
		"update_client.crt": env.ClientCertPEM,
		"update_client.key": env.ClientKeyPEM,
		"tuf-metadata.json": nil, // a custom TUF server gets only this one
		"bin/orbit/" + plat + "/" + channel + "/orbit.exe":  repo("orbit", "orbit.exe"),
		"bin/osqueryd/" + plat + "/stable/osqueryd.exe":     repo("osqueryd", "osqueryd.exe"),
		"bin/desktop/" + plat + "/stable/fleet-desktop.exe": repo("desktop", "fleet-desktop.exe"),
		"bin/orbit/orbit.exe":                               repo("orbit", "orbit.exe"),
	}
}

// compareFiles checks that dir holds exactly want (paths relative to dir).
func compareFiles(t *testing.T, what, dir string, want map[string][]byte, ignore ...string) {
	t.Helper()
	got := map[string]bool{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			got[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	for p, data := range want {
		if !got[p] {
			t.Errorf("%s: %s missing", what, p)
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			t.Error(err)
			continue
		}
		if data == nil {
			if !bytes.Contains(b, []byte(`"root.json"`)) {
				t.Errorf("%s: %s is not TUF metadata", what, p)
			}
			continue
		}
		if !bytes.Equal(b, data) {
			t.Errorf("%s: %s differs from its source (%d bytes, want %d)", what, p, len(b), len(data))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok && !contains(ignore, p) {
			t.Errorf("%s: unexpected file %s", what, p)
		}
	}
}

// TestMSITools builds x64 and arm64 MSIs through nginx and checks them with
// msitools, gcab and olefile.
func TestMSITools(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	msiinfo := needTool(t, "msiinfo", "msitools")
	msidump := needTool(t, "msidump", "msitools")
	msiextract := needTool(t, "msiextract", "msitools")
	gcab := needTool(t, "gcab", "gcab")
	python := "/usr/bin/python3" // Debian's, which python3-olefile installs into
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s not found: install the Debian package python3-olefile", python)
	}

	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			t.Parallel()
			// arm64 with --outfile: fleetctl would rename it fleet-osquery-arm64.msi.
			r := runPkgctl(t, "custom-"+arch+".msi", msiArgs(t, s, s.Env, s.Nginx.URL, arch, "stable", s.EnrollSecret, fleetURL)...)
			mustSucceed(t, r)
			msi := r.Outfile
			want := msiExpected(t, s, s.Env, arch, "stable", s.EnrollSecret)

			t.Run("msiinfo", func(t *testing.T) {
				out, _ := tool(t, false, msiinfo, "tables", msi)
				tables := strings.Fields(out)
				for _, w := range []string{"_Validation", "Property", "Directory", "Component", "File", "Media", "Feature",
					"FeatureComponents", "CreateFolder", "Registry", "ServiceInstall", "ServiceControl",
					"MsiServiceConfigFailureActions", "MsiLockPermissionsEx", "RemoveFile", "Upgrade", "CustomAction",
					"InstallExecuteSequence", "InstallUISequence", "AdminExecuteSequence", "AdminUISequence"} {
					if !contains(tables, w) {
						t.Errorf("msiinfo tables lacks %s: %v", w, tables)
					}
				}
				exports := map[string]string{}
				for _, table := range tables {
					dir := t.TempDir()
					cmd := []string{"export", msi, table}
					out, err := toolIn(t, dir, msiinfo, cmd...)
					if err != nil {
						t.Errorf("msiinfo export %s: %v\n%s", table, err, out)
					}
					exports[table] = out
				}
				for _, w := range []string{"UpgradeCode\t{B681CB20-107E-428A-9B14-2D3C1AFED244}", "Manufacturer\tFleet Device Management (fleetdm.com)",
					"ProductVersion\t1.2.3", "FLEET_SECRET\tdummy", "FLEET_DESKTOP\tTrue", "FLEET_URL\t" + fleetURL} {
					if !strings.Contains(exports["Property"], w) {
						t.Errorf("Property lacks %q", w)
					}
				}
				if strings.Contains(exports["Property"], s.EnrollSecret) {
					t.Error("the enroll secret is in the Property table")
				}
				// secret.txt and both client keys: SYSTEM and Administrators only.
				if n := strings.Count(exports["MsiLockPermissionsEx"], "\t"+packaging.SDDLSecret); n != 3 {
					t.Errorf("MsiLockPermissionsEx has %d rows with the secret descriptor, want 3 (secret.txt, fleet_client.key, update_client.key):\n%s", n, exports["MsiLockPermissionsEx"])
				}
				if !strings.Contains(exports["ServiceInstall"], "Fleet osquery") || !strings.Contains(exports["ServiceInstall"], "LocalSystem") {
					t.Errorf("ServiceInstall:\n%s", exports["ServiceInstall"])
				}
				for _, w := range []string{"ORBIT_DISABLE_KEYSTORE=true", "ORBIT_FLEET_URL=[FLEET_URL]", "ORBIT_DEBUG=true", "ORBIT_FLEET_CERTIFICATE=[ORBITROOT]fleet.pem"} {
					if !strings.Contains(exports["Registry"], w) {
						t.Errorf("Registry lacks %q:\n%s", w, exports["Registry"])
					}
				}
				sum, _ := tool(t, false, msiinfo, "suminfo", msi)
				tmpl := map[string]string{"amd64": "x64;1033", "arm64": "Arm64;1033"}[arch]
				for _, w := range []string{"Template: " + tmpl, "Author: Fleet Device Management (fleetdm.com)", "Subject: Fleet osquery"} {
					if !strings.Contains(sum, w) {
						t.Errorf("suminfo lacks %q:\n%s", w, sum)
					}
				}
			})

			t.Run("msidump", func(t *testing.T) {
				dir := t.TempDir()
				// msidump writes binary columns relative to its working directory.
				if out, err := toolIn(t, dir, msidump, "-t", "-s", "-d", dir, msi); err != nil {
					t.Fatalf("msidump: %v\n%s", err, out)
				}
				for _, f := range []string{"Property.idt", "File.idt", "Registry.idt", "_Streams/cab1.cab", "Binary/Binary.WriteSecretScript"} {
					if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
						t.Errorf("msidump wrote no %s: %v", f, err)
					}
				}
			})

			t.Run("msiextract", func(t *testing.T) {
				dir := t.TempDir()
				tool(t, false, msiextract, "-C", dir, msi)
				compareFiles(t, "msiextract", filepath.Join(dir, "Orbit"), want)
			})

			t.Run("gcab", func(t *testing.T) {
				dir := t.TempDir()
				cabFile := filepath.Join(dir, "cab1.cab")
				out, _ := tool(t, false, msiinfo, "extract", msi, "cab1.cab")
				os.WriteFile(cabFile, []byte(out), 0o600)
				list, _ := tool(t, false, gcab, "-t", cabFile)
				names := strings.Fields(list)
				if len(names) != len(want) {
					t.Errorf("gcab lists %d files, want %d: %v", len(names), len(want), names)
				}
				xdir := filepath.Join(dir, "x")
				os.Mkdir(xdir, 0o700)
				toolIn(t, xdir, gcab, "-x", cabFile)
				// Map File keys to names through the File and Directory tables is
				// what msiextract does; here each extracted file must equal one source.
				var sources [][]byte
				for _, d := range want {
					if d != nil {
						sources = append(sources, d)
					}
				}
				for _, n := range names {
					b, err := os.ReadFile(filepath.Join(xdir, n))
					if err != nil {
						t.Errorf("gcab -x did not write %s: %v", n, err)
						continue
					}
					found := bytes.Contains(b, []byte(`"root.json"`))
					for _, src := range sources {
						found = found || bytes.Equal(b, src)
					}
					if !found {
						t.Errorf("gcab extracted %s (%d bytes), equal to no source", n, len(b))
					}
				}
			})

			t.Run("olefile", func(t *testing.T) {
				out, _ := tool(t, false, python, "-c", `
import olefile, sys
assert olefile.isOleFile(sys.argv[1])
o = olefile.OleFileIO(sys.argv[1])
print(o.root.clsid)
for s in o.listdir(): print("/".join(s).encode("unicode_escape").decode())
`, msi)
				if !strings.Contains(out, "000C1084-0000-0000-C000-000000000046") || !strings.Contains(out, `\x05SummaryInformation`) {
					t.Errorf("olefile:\n%s", out)
				}
			})
		})
	}
}

// toolIn runs a tool in dir and returns its output; failures are returned.
func toolIn(t *testing.T, dir, name string, args ...string) (string, error) {
	t.Helper()
	cmd := testenv.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestMSIReproducible: two builds, same bytes; the arm64 default name.
func TestMSIReproducible(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	a := runPkgctl(t, "a.msi", msiArgs(t, s, s.Env, s.Nginx.URL, "amd64", "stable", s.EnrollSecret, fleetURL)...)
	b := runPkgctl(t, "b.msi", msiArgs(t, s, s.Env, s.Nginx.URL, "amd64", "stable", s.EnrollSecret, fleetURL)...)
	mustSucceed(t, a)
	mustSucceed(t, b)
	da, _ := os.ReadFile(a.Outfile)
	db, _ := os.ReadFile(b.Outfile)
	if !bytes.Equal(da, db) {
		t.Error("two msi builds differ")
	}
	r := runPkgctl(t, "", msiArgs(t, s, s.Env, s.Nginx.URL, "arm64", "stable", "", "")...)
	if r.Code != 0 {
		t.Fatalf("arm64 build: %s", r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(r.OutDir, "fleet-osquery-arm64.msi")); err != nil {
		t.Errorf("arm64 default name: %v", err)
	}
}

// codeSigningIdentity writes a CA and a code-signing certificate and key.
func codeSigningIdentity(t *testing.T, dir string) (caFile, certFile, keyFile string, key []byte) {
	t.Helper()
	now := time.Now()
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e code signing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "e2e signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	key = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	registerSecret(key)
	caFile = writeFile(t, dir, "sign-ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	certFile = writeFile(t, dir, "sign.pem", append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...))
	keyFile = writeFile(t, dir, "sign.key", key)
	return
}

// TestMSISigned: osslsigncode accepts the signed MSI and rejects it once one
// byte of a table or of the cab changes; a mismatched key is refused.
func TestMSISigned(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	osslsigncode := needTool(t, "osslsigncode", "osslsigncode")
	msiinfo := needTool(t, "msiinfo", "msitools")
	dir := t.TempDir()
	caFile, certFile, keyFile, _ := codeSigningIdentity(t, dir)
	args := append(msiArgs(t, s, s.Env, s.Nginx.URL, "amd64", "stable", s.EnrollSecret, fleetURL),
		"--windows-sign-certificate="+certFile, "--windows-sign-key="+keyFile)
	r := runPkgctl(t, "signed.msi", args...)
	mustSucceed(t, r)
	if out, err := tool(t, true, osslsigncode, "verify", "-CAfile", caFile, "-in", r.Outfile); err != nil {
		t.Fatalf("osslsigncode verify: %v\n%s", err, out)
	}
	tool(t, false, msiinfo, "tables", r.Outfile) // still a sound database
	data, _ := os.ReadFile(r.Outfile)
	for _, c := range []struct {
		what string
		at   int
	}{
		{"a table string (_StringData)", bytes.Index(data, []byte("Fleet Device Management (fleetdm.com)")) + 3},
		{"the cab", bytes.Index(data, []byte("MSCF")) + 300},
	} {
		if c.at < 300 {
			t.Fatalf("%s not found in the file", c.what)
		}
		bad := bytes.Clone(data)
		bad[c.at] ^= 0x01
		p := filepath.Join(dir, "tampered.msi")
		os.WriteFile(p, bad, 0o644)
		if out, err := tool(t, true, osslsigncode, "verify", "-CAfile", caFile, "-in", p); err == nil {
			t.Errorf("osslsigncode accepts the MSI with one byte of %s changed:\n%s", c.what, out)
		}
	}
	// The key of another certificate.
	_, _, otherKey, _ := codeSigningIdentity(t, t.TempDir())
	args = append(msiArgs(t, s, s.Env, s.Nginx.URL, "amd64", "stable", s.EnrollSecret, fleetURL),
		"--windows-sign-certificate="+certFile, "--windows-sign-key="+otherKey)
	mustFail(t, runPkgctl(t, "bad.msi", args...), "--windows-sign-key", "does not match")
}

var (
	winsvcOnce sync.Once
	winsvcExe  []byte
	winsvcErr  error
)

// wineEnv is a TUF environment whose Windows orbit.exe is the Go 1.20 test
// service (stable 1.2.3, and a different build for edge 1.3.0), so the
// installed service really starts under Wine.
func wineEnv(t *testing.T) (*testenv.Env, *testenv.Wine) {
	t.Helper()
	winsvcOnce.Do(func() {
		p := filepath.Join(workDir, "winsvc.exe")
		if winsvcErr = testenv.BuildWinSvc(p); winsvcErr == nil {
			winsvcExe, winsvcErr = os.ReadFile(p)
		}
	})
	if winsvcErr != nil {
		t.Fatal(winsvcErr)
	}
	env := testenv.NewTB(t)
	edge := append(bytes.Clone(winsvcExe), []byte("pkgctl e2e: edge build\x00")...) // an overlay: still a valid PE
	for _, plat := range []string{"windows", "windows-arm64"} {
		if err := env.Repo.AddTarget("orbit", plat, testenv.StableChannel, "orbit.exe", winsvcExe, testenv.StableVersion); err != nil {
			t.Fatal(err)
		}
		if err := env.Repo.AddTarget("orbit", plat, testenv.EdgeChannel, "orbit.exe", edge, testenv.EdgeVersion); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Repo.Publish(); err != nil {
		t.Fatal(err)
	}
	w, err := testenv.SharedWine(filepath.Join(workDir, "wine"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close) // ends the prefix's processes; wine restarts them on next use
	return env, w
}

const (
	uninstallKey = `HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall`
	serviceKey   = `HKLM\SYSTEM\CurrentControlSet\Services\Fleet osquery`
)

// fleetProducts lists the registered products named Fleet osquery.
func fleetProducts(t *testing.T, w *testenv.Wine) map[string]string {
	t.Helper()
	keys, err := w.RegSubkeys(uninstallKey)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		vals, ok, err := w.RegKey(uninstallKey + `\` + k)
		if err != nil {
			t.Fatal(err)
		}
		if ok && vals["DisplayName"].String == "Fleet osquery" {
			out[k] = vals["DisplayVersion"].String
		}
	}
	return out
}

// serviceEnv reads the service's Environment value as a map.
func serviceEnv(t *testing.T, w *testenv.Wine) map[string]string {
	t.Helper()
	vals, ok, err := w.RegKey(serviceKey)
	if err != nil || !ok {
		t.Fatalf("service key: ok=%v %v", ok, err)
	}
	v := vals["Environment"]
	if v.Type != "multi_sz" {
		t.Fatalf("Environment is %q, want REG_MULTI_SZ", v.Type)
	}
	env := map[string]string{}
	for _, kv := range v.Multi {
		k, val, _ := strings.Cut(kv, "=")
		env[k] = val
	}
	return env
}

// TestMSIWine installs, starts, stops, upgrades and removes the MSI in a real
// Windows Installer (Wine's), and checks the msiexec properties.
func TestMSIWine(t *testing.T) {
	s := getShared(t)
	env, w := wineEnv(t)
	root := "Program Files/Orbit"
	runtimeFiles := []string{"bin/orbit/winsvc-env.txt", "bin/orbit/winsvc-stopped.txt"}
	build := func(channel, secret, url string, extra ...string) string {
		r := runPkgctl(t, "fleet-osquery-"+channel+".msi", append(msiArgs(t, s, env, env.Server.URL, "amd64", channel, secret, url), extra...)...)
		mustSucceed(t, r)
		return r.Outfile
	}
	registerSecret([]byte(msiOddSecret))
	v1 := build(testenv.StableChannel, msiOddSecret, msiOddURL)
	v2 := build(testenv.EdgeChannel, msiOddSecret, msiOddURL)

	t.Run("install", func(t *testing.T) {
		log, err := w.Install(v1)
		if err != nil {
			t.Fatalf("%v\n%s", err, tail(log))
		}
		// The packaged secret and keys are file contents, never properties:
		// not in the verbose log. (Wine logs every property, hidden ones too,
		// so FLEET_SECRET given to msiexec is only kept out by Windows.)
		assertNoSecrets(t, "msiexec /i log", []byte(log))
		compareFiles(t, "installed", w.DriveC(root), msiExpected(t, s, env, "amd64", testenv.StableChannel, msiOddSecret), runtimeFiles...)
		vals, ok, err := w.RegKey(serviceKey)
		if err != nil || !ok {
			t.Fatalf("service not registered: %v", err)
		}
		if got := vals["ImagePath"].String; !strings.EqualFold(strings.Trim(got, `"`), `C:\Program Files\Orbit\bin\orbit\orbit.exe`) {
			t.Errorf("ImagePath = %q", got)
		}
		if vals["Start"].DWord != 2 || vals["ObjectName"].String != "LocalSystem" || vals["Type"].DWord != 0x10 {
			t.Errorf("service Start=%d ObjectName=%q Type=%#x", vals["Start"].DWord, vals["ObjectName"].String, vals["Type"].DWord)
		}
		got := serviceEnv(t, w)
		want := map[string]string{
			"ORBIT_ROOT_DIR":               `C:\Program Files\Orbit\.`,
			"ORBIT_LOG_FILE":               `C:\windows\system32\config\systemprofile\AppData\Local\FleetDM\Orbit\Logs\orbit-osquery.log`,
			"ORBIT_FLEET_URL":              msiOddURL,
			"ORBIT_ENROLL_SECRET_PATH":     `C:\Program Files\Orbit\secret.txt`,
			"ORBIT_UPDATE_URL":             env.Server.URL,
			"ORBIT_UPDATE_INTERVAL":        "15m0s",
			"ORBIT_FLEET_DESKTOP":          "True",
			"ORBIT_DESKTOP_CHANNEL":        "stable",
			"ORBIT_ORBIT_CHANNEL":          "stable",
			"ORBIT_OSQUERYD_CHANNEL":       "stable",
			"ORBIT_ENABLE_SCRIPTS":         "False",
			"ORBIT_FLEET_CERTIFICATE":      `C:\Program Files\Orbit\fleet.pem`,
			"ORBIT_UPDATE_TLS_CERTIFICATE": `C:\Program Files\Orbit\update.pem`,
			"ORBIT_DEBUG":                  "true",
			"ORBIT_DISABLE_KEYSTORE":       "true",
			"ORBIT_END_USER_EMAIL":         "dummy",
			"ORBIT_EUA_TOKEN":              "dummy",
		}
		for k, v := range want {
			if !strings.EqualFold(got[k], v) || (k == "ORBIT_FLEET_URL" && got[k] != v) {
				t.Errorf("Environment %s = %q, want %q", k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("Environment has %d entries, want %d: %v", len(got), len(want), sortedKeys(got))
		}
		if p := fleetProducts(t, w); len(p) != 1 {
			t.Errorf("registered products: %v, want one", p)
		}
	})

	t.Run("service start and stop", func(t *testing.T) {
		// ServiceControl started it during the install.
		if _, err := w.WaitFile(root+"/bin/orbit/winsvc-env.txt", 30*time.Second); err != nil {
			t.Fatalf("the service did not start: %v", err)
		}
		if out, code, err := w.Run("net", "stop", "Fleet osquery"); err != nil || code != 0 {
			t.Fatalf("net stop: %d %v %s", code, err, out)
		}
		if _, err := w.WaitFile(root+"/bin/orbit/winsvc-stopped.txt", 30*time.Second); err != nil {
			t.Fatalf("the service did not stop: %v", err)
		}
	})

	t.Run("upgrade", func(t *testing.T) {
		if log, err := w.Install(v2); err != nil {
			t.Fatalf("%v\n%s", err, tail(log))
		}
		compareFiles(t, "upgraded", w.DriveC(root), msiExpected(t, s, env, "amd64", testenv.EdgeChannel, msiOddSecret), runtimeFiles...)
		p := fleetProducts(t, w)
		if len(p) != 1 {
			t.Fatalf("registered products after the upgrade: %v, want one", p)
		}
		for _, v := range p {
			if v != testenv.EdgeVersion {
				t.Errorf("registered version %s, want %s", v, testenv.EdgeVersion)
			}
		}
		if got := serviceEnv(t, w)["ORBIT_ORBIT_CHANNEL"]; got != "edge" {
			t.Errorf("ORBIT_ORBIT_CHANNEL = %q after the upgrade", got)
		}
	})

	t.Run("uninstall", func(t *testing.T) {
		if log, err := w.Uninstall(v2); err != nil {
			t.Fatalf("%v\n%s", err, tail(log))
		}
		if files, _ := w.ListFiles(root); len(files) != 0 {
			t.Errorf("files left after uninstall: %v", files)
		}
		if _, ok, _ := w.RegKey(serviceKey); ok {
			t.Error("service still registered after uninstall")
		}
		if p := fleetProducts(t, w); len(p) != 0 {
			t.Errorf("products still registered: %v", p)
		}
	})

	t.Run("msiexec properties", func(t *testing.T) {
		// Wine's msiexec cannot take a literal " in a property value from a
		// Unix command line (it arrives as \"), so this value has every other
		// special character; the build-time secret above has the quote too.
		const secret = `p[r]o{p}%;é€日 secret`
		const url = `https://other.example.com/[x]{y}%;é`
		registerSecret([]byte(secret))
		base := build(testenv.StableChannel, "", "")
		log, err := w.Install(base, "FLEET_SECRET="+secret, "FLEET_URL="+url, "FLEET_DESKTOP=False", "ENABLE_SCRIPTS=True", "END_USER_EMAIL=u@example.com")
		if err != nil {
			t.Fatalf("%v\n%s", err, tail(log))
		}
		defer w.Uninstall(base)
		b, err := os.ReadFile(w.DriveC(root + "/secret.txt"))
		if err != nil || string(b) != secret {
			t.Errorf("secret.txt = %q (%v), want %q", b, err, secret)
		}
		got := serviceEnv(t, w)
		for k, v := range map[string]string{"ORBIT_FLEET_URL": url, "ORBIT_FLEET_DESKTOP": "False", "ORBIT_ENABLE_SCRIPTS": "True", "ORBIT_END_USER_EMAIL": "u@example.com"} {
			if got[k] != v {
				t.Errorf("Environment %s = %q, want %q", k, got[k], v)
			}
		}
	})
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// tail is the end of an msiexec log, for failure messages.
func tail(log string) string {
	if len(log) > 4000 {
		return log[len(log)-4000:]
	}
	return log
}
