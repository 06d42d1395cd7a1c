package inspect

import (
	"fmt"
	"sort"
	"strings"
)

// Diff is what changed from installer A to installer B.
type Diff struct {
	SchemaVersion int          `json:"schema_version"`
	A             Side         `json:"a"`
	B             Side         `json:"b"`
	Identity      []Change     `json:"identity"`
	Settings      []Change     `json:"settings"`
	Components    []Change     `json:"components"`
	Files         []FileChange `json:"files"`
	Certificates  []Change     `json:"certificates"`
	Signatures    []Change     `json:"signatures"`
	Scripts       []Change     `json:"scripts"`
}

// Side names one of the two installers.
type Side struct {
	File    string `json:"file"`
	Format  string `json:"format"`
	Arch    string `json:"arch"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

// Change is one keyed value that was added (A empty), removed (B empty) or
// changed.
type Change struct {
	Key    string `json:"key"`
	Change string `json:"change"` // added, removed, changed
	A      string `json:"a"`
	B      string `json:"b"`
}

// FileChange is one installed path that differs.
type FileChange struct {
	Path   string   `json:"path"`
	Change string   `json:"change"` // added, removed, changed
	A      *File    `json:"a"`
	B      *File    `json:"b"`
	What   []string `json:"what"` // changed fields: type, mode, owner, group, size, sha256, link, security
}

// Empty reports whether the installers hold the same things.
func (d *Diff) Empty() bool {
	return len(d.Identity)+len(d.Settings)+len(d.Components)+len(d.Files)+len(d.Certificates)+len(d.Signatures)+len(d.Scripts) == 0
}

// Compare returns what changed from a to b. Installers of different formats
// of one build compare by installed path, setting name and component name.
func Compare(a, b *Report) *Diff {
	d := &Diff{SchemaVersion: SchemaVersion, A: side(a), B: side(b)}
	d.Identity = changes(identity(a), identity(b))
	d.Settings = changes(settingMap(a), settingMap(b))
	d.Components = changes(componentMap(a), componentMap(b))
	d.Certificates = changes(certMap(a), certMap(b))
	d.Signatures = changes(sigMap(a), sigMap(b))
	d.Scripts = changes(scriptMap(a), scriptMap(b))
	d.Files = fileChanges(a.Files, b.Files)
	for _, l := range []*[]Change{&d.Identity, &d.Settings, &d.Components, &d.Certificates, &d.Signatures, &d.Scripts} {
		if *l == nil {
			*l = []Change{}
		}
	}
	if d.Files == nil {
		d.Files = []FileChange{}
	}
	return d
}

func side(r *Report) Side {
	return Side{File: r.File, Format: r.Format, Arch: r.Arch, Version: r.Version, SHA256: r.SHA256}
}

func identity(r *Report) map[string]string {
	m := map[string]string{"name": r.Name, "version": r.Version, "arch": r.Arch, "format": r.Format}
	for k, v := range r.Identifiers {
		m[k] = v
	}
	return m
}

func settingMap(r *Report) map[string]string {
	m := map[string]string{}
	for _, s := range r.Settings {
		m[s.Name] = s.Value
	}
	return m
}

func componentMap(r *Report) map[string]string {
	m := map[string]string{}
	for _, c := range r.Components {
		m[c.Name] = fmt.Sprintf("%s %s (%d bytes, sha256 %s)", c.Target, c.Version, c.Length, c.SHA256)
	}
	return m
}

func certMap(r *Report) map[string]string {
	m := map[string]string{}
	for _, c := range r.Certificates {
		m[c.File+" "+c.SHA256[:16]] = fmt.Sprintf("%s (issuer %s, until %s)", c.Subject, c.Issuer, c.NotAfter.Format("2006-01-02"))
	}
	return m
}

func sigMap(r *Report) map[string]string {
	m := map[string]string{}
	for _, s := range r.Signatures {
		v := s.Signer
		if s.KeyID != "" {
			v += " key " + s.KeyID
		}
		m[s.Kind] = strings.TrimSpace(v)
	}
	if st := r.Staple; st != nil && st.Stapled {
		m["notarization-ticket"] = fmt.Sprintf("stapled, %d bytes, sha256 %s", st.TicketSize, st.TicketSHA256)
	}
	return m
}

func scriptMap(r *Report) map[string]string {
	m := map[string]string{}
	for _, s := range r.Scripts {
		m[s.Name] = fmt.Sprintf("%s; %d bytes", s.Detail, len(s.Body))
		if s.Kind == "custom-action" {
			m[s.Name] = s.Detail + ": " + s.Body
		}
	}
	return m
}

// changes compares two keyed maps, sorted by key.
func changes(a, b map[string]string) []Change {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []Change
	for k := range keys {
		va, ina := a[k]
		vb, inb := b[k]
		switch {
		case !ina:
			out = append(out, Change{Key: k, Change: "added", B: vb})
		case !inb:
			out = append(out, Change{Key: k, Change: "removed", A: va})
		case va != vb:
			out = append(out, Change{Key: k, Change: "changed", A: va, B: vb})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func fileChanges(a, b []File) []FileChange {
	am, bm := map[string]File{}, map[string]File{}
	for _, f := range a {
		am[f.Path] = f
	}
	for _, f := range b {
		bm[f.Path] = f
	}
	var out []FileChange
	for p, fa := range am {
		fa := fa
		fb, ok := bm[p]
		if !ok {
			out = append(out, FileChange{Path: p, Change: "removed", A: &fa})
			continue
		}
		var what []string
		for _, c := range []struct {
			name string
			x, y any
		}{
			{"type", fa.Type, fb.Type}, {"mode", fa.Mode, fb.Mode}, {"owner", fa.Owner, fb.Owner}, {"group", fa.Group, fb.Group},
			{"size", fa.Size, fb.Size}, {"sha256", fa.SHA256, fb.SHA256}, {"link", fa.Link, fb.Link}, {"security", fa.Security, fb.Security},
		} {
			if c.x != c.y {
				what = append(what, c.name)
			}
		}
		if len(what) > 0 {
			fb := fb
			out = append(out, FileChange{Path: p, Change: "changed", A: &fa, B: &fb, What: what})
		}
	}
	for p, fb := range bm {
		fb := fb
		if _, ok := am[p]; !ok {
			out = append(out, FileChange{Path: p, Change: "added", B: &fb})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
