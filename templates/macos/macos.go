// Package macos holds the macOS agent's launchd plist, postinstall script and the
// flat package's Distribution and PackageInfo documents. Every value placed in XML
// is escaped, so secrets and URLs with quotes, &, <, > or non-ASCII come out intact.
package macos

import (
	"bytes"
	"embed"
	"encoding/xml"
	"fmt"
	"strings"
	"text/template"
	"unicode/utf8"
)

//go:embed com.fleetdm.orbit.plist postinstall
var files embed.FS

// EnvVar is one launchd EnvironmentVariables entry, in the order written.
type EnvVar struct{ Key, Value string }

// Plist is the launchd job of orbit.
type Plist struct {
	Label   string // com.fleetdm.orbit
	Program string // /opt/orbit/bin/orbit/orbit
	Env     []EnvVar
}

// Postinstall is what the postinstall script needs.
type Postinstall struct {
	OrbitBinary  string // /opt/orbit/bin/orbit/macos/<channel>/orbit
	OrbitLink    string // /opt/orbit/bin/orbit/orbit
	BinLink      string // /usr/local/bin/orbit
	Service      bool   // --service: (re)start the launchd job
	Label        string // com.fleetdm.orbit
	Plist        string // /Library/LaunchDaemons/com.fleetdm.orbit.plist
	InbandMarker string // /opt/orbit/.inband_upgrade
	Root         string // /opt/orbit
	LegacyVarLib bool   // orbit < 0.0.11: link /var/lib/orbit to Root
}

// RenderPlist writes the launchd plist.
func RenderPlist(p Plist) ([]byte, error) {
	for _, e := range p.Env {
		if err := CheckXMLText(e.Key, e.Value); err != nil {
			return nil, err
		}
	}
	return render("com.fleetdm.orbit.plist", p)
}

// RenderPostinstall writes the postinstall script. Its values are paths and
// labels built by pkgctl; anything a shell would interpret is refused.
func RenderPostinstall(p Postinstall) ([]byte, error) {
	for _, v := range []string{p.OrbitBinary, p.OrbitLink, p.BinLink, p.Label, p.Plist, p.InbandMarker, p.Root} {
		if !ShellSafe(v) {
			return nil, fmt.Errorf("postinstall: %q holds characters a shell would interpret", v)
		}
	}
	return render("postinstall", p)
}

// ShellSafe reports whether s can appear in the script unquoted.
func ShellSafe(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return !shellSafe(r) })
}

func shellSafe(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+@:", r)
}

// CheckXMLText reports a value that XML 1.0 cannot hold: invalid UTF-8 or a
// character outside XML's Char production (control characters, U+FFFE, U+FFFF).
// what names the flag or setting in the error; the value is never echoed.
func CheckXMLText(what, v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8, which a plist cannot hold", what)
	}
	for _, r := range v {
		if !isXMLChar(r) {
			return fmt.Errorf("%s holds the character %U, which XML (plist, Distribution) cannot hold", what, r)
		}
	}
	return nil
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

func xmlEscape(s string) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}

func render(name string, data any) ([]byte, error) {
	src, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("template macos/%s: %w", name, err)
	}
	t, err := template.New(name).Funcs(template.FuncMap{"xml": xmlEscape}).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parse template macos/%s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render template macos/%s: %w", name, err)
	}
	return buf.Bytes(), nil
}
