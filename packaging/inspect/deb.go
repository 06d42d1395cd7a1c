package inspect

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/blakesmith/ar"

	"github.com/pkgctl/pkgctl/internal/iox"
)

// debScripts are the control members that run at install or removal.
var debScripts = map[string]bool{"preinst": true, "postinst": true, "prerm": true, "postrm": true, "config": true}

type arMember struct {
	name      string
	off, size int64
}

// readDeb reads a Debian binary package: ar members, control, md5sums,
// conffiles, scripts, the data tarball and any _gpg* signature member.
func readDeb(f *os.File, size int64, opt Options) (*contents, error) {
	c := &contents{format: "deb", ids: map[string]string{}}
	members, err := arMembers(f)
	if err != nil {
		return nil, fmt.Errorf("deb: %w", err)
	}
	var control, data *arMember
	var sigs []arMember
	for i := range members {
		m := &members[i]
		switch {
		case i == 0 && m.name != "debian-binary":
			c.find("DEB-AR-ORDER", SevError, m.name, "the first ar member is %q, dpkg wants debian-binary", m.name)
		case m.name == "debian-binary":
			b := make([]byte, min(m.size, 16))
			f.ReadAt(b, m.off)
			if !strings.HasPrefix(string(b), "2.") {
				c.find("DEB-FORMAT-VERSION", SevError, m.name, "format version %q, dpkg reads 2.x", strings.TrimSpace(string(b)))
			}
		case strings.HasPrefix(m.name, "control.tar"):
			control = m
		case strings.HasPrefix(m.name, "data.tar"):
			data = m
		case strings.HasPrefix(m.name, "_gpg"):
			sigs = append(sigs, *m)
		}
	}
	if control == nil || data == nil {
		return nil, errors.New("deb: no control.tar or data.tar member")
	}
	var md5sums, conffiles []byte
	ctrl := map[string]string{}
	err = readTar(&contents{}, io.NewSectionReader(f, control.off, control.size), func(h *tar.Header, r io.Reader) (bool, error) {
		name := strings.TrimPrefix(h.Name, "./")
		if h.Typeflag != tar.TypeReg {
			return true, nil
		}
		b, err := io.ReadAll(io.LimitReader(r, maxKeep))
		if err != nil {
			return true, err
		}
		switch {
		case name == "control":
			ctrl = parseControl(b)
		case name == "md5sums":
			md5sums = b
		case name == "conffiles":
			conffiles = b
		case debScripts[name]:
			c.scripts = append(c.scripts, Script{Name: name, Kind: "maintainer-script", Detail: interpreter(b), Body: string(b)})
		}
		return true, nil
	})
	if err != nil {
		c.find("DEB-CONTROL-UNREADABLE", SevError, control.name, "%v", err)
	}
	c.name, c.version, c.arch = ctrl["Package"], ctrl["Version"], ctrl["Architecture"]
	if c.name == "" || c.version == "" || c.arch == "" {
		c.find("DEB-CONTROL-FIELDS", SevError, "control", "Package, Version or Architecture is missing")
	}
	if err := readTar(c, io.NewSectionReader(f, data.off, data.size), nil); err != nil {
		c.find("DEB-DATA-UNREADABLE", SevError, data.name, "%v", err)
		c.partial = true
	}
	c.sortEntries()
	for _, line := range strings.Split(string(conffiles), "\n") {
		if e := c.entry(strings.TrimSpace(line)); e != nil {
			e.Config = true
		}
	}
	checkMD5sums(c, md5sums)
	for _, s := range sigs {
		signed := io.MultiReader(sectionOf(f, members, "debian-binary"), io.NewSectionReader(f, control.off, control.size), io.NewSectionReader(f, data.off, data.size))
		sig := make([]byte, s.size)
		f.ReadAt(sig, s.off)
		c.sigs = append(c.sigs, pgpSignature("deb-pgp", signed, sig, opt))
	}
	return c, nil
}

func sectionOf(f *os.File, members []arMember, name string) io.Reader {
	for _, m := range members {
		if m.name == name {
			return io.NewSectionReader(f, m.off, m.size)
		}
	}
	return bytes.NewReader(nil)
}

// arMembers lists the members with the offsets of their data.
func arMembers(f *os.File) (_ []arMember, err error) {
	// blakesmith/ar panics on a header whose numeric fields are malformed
	// (slice bounds): untrusted input must give an error instead.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed ar member header: %v", p)
		}
	}()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	cr := &iox.CountingReader{R: bufio.NewReader(f)}
	rd := ar.NewReader(cr)
	var out []arMember
	for {
		h, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Size < 0 {
			return nil, fmt.Errorf("member %q has a negative size", h.Name)
		}
		out = append(out, arMember{name: strings.TrimSuffix(h.Name, "/"), off: cr.N, size: h.Size})
	}
}

// parseControl reads the fields of a control file (continuation lines are
// appended).
func parseControl(b []byte) map[string]string {
	m := map[string]string{}
	last := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			if last != "" {
				m[last] += "\n" + strings.TrimSpace(line)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if ok {
			last = strings.TrimSpace(k)
			m[last] = strings.TrimSpace(v)
		}
	}
	return m
}

// checkMD5sums compares md5sums with the data tarball, both ways.
func checkMD5sums(c *contents, md5sums []byte) {
	if md5sums == nil {
		c.find("DEB-MD5SUMS-MISSING", SevWarning, "md5sums", "the control archive has no md5sums; dpkg --verify cannot check the files")
		return
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(md5sums), "\n") {
		sum, name, ok := strings.Cut(strings.TrimSpace(line), "  ")
		if !ok {
			continue
		}
		p := cleanPath(name)
		listed[p] = true
		e := c.entry(p)
		switch {
		case (e == nil || e.Type != "file") && c.partial:
		case e == nil || e.Type != "file":
			c.find("DEB-MD5SUMS-MISSING-FILE", SevError, p, "md5sums lists a file the data archive does not hold")
		case !strings.EqualFold(e.md5, sum):
			c.find("DEB-MD5SUMS-MISMATCH", SevError, p, "md5 %s, md5sums says %s", e.md5, sum)
		}
	}
	for _, e := range c.entries {
		if e.Type == "file" && !listed[e.Path] && !e.Config {
			c.find("DEB-MD5SUMS-UNLISTED", SevWarning, e.Path, "file is not in md5sums")
		}
	}
}

// interpreter is a script's #! line.
func interpreter(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	if strings.HasPrefix(line, "#!") {
		return strings.TrimSpace(line[2:])
	}
	return ""
}
