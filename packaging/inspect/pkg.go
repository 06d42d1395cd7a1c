package inspect

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/sassoftware/relic/v7/lib/pkcs7"
	"github.com/sassoftware/relic/v7/lib/pkcs9"

	"github.com/pkgctl/pkgctl/notary"
	"github.com/pkgctl/pkgctl/packaging/macos/bom"
	"github.com/pkgctl/pkgctl/packaging/macos/cpio"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

type xmlDistribution struct {
	Title   string `xml:"title"`
	Options struct {
		HostArchitectures string `xml:"hostArchitectures,attr"`
	} `xml:"options"`
	Product struct {
		ID      string `xml:"id,attr"`
		Version string `xml:"version,attr"`
	} `xml:"product"`
	PkgRefs []struct {
		ID      string `xml:"id,attr"`
		Version string `xml:"version,attr"`
	} `xml:"pkg-ref"`
}

type xmlPackageInfo struct {
	Identifier      string `xml:"identifier,attr"`
	Version         string `xml:"version,attr"`
	InstallLocation string `xml:"install-location,attr"`
	Payload         struct {
		NumberOfFiles int   `xml:"numberOfFiles,attr"`
		InstallKBytes int64 `xml:"installKBytes,attr"`
	} `xml:"payload"`
	Scripts struct {
		Pre struct {
			File string `xml:"file,attr"`
		} `xml:"preinstall"`
		Post struct {
			File string `xml:"file,attr"`
		} `xml:"postinstall"`
	} `xml:"scripts"`
}

// readPkg reads a macOS flat package: xar TOC and member checksums, the
// Distribution, every component's PackageInfo, Scripts, Bom and Payload, and
// the xar signature.
func readPkg(f *os.File, size int64, opt Options) (*contents, error) {
	c := &contents{format: "pkg", ids: map[string]string{}}
	x, err := xar.OpenLenient(f, size)
	if err != nil {
		return nil, fmt.Errorf("pkg: %w", err)
	}
	if x.TOCMismatch {
		c.find("PKG-XAR-TOC-CHECKSUM", SevError, "TOC", "the TOC does not match its stored %s checksum", x.HashFunc)
	}
	if x.HashFunc == 0 {
		c.find("PKG-XAR-TOC-NO-CHECKSUM", SevWarning, "TOC", "the xar TOC has no checksum, so nothing protects it")
	}
	bad := map[string]bool{}
	for _, e := range x.Files {
		if e.Type != "file" {
			continue
		}
		r, err := x.Open(e)
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		if err != nil {
			bad[e.Path] = true
			c.find("PKG-XAR-FILE-CHECKSUM", SevError, e.Path, "%v", err)
		}
	}
	read := func(p string) []byte {
		if bad[p] || x.File(p) == nil {
			return nil
		}
		b, _ := x.ReadFile(p)
		return b
	}
	if d := read("Distribution"); d != nil {
		var doc xmlDistribution
		if err := xml.Unmarshal(d, &doc); err != nil {
			c.find("PKG-DISTRIBUTION", SevError, "Distribution", "not XML: %v", err)
		}
		c.name, c.arch = doc.Title, doc.Options.HostArchitectures
		if doc.Product.ID != "" {
			c.ids["product_id"] = doc.Product.ID
			c.version = doc.Product.Version
		}
	}
	components := 0
	for _, e := range x.Files {
		if path.Base(e.Path) != "PackageInfo" || bad[e.Path] {
			continue
		}
		components++
		readComponent(c, x, strings.TrimSuffix(e.Path, "PackageInfo"), read)
	}
	if components == 0 {
		c.find("PKG-NO-PACKAGEINFO", SevError, "TOC", "no PackageInfo: the xar archive is not a macOS installer package")
	}
	c.sortEntries()
	if x.Signature != nil || x.XSignature != nil {
		c.sigs = append(c.sigs, xarSignature(x, opt))
	}
	c.staple = readStaple(c, f, size, x)
	return c, nil
}

// readStaple reads the notarization ticket stapled after the xar, if any.
func readStaple(c *contents, r io.ReaderAt, size int64, x *xar.Reader) *Staple {
	s := &Staple{}
	s.Record, _ = notary.RecordName(x) // none for md5 or no TOC checksum
	t, err := notary.ReadTicket(r, size)
	if err != nil {
		c.find("PKG-STAPLE-MALFORMED", SevWarning, "notarization ticket", "the stapled ticket's trailers are damaged: %v", err)
		return s
	}
	if t != nil {
		sum := sha256.Sum256(t)
		s.Stapled, s.TicketSize, s.TicketSHA256 = true, int64(len(t)), hex.EncodeToString(sum[:])
	}
	return s
}

// readComponent reads one component package (dir is "" or "name.pkg/").
func readComponent(c *contents, x *xar.Reader, dir string, read func(string) []byte) {
	var info xmlPackageInfo
	if err := xml.Unmarshal(read(dir+"PackageInfo"), &info); err != nil {
		c.find("PKG-PACKAGEINFO", SevError, dir+"PackageInfo", "not XML: %v", err)
		return
	}
	if c.ids["pkg_identifier"] == "" {
		c.ids["pkg_identifier"] = info.Identifier
		if c.version == "" {
			c.version = info.Version
		}
	} else {
		c.ids["pkg_identifier:"+strings.TrimSuffix(dir, "/")] = info.Identifier
	}
	if s := read(dir + "Scripts"); s != nil {
		err := walkCpioGz(s, func(h *cpio.Header, r io.Reader) error {
			if !h.Mode.IsRegular() {
				return nil
			}
			b, err := io.ReadAll(io.LimitReader(r, maxKeep))
			name := strings.TrimPrefix(h.Name, "./")
			c.scripts = append(c.scripts, Script{Name: dir + "Scripts/" + name, Kind: "pkg-script", Detail: interpreter(b), Body: string(b)})
			return err
		})
		if err != nil {
			c.find("PKG-SCRIPTS-UNREADABLE", SevError, dir+"Scripts", "%v", err)
		}
	}
	var boms map[string]bom.Entry
	if b := read(dir + "Bom"); b != nil {
		entries, err := bom.Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			c.find("PKG-BOM-UNREADABLE", SevError, dir+"Bom", "%v", err)
		} else {
			boms = map[string]bom.Entry{}
			for _, e := range entries {
				boms[e.Path] = e
			}
		}
	} else {
		c.find("PKG-BOM-MISSING", SevError, dir+"Bom", "the component has no Bom")
	}
	payload := x.File(dir + "Payload")
	if payload == nil {
		return
	}
	pr, err := x.Open(payload)
	if err != nil {
		c.find("PKG-PAYLOAD-UNREADABLE", SevError, dir+"Payload", "%v", err)
		return
	}
	root := info.InstallLocation
	if root == "" {
		root = "/"
	}
	n := 0
	err = walkCpio(pr, func(h *cpio.Header, r io.Reader) error {
		n++
		f := File{Path: cleanPath(path.Join(root, h.Name)), Mode: modeString(h.Mode), Owner: fmt.Sprint(h.UID), Group: fmt.Sprint(h.GID), Link: h.Linkname}
		var body io.Reader
		switch {
		case h.Mode.IsDir():
			f.Type = "dir"
		case h.Mode&os.ModeSymlink != 0:
			f.Type = "symlink"
		case h.Mode.IsRegular():
			f.Type, body = "file", r
		default:
			f.Type = "special"
		}
		e, err := c.add(f, body)
		if err != nil {
			return err
		}
		if boms != nil {
			checkBomEntry(c, dir, boms, h, e)
		}
		return nil
	})
	if err != nil {
		c.find("PKG-PAYLOAD-UNREADABLE", SevError, dir+"Payload", "%v", err)
	}
	if boms != nil && len(boms) != n {
		c.find("PKG-BOM-PAYLOAD", SevError, dir+"Bom", "the Bom has %d entries, the Payload %d", len(boms), n)
	}
	if info.Payload.NumberOfFiles != 0 && info.Payload.NumberOfFiles != n {
		c.find("PKG-PACKAGEINFO-COUNT", SevWarning, dir+"PackageInfo", "numberOfFiles is %d, the Payload holds %d", info.Payload.NumberOfFiles, n)
	}
}

// checkBomEntry compares one Payload member with its Bom entry.
func checkBomEntry(c *contents, dir string, boms map[string]bom.Entry, h *cpio.Header, e *entry) {
	want, ok := boms[h.Name]
	if !ok {
		c.find("PKG-BOM-PAYLOAD", SevError, e.Path, "in the Payload but not in %sBom", dir)
		return
	}
	mode := uint16(cpio.UnixMode(h.Mode))
	if want.Mode != mode && !(h.Name == "." && want.Mode == 0) {
		c.find("PKG-BOM-PAYLOAD", SevError, e.Path, "mode %o in the Payload, %o in the Bom", mode, want.Mode)
	}
	if want.UID != uint32(h.UID) || want.GID != uint32(h.GID) {
		c.find("PKG-BOM-PAYLOAD", SevError, e.Path, "owner %d/%d in the Payload, %d/%d in the Bom", h.UID, h.GID, want.UID, want.GID)
	}
	if e.Type == "file" && e.kept {
		crc, size, _ := bom.Cksum(bytes.NewReader(e.data))
		if uint32(size) != want.Size || crc != want.Checksum {
			c.find("PKG-BOM-PAYLOAD", SevError, e.Path, "size/CRC %d/%d in the Payload, %d/%d in the Bom", size, crc, want.Size, want.Checksum)
		}
	} else if e.Type == "file" && uint32(e.Size) != want.Size {
		c.find("PKG-BOM-PAYLOAD", SevError, e.Path, "size %d in the Payload, %d in the Bom", e.Size, want.Size)
	}
}

func walkCpioGz(b []byte, fn func(*cpio.Header, io.Reader) error) error {
	return walkCpio(bytes.NewReader(b), fn)
}

// walkCpio reads a (gzip-compressed) odc cpio stream.
func walkCpio(r io.Reader, fn func(*cpio.Header, io.Reader) error) error {
	dr, done, err := decompress(r)
	if err != nil {
		return err
	}
	defer done()
	cr := cpio.NewReader(dr)
	for {
		h, err := cr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(h, cr); err != nil {
			return err
		}
	}
}

// xarSignature describes (and checks) the xar signature: the RSA signature
// over the TOC checksum, the CMS x-signature and its timestamp, and the
// chain to opt.Roots when given.
func xarSignature(x *xar.Reader, opt Options) Signature {
	s := Signature{Kind: "xar"}
	if x.Signature != nil {
		s.Kind = "xar-" + strings.ToLower(x.Signature.Style)
		s.Chain = certsOf("signature:xar", x.Signature.Certificates)
		if len(x.Signature.Certificates) > 0 {
			s.Signer = x.Signature.Certificates[0].Subject.String()
		}
	}
	if x.XSignature != nil {
		s.Extra = map[string]string{"x-signature": x.XSignature.Style}
		ts, st, tsa := cmsTimes(x.XSignature.Data, x.TOCHash)
		s.Timestamp, s.SigningTime = ts, st
		if tsa != "" {
			s.Extra["timestamp_authority"] = tsa
		}
	}
	s.Algorithm = x.HashFunc.String()
	if _, err := x.VerifySignature(nil); err != nil {
		s.Error = err.Error()
		return s
	}
	s.Valid = true
	if opt.Roots != nil {
		_, err := x.VerifySignature(opt.Roots)
		t := err == nil
		s.Trusted = &t
		if err != nil {
			s.Error = err.Error()
		}
	}
	return s
}

// cmsTimes returns the RFC 3161 timestamp (and the subject of the TSA that
// signed it) and the signing-time attribute of a detached CMS signature over
// content, when present.
func cmsTimes(data, content []byte) (ts, signing *time.Time, tsa string) {
	pkt, err := ber.DecodePacketErr(data)
	if err != nil {
		return nil, nil, ""
	}
	psd, err := pkcs7.Unmarshal(pkt.Bytes())
	if err != nil {
		return nil, nil, ""
	}
	sig, err := psd.Content.Verify(content, false)
	if err != nil {
		return nil, nil, ""
	}
	if t, err := sig.SignerInfo.SigningTime(); err == nil {
		t = t.UTC()
		signing = &t
	}
	if tsig, err := pkcs9.VerifyOptionalTimestamp(sig); err == nil && tsig.CounterSignature != nil {
		t := tsig.CounterSignature.SigningTime.UTC()
		ts = &t
		if c := tsig.CounterSignature.Certificate; c != nil {
			tsa = c.Subject.String()
		}
	}
	return ts, signing, tsa
}

func certsOf(where string, certs []*x509.Certificate) []Certificate {
	var out []Certificate
	for _, c := range certs {
		out = append(out, describeCert(where, c))
	}
	return out
}
