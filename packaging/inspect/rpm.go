package inspect

import (
	"errors"
	"fmt"
	"io"
	"os"

	rpmutils "github.com/sassoftware/go-rpmutils"
)

var rpmScriptTags = []struct {
	name      string
	tag, prog int
}{
	{"%pretrans", 1151, 1153}, {"%pre", rpmutils.PREIN, rpmutils.PREINPROG},
	{"%post", rpmutils.POSTIN, 1086}, {"%preun", rpmutils.PREUN, rpmutils.PREUNPROG},
	{"%postun", rpmutils.POSTUN, rpmutils.POSTUNPROG}, {"%posttrans", 1152, 1154},
}

// readRpm reads an rpm: header and payload digests and signatures (through
// go-rpmutils), identity, scripts and the payload's files against the
// header's file digests.
func readRpm(f *os.File, size int64, opt Options) (*contents, error) {
	c := &contents{format: "rpm", ids: map[string]string{}}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	_, sigs, err := rpmutils.Verify(f, opt.Keyring)
	var keyErr rpmutils.KeyNotFoundError
	switch {
	case errors.As(err, &keyErr):
		t := false
		c.sigs = append(c.sigs, Signature{Kind: "rpm-pgp", KeyID: fmt.Sprintf("%016X", keyErr.KeyID), Trusted: &t,
			Error: "signed by a key that is not in --gpg-key"})
	case err != nil:
		c.find("RPM-DIGEST", SevError, "header/payload", "%v", err)
	}
	for _, s := range sigs {
		t := s.CreationTime.UTC()
		sig := Signature{Kind: "rpm-pgp", KeyID: fmt.Sprintf("%016X", s.KeyId), SigningTime: &t, Algorithm: s.Hash.String(),
			Signer: s.PrimaryName, Valid: opt.Keyring != nil && s.Signer != nil}
		if opt.Keyring != nil {
			sig.Trusted = &sig.Valid
		}
		sig.Extra = map[string]string{"covers": map[bool]string{true: "header", false: "header+payload"}[s.HeaderOnly]}
		c.sigs = append(c.sigs, sig)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r, err := rpmutils.ReadRpm(f)
	if err != nil {
		return nil, fmt.Errorf("rpm: %w", err)
	}
	h := r.Header
	str := func(tag int) string {
		s, _ := h.GetStrings(tag)
		if len(s) > 0 {
			return s[0]
		}
		return ""
	}
	c.name, c.arch = str(rpmutils.NAME), str(rpmutils.ARCH)
	c.version = str(rpmutils.VERSION)
	if rel := str(rpmutils.RELEASE); rel != "" {
		c.version += "-" + rel
	}
	for _, s := range rpmScriptTags {
		if body := str(s.tag); body != "" {
			c.scripts = append(c.scripts, Script{Name: s.name, Kind: "maintainer-script", Detail: str(s.prog), Body: body})
		}
	}
	files, err := h.GetFiles()
	if err != nil {
		return nil, fmt.Errorf("rpm: file list: %w", err)
	}
	algo, _ := h.GetInts(rpmutils.FILEDIGESTALGO)
	digestAlgo := 1 // md5 unless the header says otherwise
	if len(algo) > 0 {
		digestAlgo = algo[0]
	}
	headerFiles := map[string]rpmutils.FileInfo{}
	for _, fi := range files {
		headerFiles[cleanPath(fi.Name())] = fi
	}
	pr, err := r.PayloadReaderExtended()
	if err != nil {
		c.find("RPM-PAYLOAD-UNREADABLE", SevError, "payload", "%v", err)
		return c, nil
	}
	seen := map[string]bool{}
	for {
		fi, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.find("RPM-PAYLOAD-UNREADABLE", SevError, "payload", "%v", err)
			c.partial = true
			break
		}
		p := cleanPath(fi.Name())
		seen[p] = true
		m := int64(fi.Mode())
		file := File{Path: p, Type: unixType(m), Mode: unixModeString(m), Owner: fi.UserName(), Group: fi.GroupName(),
			Link: fi.Linkname(), Config: fi.Flags()&rpmutils.RPMFILE_CONFIG != 0}
		var body io.Reader
		if file.Type == "file" && !pr.IsLink() {
			body = pr
		}
		e, err := c.add(file, body)
		if err != nil {
			c.find("RPM-PAYLOAD-UNREADABLE", SevError, p, "%v", err)
			break
		}
		if body != nil && fi.Digest() != "" {
			got := e.md5
			if digestAlgo == 8 {
				got = e.SHA256
			}
			if got != fi.Digest() {
				c.find("RPM-FILE-DIGEST", SevError, p, "content digest %s, header says %s", got, fi.Digest())
			}
		}
	}
	for p, fi := range headerFiles {
		if !seen[p] && !c.partial && fi.Flags()&(1<<6) == 0 { // RPMFILE_GHOST files have no payload
			c.find("RPM-PAYLOAD-MISSING-FILE", SevError, p, "the header lists a file the payload does not hold")
		}
	}
	c.sortEntries()
	return c, nil
}
