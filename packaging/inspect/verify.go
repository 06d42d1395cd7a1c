package inspect

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pkgctl/pkgctl/internal/certvalid"
)

// VerifyResult is the JSON output of pkgctl verify.
type VerifyResult struct {
	SchemaVersion int       `json:"schema_version"`
	File          string    `json:"file"`
	Format        string    `json:"format"`
	SHA256        string    `json:"sha256"`
	Sound         bool      `json:"sound"` // no finding fails the check
	Findings      []Finding `json:"findings"`
}

// VerifyOptions are the checks' parameters beyond Options.
type VerifyOptions struct {
	// WarnWithin flags certificates that expire within this time (--warn-days).
	WarnWithin time.Duration
	// Now is the reference time; zero means now.
	Now time.Time
}

// Verify checks a report (made by Open, whose structural findings it keeps)
// and returns every finding, errors first, in a stable order.
func Verify(r *Report, opt VerifyOptions) []Finding {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	v := &verifier{r: r, opt: opt}
	v.out = append(v.out, r.Findings...)
	v.components()
	v.tuf()
	v.settings()
	v.certificates()
	v.secretFiles()
	v.signatures()
	sort.SliceStable(v.out, func(i, j int) bool {
		if v.out[i].Severity != v.out[j].Severity {
			return v.out[i].Severity == SevError
		}
		return false
	})
	if v.out == nil {
		v.out = []Finding{}
	}
	return v.out
}

// Failed reports whether findings hold an error whose code is not allowed.
func Failed(findings []Finding, allow map[string]bool, warningsFail bool) bool {
	for _, f := range findings {
		if allow[f.Code] {
			continue
		}
		if f.Severity == SevError || warningsFail {
			return true
		}
	}
	return false
}

type verifier struct {
	r   *Report
	opt VerifyOptions
	out []Finding
}

func (v *verifier) add(code, sev, subject, format string, args ...any) {
	v.out = append(v.out, Finding{Code: code, Severity: sev, Subject: subject, Message: fmt.Sprintf(format, args...)})
}

// components checks every component against the TUF metadata it ships with.
func (v *verifier) components() {
	r := v.r
	if r.raw != nil && r.raw.partial {
		return // the payload could not be read: its structural finding says so
	}
	if len(r.Components) > 0 && r.TUF == nil {
		v.add("TUF-METADATA-MISSING", SevError, "tuf-metadata.json", "the installer has components but no TUF metadata for orbit")
		return
	}
	for _, c := range r.Components {
		switch {
		case !c.InTUF:
			v.add("TUF-TARGET-MISSING", SevError, c.File, "target %s is not in the installer's TUF metadata", c.Target)
		case !c.TUFMatch:
			v.add("TUF-TARGET-MISMATCH", SevError, c.File, "length or hash differs from TUF target %s", c.Target)
		}
		if c.LiveMatch != nil && !*c.LiveMatch {
			v.add("TUF-LIVE-MISMATCH", SevError, c.File, "differs from target %s on the live update server", c.Target)
		}
	}
}

// tuf checks the signatures and expiry of the embedded metadata.
func (v *verifier) tuf() {
	r := v.r
	if r.TUF == nil || r.raw == nil {
		return
	}
	e := r.raw.entry(r.TUF.File)
	if e == nil {
		return
	}
	m, err := readTUF(e.data)
	if err != nil {
		return // reported by Open
	}
	if err := m.root.VerifyDelegate("root", m.root); err != nil {
		v.add("TUF-ROOT-SIGNATURE", SevError, r.TUF.File, "root.json is not signed by its own root keys: %v", err)
	}
	if m.targets == nil {
		v.add("TUF-TARGETS-MISSING", SevError, r.TUF.File, "no targets.json in the metadata")
	} else if err := m.root.VerifyDelegate("targets", m.targets); err != nil {
		v.add("TUF-TARGETS-SIGNATURE", SevError, r.TUF.File, "targets.json is not signed by the root's targets keys: %v", err)
	}
	if m.root.Signed.Expires.Before(v.opt.Now) {
		v.add("TUF-ROOT-EXPIRED", SevError, r.TUF.File, "root.json expired %s", m.root.Signed.Expires.UTC().Format(time.RFC3339))
	}
	if m.targets != nil && m.targets.Signed.Expires.Before(v.opt.Now) {
		v.add("TUF-TARGETS-EXPIRED", SevWarning, r.TUF.File, "targets.json expired %s (orbit fetches fresh metadata on start)", m.targets.Signed.Expires.UTC().Format(time.RFC3339))
	}
}

var flagLine = regexp.MustCompile(`^--[A-Za-z0-9_]+(=.*|\s+\S.*)?$`)

// settings checks URLs, intervals, referenced files and the osquery flagfile.
func (v *verifier) settings() {
	r := v.r
	for _, s := range r.Settings {
		switch s.Name {
		case "ORBIT_FLEET_URL", "ORBIT_UPDATE_URL":
			if s.Value == "" || strings.Contains(s.Value, "[") {
				continue // set at install time (MSI property)
			}
			u, err := url.Parse(s.Value)
			switch {
			case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
				v.add("SETTINGS-URL", SevError, s.Name, "%q is not an http or https URL, which orbit needs", s.Value)
			case u.Scheme == "http":
				v.add("SETTINGS-URL-INSECURE", SevWarning, s.Name, "%q is plain http", s.Value)
			}
		case "ORBIT_UPDATE_INTERVAL":
			if d, err := time.ParseDuration(s.Value); err != nil || d <= 0 {
				v.add("SETTINGS-INTERVAL", SevError, s.Name, "%q is not a positive Go duration", s.Value)
			}
		case "ORBIT_FLEET_CERTIFICATE", "ORBIT_UPDATE_TLS_CERTIFICATE", "ORBIT_ENROLL_SECRET_PATH":
			p := strings.ReplaceAll(s.Value, `\`, "/")
			if !strings.HasPrefix(p, "/") || r.raw == nil || r.raw.partial {
				continue
			}
			if r.raw.entry(path.Clean(p)) == nil {
				v.add("SETTINGS-FILE-MISSING", SevError, s.Name, "names %s, which the installer does not install", s.Value)
			}
		}
	}
	if r.raw == nil {
		return
	}
	for _, root := range orbitRoots {
		e := r.raw.entry(root + "/osquery.flags")
		if e == nil || !e.kept {
			continue
		}
		for i, line := range strings.Split(string(e.data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if !flagLine.MatchString(line) {
				v.add("OSQUERY-FLAGFILE", SevError, e.Path, "line %d is not --flag or --flag=value", i+1)
			}
		}
	}
}

// certificates checks validity dates (signature chains at their timestamp)
// and key pairs. A CA bundle follows pkgctl package's rule (certvalid): while
// one of its certificates is valid, the others that are not only warn.
func (v *verifier) certificates() {
	r := v.r
	bundles := map[string][]certvalid.Dates{}
	for _, c := range r.Certificates {
		if isCABundle(r, c.File) {
			bundles[c.File] = append(bundles[c.File], dates(c))
		}
	}
	for _, c := range r.Certificates {
		if strings.HasPrefix(c.File, "signature:") {
			continue // checked with their signature
		}
		if b, ok := bundles[c.File]; ok && certvalid.BundleUsable(b, v.opt.Now) {
			subject := c.File + ": " + c.Subject
			switch dates(c).At(v.opt.Now) {
			case certvalid.Expired:
				v.add("CERT-EXPIRED-IN-BUNDLE", SevWarning, subject, "expired %s; another certificate of the bundle is valid", c.NotAfter.Format(time.RFC3339))
				continue
			case certvalid.NotYetValid:
				v.add("CERT-NOT-YET-VALID-IN-BUNDLE", SevWarning, subject, "valid only from %s; another certificate of the bundle is valid", c.NotBefore.Format(time.RFC3339))
				continue
			}
		}
		v.validity(c, v.opt.Now, true)
	}
	for _, kp := range r.KeyPairs {
		if !kp.Match {
			v.add("CERT-KEY-MISMATCH", SevError, kp.Key, "%s (certificate %s)", kp.Error, kp.Certificate)
		}
	}
}

// isCABundle reports whether an installed certificate file is a CA bundle
// (fleet.pem, update.pem, or a file ORBIT_FLEET_CERTIFICATE or
// ORBIT_UPDATE_TLS_CERTIFICATE names) rather than a client certificate.
func isCABundle(r *Report, file string) bool {
	p := strings.ReplaceAll(file, `\`, "/")
	if b := path.Base(p); b == "fleet.pem" || b == "update.pem" {
		return true
	}
	for _, s := range r.Settings {
		if s.Name == "ORBIT_FLEET_CERTIFICATE" || s.Name == "ORBIT_UPDATE_TLS_CERTIFICATE" {
			if strings.EqualFold(path.Clean(strings.ReplaceAll(s.Value, `\`, "/")), path.Clean(p)) {
				return true
			}
		}
	}
	return false
}

func dates(c Certificate) certvalid.Dates {
	return certvalid.Dates{NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

func (v *verifier) validity(c Certificate, at time.Time, warn bool) {
	subject := c.File + ": " + c.Subject
	switch dates(c).At(at) {
	case certvalid.Expired:
		v.add("CERT-EXPIRED", SevError, subject, "expired %s", c.NotAfter.Format(time.RFC3339))
	case certvalid.NotYetValid:
		v.add("CERT-NOT-YET-VALID", SevError, subject, "valid only from %s", c.NotBefore.Format(time.RFC3339))
	default:
		if warn && dates(c).ExpiresWithin(at, v.opt.WarnWithin) {
			v.add("CERT-EXPIRING", SevWarning, subject, "expires %s, within %d days", c.NotAfter.Format(time.RFC3339), int(v.opt.WarnWithin.Hours()/24))
		}
	}
}

// signatures checks each signature and its chain's validity at signing.
func (v *verifier) signatures() {
	for _, s := range v.r.Signatures {
		code := "SIG-" + strings.ToUpper(s.Kind)
		switch {
		case !s.Valid && s.Error != "" && (s.Trusted == nil || *s.Trusted):
			v.add(code+"-INVALID", SevError, s.Kind, "%s", s.Error)
		case s.Trusted != nil && !*s.Trusted:
			v.add(code+"-UNTRUSTED", SevError, s.Kind, "%s", s.Error)
		case !s.Valid && s.Trusted == nil && strings.HasSuffix(s.Kind, "-pgp"):
			v.add(code+"-UNCHECKED", SevWarning, s.Kind, "signed by key %s; pass --gpg-key to check it", s.KeyID)
		}
		at, warn := v.opt.Now, true
		if s.Timestamp != nil {
			at, warn = *s.Timestamp, false
		}
		for _, c := range s.Chain {
			v.validity(c, at, warn)
		}
	}
}

// secretFiles warns when a file holding a secret (enroll secret, private
// key, the Linux env file) is readable beyond root / SYSTEM and
// Administrators.
func (v *verifier) secretFiles() {
	for _, f := range v.r.Files {
		if f.Type != "file" || !secretFile(f.Path) {
			continue
		}
		switch {
		case f.Security != "":
			for _, who := range []string{";;;BU)", ";;;WD)", ";;;AU)", ";;;IU)", "Users:", "Everyone:"} {
				if strings.Contains(f.Security, who) {
					v.add("FILE-SECRET-READABLE", SevWarning, f.Path, "holds a secret but its security descriptor lets non-administrators read it (%s)", f.Security)
					break
				}
			}
		case f.Mode != "":
			var m uint32
			if _, err := fmt.Sscanf(f.Mode, "%o", &m); err == nil && m&0o077 != 0 {
				v.add("FILE-SECRET-READABLE", SevWarning, f.Path, "holds a secret but has mode %s (readable beyond its owner)", f.Mode)
			}
		}
	}
}
