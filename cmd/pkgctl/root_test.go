package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Execute(args, Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func TestVersionFlag(t *testing.T) {
	code, out, _ := run(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "pkgctl version ") {
		t.Errorf("pkgctl --version: exit %d, %q", code, out)
	}
}

// TestResolveVersion: a `go install …@v1.2.3` binary reports its module version.
func TestResolveVersion(t *testing.T) {
	tests := []struct {
		linked, module, want string
	}{
		{"v1.0.0", "v0.9.0", "v1.0.0"}, // -ldflags -X wins
		{"dev", "v1.2.3", "v1.2.3"},    // go install …@v1.2.3 / @latest
		{"dev", "(devel)", "dev"},      // go build in a checkout
		{"dev", "", "dev"},
	}
	for _, tt := range tests {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/pkgctl/pkgctl", Version: tt.module}}
		if got := resolveVersion(tt.linked, info); got != tt.want {
			t.Errorf("resolveVersion(%q, %q) = %q, want %q", tt.linked, tt.module, got, tt.want)
		}
	}
	if got := resolveVersion("dev", nil); got != "dev" {
		t.Errorf("no build info: %q", got)
	}
}

// TestDidYouMean: a misspelled flag is a usage error (exit 2) naming the flag meant.
func TestDidYouMean(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"package", "--type=deb", "--fleet-ulr=https://x"}, "unknown flag: --fleet-ulr (did you mean --fleet-url?)"},
		{[]string{"package", "--enrol-secret=x"}, "(did you mean --enroll-secret?)"},
		{[]string{"updates", "add", "--platfrom=linux"}, "(did you mean --platform?)"},
		{[]string{"package", "--quite"}, "(did you mean --quiet?)"},
	}
	for _, tt := range tests {
		code, _, errOut := run(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
	if code, _, errOut := run(t, "package", "--zzzzzzzz"); code != 2 || strings.Contains(errOut, "did you mean") {
		t.Errorf("a flag close to nothing: exit %d, %q", code, errOut)
	}
}

func TestSuggest(t *testing.T) {
	names := []string{"fleet-url", "fleet-certificate", "type", "arch", "update-url"}
	for _, tt := range []struct{ word, want string }{
		{"fleet-ulr", "fleet-url"}, {"tpye", "type"}, {"ach", "arch"}, {"udpate-url", "update-url"},
		{"xyz", ""}, {"fleet", ""},
	} {
		if got := suggest(tt.word, names); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

// TestExitCodes: each kind of error maps to its code in one place.
func TestExitCodes(t *testing.T) {
	if code, _, _ := run(t, "package", "--type=nope"); code != 2 {
		t.Errorf("invalid --type: exit %d, want 2", code)
	}
	if code, _, _ := run(t, "updates", "rotate", "admin"); code != 2 {
		t.Errorf("bad role: exit %d, want 2", code)
	}
	if exitCode(errInterrupted) != 130 || exitCode(nil) != 0 || exitCode(os.ErrNotExist) != 1 {
		t.Error("exitCode mapping")
	}
}

// TestQuiet: --quiet prints errors, and nothing else, for a refused build.
func TestQuiet(t *testing.T) {
	code, out, errOut := run(t, "package", "--quiet", "--type=deb", "--fleet-url=https://x", "--enroll-secret=s", "--outfile=/nonexistent/dir/x.deb")
	if code != 2 || out != "" || !strings.HasPrefix(errOut, "Error: ") || strings.Contains(errOut, "Warning") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestCompletions asks cobra's completion machinery, as the shell scripts do.
func TestCompletions(t *testing.T) {
	tests := []struct {
		args []string
		want []string
		dir  string // the directive line
	}{
		{[]string{"package", "--type", ""}, []string{"pkg", "deb", "rpm", "msi", "pkg.tar.zst"}, ":4"},
		{[]string{"package", "--arch", "a"}, []string{"amd64", "arm64"}, ":4"},
		{[]string{"package", "--orbit-channel", ""}, []string{"stable", "edge"}, ":4"},
		{[]string{"updates", "rotate", ""}, []string{"root", "targets", "snapshot", "timestamp"}, ":4"},
		{[]string{"updates", "add", "--platform", "win"}, []string{"windows", "windows-arm64"}, ":4"},
		{[]string{"package", "--fleet-certificate", ""}, []string{"pem", "crt"}, ":8"}, // file extensions filter
		{[]string{"package", "--config", ""}, []string{"yaml", "yml"}, ":8"},
		{[]string{"package", "--cache-dir", ""}, nil, ":16"},    // directories
		{[]string{"package", "--enroll-secret", ""}, nil, ":4"}, // no file names for a secret
	}
	for _, tt := range tests {
		code, out, _ := run(t, append([]string{"__complete"}, tt.args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) == 0 || lines[len(lines)-1] != tt.dir {
			t.Errorf("%v: exit %d, output %q, want directive %s", tt.args, code, out, tt.dir)
			continue
		}
		got := strings.Join(lines[:len(lines)-1], " ")
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%v: completions %q lack %q", tt.args, got, w)
			}
		}
	}
}

// TestHelpGroupsAndExamples: package --help has examples and the four groups.
func TestHelpGroupsAndExamples(t *testing.T) {
	code, out, _ := run(t, "package", "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := []string{"Examples:", "Flags of fleetctl package:", "pkgctl additions:", "Signing:", "Release (config file, matrix, manifest, publishing):", "Global Flags:"}
	last := -1
	for _, w := range want {
		i := strings.Index(out, w)
		if i < 0 || i < last {
			t.Fatalf("--help lacks %q or has it out of order:\n%s", w, out)
		}
		last = i
	}
	section := func(title string) string {
		s := out[strings.Index(out, title):]
		return s[:strings.Index(s, "\n\n")]
	}
	for title, flags := range map[string][]string{
		"Flags of fleetctl package:": {"--type", "--fleet-url", "--update-roots"},
		"pkgctl additions:":          {"--cache-dir", "--cloudfront-url"},
		"Signing:":                   {"--macos-devid-pem ", "--windows-sign-certificate", "--notarize"},
		"Release (":                  {"--config", "--manifest", "--publish-github"},
	} {
		for _, f := range flags {
			if !strings.Contains(section(title), f) {
				t.Errorf("%s does not list %s", title, f)
			}
		}
	}
}

// TestManPages generates the man pages with cobra/doc, as `make man` does.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := run(t, "man", "--dir", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, name := range []string{"pkgctl.1", "pkgctl-package.1", "pkgctl-updates-add.1"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte(".TH \"PKGCTL\"")) {
			t.Errorf("%s is not a man page: %.100q", name, data)
		}
	}
	page, _ := os.ReadFile(filepath.Join(dir, "pkgctl-package.1"))
	if !bytes.Contains(page, []byte("--fleet-url")) {
		t.Error("pkgctl-package.1 does not document --fleet-url")
	}
}
