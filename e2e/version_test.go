package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// TestUntrustedOrbitVersion: the orbit target's version comes from the TUF
// repository and becomes the package version of every format. Each bad value
// below did harm once (a deb control field added, the default output moved out
// of the working directory, a deb dpkg cannot read, an MSI version wrapped to
// 0.1.1); now the build refuses it before writing anything, naming the target
// and the rule.
func TestUntrustedOrbitVersion(t *testing.T) {
	t.Parallel()
	env := testenv.NewTB(t)
	bad := []struct {
		channel, version, rule string
	}{
		{"nl", "1.2.3\nDepends: evil", "is not a decimal number"},
		{"up", "/../../../escaped", "is not MAJOR.MINOR.PATCH"},
		{"lt", "1.2.3<x>", "is not a decimal number"},
		{"big", "99999999999999999999.1.1", "over 255"},
		{"esc", "1.2.3\x1b[2J", "is not a decimal number"},
	}
	for _, b := range bad {
		for _, plat := range []string{"linux", "windows", "macos"} {
			file := map[string]string{"linux": "orbit", "windows": "orbit.exe", "macos": "orbit"}[plat]
			if err := env.Repo.AddTarget("orbit", plat, b.channel, file, []byte("orbit "+b.channel), b.version); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := env.Repo.Publish(); err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		for _, typ := range []string{"deb", "rpm", "pkg.tar.zst", "msi", "pkg"} {
			t.Run(b.channel+"/"+typ, func(t *testing.T) {
				// The build runs three directories deep in a fresh tree, without
				// --outfile, so that an escaping default name would land in the tree.
				top := t.TempDir()
				dir := filepath.Join(top, "a", "b", "c")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				args := append([]string{"package", "--type=" + typ, "--cache-dir=" + t.TempDir(), "--orbit-channel=" + b.channel}, updateArgs(env, env.Server.URL)...)
				r := runIn(t, dir, nil, args...)
				target := "orbit/linux/" + b.channel + "/orbit"
				switch typ {
				case "msi":
					target = "orbit/windows/" + b.channel + "/orbit.exe"
				case "pkg":
					target = "orbit/macos/" + b.channel + "/orbit"
				}
				mustFail(t, r, `TUF target "`+target+`"`, b.rule)
				if strings.ContainsAny(r.Stderr, "\x1b") || strings.Contains(r.Stderr, "\nDepends") {
					t.Errorf("the repository's version reached the terminal unquoted:\n%q", r.Stderr)
				}
				var files []string
				filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
					if err == nil && !d.IsDir() {
						files = append(files, p)
					}
					return nil
				})
				if len(files) > 0 {
					t.Errorf("a refused build wrote %v", files)
				}
			})
		}
	}
}
