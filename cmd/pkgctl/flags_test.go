package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/packaging"
)

// fleetctlFlags is `fleetctl package`'s flag set (fleetd-compat.md §1), written
// out independently of packageFlags so that a drift in name, type, default or
// environment variable fails here.
var fleetctlFlags = []struct {
	name, typ, def, env string
}{
	{"type", "string", "", ""},
	{"arch", "string", "amd64", ""},
	{"enroll-secret", "string", "", ""},
	{"fleet-url", "string", "", ""},
	{"fleet-certificate", "string", "", ""},
	{"fleet-tls-client-certificate", "string", "", ""},
	{"fleet-tls-client-key", "string", "", ""},
	{"fleet-desktop-alternative-browser-host", "string", "", ""},
	{"identifier", "string", "com.fleetdm.orbit", ""},
	{"insecure", "bool", "false", ""},
	{"service", "bool", "true", ""},
	{"sign-identity", "string", "", ""},
	{"notarize", "bool", "false", ""},
	{"osqueryd-channel", "string", "stable", ""},
	{"desktop-channel", "string", "stable", ""},
	{"orbit-channel", "string", "stable", ""},
	{"disable-updates", "bool", "false", ""},
	{"disable-setup-experience", "bool", "false", ""},
	{"bypass-end-user-auth", "bool", "false", ""},
	{"update-url", "string", "https://updates.fleetdm.com", ""},
	{"update-roots", "string", "", ""},
	{"update-tls-certificate", "string", "", ""},
	{"update-tls-client-certificate", "string", "", ""},
	{"update-tls-client-key", "string", "", ""},
	{"osquery-flagfile", "string", "", ""},
	{"debug", "bool", "false", ""},
	{"verbose", "bool", "false", ""},
	{"fleet-desktop", "bool", "false", ""},
	{"update-interval", "duration", "15m0s", ""},
	{"disable-open-folder", "bool", "false", ""},
	{"native-tooling", "bool", "false", "FLEETCTL_NATIVE_TOOLING"},
	{"local-wix-dir", "string", "", ""},
	{"macos-devid-pem-content", "string", "", "FLEETCTL_MACOS_DEVID_PEM_CONTENT"},
	{"app-store-connect-api-key-id", "string", "", "FLEETCTL_APP_STORE_CONNECT_API_KEY_ID"},
	{"app-store-connect-api-key-issuer", "string", "", "FLEETCTL_APP_STORE_CONNECT_API_KEY_ISSUER"},
	{"app-store-connect-api-key-content", "string", "", "FLEETCTL_APP_STORE_CONNECT_API_KEY_CONTENT"},
	{"use-system-configuration", "bool", "false", "FLEETCTL_USE_SYSTEM_CONFIGURATION"},
	{"enable-scripts", "bool", "false", "FLEETCTL_ENABLE_SCRIPTS"},
	{"host-identifier", "string", "uuid", "FLEETCTL_HOST_IDENTIFIER"},
	{"end-user-email", "string", "", "FLEETCTL_END_USER_EMAIL"},
	{"disable-keystore", "bool", "false", "FLEETCTL_DISABLE_KEYSTORE"},
	{"osquery-db", "string", "", "FLEETCTL_OSQUERY_DB"},
	{"outfile", "string", "", ""},
	{"fleet-managed-host-identity-certificate", "bool", "false", "FLEETCTL_FLEET_MANAGED_HOST_IDENTITY_CERTIFICATE"},
	{"cpu-quota", "string", "20", "FLEETCTL_CPU_QUOTA"}, // Fleet 4.93.0 (PR #53069)
}

func TestFleetctlFlagsExist(t *testing.T) {
	if len(fleetctlFlags) != 45 {
		t.Fatalf("the fleetctl table has %d flags, fleetd-compat.md lists 45 (with 4.93's --cpu-quota)", len(fleetctlFlags))
	}
	cmd := NewCmdPackage(Streams{}, nil)
	var o packaging.Options
	defs := map[string]flagDef{}
	for _, d := range packageFlags(&o) {
		defs[d.Name] = d
	}
	for _, want := range fleetctlFlags {
		t.Run(want.name, func(t *testing.T) {
			f := cmd.Flags().Lookup(want.name)
			if f == nil {
				t.Fatalf("--%s is missing", want.name)
			}
			if f.Value.Type() != want.typ {
				t.Errorf("--%s type = %s, want %s", want.name, f.Value.Type(), want.typ)
			}
			if f.DefValue != want.def {
				t.Errorf("--%s default = %q, want %q", want.name, f.DefValue, want.def)
			}
			if got := defs[want.name].Env; got != want.env {
				t.Errorf("--%s env = %q, want %q", want.name, got, want.env)
			}
			if want.env != "" && !strings.Contains(f.Usage, "$"+want.env) {
				t.Errorf("--%s help does not mention $%s", want.name, want.env)
			}
		})
	}
	// No --version: the package version is orbit's, from TUF.
	if cmd.Flags().Lookup("version") != nil {
		t.Error("package must not have --version")
	}
}

// runPackageParse runs `pkgctl package args…` with env as the environment, up
// to the build, and returns the options the build would get.
func runPackageParse(t *testing.T, env map[string]string, args ...string) (*packaging.Options, error) {
	t.Helper()
	var got *packaging.Options
	var out, errOut bytes.Buffer
	s := Streams{Out: &out, ErrOut: &errOut}
	opts := &PackageOptions{Streams: s, Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	cmd := newCmdPackage(opts, func(o *PackageOptions) error {
		got = &o.Options
		return nil
	})
	root := NewCmdRoot(s)
	root.RemoveCommand(root.Commands()...)
	root.AddCommand(cmd)
	root.SetArgs(normalizeArgs(root, append([]string{"package"}, args...)))
	err := root.Execute()
	return got, err
}

func TestEnvironmentVariables(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(*packaging.Options) bool
		err   string
	}{
		{"bool from env", map[string]string{"FLEETCTL_ENABLE_SCRIPTS": "true"}, nil,
			func(o *packaging.Options) bool { return o.EnableScripts }, ""},
		{"string from env", map[string]string{"FLEETCTL_END_USER_EMAIL": "a@b.c"}, nil,
			func(o *packaging.Options) bool { return o.EndUserEmail == "a@b.c" }, ""},
		{"flag beats env", map[string]string{"FLEETCTL_HOST_IDENTIFIER": "instance"}, []string{"--host-identifier=uuid"},
			func(o *packaging.Options) bool { return o.HostIdentifier == "uuid" }, ""},
		{"bad bool names the variable", map[string]string{"FLEETCTL_DISABLE_KEYSTORE": "maybe"}, nil, nil, "FLEETCTL_DISABLE_KEYSTORE"},
		{"cpu quota from env", map[string]string{"FLEETCTL_CPU_QUOTA": "50%"}, nil,
			func(o *packaging.Options) bool { return o.CPUQuota == "50%" }, ""},
		{"flag without env ignores lookalike", map[string]string{"FLEETCTL_INSECURE": "true"}, nil,
			func(o *packaging.Options) bool { return !o.Insecure }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := runPackageParse(t, tt.env, append([]string{"--type=deb"}, tt.args...)...)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("options not as expected: %+v", o)
			}
		})
	}
}

func TestSingleDashFlags(t *testing.T) {
	o, err := runPackageParse(t, nil, "-type=rpm", "-fleet-url", "https://f.example.com", "-enroll-secret=x", "-fleet-desktop", "--arch=arm64", "-update-interval=1h")
	if err != nil {
		t.Fatal(err)
	}
	want := packaging.Options{Type: "rpm", FleetURL: "https://f.example.com", EnrollSecret: "x", Desktop: true, Arch: "arm64", OrbitUpdateInterval: time.Hour}
	got := packaging.Options{Type: o.Type, FleetURL: o.FleetURL, EnrollSecret: o.EnrollSecret, Desktop: o.Desktop, Arch: o.Arch, OrbitUpdateInterval: o.OrbitUpdateInterval}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if !o.ArchSet {
		t.Error("ArchSet not recorded")
	}
}

func TestServiceFalse(t *testing.T) {
	o, err := runPackageParse(t, nil, "--type=deb", "--service=false")
	if err != nil {
		t.Fatal(err)
	}
	if o.StartService {
		t.Error("--service=false not applied")
	}
	o, err = runPackageParse(t, nil, "--type=deb")
	if err != nil {
		t.Fatal(err)
	}
	if !o.StartService {
		t.Error("--service must default to true")
	}
}

func TestNormalizeArgsNested(t *testing.T) {
	root := NewCmdRoot(Streams{})
	tests := []struct{ in, want []string }{
		{[]string{"package", "-type=deb", "-fleet-url", "x"}, []string{"package", "--type=deb", "--fleet-url", "x"}},
		{[]string{"updates", "add", "-target=f", "-name", "orbit", "-t", "stable"}, []string{"updates", "add", "--target=f", "--name", "orbit", "-t", "stable"}},
		{[]string{"updates", "init", "-path=/r"}, []string{"updates", "init", "--path=/r"}},
		// -type is not a flag of updates init: left for cobra to refuse.
		{[]string{"updates", "init", "-type=deb"}, []string{"updates", "init", "-type=deb"}},
		{[]string{"package", "--", "-type=deb"}, []string{"package", "--", "-type=deb"}},
	}
	for _, tt := range tests {
		got := normalizeArgs(root, tt.in)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("normalizeArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
