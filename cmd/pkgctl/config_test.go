package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/pkgctl/pkgctl/packaging"
)

// parseWithConfig runs flag parsing and environment handling as `pkgctl
// package` does, then resolves the config file's builds.
func parseWithConfig(t *testing.T, yamlText string, env map[string]string, args ...string) ([]resolvedBuild, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pkgctl.yaml")
	if err := os.WriteFile(path, []byte(yamlText), 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var got []resolvedBuild
	var rerr error
	s := Streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
	opts := &PackageOptions{Streams: s, Getenv: getenv}
	var cmd *cobra.Command
	cmd = newCmdPackage(opts, func(o *PackageOptions) error {
		cf, err := loadConfig(path, packageFlags(&packaging.Options{}), getenv)
		if err != nil {
			rerr = err
			return nil
		}
		got, rerr = resolveBuilds(cf, cmd.Flags())
		return nil
	})
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		return nil, err
	}
	return got, rerr
}

func TestConfigPrecedence(t *testing.T) {
	const file = `
fleet-url: https://file-default.example.com
host-identifier: instance
end-user-email: file@example.com
update-interval: 30m
orbit-channel: edge
builds:
  - name: one
    type: deb
    fleet-url: https://entry.example.com
    end-user-email: entry@example.com
    orbit-channel: beta
`
	tests := []struct {
		name string
		env  map[string]string
		args []string
		get  func(*packaging.Options) string
		want string
	}{
		{"built-in default", nil, nil, func(o *packaging.Options) string { return o.Identifier }, "com.fleetdm.orbit"},
		{"file default beats built-in", nil, nil, func(o *packaging.Options) string { return o.OrbitUpdateInterval.String() }, "30m0s"},
		{"entry beats file default", nil, nil, func(o *packaging.Options) string { return o.FleetURL }, "https://entry.example.com"},
		{"entry beats file default (channel)", nil, nil, func(o *packaging.Options) string { return o.OrbitChannel }, "beta"},
		{"file default kept when entry is silent", nil, nil, func(o *packaging.Options) string { return o.HostIdentifier }, "instance"},
		{"env beats entry", map[string]string{"FLEETCTL_END_USER_EMAIL": "env@example.com"}, nil, func(o *packaging.Options) string { return o.EndUserEmail }, "env@example.com"},
		{"env beats file default", map[string]string{"FLEETCTL_HOST_IDENTIFIER": "uuid"}, nil, func(o *packaging.Options) string { return o.HostIdentifier }, "uuid"},
		{"flag beats env", map[string]string{"FLEETCTL_END_USER_EMAIL": "env@example.com"}, []string{"--end-user-email=flag@example.com"}, func(o *packaging.Options) string { return o.EndUserEmail }, "flag@example.com"},
		{"flag beats entry", nil, []string{"--fleet-url=https://flag.example.com"}, func(o *packaging.Options) string { return o.FleetURL }, "https://flag.example.com"},
		{"flag beats file default", nil, []string{"--update-interval=1h"}, func(o *packaging.Options) string { return o.OrbitUpdateInterval.String() }, "1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			builds, err := parseWithConfig(t, file, tt.env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if len(builds) != 1 || builds[0].Name != "one" {
				t.Fatalf("builds = %+v", builds)
			}
			if got := tt.get(builds[0].Options); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigBuildsAndSecrets(t *testing.T) {
	const file = `
enroll-secret-env: DEFAULT_SECRET
fleet-desktop: true
builds:
  - {name: a-deb, type: deb, fleet-url: https://a.example.com, enroll-secret-env: TEAM_A, outfile: a.deb}
  - {name: b-rpm, type: rpm, arch: arm64, fleet-url: https://b.example.com, outfile: b.rpm, fleet-desktop: false}
`
	builds, err := parseWithConfig(t, file, map[string]string{"DEFAULT_SECRET": "dflt", "TEAM_A": "secret-a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(builds) != 2 {
		t.Fatalf("%d builds", len(builds))
	}
	a, b := builds[0].Options, builds[1].Options
	if a.EnrollSecret != "secret-a" || b.EnrollSecret != "dflt" {
		t.Errorf("secrets %q %q", a.EnrollSecret, b.EnrollSecret)
	}
	if !a.Desktop || b.Desktop || a.Arch != "amd64" || b.Arch != "arm64" || !b.ArchSet || a.ArchSet {
		t.Errorf("a %+v\nb %+v", a, b)
	}
	if a.Type != "deb" || b.Type != "rpm" || a.CustomOutfile != "a.deb" {
		t.Errorf("types %q %q", a.Type, b.Type)
	}
}

// TestConfigErrors: every bad config names the file, the line and the key.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        map[string]string
		want       string // after "<file>:"
	}{
		{"unknown key", "fleet-url: https://x\nfleet-ulr: https://y\n", nil, `2: fleet-ulr: unknown key: not a flag of pkgctl package (did you mean fleet-url?)`},
		{"unknown key in build", "builds:\n  - type: deb\n    tpye: rpm\n", nil, `3: tpye: unknown key: not a flag of pkgctl package (did you mean type?)`},
		{"unknown key far from any", "builds:\n  - type: deb\n    colour: blue\n", nil, `3: colour: unknown key: not a flag of pkgctl package (see pkgctl package --help)`},
		{"literal secret", "enroll-secret: hunter2\n", nil, `1: enroll-secret: secrets are not allowed in the config file; name an environment variable with enroll-secret-env`},
		{"literal devid pem", "builds:\n  - macos-devid-pem-content: x\n", nil, `2: macos-devid-pem-content: secrets are not allowed`},
		{"missing secret variable", "builds:\n  - type: deb\n    enroll-secret-env: TEAM_X\n", nil, `3: enroll-secret-env: environment variable TEAM_X is not set`},
		{"empty secret variable", "enroll-secret-env: EMPTY\n", map[string]string{"EMPTY": ""}, `1: enroll-secret-env: environment variable EMPTY is empty`},
		{"-env on a non-secret", "fleet-url-env: X\n", nil, `1: fleet-url-env: unknown key`},
		{"bool as string", "fleet-desktop: \"yes\"\n", nil, `1: fleet-desktop: want true or false`},
		{"string as bool", "fleet-url: true\n", nil, `1: fleet-url: want a string, got bool`},
		{"string as list", "type:\n  - deb\n", nil, `2: type: want a string`},
		{"bad duration", "update-interval: soon\n", nil, `1: update-interval: want a duration`},
		{"null value", "fleet-url:\n", nil, `1: fleet-url: want a string`},
		{"builds not a list", "builds: deb\n", nil, `1: builds: want a list of builds`},
		{"empty builds", "builds: []\n", nil, `1: builds: the list is empty`},
		{"build not a mapping", "builds:\n  - deb\n", nil, `2: builds: each build must be a mapping`},
		{"duplicate name", "builds:\n  - {name: a, type: deb}\n  - {name: a, type: rpm}\n", nil, `3: name: "a" is already the name of the build at line 2`},
		{"duplicate key", "type: deb\ntype: rpm\n", nil, `2: type: given twice (first at line 1)`},
		{"nested builds", "builds:\n  - builds: []\n", nil, `2: builds: builds cannot be nested`},
		{"not a mapping", "- deb\n", nil, `1: want a mapping`},
		{"empty file", "", nil, `1: the file is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseWithConfig(t, tt.yaml, tt.env)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "pkgctl.yaml:"+tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, "pkgctl.yaml:"+tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error repeats the secret: %v", err)
			}
		})
	}
	// A YAML syntax error names the file and the line too.
	_, err := parseWithConfig(t, "type: deb\n  arch: [\n", nil)
	if err == nil || !strings.Contains(err.Error(), "pkgctl.yaml") || !strings.Contains(err.Error(), "line") {
		t.Errorf("syntax error: %v", err)
	}
}

// TestConfigKeysFollowFlagTable: every flag of the table is a key, so flags
// added later are config keys without touching config.go.
func TestConfigKeysFollowFlagTable(t *testing.T) {
	var b strings.Builder
	b.WriteString("builds:\n  - type: deb\n")
	env := map[string]string{}
	for _, d := range packageFlags(&packaging.Options{}) {
		switch {
		case d.Secret:
			b.WriteString("    " + d.Name + "-env: V_" + strings.ReplaceAll(d.Name, "-", "_") + "\n")
			env["V_"+strings.ReplaceAll(d.Name, "-", "_")] = "x"
		case d.Bool != nil:
			b.WriteString("    " + d.Name + ": true\n")
		case d.Dur != nil:
			b.WriteString("    " + d.Name + ": 2h\n")
		case d.Name != "type":
			b.WriteString("    " + d.Name + ": v\n")
		}
	}
	builds, err := parseWithConfig(t, b.String(), env)
	if err != nil {
		t.Fatal(err)
	}
	if o := builds[0].Options; o.OrbitUpdateInterval != 2*time.Hour || !o.Desktop || o.EnrollSecret != "x" || o.CacheDir != "v" {
		t.Errorf("not every key applied: %+v", o)
	}
}

// TestFindConfig: ./pkgctl.yaml is used only when neither --config nor --type
// is given, so fleetctl-style calls never pick it up.
func TestFindConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if got, err := findConfig("", false); err != nil || got != "" {
		t.Errorf("no file: %q %v", got, err)
	}
	if err := os.WriteFile(defaultConfigFile, []byte("type: deb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		flag      string
		typeGiven bool
		want      string
	}{
		{"", false, defaultConfigFile},
		{"", true, ""},
		{"other.yaml", true, "other.yaml"},
		{"other.yaml", false, "other.yaml"},
	} {
		if got, err := findConfig(tt.flag, tt.typeGiven); err != nil || got != tt.want {
			t.Errorf("findConfig(%q, %v) = %q, %v; want %q", tt.flag, tt.typeGiven, got, err, tt.want)
		}
	}
}
