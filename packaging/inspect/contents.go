package inspect

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/pkgctl/pkgctl/packaging/macos/bom"
)

// maxKeep is the largest file whose content a report keeps in memory for
// analysis (settings, certificates, keys, TUF metadata, flagfiles).
const maxKeep = 4 << 20

// contents is what a format reader extracted from one installer.
type contents struct {
	format, arch, name, version string
	ids                         map[string]string
	entries                     []*entry
	scripts                     []Script
	sigs                        []Signature
	staple                      *Staple
	findings                    []Finding
	// env is the agent's environment as the format's service definition
	// holds it (Windows: the service's Environment value, properties
	// resolved); nil where a file carries it (Linux env file, launchd plist).
	env []envVar
	// props are MSI properties (install-time settings), by name.
	props map[string]string
	// partial is set when the payload could not be read to its end: checks
	// that a file is missing would only repeat that finding.
	partial bool
}

type envVar struct{ name, value, source string }

// entry is one installed path with the hashes and (small) content read.
type entry struct {
	File
	sha512, md5 string
	data        []byte // content when a regular file of at most maxKeep bytes
	kept        bool
}

func (c *contents) find(code, sev, subject, format string, args ...any) {
	c.findings = append(c.findings, Finding{Code: code, Severity: sev, Subject: subject, Message: fmt.Sprintf(format, args...)})
}

// add hashes r (a regular file's content, may be nil for other types) into
// a new entry.
func (c *contents) add(f File, r io.Reader) (*entry, error) {
	e := &entry{File: f}
	if r != nil && f.Type == "file" {
		s256, s512, m5 := sha256.New(), sha512.New(), md5.New()
		keep := &keepWriter{max: maxKeep}
		n, err := io.Copy(io.MultiWriter(s256, s512, m5, keep), r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		e.Size = n
		e.SHA256 = hex.EncodeToString(s256.Sum(nil))
		e.sha512 = hex.EncodeToString(s512.Sum(nil))
		e.md5 = hex.EncodeToString(m5.Sum(nil))
		if !keep.over {
			e.data, e.kept = keep.buf, true
		}
	}
	c.entries = append(c.entries, e)
	return e, nil
}

// entry returns the entry at path p, or nil.
func (c *contents) entry(p string) *entry {
	for _, e := range c.entries {
		if e.Path == p {
			return e
		}
	}
	return nil
}

func (c *contents) sortEntries() {
	sort.SliceStable(c.entries, func(i, j int) bool { return c.entries[i].Path < c.entries[j].Path })
}

type keepWriter struct {
	buf  []byte
	max  int
	over bool
}

func (k *keepWriter) Write(p []byte) (int, error) {
	if !k.over {
		if len(k.buf)+len(p) > k.max {
			k.over, k.buf = true, nil
		} else {
			k.buf = append(k.buf, p...)
		}
	}
	return len(p), nil
}

// modeString renders permission bits (with setuid/setgid/sticky) in octal.
func modeString(m fs.FileMode) string {
	return fmt.Sprintf("%04o", bom.UnixMode(m)&0o7777)
}

// unixModeString renders the permission bits of a raw st_mode.
func unixModeString(m int64) string { return fmt.Sprintf("%04o", m&0o7777) }

// unixType is the type of a raw st_mode.
func unixType(m int64) string {
	switch m & 0o170000 {
	case 0o040000:
		return "dir"
	case 0o120000:
		return "symlink"
	case 0o100000, 0:
		return "file"
	}
	return "special"
}
