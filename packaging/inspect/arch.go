package inspect

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
)

// readArch reads an Arch Linux package: .PKGINFO, .INSTALL, the files and
// the sha256 digests of .MTREE.
func readArch(f *os.File, size int64, opt Options) (*contents, error) {
	c := &contents{format: "pkg.tar.zst", ids: map[string]string{}}
	var mtree []byte
	info := map[string]string{}
	err := readTar(c, io.NewSectionReader(f, 0, size), func(h *tar.Header, r io.Reader) (bool, error) {
		switch h.Name {
		case ".PKGINFO":
			b, err := io.ReadAll(io.LimitReader(r, maxKeep))
			for _, line := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(line, " = "); ok && !strings.HasPrefix(k, "#") {
					if _, dup := info[k]; !dup {
						info[k] = v
					}
				}
			}
			return true, err
		case ".INSTALL":
			b, err := io.ReadAll(io.LimitReader(r, maxKeep))
			c.scripts = append(c.scripts, Script{Name: ".INSTALL", Kind: "maintainer-script", Detail: interpreter(b), Body: string(b)})
			return true, err
		case ".MTREE":
			zr, err := gzip.NewReader(r)
			if err != nil {
				return true, err
			}
			mtree, err = io.ReadAll(io.LimitReader(zr, 64<<20))
			return true, err
		}
		return strings.HasPrefix(h.Name, ".") && !strings.Contains(h.Name, "/"), nil
	})
	if err != nil {
		c.find("ARCH-DATA-UNREADABLE", SevError, "payload", "%v", err)
		c.partial = true
	}
	c.name, c.arch = info["pkgname"], info["arch"]
	c.version = info["pkgver"]
	if c.name == "" || c.version == "" {
		c.find("ARCH-PKGINFO", SevError, ".PKGINFO", "pkgname or pkgver is missing")
	}
	c.sortEntries()
	archSignature(c, f, size, opt)
	if mtree == nil {
		c.find("ARCH-MTREE-MISSING", SevWarning, ".MTREE", "no .MTREE; pacman cannot check the files")
		return c, nil
	}
	checkMtree(c, mtree)
	return c, nil
}

// archSignature reads the detached OpenPGP signature pacman looks for beside
// the package (<file>.sig), when there is one.
func archSignature(c *contents, f *os.File, size int64, opt Options) {
	sigFile, err := os.Open(f.Name() + ".sig")
	if err != nil {
		return
	}
	defer sigFile.Close()
	sig, err := io.ReadAll(io.LimitReader(sigFile, 1<<20))
	if err != nil {
		return
	}
	c.sigs = append(c.sigs, pgpSignature("arch-pgp", io.NewSectionReader(f, 0, size), sig, opt))
}

// checkMtree compares the sha256digest of each regular file in .MTREE with
// the payload.
func checkMtree(c *contents, mtree []byte) {
	sc := bufio.NewScanner(strings.NewReader(string(mtree)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "./") {
			continue
		}
		fields := strings.Fields(line)
		name := mtreeUnescape(fields[0])
		if strings.HasPrefix(name, "./.") && !strings.Contains(name[2:], "/") {
			continue
		}
		var sum string
		for _, kv := range fields[1:] {
			if v, ok := strings.CutPrefix(kv, "sha256digest="); ok {
				sum = v
			}
		}
		if sum == "" {
			continue
		}
		p := cleanPath(name)
		e := c.entry(p)
		switch {
		case e == nil && c.partial:
		case e == nil:
			c.find("ARCH-MTREE-MISSING-FILE", SevError, p, ".MTREE lists a file the package does not hold")
		case e.SHA256 != sum:
			c.find("ARCH-MTREE-MISMATCH", SevError, p, "sha256 %s, .MTREE says %s", e.SHA256, sum)
		}
	}
}

// mtreeUnescape decodes mtree's \ooo octal escapes.
func mtreeUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
