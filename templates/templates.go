// Package templates holds the agent's service definitions, configuration files and
// install scripts, embedded in the binary and rendered with text/template.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed linux/* certs.pem
var files embed.FS

// CertsPEM is the CA bundle shipped as certs.pem in the orbit root; orbit hands it
// to osquery as --tls_server_certs when there is no fleet.pem. It is Mozilla's root
// store as Debian's ca-certificates package ships it.
func CertsPEM() []byte {
	b, err := files.ReadFile("certs.pem")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

var funcs = template.FuncMap{
	"envquote": EnvQuote,
}

// Render executes the embedded template at name (e.g. "linux/orbit.service") with data.
func Render(name string, data any) ([]byte, error) {
	src, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render template %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// EnvQuote renders a value for a systemd EnvironmentFile line. Plain values are
// written as they are (as fleetctl does); a value with spaces, quotes, backslashes,
// `$`, backquotes or `#` is double-quoted with systemd's escapes so that it reaches
// orbit unchanged.
func EnvQuote(v string) string {
	if v == "" || !strings.ContainsAny(v, " \t\"'\\$`#;") {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch r {
		case '"', '\\', '$', '`':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
