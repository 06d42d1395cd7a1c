package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func windowsInputs(t *testing.T, arch string) Inputs {
	t.Helper()
	dir := t.TempDir()
	plat := "windows"
	if arch == ArchARM64 {
		plat = "windows-arm64"
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return Inputs{Components: []Component{
		{Name: "orbit", Platform: plat, Channel: "stable", File: "orbit.exe", Source: write("orbit.exe", "orbit"), Version: "1.40.0"},
		{Name: "osqueryd", Platform: plat, Channel: "edge", File: "osqueryd.exe", Source: write("osqueryd.exe", "osqueryd"), Version: "5.1.0"},
		{Name: "desktop", Platform: plat, Channel: "stable", File: "fleet-desktop.exe", Source: write("fd.exe", "fd"), Version: "1.40.0"},
	}, TUFMetadata: []byte("{}\n"), MTime: time.Unix(1700000000, 0)}
}

// TestWindowsLayoutFacts checks fleetd-compat.md §2.2 one fact at a time.
func TestWindowsLayoutFacts(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("CA"), 0o600)
	o := (&Options{Type: TypeMSI, Arch: ArchARM64, EnrollSecret: "s3cret", FleetURL: "https://fleet.example.com",
		Desktop: true, OsquerydChannel: "edge", FleetCertificate: ca, DisableKeystore: true, Debug: true,
		HostIdentifier: "instance", EndUserEmail: "a@b.c"}).WithDefaults()
	l, err := NewLayout(o, windowsInputs(t, ArchARM64))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/Program Files/Orbit/secret.txt", "/Program Files/Orbit/certs.pem",
		"/Program Files/Orbit/fleet.pem", "/Program Files/Orbit/updates-metadata.json", "/Program Files/Orbit/tuf-metadata.json",
		"/Program Files/Orbit/bin/orbit/windows-arm64/stable/orbit.exe",
		"/Program Files/Orbit/bin/osqueryd/windows-arm64/edge/osqueryd.exe",
		"/Program Files/Orbit/bin/desktop/windows-arm64/stable/fleet-desktop.exe",
		"/Program Files/Orbit/bin/orbit/orbit.exe", "/Program Files/Orbit/staging",
	} {
		e := l.Entry(p)
		if e == nil {
			t.Errorf("no entry %s", p)
			continue
		}
		want := SDDLDefault
		if strings.HasSuffix(p, "secret.txt") {
			want = SDDLSecret
		}
		if e.SDDL != want {
			t.Errorf("%s: SDDL %q, want %q", p, e.SDDL, want)
		}
	}
	if e := l.Entry(WindowsServiceBinary); e.Source != l.Entry("/Program Files/Orbit/bin/orbit/windows-arm64/stable/orbit.exe").Source {
		t.Errorf("service binary is not a copy of orbit.exe")
	}
	if string(l.Entry("/Program Files/Orbit/secret.txt").Data) != "s3cret" {
		t.Error("secret.txt content")
	}
	w := l.Windows
	s := w.Service
	if s.Name != "Fleet osquery" || s.Account != "LocalSystem" || !s.AutoStart || s.Binary != WindowsServiceBinary ||
		s.FailureRestarts != 3 || s.RestartDelay != time.Second || s.ResetPeriod != 24*time.Hour {
		t.Errorf("service %+v", s)
	}
	env := map[string]EnvVar{}
	for _, v := range s.Environment {
		env[v.Name] = v
	}
	wantEnv := map[string]EnvVar{
		"ORBIT_ROOT_DIR":           {Path: WindowsOrbitRoot},
		"ORBIT_LOG_FILE":           {Path: WindowsLogFile},
		"ORBIT_FLEET_URL":          {Property: "FLEET_URL"},
		"ORBIT_ENROLL_SECRET_PATH": {Path: "/Program Files/Orbit/secret.txt"},
		"ORBIT_UPDATE_URL":         {Literal: FleetUpdateURL},
		"ORBIT_UPDATE_INTERVAL":    {Literal: "15m0s"},
		"ORBIT_FLEET_DESKTOP":      {Property: "FLEET_DESKTOP"},
		"ORBIT_DESKTOP_CHANNEL":    {Literal: "stable"},
		"ORBIT_ORBIT_CHANNEL":      {Literal: "stable"},
		"ORBIT_OSQUERYD_CHANNEL":   {Literal: "edge"},
		"ORBIT_ENABLE_SCRIPTS":     {Property: "ENABLE_SCRIPTS"},
		"ORBIT_FLEET_CERTIFICATE":  {Path: "/Program Files/Orbit/fleet.pem"},
		"ORBIT_DEBUG":              {Literal: "true"},
		"ORBIT_HOST_IDENTIFIER":    {Literal: "instance"},
		"ORBIT_END_USER_EMAIL":     {Property: "END_USER_EMAIL"},
		"ORBIT_EUA_TOKEN":          {Property: "EUA_TOKEN"},
		"ORBIT_DISABLE_KEYSTORE":   {Literal: "true"},
	}
	for n, want := range wantEnv {
		want.Name = n
		if env[n] != want {
			t.Errorf("env %s = %+v, want %+v", n, env[n], want)
		}
	}
	if len(env) != len(wantEnv) {
		t.Errorf("env has %d entries, want %d: %+v", len(env), len(wantEnv), s.Environment)
	}
	props := map[string]InstallProperty{}
	for _, p := range w.Properties {
		props[p.Name] = p
	}
	for _, want := range []InstallProperty{
		{"FLEET_URL", "https://fleet.example.com", false}, {"FLEET_SECRET", "dummy", true},
		{"FLEET_DESKTOP", "True", false}, {"ENABLE_SCRIPTS", "False", false},
		{"END_USER_EMAIL", "a@b.c", false}, {"EUA_TOKEN", "dummy", false},
	} {
		if props[want.Name] != want {
			t.Errorf("property %s = %+v, want %+v", want.Name, props[want.Name], want)
		}
	}
	if w.SecretFile != "/Program Files/Orbit/secret.txt" || w.SecretProperty != "FLEET_SECRET" {
		t.Errorf("secret file %q from %q", w.SecretFile, w.SecretProperty)
	}
}

// TestWindowsLayoutNoSecret: without --enroll-secret the package carries an
// empty secret.txt (its ACL protects what the installer writes from FLEET_SECRET).
func TestWindowsLayoutNoSecret(t *testing.T) {
	l, err := NewLayout((&Options{Type: TypeMSI}).WithDefaults(), windowsInputs(t, ArchAMD64))
	if err != nil {
		t.Fatal(err)
	}
	if e := l.Entry("/Program Files/Orbit/secret.txt"); e == nil || len(e.Data) != 0 || e.SDDL != SDDLSecret {
		t.Errorf("secret.txt without a secret: %+v, want an empty file with the secret's SDDL", e)
	}
	if l.Entry("/Program Files/Orbit/bin/orbit/windows/stable/orbit.exe") == nil {
		t.Error("amd64 platform is windows")
	}
}

// TestWindowsKeysLocked: the TLS client keys get secret.txt's descriptor
// (SYSTEM and Administrators only); the certificates stay readable.
func TestWindowsKeysLocked(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	o := (&Options{Type: TypeMSI, EnrollSecret: "s", FleetURL: "https://f",
		FleetTLSClientCertificate: write("fc.crt"), FleetTLSClientKey: write("fc.key"),
		UpdateTLSClientCertificate: write("uc.crt"), UpdateTLSClientKey: write("uc.key")}).WithDefaults()
	l, err := NewLayout(o, windowsInputs(t, ArchAMD64))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"secret.txt": SDDLSecret, "fleet_client.key": SDDLSecret, "update_client.key": SDDLSecret,
		"fleet_client.crt": SDDLDefault, "update_client.crt": SDDLDefault,
	} {
		e := l.Entry("/Program Files/Orbit/" + name)
		if e == nil {
			t.Errorf("no %s", name)
			continue
		}
		if e.SDDL != want {
			t.Errorf("%s: SDDL %q, want %q", name, e.SDDL, want)
		}
	}
}
