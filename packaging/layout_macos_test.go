package packaging

import (
	"encoding/xml"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeMacInputs are the macOS components as a fetch leaves them.
func fakeMacInputs(t *testing.T, desktop bool) Inputs {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	comps := []Component{
		{Name: "orbit", Platform: "macos", Channel: "stable", File: "orbit", Source: write("orbit", "orbit-bin"), Version: "1.40.0"},
		{Name: "osqueryd", Platform: "macos-app", Channel: "edge", File: "osqueryd.app.tar.gz", Source: write("o.tgz", "tgz"), Version: "5.1.0",
			Extracted: []ExtractedEntry{
				{Rel: "osquery.app", Kind: KindDir, Mode: 0o755},
				{Rel: "osquery.app/Contents", Kind: KindDir, Mode: 0o755},
				{Rel: "osquery.app/Contents/MacOS", Kind: KindDir, Mode: 0o755},
				{Rel: "osquery.app/Contents/MacOS/osqueryd", Kind: KindFile, Mode: 0o755, Source: write("osqueryd", "osqueryd-bin")},
			}},
	}
	if desktop {
		comps = append(comps, Component{Name: "desktop", Platform: "macos", Channel: "stable", File: "desktop.app.tar.gz", Source: write("d.tgz", "tgz"), Version: "1.40.0",
			Extracted: []ExtractedEntry{
				{Rel: "Fleet Desktop.app/Contents/MacOS/fleet-desktop", Kind: KindFile, Mode: 0o755, Source: write("fd", "fleet-desktop-bin")},
			}})
	}
	return Inputs{Components: comps, TUFMetadata: []byte(`{"root.json":{}}` + "\n"), MTime: time.Unix(1700000000, 0)}
}

func macOpts(mod func(*Options)) *Options {
	o := &Options{Type: TypePkg, StartService: true, OsquerydChannel: "edge"}
	if mod != nil {
		mod(o)
	}
	return o.WithDefaults()
}

// TestMacOSLayoutFacts checks each fact of fleetd-compat.md §2.1.
func TestMacOSLayoutFacts(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"ca.pem": "CA", "c.crt": "CRT", "c.key": "KEY", "u.crt": "UCRT", "u.key": "UKEY"} {
		os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600)
	}
	o := macOpts(func(o *Options) {
		o.FleetURL, o.EnrollSecret = "https://fleet.example.com", "s3cret"
		o.FleetCertificate = filepath.Join(dir, "ca.pem")
		o.FleetTLSClientCertificate, o.FleetTLSClientKey = filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
		o.UpdateTLSClientCertificate, o.UpdateTLSClientKey = filepath.Join(dir, "u.crt"), filepath.Join(dir, "u.key")
		o.Desktop = true
	})
	l, err := NewLayout(o, fakeMacInputs(t, true))
	if err != nil {
		t.Fatal(err)
	}
	if l.OS != OSMacOS || l.Version != "1.40.0" || l.Identifier != "com.fleetdm.orbit" {
		t.Errorf("layout OS %q version %q identifier %q", l.OS, l.Version, l.Identifier)
	}
	want := map[string]struct {
		kind Kind
		mode fs.FileMode
		data string
	}{
		"/opt":                                    {KindDir, 0o755, ""},
		"/opt/orbit":                              {KindDir, 0o755, ""},
		"/opt/orbit/staging":                      {KindDir, 0o755, ""},
		"/opt/orbit/secret.txt":                   {KindFile, 0o600, "s3cret"},
		"/opt/orbit/fleet.pem":                    {KindFile, 0o644, "CA"},
		"/opt/orbit/fleet_client.crt":             {KindFile, 0o600, "CRT"},
		"/opt/orbit/fleet_client.key":             {KindFile, 0o600, "KEY"},
		"/opt/orbit/update_client.crt":            {KindFile, 0o600, "UCRT"},
		"/opt/orbit/update_client.key":            {KindFile, 0o600, "UKEY"},
		"/opt/orbit/updates-metadata.json":        {KindFile, 0o600, "{\"root.json\":{}}\n"},
		"/opt/orbit/tuf-metadata.json":            {KindFile, 0o600, "{\"root.json\":{}}\n"},
		"/opt/orbit/bin/orbit/macos/stable/orbit": {KindFile, 0o755, ""},
		"/opt/orbit/bin/osqueryd/macos-app/edge/osqueryd.app.tar.gz":                         {KindFile, 0o755, ""},
		"/opt/orbit/bin/osqueryd/macos-app/edge/osquery.app/Contents/MacOS/osqueryd":         {KindFile, 0o755, ""},
		"/opt/orbit/bin/desktop/macos/stable/desktop.app.tar.gz":                             {KindFile, 0o755, ""},
		"/opt/orbit/bin/desktop/macos/stable/Fleet Desktop.app/Contents/MacOS/fleet-desktop": {KindFile, 0o755, ""},
		"/Library/LaunchDaemons/com.fleetdm.orbit.plist":                                     {KindFile, 0o644, ""},
	}
	for p, w := range want {
		e := l.Entry(p)
		if e == nil {
			t.Errorf("no entry %s", p)
			continue
		}
		if e.Kind != w.kind || e.Mode != w.mode {
			t.Errorf("%s: %v %o, want %v %o", p, e.Kind, e.Mode, w.kind, w.mode)
		}
		if w.data != "" && string(e.Data) != w.data {
			t.Errorf("%s holds %q, want %q", p, e.Data, w.data)
		}
	}
	for _, e := range l.Entries {
		if e.UID != 0 || e.GID != 80 {
			t.Errorf("%s owned %d:%d, want 0:80", e.Path, e.UID, e.GID)
		}
		if e.Kind == KindSymlink {
			t.Errorf("%s: the payload must hold no symlinks", e.Path)
		}
		if strings.HasSuffix(e.Path, ".key") && !e.Secret {
			t.Errorf("%s is a key but not marked secret", e.Path)
		}
	}
	for _, p := range []string{"/opt/orbit/bin/orbit/orbit", "/usr/local/bin/orbit", "/etc/default/orbit"} {
		if l.Entry(p) != nil {
			t.Errorf("%s must not be in the payload", p)
		}
	}
	post := l.Scripts.PostInstall
	for _, s := range []string{
		`ln -sf /opt/orbit/bin/orbit/macos/stable/orbit "$DEST/opt/orbit/bin/orbit/orbit"`,
		`ln -sf /opt/orbit/bin/orbit/orbit "$DEST/usr/local/bin/orbit"`,
		"launchctl bootstrap system /Library/LaunchDaemons/com.fleetdm.orbit.plist",
		"launchctl kickstart system/com.fleetdm.orbit",
		"/opt/orbit/.inband_upgrade",
	} {
		if !strings.Contains(post, s) {
			t.Errorf("postinstall lacks %q:\n%s", s, post)
		}
	}
}

func TestMacOSLayoutNoSecretNoService(t *testing.T) {
	l, err := NewLayout(macOpts(func(o *Options) { o.StartService = false }), fakeMacInputs(t, false))
	if err != nil {
		t.Fatal(err)
	}
	// fleetctl's writeMacOSSecret writes no secret.txt without --enroll-secret.
	for _, p := range []string{"/opt/orbit/secret.txt", MacOSLaunchdPlist, "/Library", "/opt/orbit/bin/desktop"} {
		if l.Entry(p) != nil {
			t.Errorf("%s present without --service/--fleet-desktop", p)
		}
	}
	if strings.Contains(l.Scripts.PostInstall, "launchctl") || !strings.Contains(l.Scripts.PostInstall, "ln -sf") {
		t.Errorf("postinstall with --service=false:\n%s", l.Scripts.PostInstall)
	}
}

// plistEnv reads the EnvironmentVariables of a launchd plist with encoding/xml.
func plistEnv(t *testing.T, data []byte) []string {
	t.Helper()
	var doc struct {
		Dict struct {
			Inner []struct {
				Keys    []string `xml:"key"`
				Strings []string `xml:"string"`
			} `xml:"dict"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("plist is not XML: %v\n%s", err, data)
	}
	if len(doc.Dict.Inner) != 1 || len(doc.Dict.Inner[0].Keys) != len(doc.Dict.Inner[0].Strings) {
		t.Fatalf("EnvironmentVariables malformed:\n%s", data)
	}
	var out []string
	for i, k := range doc.Dict.Inner[0].Keys {
		out = append(out, k+"="+doc.Dict.Inner[0].Strings[i])
	}
	return out
}

func TestMacOSPlistEnv(t *testing.T) {
	tricky := `https://fleet.example.com/a?b=1&c="d"<e>'f' ünïcødé`
	tests := []struct {
		name string
		mod  func(*Options)
		want []string
	}{
		{"minimal", nil, []string{
			"ORBIT_ORBIT_CHANNEL=stable", "ORBIT_OSQUERYD_CHANNEL=edge",
			"ORBIT_UPDATE_URL=https://updates.fleetdm.com", "ORBIT_UPDATE_INTERVAL=15m0s",
		}},
		{"everything", func(o *Options) {
			o.Debug, o.Insecure, o.EnrollSecret, o.FleetURL = true, true, "x", tricky
			o.UseSystemConfiguration, o.EnableScripts, o.DisableUpdates = true, true, true
			o.UpdateTLSServerCertificate = "/tmp/u.pem"
			o.Desktop, o.FleetDesktopAlternativeBrowserHost = true, "alt.example.com:8443"
			o.OrbitUpdateInterval = 30 * time.Minute
			o.HostIdentifier, o.DisableKeystore, o.OsqueryDB, o.BypassEndUserAuth = "instance", true, "/var/db x", true
		}, []string{
			"ORBIT_DEBUG=true", "ORBIT_INSECURE=true", "ORBIT_ENROLL_SECRET_PATH=/opt/orbit/secret.txt",
			"ORBIT_FLEET_URL=" + tricky, "ORBIT_USE_SYSTEM_CONFIGURATION=true", "ORBIT_ENABLE_SCRIPTS=true",
			"ORBIT_DISABLE_UPDATES=true", "ORBIT_ORBIT_CHANNEL=stable", "ORBIT_OSQUERYD_CHANNEL=edge",
			"ORBIT_UPDATE_URL=https://updates.fleetdm.com", "ORBIT_UPDATE_TLS_CERTIFICATE=/opt/orbit/update.pem",
			"ORBIT_FLEET_DESKTOP=true", "ORBIT_DESKTOP_CHANNEL=stable",
			"ORBIT_FLEET_DESKTOP_ALTERNATIVE_BROWSER_HOST=alt.example.com:8443",
			"ORBIT_UPDATE_INTERVAL=30m0s", "ORBIT_HOST_IDENTIFIER=instance", "ORBIT_DISABLE_KEYSTORE=true",
			"ORBIT_OSQUERY_DB=/var/db x", "ORBIT_BYPASS_END_USER_AUTH=true",
		}},
		{"fleet certificate, alt host without desktop", func(o *Options) {
			o.FleetCertificate, o.FleetDesktopAlternativeBrowserHost = "/tmp/ca.pem", "alt"
		}, []string{
			"ORBIT_FLEET_CERTIFICATE=/opt/orbit/fleet.pem", "ORBIT_ORBIT_CHANNEL=stable", "ORBIT_OSQUERYD_CHANNEL=edge",
			"ORBIT_UPDATE_URL=https://updates.fleetdm.com", "ORBIT_UPDATE_INTERVAL=15m0s",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := macOpts(tt.mod)
			o.FleetCertificate, o.UpdateTLSServerCertificate = "", "" // not read: paths only matter for the env
			env := macosEnv(macOpts(tt.mod))
			var got []string
			for _, e := range env {
				got = append(got, e.Key+"="+e.Value)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("env:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			l, err := NewLayout(o, fakeMacInputs(t, o.Desktop))
			if err != nil {
				t.Fatal(err)
			}
			parsed := plistEnv(t, l.Entry(MacOSLaunchdPlist).Data)
			var wantParsed []string
			for _, w := range tt.want {
				if !strings.HasPrefix(w, "ORBIT_FLEET_CERTIFICATE") && !strings.HasPrefix(w, "ORBIT_UPDATE_TLS_CERTIFICATE") {
					wantParsed = append(wantParsed, w)
				}
			}
			if strings.Join(parsed, "\n") != strings.Join(wantParsed, "\n") {
				t.Errorf("plist parsed back:\n%s\nwant:\n%s", strings.Join(parsed, "\n"), strings.Join(wantParsed, "\n"))
			}
		})
	}
}

func TestMacOSLayoutRefuses(t *testing.T) {
	tests := []struct {
		name, flag string
		mod        func(*Options)
	}{
		{"invalid UTF-8 URL", "fleet-url", func(o *Options) { o.FleetURL, o.EnrollSecret = "https://f\xff.example.com", "s" }},
		{"U+FFFE in identifier", "identifier", func(o *Options) { o.Identifier = "com.x\uFFFE" }},
		{"secret with trailing space", "enroll-secret", func(o *Options) { o.FleetURL, o.EnrollSecret = "https://f", "abc " }},
		{"shell in channel", "orbit-channel", func(o *Options) { o.OrbitChannel = "a;rm" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLayout(macOpts(tt.mod), fakeMacInputs(t, false))
			fe, ok := err.(*FlagError)
			if !ok || fe.Flag != tt.flag {
				t.Fatalf("err = %v, want a FlagError for --%s", err, tt.flag)
			}
			if strings.Contains(err.Error(), "abc ") {
				t.Errorf("error echoes the secret: %v", err)
			}
		})
	}
}

// TestLegacyVarLibLink: orbit before 0.0.11 gets /var/lib/orbit → /opt/orbit,
// as fleetctl links it (pkg: in the postinstall; Linux: in the package).
func TestLegacyVarLibLink(t *testing.T) {
	for _, v := range []string{"0.0.10", "0.0.11", "1.40.0"} {
		legacy := v == "0.0.10"
		in := fakeMacInputs(t, false)
		for i := range in.Components {
			if in.Components[i].Name == "orbit" {
				in.Components[i].Version = v
			}
		}
		l, err := NewLayout(macOpts(nil), in)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(l.Scripts.PostInstall, `ln -sf /opt/orbit "$DEST/var/lib/orbit"`); got != legacy {
			t.Errorf("orbit %s: pkg postinstall links /var/lib/orbit: %v, want %v", v, got, legacy)
		}
		lin := fakeInputs(t, ArchAMD64, false)
		for i := range lin.Components {
			if lin.Components[i].Name == "orbit" {
				lin.Components[i].Version = v
			}
		}
		ll, err := NewLayout(linuxOpts(nil), lin)
		if err != nil {
			t.Fatal(err)
		}
		e := ll.Entry("/var/lib/orbit")
		if (e != nil) != legacy || (e != nil && (e.Kind != KindSymlink || e.Link != "/opt/orbit")) {
			t.Errorf("orbit %s: Linux /var/lib/orbit = %+v, want a link only before 0.0.11", v, e)
		}
	}
}
