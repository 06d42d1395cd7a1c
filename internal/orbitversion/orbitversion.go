// Package orbitversion checks a version from the TUF repository (a target's
// custom metadata "version") before it becomes a package version: the deb
// control field, the rpm and Arch version, the MSI ProductVersion, the pkg's
// PackageInfo and the default output file names all take it.
package orbitversion

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits of an MSI ProductVersion (major.minor.build).
const (
	MaxMajor = 255
	MaxMinor = 255
	MaxPatch = 65535
)

// Check accepts what every format takes: MAJOR.MINOR.PATCH in decimal digits
// (macOS CFBundleShortVersionString's three period-separated integers, which
// Debian policy, rpm VERSION and Arch pkgver also accept), within the MSI
// ProductVersion limits 255.255.65535. The error says which rule failed and
// quotes the value (%q), so that nothing in it acts on a terminal.
func Check(v string) error {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return fmt.Errorf("version %q is not MAJOR.MINOR.PATCH (three numbers separated by dots), as macOS CFBundleShortVersionString and the MSI ProductVersion require", v)
	}
	limits := [3]int{MaxMajor, MaxMinor, MaxPatch}
	names := [3]string{"major", "minor", "patch"}
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return fmt.Errorf("version %q: %s part %q is not a decimal number (Debian policy, rpm VERSION and CFBundleShortVersionString allow no other characters in a MAJOR.MINOR.PATCH version)", v, names[i], p)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n > limits[i] {
			return fmt.Errorf("version %q: %s part %s is over %d, the most an MSI ProductVersion holds (255.255.65535)", v, names[i], p, limits[i])
		}
	}
	return nil
}
