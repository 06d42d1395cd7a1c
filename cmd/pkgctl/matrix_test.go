package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/progress"
	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
)

// TestManifestSettingsHoldNoSecret sets every Secret flag of the table and
// checks that no value reaches the manifest, only the flag names.
func TestManifestSettingsHoldNoSecret(t *testing.T) {
	o := &packaging.Options{Type: "deb", Arch: "amd64", FleetURL: "https://f.example.com", UpdateRoots: `{"signed":{}}`}
	var secretNames []string
	var values []string
	for i, d := range packageFlags(o) {
		if d.Secret {
			v := "SECRET-VALUE-" + d.Name + "-" + string(rune('a'+i))
			*d.Str = v
			values = append(values, v)
			secretNames = append(secretNames, d.Name)
		}
	}
	if len(secretNames) < 3 {
		t.Fatalf("only %d secret flags in the table", len(secretNames))
	}
	res := &packaging.Result{Path: "/out/x.deb", Version: "1.2.3", Size: 3}
	m := &packaging.Manifest{Tool: "pkgctl test"}
	settings, secrets := manifestSettings(o)
	mo, err := packaging.NewManifestOutput(packaging.MatrixOutcome{Build: packaging.MatrixBuild{Name: "x", Options: o}, Result: res, SHA256: "ab"}, "/out", settings, secrets)
	if err != nil {
		t.Fatal(err)
	}
	m.Outputs = append(m.Outputs, mo)
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if bytes.Contains(data, []byte(v)) {
			t.Errorf("manifest holds the value of a secret flag %q", v)
		}
	}
	for _, n := range secretNames {
		if !bytes.Contains(data, []byte(`"`+n+`"`)) {
			t.Errorf("manifest does not say that %s was set", n)
		}
	}
	if bytes.Contains(data, []byte(`{"signed":{}}`)) || !bytes.Contains(data, []byte(`"update-roots": "sha256:`)) {
		t.Errorf("update-roots not replaced by its digest:\n%s", data)
	}
	if !bytes.Contains(data, []byte(`"path": "x.deb"`)) {
		t.Errorf("path not relative to the manifest's directory:\n%s", data)
	}
}

// TestManifestStableOrder: the same outputs in any order give the same bytes.
func TestManifestStableOrder(t *testing.T) {
	mk := func(names ...string) []byte {
		m := &packaging.Manifest{Tool: "pkgctl test"}
		for _, n := range names {
			m.Outputs = append(m.Outputs, packaging.ManifestOutput{Name: n, Path: n + ".deb", Settings: map[string]string{"b": "2", "a": "1"},
				Components: []packaging.ManifestComponent{{Target: "z"}, {Target: "a"}}})
		}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	a, b := mk("one", "two", "three"), mk("three", "one", "two")
	if !bytes.Equal(a, b) {
		t.Errorf("manifest bytes depend on build order:\n%s\n---\n%s", a, b)
	}
	if strings.Index(string(a), `"target": "a"`) > strings.Index(string(a), `"target": "z"`) {
		t.Errorf("components not sorted:\n%s", a)
	}
}

// TestMatrixProgress: one line per build. Off a terminal (CI logs), plain
// lines; the bars on a terminal are tested in internal/progress.
func TestMatrixProgress(t *testing.T) {
	b := packaging.MatrixBuild{Name: "team-a", Options: &packaging.Options{Type: "deb"}}
	c := packaging.MatrixBuild{Name: "team-b", Options: &packaging.Options{Type: "rpm"}}
	ok := &packaging.MatrixOutcome{Build: b, Result: &packaging.Result{Path: "/o/a.deb", Size: 2048}, Duration: 1500 * time.Millisecond}
	bad := &packaging.MatrixOutcome{Build: c, Err: errors.New("disk full")}

	var plain bytes.Buffer
	prog := progress.New(progress.Options{Out: &plain, Interval: time.Hour})
	p := newMatrixProgress(prog, 2)
	p.event(0, b, false, nil)
	p.event(0, b, true, ok)
	p.event(1, c, true, bad)
	prog.Stop()
	want := "team-a: building deb\nteam-a: [1/2] done /o/a.deb (2.0 KiB, 1.5s)\nteam-b: fetching\nteam-b: [2/2] FAILED (the reason follows the summary)\n"
	if plain.String() != want {
		t.Errorf("CI progress:\n%q\nwant\n%q", plain.String(), want)
	}
	newMatrixProgress(nil, 1).event(0, b, true, ok) // --quiet: no progress, no panic
}

// TestMatrixWarningsOnce: a warning that every build of a 9-build matrix gets
// is printed once.
func TestMatrixWarningsOnce(t *testing.T) {
	var errOut bytes.Buffer
	s := Streams{ErrOut: &errOut, ui: &ui{}}
	ws := newWarningSet()
	for i := range 9 {
		ws.add("--fleet-certificate ca.pem: certificate expires soon", fmt.Sprint("b", i))
		ws.add("--update-tls-certificate u.pem: certificate expires soon", fmt.Sprint("b", i))
	}
	ws.add("--local-wix-dir has no effect", "b3")
	ws.print(s, 9)
	s.Warnf("--update-tls-certificate u.pem: certificate expires soon (every build)") // again, at build time
	want := "Warning: --fleet-certificate ca.pem: certificate expires soon (every build)\n" +
		"Warning: --update-tls-certificate u.pem: certificate expires soon (every build)\n" +
		"Warning: --local-wix-dir has no effect (build b3)\n"
	if errOut.String() != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", errOut.String(), want)
	}
	errOut.Reset()
	q := Streams{ErrOut: &errOut, ui: &ui{quiet: true}}
	q.Warnf("anything")
	if errOut.Len() != 0 {
		t.Errorf("--quiet printed %q", errOut.String())
	}
}

func TestWriteSummary(t *testing.T) {
	b := packaging.MatrixBuild{Name: "team-a", Options: &packaging.Options{Type: "deb"}}
	var out bytes.Buffer
	writeSummary(&out, []packaging.MatrixOutcome{
		{Build: b, Result: &packaging.Result{Path: "/o/a.deb", Size: 3 << 20}, Duration: 2 * time.Second},
		{Build: packaging.MatrixBuild{Name: "team-b"}, Err: errors.New("x")},
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "BUILD") || !strings.Contains(lines[1], "/o/a.deb") ||
		!strings.Contains(lines[1], "3.0 MiB") || !strings.Contains(lines[1], "2.0s") || !strings.Contains(lines[2], "FAILED") {
		t.Errorf("summary:\n%s", out.String())
	}
}

// TestMatrixMissingChannelRun: in a --config run, the build whose orbit
// channel the repository lacks fails alone; the others are written, and the
// summary and the error name the failed build and why.
func TestMatrixMissingChannelRun(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`fleet-url: https://fleet.example.com
enroll-secret-env: TEST_SECRET
update-url: %s
update-roots: '%s'
update-tls-certificate: %s
update-tls-client-certificate: %s
update-tls-client-key: %s
cache-dir: ""
builds:
  - {name: deb, type: deb, outfile: %s}
  - {name: nightly, type: deb, arch: arm64, orbit-channel: nightly, outfile: %s}
  - {name: rpm, type: rpm, outfile: %s}
`, env.Server.URL, env.RootJSON, env.ServerCAFile, env.ClientCertFile, env.ClientKeyFile,
		filepath.Join(dir, "a.deb"), filepath.Join(dir, "nightly.deb"), filepath.Join(dir, "a.rpm"))
	path := filepath.Join(dir, "pkgctl.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_SECRET", "s3cret")
	var out, errOut bytes.Buffer
	code := Execute([]string{"package", "--config", path}, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, f := range []string{"a.deb", "a.rpm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s was not built: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nightly.deb")); err == nil {
		t.Error("nightly.deb was written")
	}
	var nightlyRow string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "nightly ") {
			nightlyRow = l
		}
		if (strings.HasPrefix(l, "deb ") || strings.HasPrefix(l, "rpm ")) && !strings.HasSuffix(l, "ok") {
			t.Errorf("summary row %q is not ok", l)
		}
	}
	if !strings.HasSuffix(nightlyRow, "FAILED") {
		t.Errorf("summary has no FAILED row for nightly:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "build nightly failed:") || !strings.Contains(errOut.String(), "orbit/linux-arm64/nightly/orbit") ||
		!strings.Contains(errOut.String(), "1 build(s) failed: nightly") {
		t.Errorf("stderr does not say which build failed and why:\n%s", errOut.String())
	}
}

// TestMatrixWarnsOncePerRun: nine builds share a --fleet-certificate that
// expires soon; the warning is printed once, not once per build.
func TestMatrixWarnsOncePerRun(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	dir := t.TempDir()
	ca, err := testenv.NewCA("soon CA")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	soon, _, err := ca.IssueClientValidity("fleet soon", now.Add(-time.Hour), now.Add(10*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "fleet.pem")
	if err := os.WriteFile(certFile, soon, 0o600); err != nil {
		t.Fatal(err)
	}
	var builds strings.Builder
	for i := range 9 {
		typ := []string{"deb", "rpm", "pkg.tar.zst"}[i%3]
		fmt.Fprintf(&builds, "  - {name: b%d, type: %s, outfile: %s}\n", i, typ, filepath.Join(dir, fmt.Sprintf("b%d.%s", i, typ)))
	}
	cfg := fmt.Sprintf("fleet-url: https://fleet.example.com\nenroll-secret-env: TEST_SECRET\nfleet-certificate: %s\nupdate-url: %s\nupdate-roots: '%s'\n"+
		"update-tls-certificate: %s\nupdate-tls-client-certificate: %s\nupdate-tls-client-key: %s\ncache-dir: \"\"\nbuilds:\n%s",
		certFile, env.Server.URL, env.RootJSON, env.ServerCAFile, env.ClientCertFile, env.ClientKeyFile, builds.String())
	path := filepath.Join(dir, "pkgctl.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_SECRET", "s3cret")
	var out, errOut bytes.Buffer
	if code := Execute([]string{"package", "--config", path}, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}); code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut.String())
	}
	if n := strings.Count(errOut.String(), "expires soon"); n != 1 {
		t.Errorf("the expiry warning was printed %d times, want once:\n%s", n, errOut.String())
	}
	if !strings.Contains(errOut.String(), "(every build)") {
		t.Errorf("the warning does not say it concerns every build:\n%s", errOut.String())
	}
	errOut.Reset()
	if code := Execute([]string{"package", "--config", path, "--quiet"}, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}); code != 0 || errOut.Len() != 0 {
		t.Errorf("--quiet: exit %d, stderr:\n%s", code, errOut.String())
	}
}
