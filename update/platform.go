package update

import (
	"fmt"
	"strings"
)

// Target names of the Fleet agent components.
const (
	TargetOrbit    = "orbit"
	TargetOsqueryd = "osqueryd"
	TargetDesktop  = "desktop"
)

// Platforms are the TUF platform names fleetd agents fetch their components
// for (orbit's update options per OS and architecture: osqueryd is "macos-app"
// on macOS).
var Platforms = []string{"linux", "linux-arm64", "macos", "macos-app", "windows", "windows-arm64"}

// PlatformFor maps a package type (--type) and architecture (--arch: "amd64", "arm64"; ""
// means amd64) to the TUF platform name of target (orbit, osqueryd or desktop):
// deb, rpm and pkg.tar.zst → "linux" or "linux-arm64"; msi → "windows" or "windows-arm64";
// pkg → "macos" for orbit and desktop (universal binaries, arch is ignored) and "macos-app"
// for osqueryd.
func PlatformFor(pkgType, arch, target string) (string, error) {
	switch target {
	case TargetOrbit, TargetOsqueryd, TargetDesktop:
	default:
		return "", fmt.Errorf("unknown update target %q (want orbit, osqueryd or desktop)", target)
	}
	switch arch {
	case "", "amd64", "arm64":
	default:
		return "", fmt.Errorf("arch must be one of ('amd64', 'arm64'), not %q", arch)
	}
	suffix := ""
	if arch == "arm64" {
		suffix = "-arm64"
	}
	switch pkgType {
	case "deb", "rpm", "pkg.tar.zst":
		return "linux" + suffix, nil
	case "msi":
		return "windows" + suffix, nil
	case "pkg":
		if target == TargetOsqueryd {
			return "macos-app", nil
		}
		return "macos", nil
	}
	return "", fmt.Errorf("type must be one of ('pkg', 'deb', 'rpm', 'msi', 'pkg.tar.zst'), not %q", pkgType)
}

// TargetFile returns the file name Fleet publishes target under on platform, e.g.
// "orbit.exe" for orbit on windows, "desktop.app.tar.gz" for desktop on macos.
func TargetFile(target, platform string) (string, error) {
	windows := platform == "windows" || platform == "windows-arm64"
	linux := platform == "linux" || platform == "linux-arm64"
	switch {
	case target == TargetOrbit && windows:
		return "orbit.exe", nil
	case target == TargetOrbit && (linux || platform == "macos"):
		return "orbit", nil
	case target == TargetOsqueryd && windows:
		return "osqueryd.exe", nil
	case target == TargetOsqueryd && linux:
		return "osqueryd", nil
	case target == TargetOsqueryd && platform == "macos-app":
		return "osqueryd.app.tar.gz", nil
	case target == TargetDesktop && windows:
		return "fleet-desktop.exe", nil
	case target == TargetDesktop && linux:
		return "desktop.tar.gz", nil
	case target == TargetDesktop && platform == "macos":
		return "desktop.app.tar.gz", nil
	}
	return "", fmt.Errorf("no %s target is published for platform %q", target, platform)
}

// ExecPath returns the executable's path inside the extracted tarball of a .tar.gz target
// (slash-separated, e.g. "Fleet Desktop.app/Contents/MacOS/fleet-desktop"), or "" when the
// target file is the executable itself.
func ExecPath(target, platform string) string {
	file, err := TargetFile(target, platform)
	if err != nil || !strings.HasSuffix(file, ".tar.gz") {
		return ""
	}
	switch {
	case target == TargetOsqueryd:
		return "osquery.app/Contents/MacOS/osqueryd"
	case target == TargetDesktop && platform == "macos":
		return "Fleet Desktop.app/Contents/MacOS/fleet-desktop"
	default:
		return "fleet-desktop/fleet-desktop"
	}
}
