package packaging

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeInputs are components on disk as a fetch would leave them.
func fakeInputs(t *testing.T, arch string, desktop bool) Inputs {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plat := "linux"
	if arch == ArchARM64 {
		plat = "linux-arm64"
	}
	comps := []Component{
		{Name: "orbit", Platform: plat, Channel: "stable", File: "orbit", Source: write("orbit", "orbit-bin"), Version: "1.40.0"},
		{Name: "osqueryd", Platform: plat, Channel: "edge", File: "osqueryd", Source: write("osqueryd", "osqueryd-bin"), Version: "5.1.0"},
	}
	if desktop {
		comps = append(comps, Component{Name: "desktop", Platform: plat, Channel: "stable", File: "desktop.tar.gz", Source: write("desktop.tar.gz", "tgz"), Version: "1.40.0",
			Extracted: []ExtractedEntry{
				{Rel: "fleet-desktop", Kind: KindDir, Mode: 0o755},
				{Rel: "fleet-desktop/fleet-desktop", Kind: KindFile, Mode: 0o755, Source: write("fd", "fleet-desktop-bin")},
			}})
	}
	return Inputs{Components: comps, TUFMetadata: []byte(`{"root.json":{}}` + "\n"), MTime: time.Unix(1700000000, 0)}
}

func linuxOpts(mod func(*Options)) *Options {
	o := &Options{Type: TypeDeb, StartService: true, OsquerydChannel: "edge"}
	if mod != nil {
		mod(o)
	}
	return o.WithDefaults()
}

// TestLinuxLayoutFacts checks each fact of fleetd-compat.md §2.3.
func TestLinuxLayoutFacts(t *testing.T) {
	certDir := t.TempDir()
	ca := filepath.Join(certDir, "ca.pem")
	os.WriteFile(ca, []byte("CA PEM"), 0o600)
	crt := filepath.Join(certDir, "c.crt")
	os.WriteFile(crt, []byte("CLIENT CERT"), 0o600)
	key := filepath.Join(certDir, "c.key")
	os.WriteFile(key, []byte("CLIENT KEY"), 0o600)
	flags := filepath.Join(certDir, "osquery.flags")
	os.WriteFile(flags, []byte("--verbose\n"), 0o600)

	o := linuxOpts(func(o *Options) {
		o.FleetURL, o.EnrollSecret = "https://fleet.example.com", "s3cret"
		o.FleetCertificate, o.UpdateTLSServerCertificate = ca, ca
		o.FleetTLSClientCertificate, o.FleetTLSClientKey = crt, key
		o.UpdateTLSClientCertificate, o.UpdateTLSClientKey = crt, key
		o.OsqueryFlagfile = flags
		o.Desktop = true
	})
	l, err := NewLayout(o, fakeInputs(t, ArchAMD64, true))
	if err != nil {
		t.Fatal(err)
	}
	facts := []struct {
		path    string
		kind    Kind
		mode    fs.FileMode
		content string // "" = not checked
		link    string
	}{
		{"/opt/orbit", KindDir, 0o755, "", ""},
		{"/opt/orbit/osquery.flags", KindFile, 0o600, "--verbose\n", ""},
		{"/opt/orbit/certs.pem", KindFile, 0o644, "", ""},
		{"/opt/orbit/fleet.pem", KindFile, 0o644, "CA PEM", ""},
		{"/opt/orbit/update.pem", KindFile, 0o644, "CA PEM", ""},
		{"/opt/orbit/fleet_client.crt", KindFile, 0o600, "CLIENT CERT", ""},
		{"/opt/orbit/fleet_client.key", KindFile, 0o600, "CLIENT KEY", ""},
		{"/opt/orbit/update_client.crt", KindFile, 0o600, "CLIENT CERT", ""},
		{"/opt/orbit/update_client.key", KindFile, 0o600, "CLIENT KEY", ""},
		{"/opt/orbit/updates-metadata.json", KindFile, 0o600, `{"root.json":{}}` + "\n", ""},
		{"/opt/orbit/tuf-metadata.json", KindFile, 0o600, `{"root.json":{}}` + "\n", ""},
		{"/opt/orbit/staging", KindDir, 0o755, "", ""},
		{"/opt/orbit/bin/orbit/linux/stable/orbit", KindFile, 0o755, "orbit-bin", ""},
		{"/opt/orbit/bin/osqueryd/linux/edge/osqueryd", KindFile, 0o755, "osqueryd-bin", ""},
		{"/opt/orbit/bin/desktop/linux/stable/desktop.tar.gz", KindFile, 0o755, "tgz", ""},
		{"/opt/orbit/bin/desktop/linux/stable/fleet-desktop", KindDir, 0o755, "", ""},
		{"/opt/orbit/bin/desktop/linux/stable/fleet-desktop/fleet-desktop", KindFile, 0o755, "fleet-desktop-bin", ""},
		{"/opt/orbit/bin/orbit/orbit", KindSymlink, 0o777, "", "/opt/orbit/bin/orbit/linux/stable/orbit"},
		{"/usr/local/bin/orbit", KindSymlink, 0o777, "", "/opt/orbit/bin/orbit/orbit"},
		{"/var/log/orbit", KindDir, 0o755, "", ""},
		{"/var/log/osquery", KindDir, 0o755, "", ""},
		{"/etc/default/orbit", KindFile, 0o600, "", ""},
		{"/usr/lib/systemd/system/orbit.service", KindFile, 0o644, "", ""},
	}
	for _, f := range facts {
		t.Run(f.path, func(t *testing.T) {
			e := l.Entry(f.path)
			if e == nil {
				t.Fatalf("%s missing from the layout", f.path)
			}
			if e.Kind != f.kind || e.Mode != f.mode {
				t.Errorf("%s: %s %o, want %s %o", f.path, e.Kind, e.Mode, f.kind, f.mode)
			}
			if e.Owner != "root" || e.Group != "root" || e.UID != 0 || e.GID != 0 {
				t.Errorf("%s owned by %s:%s (%d:%d), want root:root", f.path, e.Owner, e.Group, e.UID, e.GID)
			}
			if f.content != "" {
				got := string(e.Data)
				if e.Source != "" {
					b, _ := os.ReadFile(e.Source)
					got = string(b)
				}
				if got != f.content {
					t.Errorf("%s holds %q, want %q", f.path, got, f.content)
				}
			}
			if e.Link != f.link {
				t.Errorf("%s links to %q, want %q", f.path, e.Link, f.link)
			}
		})
	}
	// Linux has no secret.txt: the secret is in /etc/default/orbit.
	if l.Entry("/opt/orbit/secret.txt") != nil {
		t.Error("Linux layout must not have secret.txt")
	}
	for _, e := range l.Entries {
		if e.Secret && e.Mode != 0o600 {
			t.Errorf("%s holds a secret but is %o", e.Path, e.Mode)
		}
	}
	if l.Version != "1.40.0" {
		t.Errorf("version %q, want orbit's 1.40.0", l.Version)
	}
	// --cpu-quota sets the unit's CPUQuota (fleetctl 4.93.0, PR #53069).
	for _, q := range []struct{ flag, want string }{{"35", "CPUQuota=35%\n"}, {"150%", "CPUQuota=150%\n"}} {
		lq, err := NewLayout(linuxOpts(func(o *Options) { o.CPUQuota = q.flag }), fakeInputs(t, ArchAMD64, false))
		if err != nil {
			t.Fatal(err)
		}
		if u := string(lq.Entry(LinuxServiceUnit).Data); !strings.Contains(u, q.want) || strings.Count(u, "CPUQuota=") != 1 {
			t.Errorf("--cpu-quota=%s: orbit.service:\n%s", q.flag, u)
		}
	}
	unit := string(l.Entry(LinuxServiceUnit).Data)
	for _, want := range []string{"EnvironmentFile=/etc/default/orbit", "ExecStart=/opt/orbit/bin/orbit/orbit", "Restart=always", "WantedBy=multi-user.target", "StartLimitIntervalSec=0", "CPUQuota=20%"} {
		if !strings.Contains(unit, want) {
			t.Errorf("orbit.service lacks %q", want)
		}
	}
}

func envLines(t *testing.T, l *Layout) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(string(l.Entry(LinuxEnvFile).Data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			if _, dup := m[k]; dup {
				t.Errorf("%s twice in /etc/default/orbit", k)
			}
			m[k] = v
		}
	}
	return m
}

func TestLinuxEnvFile(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Options)
		want   map[string]string // "" value = must be absent
		updURL bool              // updates-metadata.json expected
	}{
		{"defaults", nil, map[string]string{
			"ORBIT_UPDATE_URL": "https://updates.fleetdm.com", "ORBIT_ORBIT_CHANNEL": "stable", "ORBIT_OSQUERYD_CHANNEL": "edge",
			"ORBIT_UPDATE_INTERVAL": "15m0s", "ORBIT_FLEET_DESKTOP": "", "ORBIT_ENROLL_SECRET": "", "ORBIT_FLEET_URL": "",
			"ORBIT_INSECURE": "", "ORBIT_HOST_IDENTIFIER": "", "ORBIT_DESKTOP_CHANNEL": "",
		}, true},
		{"everything", func(o *Options) {
			o.FleetURL, o.EnrollSecret = "https://fleet.example.com:8080", "abc123"
			o.Insecure, o.DisableUpdates, o.Debug, o.EnableScripts = true, true, true, true
			o.HostIdentifier, o.OsqueryDB, o.EndUserEmail = "instance", "/var/osq", "a@b.c"
			o.FleetManagedHostIdentityCertificate, o.DisableSetupExperience, o.BypassEndUserAuth = true, true, true
			o.Desktop, o.DesktopChannel, o.FleetDesktopAlternativeBrowserHost = true, "beta", "desk.example.com:443"
			o.UpdateURL, o.OrbitUpdateInterval = "https://tuf.example.com", time.Hour
		}, map[string]string{
			"ORBIT_FLEET_URL": "https://fleet.example.com:8080", "ORBIT_ENROLL_SECRET": "abc123",
			"ORBIT_INSECURE": "true", "ORBIT_DISABLE_UPDATES": "true", "ORBIT_DEBUG": "true", "ORBIT_ENABLE_SCRIPTS": "true",
			"ORBIT_HOST_IDENTIFIER": "instance", "ORBIT_OSQUERY_DB": "/var/osq", "ORBIT_END_USER_EMAIL": "a@b.c",
			"ORBIT_FLEET_MANAGED_HOST_IDENTITY_CERTIFICATE": "true", "ORBIT_DISABLE_SETUP_EXPERIENCE": "true", "ORBIT_BYPASS_END_USER_AUTH": "true",
			"ORBIT_FLEET_DESKTOP": "true", "ORBIT_DESKTOP_CHANNEL": "beta", "ORBIT_FLEET_DESKTOP_ALTERNATIVE_BROWSER_HOST": "desk.example.com:443",
			"ORBIT_UPDATE_URL": "https://tuf.example.com", "ORBIT_UPDATE_INTERVAL": "1h0m0s",
		}, false},
		// fleetctl writes the alternative browser host only inside the Desktop block.
		{"browser host without desktop", func(o *Options) { o.FleetDesktopAlternativeBrowserHost = "desk.example.com" },
			map[string]string{"ORBIT_FLEET_DESKTOP_ALTERNATIVE_BROWSER_HOST": "", "ORBIT_FLEET_DESKTOP": ""}, true},
		{"secret with specials is quoted", func(o *Options) { o.FleetURL, o.EnrollSecret = "https://f", `a b"c$d\e` },
			map[string]string{"ORBIT_ENROLL_SECRET": `"a b\"c\$d\\e"`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := linuxOpts(tt.mod)
			l, err := NewLayout(o, fakeInputs(t, ArchAMD64, o.Desktop))
			if err != nil {
				t.Fatal(err)
			}
			env := envLines(t, l)
			for k, want := range tt.want {
				got, ok := env[k]
				if want == "" && ok {
					t.Errorf("%s=%s present, want absent", k, got)
				}
				if want != "" && got != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			if got := l.Entry("/opt/orbit/updates-metadata.json") != nil; got != tt.updURL {
				t.Errorf("updates-metadata.json present = %v, want %v", got, tt.updURL)
			}
			if l.Entry("/opt/orbit/tuf-metadata.json") == nil {
				t.Error("tuf-metadata.json missing")
			}
		})
	}
}

func TestLinuxScripts(t *testing.T) {
	for _, service := range []bool{true, false} {
		o := linuxOpts(func(o *Options) { o.StartService = service })
		l, err := NewLayout(o, fakeInputs(t, ArchAMD64, false))
		if err != nil {
			t.Fatal(err)
		}
		for name, script := range map[string]string{"postinstall": l.Scripts.PostInstall, "posttrans": l.Scripts.PostTrans} {
			has := strings.Contains(script, "systemctl enable orbit.service") && strings.Contains(script, "systemctl restart orbit.service")
			if has != service {
				t.Errorf("--service=%v: %s enables/restarts the service = %v", service, name, has)
			}
			if !strings.Contains(script, "daemon-reload") {
				t.Errorf("%s lacks daemon-reload", name)
			}
			if !strings.Contains(script, "INSTALLER_PATH") && service {
				t.Errorf("%s lacks the safe restart for self-upgrades", name)
			}
		}
		if !strings.Contains(l.Scripts.PreRemove, "0|remove|deconfigure)") || !strings.Contains(l.Scripts.PreRemove, "systemctl disable --now orbit.service") {
			t.Errorf("preremove does not stop the service on removal:\n%s", l.Scripts.PreRemove)
		}
		if !strings.Contains(l.Scripts.PostRemove, "rm -rf /var/lib/orbit /var/log/orbit /usr/local/bin/orbit /etc/default/orbit /usr/lib/systemd/system/orbit.service /opt/orbit") {
			t.Errorf("postremove does not clean up:\n%s", l.Scripts.PostRemove)
		}
	}
}

func TestLinuxLayoutARM64(t *testing.T) {
	o := linuxOpts(func(o *Options) { o.Arch = ArchARM64; o.Type = TypeRPM })
	reqs, err := ComponentsFor(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Platform != "linux-arm64" {
			t.Errorf("%s platform %s, want linux-arm64", r.Name, r.Platform)
		}
	}
	l, err := NewLayout(o, fakeInputs(t, ArchARM64, false))
	if err != nil {
		t.Fatal(err)
	}
	if e := l.Entry(LinuxOrbitLink); e == nil || e.Link != "/opt/orbit/bin/orbit/linux-arm64/stable/orbit" {
		t.Errorf("orbit link: %+v", e)
	}
	// deb-only entries are not in the rpm.
	for _, e := range l.For(TypeRPM) {
		if strings.HasPrefix(e.Path, "/usr/share/lintian") {
			t.Errorf("rpm carries %s", e.Path)
		}
	}
}

func TestComponentsFor(t *testing.T) {
	tests := []struct {
		typ, arch string
		desktop   bool
		want      []string
	}{
		{TypeDeb, ArchAMD64, false, []string{"orbit/linux/stable/orbit", "osqueryd/linux/stable/osqueryd"}},
		{TypeRPM, ArchARM64, true, []string{"orbit/linux-arm64/stable/orbit", "osqueryd/linux-arm64/stable/osqueryd", "desktop/linux-arm64/stable/desktop.tar.gz"}},
		{TypePkg, ArchAMD64, true, []string{"orbit/macos/stable/orbit", "osqueryd/macos-app/stable/osqueryd.app.tar.gz", "desktop/macos/stable/desktop.app.tar.gz"}},
		{TypeMSI, ArchAMD64, true, []string{"orbit/windows/stable/orbit.exe", "osqueryd/windows/stable/osqueryd.exe", "desktop/windows/stable/fleet-desktop.exe"}},
		{TypeMSI, ArchARM64, false, []string{"orbit/windows-arm64/stable/orbit.exe", "osqueryd/windows-arm64/stable/osqueryd.exe"}},
	}
	for _, tt := range tests {
		o := (&Options{Type: tt.typ, Arch: tt.arch, Desktop: tt.desktop}).WithDefaults()
		var got []string
		reqs, err := ComponentsFor(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			got = append(got, Component{Name: r.Name, Platform: r.Platform, Channel: r.Channel, File: r.File}.TargetPath())
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s/%s: %v, want %v", tt.typ, tt.arch, got, tt.want)
		}
	}
}
