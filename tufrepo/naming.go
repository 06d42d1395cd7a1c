package tufrepo

import (
	"fmt"
	"path"
	"strings"

	"github.com/pkgctl/pkgctl/update"
)

// TargetFileName is the file name `add` publishes a component under. For orbit, osqueryd
// and desktop on the platforms Fleet publishes them for, it is the name `pkgctl package`
// and the agent fetch (update.TargetFile), whatever the source file is called. Otherwise
// it follows `fleetctl updates add`: the target name (for "extensions/<n>", n) plus the
// source file's suffix when that is .ext.exe, .exe, .app.tar.gz, .pkg or .ext.
func TargetFileName(name, platform, srcFile string) string {
	if file, err := update.TargetFile(name, platform); err == nil {
		return file
	}
	base := name
	if ext, ok := strings.CutPrefix(name, "extensions/"); ok {
		base = ext
	}
	for _, suffix := range []string{".ext.exe", ".exe", ".app.tar.gz", ".pkg", ".ext"} {
		if strings.HasSuffix(srcFile, suffix) {
			return base + suffix
		}
	}
	return base
}

// TargetPaths lists the repository paths `add` writes for one component: one per channel,
// the version first, then each tag (duplicates dropped), each
// <name>/<platform>/<channel>/<file>.
func TargetPaths(name, platform, srcFile, version string, tags []string) ([]string, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := checkElem("platform", platform); err != nil {
		return nil, err
	}
	if err := checkElem("version", version); err != nil {
		return nil, err
	}
	file := TargetFileName(name, platform, srcFile)
	seen := map[string]bool{}
	var out []string
	for _, ch := range append([]string{version}, tags...) {
		if err := checkElem("tag", ch); err != nil {
			return nil, err
		}
		if seen[ch] {
			continue
		}
		seen[ch] = true
		out = append(out, path.Join(name, platform, ch, file))
	}
	return out, nil
}

// checkName accepts a target name: one path element, or extensions/<element>.
func checkName(name string) error {
	if ext, ok := strings.CutPrefix(name, "extensions/"); ok {
		return checkElem("name", ext)
	}
	return checkElem("name", name)
}

// checkElem rejects values that are not one safe path element: they become directories and
// URLs of the repository.
func checkElem(what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s must not be empty", what)
	case v == "." || v == ".." || strings.HasPrefix(v, "."):
		return fmt.Errorf("%s %q must not start with a dot", what, v)
	case strings.ContainsAny(v, "/\\"):
		return fmt.Errorf("%s %q must not contain a slash", what, v)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%s %q must not contain control characters", what, v)
	}
	return nil
}
