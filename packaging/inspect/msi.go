package inspect

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/sassoftware/relic/v7/lib/authenticode"
	"github.com/sassoftware/relic/v7/signers/sigerrors"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/packaging/windows/cab"
	"github.com/pkgctl/pkgctl/packaging/windows/msidb"
)

// standardDirs maps MSI folder properties to the paths used in reports
// (slash-separated, drive-less, as packaging.WindowsOrbitRoot).
var standardDirs = map[string]string{
	"TARGETDIR": "", "ProgramFiles64Folder": "/Program Files", "ProgramFilesFolder": "/Program Files (x86)",
	"ProgramFiles6432Folder": "/Program Files", "System64Folder": "/Windows/System32", "SystemFolder": "/Windows/SysWOW64",
	"CommonAppDataFolder": "/ProgramData", "WindowsFolder": "/Windows", "CommonFiles64Folder": "/Program Files/Common Files",
	"CommonFilesFolder": "/Program Files (x86)/Common Files", "LocalAppDataFolder": "/Users/[user]/AppData/Local",
	"AppDataFolder": "/Users/[user]/AppData/Roaming", "TempFolder": "/Windows/Temp",
}

type msiRows struct {
	t *msidb.TableData
}

func (m msiRows) each(fn func(r map[string]any)) {
	if m.t == nil {
		return
	}
	for _, row := range m.t.Rows {
		r := map[string]any{}
		for i, c := range m.t.Columns {
			r[c.Name] = row[i]
		}
		fn(r)
	}
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func num(v any) int64 {
	if n, ok := v.(int32); ok {
		return int64(n)
	}
	return 0
}

// readMSI reads a Windows Installer database: summary, properties, files with
// their security descriptors, the embedded cabinets, services, custom actions
// and the Authenticode signature.
func readMSI(f *os.File, size int64, opt Options) (*contents, error) {
	c := &contents{format: "msi", ids: map[string]string{}, props: map[string]string{}}
	db, err := msidb.Read(f)
	if err != nil {
		return nil, fmt.Errorf("msi: %w", err)
	}
	lintFindings(c, db)
	rows := func(t string) msiRows { return msiRows{db.Table(t)} }
	rows("Property").each(func(r map[string]any) { c.props[str(r["Property"])] = str(r["Value"]) })
	c.name, c.version = c.props["ProductName"], c.props["ProductVersion"]
	c.ids["product_code"], c.ids["upgrade_code"] = c.props["ProductCode"], c.props["UpgradeCode"]
	if s := db.Summary; s != nil {
		c.ids["package_code"] = s.RevisionNumber
		plat, _, _ := strings.Cut(s.Template, ";")
		c.arch = map[string]string{"x64": "amd64", "Arm64": "arm64", "Intel": "386", "Intel64": "ia64", "": "386", "Arm": "arm"}[plat]
		if c.arch == "" {
			c.arch = plat
		}
	} else {
		c.find("MSI-SUMMARY", SevError, "\\x05SummaryInformation", "no summary information stream: Windows Installer refuses the package")
	}
	checkMSIArch(c, db, rows)
	dirs := msiDirectories(c, rows("Directory"))
	compDir := map[string]string{}
	rows("Component").each(func(r map[string]any) { compDir[str(r["Component"])] = str(r["Directory_"]) })
	security := msiSecurity(rows)
	var files []msiFile
	rows("File").each(func(r map[string]any) {
		name := str(r["FileName"])
		if _, long, ok := strings.Cut(name, "|"); ok {
			name = long
		}
		p := path.Join(dirs[compDir[str(r["Component_"])]], name)
		files = append(files, msiFile{str(r["File"]), p, num(r["FileSize"]), num(r["Sequence"])})
	})
	sort.Slice(files, func(i, j int) bool { return files[i].seq < files[j].seq })
	byKey := map[string]msiFile{}
	for _, fr := range files {
		byKey[fr.key] = fr
	}
	seen := map[string]bool{}
	rows("Media").each(func(r map[string]any) {
		name := str(r["Cabinet"])
		if !strings.HasPrefix(name, "#") {
			if name != "" {
				c.find("MSI-CAB-EXTERNAL", SevWarning, name, "the cabinet is outside the .msi; its files are not checked")
			}
			return
		}
		s, err := db.OpenStream(name[1:])
		if err != nil {
			c.find("MSI-CAB-MISSING", SevError, name, "Media names a cabinet stream that the database does not hold")
			return
		}
		readMSICab(c, name[1:], s, byKey, seen, security)
	})
	for _, fr := range files {
		if !seen[fr.key] && !c.partial {
			c.find("MSI-CAB-FILE-MISSING", SevError, fr.key, "File row %s (%s) is in no embedded cabinet", fr.key, fr.path)
		}
	}
	checkMSIMedia(c, rows, files)
	msiFolders(c, rows, dirs, security)
	msiService(c, rows)
	msiCustomActions(c, rows, db)
	c.sortEntries()
	if sig := authenticodeSignature(f, opt); sig != nil {
		c.sigs = append(c.sigs, *sig)
	}
	return c, nil
}

// msiDirectories resolves every Directory row to a path.
func msiDirectories(c *contents, t msiRows) map[string]string {
	parent, name := map[string]string{}, map[string]string{}
	t.each(func(r map[string]any) {
		d := str(r["Directory"])
		parent[d] = str(r["Directory_Parent"])
		def := str(r["DefaultDir"])
		if tgt, _, ok := strings.Cut(def, ":"); ok { // target:source
			def = tgt
		}
		if _, long, ok := strings.Cut(def, "|"); ok {
			def = long
		}
		name[d] = def
	})
	out := map[string]string{}
	var resolve func(d string, depth int) string
	resolve = func(d string, depth int) string {
		if p, ok := out[d]; ok {
			return p
		}
		if p, ok := standardDirs[d]; ok {
			out[d] = p
			return p
		}
		if depth > 64 {
			c.find("MSI-DIRECTORY-LOOP", SevError, d, "the Directory table has a loop")
			return "/[" + d + "]"
		}
		p := "/[" + d + "]"
		if par := parent[d]; par != "" && par != d {
			p = resolve(par, depth+1)
			if n := name[d]; n != "." && n != "" {
				p = path.Join(p, n)
			}
		}
		out[d] = p
		return p
	}
	for d := range parent {
		resolve(d, 0)
	}
	return out
}

// msiSecurity maps "Table/LockObject" to its security descriptor.
func msiSecurity(rows func(string) msiRows) map[string]string {
	sec := map[string]string{}
	rows("MsiLockPermissionsEx").each(func(r map[string]any) {
		sec[str(r["Table"])+"/"+str(r["LockObject"])] = str(r["SDDL"])
	})
	rows("LockPermissions").each(func(r map[string]any) {
		k := str(r["Table"]) + "/" + str(r["LockObject"])
		user := str(r["User"])
		if d := str(r["Domain"]); d != "" {
			user = d + `\` + user
		}
		entry := fmt.Sprintf("%s:0x%x", user, uint32(num(r["Permission"])))
		if sec[k] != "" {
			sec[k] += "; "
		}
		sec[k] += entry
	})
	return sec
}

type msiFile struct {
	key, path string
	size, seq int64
}

// readMSICab hashes every file of an embedded cabinet, checks its blocks
// strictly and compares it with the File table's names, sizes and sequence.
func readMSICab(c *contents, name string, s *io.SectionReader, files map[string]msiFile, seen map[string]bool, security map[string]string) {
	cb, err := cab.Open(s, s.Size())
	if err != nil {
		c.find("MSI-CAB-UNREADABLE", SevError, name, "%v", err)
		return
	}
	if cb.Trailing > 0 {
		c.find("MSI-CAB-TRAILING-DATA", SevWarning, name, "%d bytes after the cabinet", cb.Trailing)
	}
	err = cb.Blocks(func(b cab.Block) error {
		if b.Compression != 1 {
			return nil
		}
		if len(b.Data) < 2 || string(b.Data[:2]) != "CK" {
			c.find("MSI-CAB-MSZIP", SevError, name, "folder %d block %d: no CK signature", b.Folder, b.Index)
			return nil
		}
		// Go's inflate (like Wine's, gcab's and 7-Zip's) accepts incomplete
		// Huffman codes; Windows and libmspack do not.
		if err := flatecheck.CheckMSZIP(b.Data); err != nil {
			code := "MSI-CAB-MSZIP"
			if strings.Contains(err.Error(), "incomplete") {
				code = "MSI-CAB-MSZIP-INCOMPLETE"
			}
			c.find(code, SevError, name, "folder %d block %d: %v (Windows refuses it; cabextract -t too)", b.Folder, b.Index, err)
		}
		return nil
	})
	if err != nil {
		c.find("MSI-CAB-UNREADABLE", SevError, name, "%v", err)
	}
	var lastSeq int64
	err = cb.Walk(func(fi cab.FileInfo, r io.Reader) error {
		fr, ok := files[fi.Name]
		if !ok {
			c.find("MSI-CAB-EXTRA-FILE", SevWarning, name+"/"+fi.Name, "the cabinet holds a file no File row names")
			_, err := io.Copy(io.Discard, r)
			return err
		}
		seen[fi.Name] = true
		if fr.seq < lastSeq {
			c.find("MSI-CAB-SEQUENCE", SevError, fi.Name, "cabinet order disagrees with File.Sequence (%d after %d)", fr.seq, lastSeq)
		}
		lastSeq = fr.seq
		e, err := c.add(File{Path: fr.path, Type: "file", Owner: "", Security: security["File/"+fi.Name]}, r)
		if err != nil {
			return err
		}
		if e.Size != fr.size || fi.Size != fr.size {
			c.find("MSI-CAB-FILE-SIZE", SevError, fr.path, "File.FileSize is %d, the cabinet holds %d bytes", fr.size, e.Size)
		}
		return nil
	})
	if err != nil {
		c.find("MSI-CAB-CORRUPT", SevError, name, "%v", err)
		c.partial = true
	}
}

// checkMSIMedia checks that the Media rows' LastSequence cover every file.
func checkMSIMedia(c *contents, rows func(string) msiRows, files []msiFile) {
	var last int64
	rows("Media").each(func(r map[string]any) { last = max(last, num(r["LastSequence"])) })
	if len(files) > 0 && files[len(files)-1].seq > last {
		c.find("MSI-MEDIA-SEQUENCE", SevError, "Media", "LastSequence %d is below the File sequence %d", last, files[len(files)-1].seq)
	}
}

// msiFolders adds the folders the package creates (CreateFolder) with their
// security descriptors.
func msiFolders(c *contents, rows func(string) msiRows, dirs map[string]string, security map[string]string) {
	rows("CreateFolder").each(func(r map[string]any) {
		d := str(r["Directory_"])
		c.add(File{Path: dirs[d], Type: "dir", Security: security["CreateFolder/"+d]}, nil)
	})
}

var formattedProp = regexp.MustCompile(`\[([A-Za-z_][A-Za-z0-9_.]*)\]`)

// resolveFormatted expands [PROPERTY] references (directories resolve to
// their paths) and the [\x] escapes of a Formatted value.
func resolveFormatted(c *contents, dirs map[string]string, v string) string {
	v = formattedProp.ReplaceAllStringFunc(v, func(m string) string {
		name := m[1 : len(m)-1]
		if d, ok := dirs[name]; ok {
			return strings.ReplaceAll(d, "/", `\`) + `\`
		}
		if p, ok := c.props[name]; ok {
			return p
		}
		return m
	})
	return regexp.MustCompile(`\[\\(.)\]`).ReplaceAllString(v, "$1")
}

// msiService reads the orbit service: its Environment registry value and
// its arguments, as settings.
func msiService(c *contents, rows func(string) msiRows) {
	dirs := msiDirectories(&contents{}, rows("Directory"))
	rows("Registry").each(func(r map[string]any) {
		if str(r["Name"]) != "Environment" || !strings.HasPrefix(str(r["Key"]), `SYSTEM\CurrentControlSet\Services\`) {
			return
		}
		src := "Registry " + str(r["Key"]) + `\Environment`
		for _, kv := range strings.Split(str(r["Value"]), "[~]") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				c.env = append(c.env, envVar{k, resolveFormatted(c, dirs, v), src})
			}
		}
	})
	rows("ServiceInstall").each(func(r map[string]any) {
		args := resolveFormatted(c, dirs, str(r["Arguments"]))
		src := "ServiceInstall " + str(r["Name"]) + " Arguments"
		fields := splitArgs(args)
		for i := 0; i < len(fields); i++ {
			a := fields[i]
			if !strings.HasPrefix(a, "--") {
				continue
			}
			k, v, ok := strings.Cut(a[2:], "=")
			if !ok {
				v = "true"
				if i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "--") {
					v, i = fields[i+1], i+1
				}
			}
			c.env = append(c.env, envVar{"ORBIT_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_")), v, src})
		}
	})
}

// splitArgs splits a Windows command line (double quotes group).
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	in, any := false, false
	for _, r := range s {
		switch {
		case r == '"':
			in, any = !in, true
		case (r == ' ' || r == '\t') && !in:
			if any || cur.Len() > 0 {
				out = append(out, cur.String())
			}
			cur.Reset()
			any = false
		default:
			cur.WriteRune(r)
		}
	}
	if any || cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// msiCustomActions lists the CustomAction rows (and a script body when the
// source is a Binary stream holding a script).
func msiCustomActions(c *contents, rows func(string) msiRows, db *msidb.File) {
	rows("CustomAction").each(func(r map[string]any) {
		typ := num(r["Type"])
		s := Script{Name: str(r["Action"]), Kind: "custom-action",
			Detail: fmt.Sprintf("type %d, source %s", typ, str(r["Source"])), Body: str(r["Target"])}
		if base := typ & 0x3f; base == 5 || base == 6 { // JScript / VBScript in a Binary stream
			if st, err := db.OpenStream("Binary." + str(r["Source"])); err == nil && st.Size() < maxKeep {
				b, _ := io.ReadAll(st)
				s.Body = string(b) + "\n// entry point: " + str(r["Target"])
			}
		}
		c.scripts = append(c.scripts, s)
	})
}

// authenticodeSignature describes the MSI's Authenticode signature (nil when
// unsigned).
func authenticodeSignature(f *os.File, opt Options) *Signature {
	sig, err := authenticode.VerifyMSI(f, true)
	var notSigned sigerrors.NotSignedError
	if errors.As(err, &notSigned) {
		return nil
	}
	if err != nil {
		return &Signature{Kind: "authenticode", Error: err.Error()}
	}
	s := &Signature{Kind: "authenticode", Algorithm: sig.HashFunc.String()}
	fillPKCS7(s, sig.TimestampedSignature, opt, "signature:authenticode", x509.ExtKeyUsageCodeSigning)
	if _, err := authenticode.VerifyMSI(f, false); err != nil {
		s.Error = "the signed digest does not match the database: " + err.Error()
	} else {
		s.Valid = true
	}
	return s
}

// lintCodes names msidb.Lint's findings by what their text says.
var lintCodes = []struct{ substr, code string }{
	{"refcount", "MSI-STRINGPOOL-REFCOUNT"}, {"_Validation", "MSI-VALIDATION"}, {"not sorted", "MSI-TABLE-UNSORTED"},
	{"duplicate key", "MSI-TABLE-DUPLICATE-KEY"}, {"no stream", "MSI-STREAM-MISSING"}, {"null in non-nullable", "MSI-TABLE-NULL"},
}

// lintFindings turns msidb.Lint's errors (Windows Installer would fail) and
// warnings (unusual) into findings; reference count warnings, which WiX and
// wixl databases carry by the dozen, are summed up in one.
func lintFindings(c *contents, db *msidb.File) {
	errs, warns := db.Lint()
	code := func(e error) string {
		for _, lc := range lintCodes {
			if strings.Contains(e.Error(), lc.substr) {
				return lc.code
			}
		}
		return "MSI-DATABASE"
	}
	for _, e := range errs {
		c.find(code(e), SevError, "database", "%v", e)
	}
	var refs []error
	for _, e := range warns {
		if code(e) == "MSI-STRINGPOOL-REFCOUNT" {
			refs = append(refs, e)
			continue
		}
		c.find(code(e), SevWarning, "database", "%v", e)
	}
	if len(refs) > 0 {
		c.find("MSI-STRINGPOOL-REFCOUNT", SevWarning, "_StringPool", "%d strings have reference counts that differ from the tables' references (first: %v)", len(refs), refs[0])
	}
}

// checkMSIArch checks the summary's Template platform against the
// components: Windows Installer refuses 64-bit components (attribute 256)
// in a package whose Template says Intel, and a package with no or an
// unknown platform.
func checkMSIArch(c *contents, db *msidb.File, rows func(string) msiRows) {
	if db.Summary == nil {
		return
	}
	plat, _, _ := strings.Cut(db.Summary.Template, ";")
	switch plat {
	case "x64", "Arm64", "Intel", "", "Intel64", "Arm":
	default:
		c.find("MSI-SUMMARY-ARCH", SevError, "\\x05SummaryInformation", "Template %q names no platform Windows Installer knows", db.Summary.Template)
		return
	}
	if plat != "Intel" && plat != "" {
		return
	}
	rows("Component").each(func(r map[string]any) {
		if num(r["Attributes"])&256 != 0 {
			c.find("MSI-SUMMARY-ARCH", SevError, str(r["Component"]), "a 64-bit component in a package whose Template is %q (32-bit)", db.Summary.Template)
		}
	})
}
