package inspect

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// inert makes a string from an installer safe to print on a terminal:
// control and invisible characters are shown escaped.
func inert(s string) string {
	clean := true
	for _, r := range s {
		if !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// TextOptions choose the optional parts of the human summary.
type TextOptions struct {
	Files   bool // list every file (default: a count and the orbit root)
	Scripts bool // print script bodies
}

// WriteText writes a readable summary of r.
func WriteText(w io.Writer, r *Report, opt TextOptions) error {
	p := &printer{w: w}
	p.f("%s: %s %s %s (%s)\n", inert(r.File), r.Format, inert(r.Name), inert(r.Version), inert(r.Arch))
	p.f("  size %d, sha256 %s\n", r.Size, r.SHA256)
	for _, k := range sortedKeys(r.Identifiers) {
		p.f("  %s: %s\n", k, inert(r.Identifiers[k]))
	}
	p.section("Settings", len(r.Settings))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, s := range r.Settings {
		fmt.Fprintf(tw, "  %s\t%s\t(%s)\n", inert(s.Name), inert(s.Value), inert(s.Source))
	}
	tw.Flush()
	p.section("Certificates", len(r.Certificates))
	for _, c := range r.Certificates {
		ca := ""
		if c.IsCA {
			ca = ", CA"
		}
		p.f("  %s\n    subject %s\n    issuer  %s\n    valid   %s to %s%s\n", inert(c.File), inert(c.Subject), inert(c.Issuer),
			c.NotBefore.Format(time.DateOnly), c.NotAfter.Format(time.DateOnly), ca)
		if len(c.SANs) > 0 {
			p.f("    SANs    %s\n", inert(strings.Join(c.SANs, ", ")))
		}
	}
	for _, k := range r.KeyPairs {
		state := "matches"
		if !k.Match {
			state = "DOES NOT MATCH: " + k.Error
		}
		p.f("  key %s %s %s\n", inert(k.Key), state, inert(k.Certificate))
	}
	if t := r.TUF; t != nil {
		p.f("\nTUF metadata (%s)\n", inert(t.File))
		p.f("  root version %d, expires %s, %d keys\n", t.RootVersion, t.RootExpires.Format(time.RFC3339), len(t.RootKeyIDs))
		for _, id := range t.RootKeyIDs {
			p.f("    key %s\n", id)
		}
		p.f("  targets version %d, expires %s, %d targets\n", t.TargetsVersion, t.TargetsExpires.Format(time.RFC3339), t.TargetCount)
	}
	p.section("Components", len(r.Components))
	for _, c := range r.Components {
		state := "matches TUF"
		switch {
		case !c.InTUF:
			state = "NOT IN TUF METADATA"
		case !c.TUFMatch:
			state = "DIFFERS FROM TUF"
		}
		if c.LiveMatch != nil {
			state += map[bool]string{true: ", matches the live server", false: ", DIFFERS FROM THE LIVE SERVER"}[*c.LiveMatch]
		}
		p.f("  %s %s  %d bytes  sha256 %s  %s\n", inert(c.Target), inert(c.Version), c.Length, c.SHA256, state)
	}
	p.section("Files", len(r.Files))
	tw = tabwriter.NewWriter(w, 2, 4, 1, ' ', 0)
	for _, f := range r.Files {
		if !opt.Files && inOrbitRoot(f.Path) == "" && f.Path != linuxEnvFile && f.Path != launchdPlist {
			continue
		}
		if !opt.Files && strings.HasPrefix(inOrbitRoot(f.Path), "bin/") && strings.Count(inOrbitRoot(f.Path), "/") > 4 {
			continue
		}
		owner := f.Owner + ":" + f.Group
		if owner == ":" {
			owner = "-"
		}
		if f.Security != "" {
			owner = f.Security
		}
		extra := ""
		if f.Link != "" {
			extra = " -> " + f.Link
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s%s\n", f.Type, f.Mode, inert(owner), f.Size, inert(f.Path), inert(extra))
	}
	tw.Flush()
	if !opt.Files {
		p.f("  (the orbit root and service files; --files lists all)\n")
	}
	p.section("Scripts", len(r.Scripts))
	for _, s := range r.Scripts {
		p.f("  %s [%s] %s (%d lines)\n", inert(s.Name), s.Kind, inert(s.Detail), strings.Count(s.Body, "\n")+1)
		if opt.Scripts {
			for _, l := range strings.Split(s.Body, "\n") {
				p.f("    | %s\n", inert(l))
			}
		}
	}
	p.section("Signatures", len(r.Signatures))
	for _, s := range r.Signatures {
		writeSig(p, s)
	}
	if st := r.Staple; st != nil {
		p.f("\nNotarization\n")
		switch {
		case st.Stapled:
			p.f("  ticket stapled: %d bytes, sha256 %s\n", st.TicketSize, st.TicketSHA256)
		default:
			p.f("  no ticket stapled (Gatekeeper checks online)\n")
		}
		if st.Record != "" {
			p.f("  CloudKit record %s\n", st.Record)
		}
	}
	if len(r.Findings) > 0 {
		p.f("\n")
		WriteFindings(w, r.Findings)
	}
	return p.err
}

func writeSig(p *printer, s Signature) {
	state := "not checked"
	switch {
	case s.Valid && s.Trusted != nil && *s.Trusted:
		state = "valid, trusted"
	case s.Valid:
		state = "valid"
	case s.Error != "":
		state = "INVALID: " + s.Error
	}
	p.f("  %s: %s\n", s.Kind, inert(state))
	if s.Signer != "" {
		p.f("    signer    %s\n", inert(s.Signer))
	}
	if s.KeyID != "" {
		p.f("    key id    %s\n", s.KeyID)
	}
	if s.Algorithm != "" {
		p.f("    algorithm %s\n", inert(s.Algorithm))
	}
	if s.SigningTime != nil {
		p.f("    signed    %s\n", s.SigningTime.Format(time.RFC3339))
	}
	if s.Timestamp != nil {
		p.f("    timestamp %s\n", s.Timestamp.Format(time.RFC3339))
	}
	for i, c := range s.Chain {
		p.f("    chain[%d]  %s (until %s)\n", i, inert(c.Subject), c.NotAfter.Format(time.DateOnly))
	}
	for _, k := range sortedKeys(s.Extra) {
		p.f("    %-9s %s\n", k, inert(s.Extra[k]))
	}
}

// WriteFindings lists findings, one per line.
func WriteFindings(w io.Writer, fs []Finding) {
	for _, f := range fs {
		fmt.Fprintf(w, "%s %s %s: %s\n", strings.ToUpper(f.Severity), f.Code, inert(f.Subject), inert(f.Message))
	}
}

// WriteDiff writes a readable diff.
func WriteDiff(w io.Writer, d *Diff) error {
	p := &printer{w: w}
	p.f("--- %s (%s %s %s)\n+++ %s (%s %s %s)\n", inert(d.A.File), d.A.Format, inert(d.A.Version), inert(d.A.Arch),
		inert(d.B.File), d.B.Format, inert(d.B.Version), inert(d.B.Arch))
	if d.Empty() {
		p.f("no differences\n")
		return p.err
	}
	for _, s := range []struct {
		name string
		cs   []Change
	}{{"Identity", d.Identity}, {"Settings", d.Settings}, {"Components", d.Components}, {"Certificates", d.Certificates}, {"Signatures", d.Signatures}, {"Scripts", d.Scripts}} {
		if len(s.cs) == 0 {
			continue
		}
		p.f("\n%s\n", s.name)
		for _, c := range s.cs {
			switch c.Change {
			case "added":
				p.f("  + %s: %s\n", inert(c.Key), inert(c.B))
			case "removed":
				p.f("  - %s: %s\n", inert(c.Key), inert(c.A))
			default:
				p.f("  ~ %s: %s -> %s\n", inert(c.Key), inert(c.A), inert(c.B))
			}
		}
	}
	if len(d.Files) > 0 {
		p.f("\nFiles\n")
		for _, f := range d.Files {
			switch f.Change {
			case "added":
				p.f("  + %s (%s %s, %d bytes)\n", inert(f.Path), f.B.Type, f.B.Mode, f.B.Size)
			case "removed":
				p.f("  - %s (%s %s, %d bytes)\n", inert(f.Path), f.A.Type, f.A.Mode, f.A.Size)
			default:
				var parts []string
				for _, w := range f.What {
					parts = append(parts, fmt.Sprintf("%s %s -> %s", w, fileField(f.A, w), fileField(f.B, w)))
				}
				p.f("  ~ %s: %s\n", inert(f.Path), inert(strings.Join(parts, "; ")))
			}
		}
	}
	return p.err
}

func fileField(f *File, name string) string {
	switch name {
	case "type":
		return f.Type
	case "mode":
		return f.Mode
	case "owner":
		return f.Owner
	case "group":
		return f.Group
	case "size":
		return strconv.FormatInt(f.Size, 10)
	case "sha256":
		if len(f.SHA256) > 12 {
			return f.SHA256[:12]
		}
		return f.SHA256
	case "link":
		return f.Link
	}
	return f.Security
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) section(name string, n int) {
	p.f("\n%s (%d)\n", name, n)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
