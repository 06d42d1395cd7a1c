// Package windows implements packaging.Packager for Windows Installer (.msi)
// packages: it turns the Windows Layout into installer tables (package msidb)
// with the files in an embedded MSZIP cabinet (package cab), inside a compound
// file (package cfb), and Authenticode-signs the result (relic).
//
// Everything the installer does is done by native tables (Registry,
// ServiceInstall, ServiceControl, MsiServiceConfigFailureActions,
// MsiLockPermissionsEx, RemoveFile, Upgrade) or by custom actions that run
// what Windows ships (cmd.exe, the JScript engine): no third-party binary is
// carried.
package windows

import (
	"github.com/pkgctl/pkgctl/internal/iox"

	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/packaging/windows/cab"
	"github.com/pkgctl/pkgctl/packaging/windows/msidb"
)

func init() { packaging.Register(packaging.TypeMSI, Packager{}) }

// Facts of fleetctl's MSI (fleetd-compat.md §2.2) that upgrades depend on.
const (
	// UpgradeCode ties every fleetd MSI together: pkgctl's and fleetctl's
	// upgrade each other.
	UpgradeCode  = "{B681CB20-107E-428A-9B14-2D3C1AFED244}"
	Manufacturer = "Fleet Device Management (fleetdm.com)"
	ProductName  = "Fleet osquery"
	// Component GUIDs fleetctl gives its root and service-binary components.
	rootComponentGUID = "{A7DFD09E-2D2B-4535-A04F-5D4DE90F3863}"
	binComponentGUID  = "{AF347B4E-B84B-4DD4-9C4D-133BE17B613D}"

	rootDirID    = "ORBITROOT"
	binOrbitDir  = "ORBITBINORBIT"
	rootComp     = "C_ORBITROOT"
	binComp      = "C_ORBITBIN"
	featureID    = "Orbit"
	cabName      = "cab1.cab"
	upgradeProp  = "WIX_UPGRADE_DETECTED" // fleetctl's conditions use this name
	secretScript = "WriteSecretScript"
	secretAction = "WriteSecret"
	setSecret    = "SetWriteSecret"
	removeAction = "RemoveOrbitRoot"
)

// Custom action type bits (Windows Installer SDK, CustomAction table).
const (
	caJScriptBinary = 5    // JScript stored in the Binary table
	caExeInDir      = 34   // an executable, Source = working directory
	caSetProperty   = 51   // set a property from a formatted string
	caContinue      = 64   // ignore the exit code
	caInScript      = 1024 // deferred: runs in the install script
	caNoImpersonate = 2048 // as LocalSystem
	caHideTarget    = 8192 // never log Target nor CustomActionData
)

//go:embed writesecret.js
var writeSecretJS []byte

// Packager builds .msi packages.
type Packager struct{}

// FileName is fleetctl's name: fleet-osquery.msi, fleet-osquery-arm64.msi for arm64.
func (Packager) FileName(l *packaging.Layout) string {
	if l.Arch == packaging.ArchARM64 {
		return packaging.PackageName + "-arm64.msi"
	}
	return packaging.PackageName + ".msi"
}

// Package writes the installer for l to w. The cabinet is staged in the cab
// writer's 0600 temporary file (it holds the enroll secret and keys), removed
// by Close.
func (Packager) Package(ctx context.Context, l *packaging.Layout, w io.Writer) error {
	if l.OS != packaging.OSWindows || l.Windows == nil {
		return fmt.Errorf("msi: layout for %s is not a Windows layout", l.OS)
	}
	p, err := planWith(l, sharedFileSum(ctx))
	if err != nil {
		return err
	}
	cw, err := cab.NewWriter(cab.Options{ModTime: l.MTime})
	if err != nil {
		return fmt.Errorf("msi: cabinet: %w", err)
	}
	defer cw.Close()
	n := 0
	for n < len(p.files) && sharedRank(p.files[n]) == 0 {
		n++
	}
	if n > 0 {
		fo, cleanup, err := sharedFolder(ctx, p.files[:n], l.MTime)
		if err != nil {
			return err
		}
		defer cleanup()
		if err := cw.AddFolder(fo); err != nil {
			return fmt.Errorf("msi: cabinet: %w", err)
		}
	}
	for _, f := range p.files[n:] {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := addToCab(ctx, cw, f); err != nil {
			return err
		}
	}
	size, err := cw.Finish()
	if err != nil {
		return fmt.Errorf("msi: cabinet: %w", err)
	}
	db, err := p.database(l)
	if err != nil {
		return err
	}
	if err := db.AddStream(cabName, size, cw.Open); err != nil {
		return fmt.Errorf("msi: %w", err)
	}
	if _, err := db.WriteTo(w); err != nil {
		return fmt.Errorf("msi: write database: %w", err)
	}
	return nil
}

// sharedRank is 0 for a component file (read from Source: the same bytes in
// every build of a fetch), 1 for a file the build writes itself.
func sharedRank(f cabFile) int {
	if f.Entry.Source != "" {
		return 0
	}
	return 1
}

// sharedFolder is the cabinet folder of the component files, compressed once
// per fetch (packaging.Shared) and reused by every build that has the same
// files: a build alone compresses it the same way, so its bytes do not
// depend on the matrix.
func sharedFolder(ctx context.Context, files []cabFile, mtime time.Time) (*cab.Folder, func(), error) {
	h := sha256.New()
	fmt.Fprintf(h, "msi shared folder v1\x00%d\x00", mtime.Unix())
	for _, f := range files {
		st, err := os.Stat(f.Entry.Source)
		if err != nil {
			return nil, nil, fmt.Errorf("msi: %s: %w", f.Entry.Path, err)
		}
		fmt.Fprintf(h, "%q %q %d %d %d\x00", f.Key, f.Entry.Source, f.Size, st.Size(), st.ModTime().UnixNano())
	}
	ran := false // this build compressed the folder, counting it as it went
	v, cleanup, err := packaging.SharedFrom(ctx).Do(hex.EncodeToString(h.Sum(nil)), func(dir string) (any, error) {
		ran = true
		cw, err := cab.NewWriter(cab.Options{TempDir: dir, ModTime: mtime})
		if err != nil {
			return nil, fmt.Errorf("msi: cabinet: %w", err)
		}
		defer cw.Close()
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := addToCab(ctx, cw, f); err != nil {
				return nil, err
			}
		}
		fo, err := cw.FinishFolder()
		if err != nil {
			return nil, fmt.Errorf("msi: cabinet: %w", err)
		}
		return fo, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if !ran { // made by an earlier build of the matrix: done at once
		for _, f := range files {
			packaging.Count(ctx, f.Size)
		}
	}
	return v.(*cab.Folder), cleanup, nil
}

// addToCab adds one file under its File table key.
func addToCab(ctx context.Context, cw *cab.Writer, f cabFile) error {
	var r io.Reader = bytes.NewReader(f.Entry.Data)
	if f.Entry.Source != "" {
		src, err := os.Open(f.Entry.Source)
		if err != nil {
			return fmt.Errorf("msi: %s: %w", f.Entry.Path, err)
		}
		defer src.Close()
		r = src
	}
	// A source that changed size since planning would break File.FileSize.
	n := &iox.CountingReader{R: packaging.MeterReader(ctx, r)}
	if err := cw.Add(f.Key, n, 0); err != nil {
		return fmt.Errorf("msi: cabinet: %s: %w", f.Entry.Path, err)
	}
	if n.N != f.Size {
		return fmt.Errorf("msi: %s changed size while packaging (%d, then %d bytes)", f.Entry.Path, f.Size, n.N)
	}
	return nil
}

// cabFile is one file of the cabinet: its File table key and content.
type cabFile struct {
	Key   string
	Entry packaging.Entry
	Size  int64
}

// msiPlan is the Layout mapped to installer identifiers.
type msiPlan struct {
	dirs                     []dirRow
	dirIDs                   map[string]string // Entry.Path → Directory key
	files                    []cabFile
	fileComp                 map[string]string // File key → Component key
	fileDir                  map[string]string // File key → Directory key
	fileName                 map[string]string // File key → short|long
	productGUID, packageGUID string
}

type dirRow struct{ id, parent, defaultDir, path string }

// plan assigns identifiers, short names and codes. Identifiers are hashes of
// paths, so they are stable from one build to the next.
func plan(l *packaging.Layout) (*msiPlan, error) { return planWith(l, fileSum) }

// planWith is plan with sum giving a component file's SHA-256.
func planWith(l *packaging.Layout, fileSumOf func(path string) ([]byte, error)) (*msiPlan, error) {
	p := &msiPlan{dirIDs: map[string]string{}, fileComp: map[string]string{}, fileDir: map[string]string{}, fileName: map[string]string{}}
	root := packaging.WindowsOrbitRoot
	p.dirs = []dirRow{
		{id: "TARGETDIR", defaultDir: "SourceDir"},
		{id: "ProgramFiles64Folder", parent: "TARGETDIR", defaultDir: "."},
		{id: "System64Folder", parent: "TARGETDIR", defaultDir: "."},
		{id: rootDirID, parent: "ProgramFiles64Folder", defaultDir: "Orbit", path: root},
	}
	p.dirIDs[root] = rootDirID
	if path.Dir(root) != "/Program Files" || path.Base(root) != "Orbit" {
		return nil, fmt.Errorf("msi: orbit root %s is not under /Program Files", root)
	}
	shortNames := map[string]map[string]string{} // dir id → upper short name → long
	short := func(dirID, long string) (string, error) {
		s := shortName(long)
		seen := shortNames[dirID]
		if seen == nil {
			seen = map[string]string{}
			shortNames[dirID] = seen
		}
		if prev, ok := seen[strings.ToUpper(s)]; ok && prev != long {
			return "", fmt.Errorf("msi: short names of %q and %q collide", prev, long)
		}
		seen[strings.ToUpper(s)] = long
		if s == long {
			return long, nil
		}
		return s + "|" + long, nil
	}
	var addDir func(p string) (string, error)
	addDir = func(dir string) (string, error) {
		if id, ok := p.dirIDs[dir]; ok {
			return id, nil
		}
		if !strings.HasPrefix(dir, root+"/") {
			return "", fmt.Errorf("msi: %s is outside %s", dir, root)
		}
		parent, err := addDir(path.Dir(dir))
		if err != nil {
			return "", err
		}
		id := ident("d", dir)
		if dir == root+"/bin/orbit" {
			id = binOrbitDir // fleetctl's directory of the service binary
		}
		dd, err := short(parent, path.Base(dir))
		if err != nil {
			return "", err
		}
		p.dirIDs[dir] = id
		p.dirs = append(p.dirs, dirRow{id: id, parent: parent, defaultDir: dd, path: dir})
		return id, nil
	}
	for _, e := range l.Entries {
		switch e.Kind {
		case packaging.KindDir:
			if _, err := addDir(e.Path); err != nil {
				return nil, err
			}
		case packaging.KindFile:
			dir, err := addDir(path.Dir(e.Path))
			if err != nil {
				return nil, err
			}
			size, err := e.Size()
			if err != nil {
				return nil, fmt.Errorf("msi: %s: %w", e.Path, err)
			}
			key := ident("f", e.Path)
			name, err := short(dir, path.Base(e.Path))
			if err != nil {
				return nil, err
			}
			p.files = append(p.files, cabFile{Key: key, Entry: e, Size: size})
			p.fileDir[key], p.fileName[key] = dir, name
			p.fileComp[key] = ident("c", e.Path)
			if e.Role == packaging.RoleServiceBinary {
				p.fileComp[key] = binComp
			}
		default:
			return nil, fmt.Errorf("msi: %s: Windows Installer packages hold no %s entries", e.Path, e.Kind)
		}
	}
	// The component files (the same in every build of a fetch) come first:
	// they make the cabinet's first folder, compressed once (see Package);
	// the cabinet's file order is the File table's Sequence order.
	slices.SortStableFunc(p.files, func(a, b cabFile) int {
		return cmp.Compare(sharedRank(a), sharedRank(b))
	})
	if _, err := addDir(root + "/osquery.db"); err != nil { // runtime data, removed on uninstall
		return nil, err
	}
	sum, err := layoutDigest(l, fileSumOf)
	if err != nil {
		return nil, err
	}
	p.productGUID = guidFrom(sum, "ProductCode")
	p.packageGUID = guidFrom(sum, "PackageCode")
	return p, nil
}

// ident is a table key derived from a path: a letter and 16 hex digits.
func ident(prefix, p string) string {
	h := sha256.Sum256([]byte(p))
	return prefix + hex.EncodeToString(h[:8])
}

var shortOK = regexp.MustCompile(`^[A-Za-z0-9_$~!#%&'(){}@^` + "`" + `-]{1,8}(\.[A-Za-z0-9_$~!#%&'(){}@^` + "`" + `-]{1,3})?$`)

// shortName is the 8.3 name Windows Installer wants beside a long name: the
// name itself when it is already 8.3, else 8 hex digits of its hash and the
// first three characters of its extension.
func shortName(long string) string {
	if shortOK.MatchString(long) {
		return long
	}
	h := sha256.Sum256([]byte(long))
	s := strings.ToUpper(hex.EncodeToString(h[:4]))
	if ext := path.Ext(long); len(ext) > 1 {
		var b strings.Builder
		for _, r := range ext[1:] {
			if b.Len() == 3 {
				break
			}
			if r < 0x80 && shortOK.MatchString(string(r)) {
				b.WriteRune(r)
			}
		}
		if b.Len() > 0 {
			s += "." + strings.ToUpper(b.String())
		}
	}
	return s
}

// layoutDigest hashes everything the package says: entries and their
// contents, service, properties and version, so the ProductCode and
// PackageCode change exactly when the package does.
func layoutDigest(l *packaging.Layout, fileSum func(path string) ([]byte, error)) ([]byte, error) {
	h := sha256.New()
	fmt.Fprintf(h, "pkgctl msi v1\x00%s\x00%s\x00%s\x00%d\x00", l.Arch, l.Version, l.Name, l.MTime.Unix())
	for _, e := range l.Entries {
		fmt.Fprintf(h, "%s\x00%d\x00%o\x00%s\x00%s\x00", e.Path, e.Kind, e.Mode, e.SDDL, e.Role)
		if e.Kind != packaging.KindFile {
			continue
		}
		if e.Source == "" {
			fmt.Fprintf(h, "%d\x00", len(e.Data))
			h.Write(e.Data)
			continue
		}
		// The file's own SHA-256, computed once per fetch (team builds
		// share it), stands for its content.
		fs, err := fileSum(e.Source)
		if err != nil {
			return nil, fmt.Errorf("msi: %s: %w", e.Path, err)
		}
		h.Write(fs)
	}
	fmt.Fprintf(h, "%+v", *l.Windows)
	return h.Sum(nil), nil
}

// fileSum is the SHA-256 of the file at path.
func fileSum(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

// sharedFileSum is fileSum computed once per fetch (packaging.Shared) for a
// file of a given size and time.
func sharedFileSum(ctx context.Context) func(string) ([]byte, error) {
	shared := packaging.SharedFrom(ctx)
	if shared == nil {
		return fileSum
	}
	return func(path string) ([]byte, error) {
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		key := fmt.Sprintf("msi file sha256\x00%s\x00%d\x00%d", path, st.Size(), st.ModTime().UnixNano())
		v, err := shared.Value(key, func() (any, error) { return fileSum(path) })
		if err != nil {
			return nil, err
		}
		return v.([]byte), nil
	}
}

// guidFrom makes a GUID (version 5 layout, SHA-256 based) from a digest and a label.
func guidFrom(sum []byte, label string) string {
	h := sha256.Sum256(append(append([]byte{}, sum...), label...))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("{%08X-%04X-%04X-%04X-%012X}", binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint16(b[4:6]),
		binary.BigEndian.Uint16(b[6:8]), binary.BigEndian.Uint16(b[8:10]), b[10:16])
}

// componentGUID is stable per installed path, so component reference counts
// stay right across versions.
func componentGUID(p string) string {
	return guidFrom([]byte("pkgctl component\x00"+UpgradeCode), p)
}

// escapeFormatted makes s literal in an installer formatted string: [ ] { }
// become [\[] [\]] [\{] [\}].
func escapeFormatted(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '[', ']', '{', '}':
			b.WriteString(`[\`)
			b.WriteRune(r)
			b.WriteString(`]`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// formattedPath is the formatted string for a path on the target (Layout
// convention: "/" is the system drive).
func formattedPath(p string) (string, error) {
	for _, r := range []struct{ prefix, prop string }{
		{packaging.WindowsOrbitRoot, rootDirID},
		{packaging.WindowsSystem32, "System64Folder"},
	} {
		if p == r.prefix {
			return "[" + r.prop + "].", nil
		}
		if rest, ok := strings.CutPrefix(p, r.prefix+"/"); ok {
			return "[" + r.prop + "]" + escapeFormatted(strings.ReplaceAll(rest, "/", `\`)), nil
		}
	}
	return "", fmt.Errorf("msi: path %s is neither under %s nor %s", p, packaging.WindowsOrbitRoot, packaging.WindowsSystem32)
}

// envValue is one Environment entry as a formatted string.
func envValue(v packaging.EnvVar) (string, error) {
	switch {
	case v.Property != "":
		return v.Name + "=[" + v.Property + "]", nil
	case v.Path != "":
		p, err := formattedPath(v.Path)
		return v.Name + "=" + p, err
	default:
		return v.Name + "=" + escapeFormatted(v.Literal), nil
	}
}

// productVersion is the numeric major.minor.build that ProductVersion takes.
func productVersion(v string) (string, error) {
	m := regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(v)
	if m == nil {
		return "", fmt.Errorf("msi: orbit version %q is not major.minor.patch, which ProductVersion needs", v)
	}
	var n [3]int
	for i := range n {
		x, err := strconv.Atoi(m[i+1])
		if err != nil {
			x = math.MaxInt // too long for an int: over every limit below
		}
		n[i] = x
	}
	if n[0] > 255 || n[1] > 255 || n[2] > 65535 {
		return "", fmt.Errorf("msi: orbit version %q is beyond 255.255.65535, the largest ProductVersion", v)
	}
	return fmt.Sprintf("%d.%d.%d", n[0], n[1], n[2]), nil
}

// database lays out every table.
func (p *msiPlan) database(l *packaging.Layout) (*msidb.Database, error) {
	win := l.Windows
	version, err := productVersion(l.Version)
	if err != nil {
		return nil, err
	}
	template := "x64;1033"
	if l.Arch == packaging.ArchARM64 {
		template = "Arm64;1033"
	}
	db := msidb.New(msidb.CodepageUTF8)
	db.Summary = msidb.SummaryInfo{
		Title: "Installation Database", Subject: ProductName, Author: Manufacturer, Keywords: "Installer",
		Comments: "Fleet osquery " + l.Version + ", built by pkgctl", Template: template,
		RevisionNumber: p.packageGUID, Created: l.MTime, LastSaved: l.MTime,
		PageCount: 500, WordCount: 2, Security: 2, CreatingApplication: "pkgctl",
	}
	var errs []error
	ins := func(table string, rows ...msidb.Row) {
		if err := db.Insert(table, rows...); err != nil {
			errs = append(errs, err)
		}
	}

	// Properties: product identity, fleetctl's settings, then the public ones.
	secure := []string{upgradeProp}
	hidden := []string{secretAction, setSecret}
	ins("Property",
		msidb.Row{"Property": "ProductCode", "Value": p.productGUID},
		msidb.Row{"Property": "ProductName", "Value": ProductName},
		msidb.Row{"Property": "ProductVersion", "Value": version},
		msidb.Row{"Property": "ProductLanguage", "Value": "1033"},
		msidb.Row{"Property": "Manufacturer", "Value": Manufacturer},
		msidb.Row{"Property": "UpgradeCode", "Value": UpgradeCode},
		msidb.Row{"Property": "ALLUSERS", "Value": "1"},
		msidb.Row{"Property": "REINSTALLMODE", "Value": "amus"},
		msidb.Row{"Property": "ARPNOREPAIR", "Value": "yes"},
		msidb.Row{"Property": "ARPNOMODIFY", "Value": "yes"},
	)
	for _, prop := range win.Properties {
		secure = append(secure, prop.Name)
		if prop.Secret {
			hidden = append(hidden, prop.Name)
		}
		if prop.Default != "" { // an empty property is simply absent
			ins("Property", msidb.Row{"Property": prop.Name, "Value": prop.Default})
		}
	}
	ins("Property",
		msidb.Row{"Property": "SecureCustomProperties", "Value": strings.Join(secure, ";")},
		msidb.Row{"Property": "MsiHiddenProperties", "Value": strings.Join(hidden, ";")},
	)

	for _, d := range p.dirs {
		ins("Directory", msidb.Row{"Directory": d.id, "Directory_Parent": d.parent, "DefaultDir": d.defaultDir})
	}

	// Components: one per file (its key path), plus the root component that
	// creates the folders and the service-binary component that carries the
	// service and its settings.
	const attr64 = 256 // msidbComponentAttributes64bit
	ins("Component", msidb.Row{"Component": rootComp, "ComponentId": rootComponentGUID, "Directory_": rootDirID, "Attributes": attr64})
	var binKey string
	for i, f := range p.files {
		comp := p.fileComp[f.Key]
		guid := componentGUID(f.Entry.Path)
		if comp == binComp {
			guid, binKey = binComponentGUID, f.Key
		}
		ins("Component", msidb.Row{"Component": comp, "ComponentId": guid, "Directory_": p.fileDir[f.Key], "Attributes": attr64, "KeyPath": f.Key})
		ins("File", msidb.Row{"File": f.Key, "Component_": comp, "FileName": p.fileName[f.Key], "FileSize": f.Size,
			"Attributes": 512, "Sequence": i + 1}) // 512: vital
		if f.Entry.SDDL != "" {
			ins("MsiLockPermissionsEx", msidb.Row{"MsiLockPermissionsEx": ident("l", f.Entry.Path), "LockObject": f.Key, "Table": "File", "SDDL": f.Entry.SDDL})
		}
	}
	if binKey == "" {
		return nil, errors.New("msi: the layout has no service binary")
	}
	ins("Media", msidb.Row{"DiskId": 1, "LastSequence": len(p.files), "Cabinet": "#" + cabName})
	ins("Feature", msidb.Row{"Feature": featureID, "Title": ProductName, "Display": 0, "Level": 1, "Directory_": rootDirID, "Attributes": 0})
	comps := []string{rootComp}
	for _, f := range p.files {
		comps = append(comps, p.fileComp[f.Key])
	}
	sort.Strings(comps)
	for _, c := range comps {
		ins("FeatureComponents", msidb.Row{"Feature_": featureID, "Component_": c})
	}

	// Folders: created (empty ones included, such as staging) and locked.
	for _, e := range l.Entries {
		if e.Kind != packaging.KindDir {
			continue
		}
		id := p.dirIDs[e.Path]
		ins("CreateFolder", msidb.Row{"Directory_": id, "Component_": rootComp})
		if e.SDDL != "" {
			ins("MsiLockPermissionsEx", msidb.Row{"MsiLockPermissionsEx": ident("l", e.Path), "LockObject": id, "Table": "CreateFolder", "SDDL": e.SDDL})
		}
	}
	// What orbit leaves behind at run time: downloads in staging and the .old
	// copies of replaced binaries (the whole root goes on a full uninstall).
	for _, d := range p.dirs {
		if d.path == "" {
			continue
		}
		pattern := "*.old"
		if d.path == packaging.WindowsOrbitRoot+"/staging" {
			pattern = "*"
		}
		ins("RemoveFile", msidb.Row{"FileKey": ident("r", d.path), "Component_": rootComp, "FileName": pattern, "DirProperty": d.id, "InstallMode": 2})
	}

	// The service and its settings.
	svc := win.Service
	if svc.Binary != packaging.WindowsServiceBinary {
		return nil, fmt.Errorf("msi: service binary %s is not %s", svc.Binary, packaging.WindowsServiceBinary)
	}
	var env []string
	for _, v := range svc.Environment {
		s, err := envValue(v)
		if err != nil {
			return nil, err
		}
		env = append(env, s)
	}
	startType := 3 // demand
	if svc.AutoStart {
		startType = 2
	}
	ins("ServiceInstall", msidb.Row{"ServiceInstall": "OrbitService", "Name": svc.Name, "DisplayName": escapeFormatted(svc.DisplayName),
		"ServiceType": 0x10, "StartType": startType, "ErrorControl": 0, "StartName": svc.Account,
		"Component_": binComp, "Description": svc.Description})
	ins("ServiceControl", msidb.Row{"ServiceControl": "StartOrbitService", "Name": svc.Name,
		"Event": 1 | 2 | 0x20 | 0x80, // start on install, stop on install and uninstall, delete on uninstall
		"Wait":  1, "Component_": binComp})
	actions := make([]string, svc.FailureRestarts)
	delays := make([]string, svc.FailureRestarts)
	for i := range actions {
		actions[i], delays[i] = "1", fmt.Sprint(svc.RestartDelay.Milliseconds()) // 1: restart
	}
	ins("MsiServiceConfigFailureActions", msidb.Row{"MsiServiceConfigFailureActions": "OrbitRestart", "Name": svc.Name,
		"Event":       1 | 4, // install and reinstall
		"ResetPeriod": int64(svc.ResetPeriod.Seconds()), "Actions": strings.Join(actions, "[~]"),
		"DelayActions": strings.Join(delays, "[~]"), "Component_": binComp})
	ins("Registry", msidb.Row{"Registry": "OrbitEnvironment", "Root": 2, // HKLM
		"Key": `SYSTEM\CurrentControlSet\Services\` + escapeFormatted(svc.Name), "Name": "Environment",
		"Value": strings.Join(env, "[~]"), "Component_": binComp})

	// The enroll secret given at install time: an immediate action puts the
	// file path and FLEET_SECRET into the deferred action's CustomActionData,
	// and the deferred JScript writes it as UTF-8. Both hide their data from
	// the log; nothing reaches a command line.
	secretPath, err := formattedPath(win.SecretFile)
	if err != nil {
		return nil, err
	}
	secretCond := "(NOT REMOVE~=\"ALL\") AND " + win.SecretProperty
	for _, keep := range win.SecretKeep {
		if keep != "" {
			secretCond += fmt.Sprintf(` AND (%s <> "%s")`, win.SecretProperty, keep)
		}
	}
	ins("Binary", msidb.Row{"Name": secretScript, "Data": writeSecretJS})
	ins("CustomAction",
		msidb.Row{"Action": setSecret, "Type": caSetProperty | caHideTarget, "Source": secretAction,
			"Target": secretPath + "|[" + win.SecretProperty + "]"},
		msidb.Row{"Action": secretAction, "Type": caJScriptBinary | caInScript | caNoImpersonate | caHideTarget,
			"Source": secretScript, "Target": "WriteSecret"},
		// A full uninstall (not the removal of an old version during an
		// upgrade) removes everything orbit wrote in its root, as fleetctl does.
		msidb.Row{"Action": removeAction, "Type": caExeInDir | caInScript | caNoImpersonate | caContinue, "Source": "System64Folder",
			"Target": `"[System64Folder]cmd.exe" /d /q /c rd /s /q "[` + rootDirID + `]."`},
	)

	ins("Upgrade", msidb.Row{"UpgradeCode": UpgradeCode, "VersionMin": "0.0.0", "Attributes": 256 | 1, // min inclusive, migrate features
		"ActionProperty": upgradeProp})

	for _, s := range sequences(secretCond) {
		ins(s.table, msidb.Row{"Action": s.action, "Condition": s.cond, "Sequence": s.seq})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("msi: %w", errors.Join(errs...))
	}
	return db, nil
}

type seqRow struct {
	table, action, cond string
	seq                 int
}

// sequences are the standard actions in the SDK's order, with the custom
// actions and the major upgrade (early RemoveExistingProducts, as WiX's
// MajorUpgrade default) placed among them.
func sequences(secretCond string) []seqRow {
	var out []seqRow
	add := func(table string, rows ...seqRow) {
		for _, r := range rows {
			r.table = table
			out = append(out, r)
		}
	}
	add("InstallExecuteSequence",
		seqRow{action: "FindRelatedProducts", seq: 25},
		seqRow{action: "ValidateProductID", seq: 700},
		seqRow{action: "CostInitialize", seq: 800},
		seqRow{action: "FileCost", seq: 900},
		seqRow{action: "CostFinalize", seq: 1000},
		seqRow{action: "InstallValidate", seq: 1400},
		seqRow{action: "RemoveExistingProducts", seq: 1401},
		seqRow{action: "InstallInitialize", seq: 1500},
		seqRow{action: "ProcessComponents", seq: 1600},
		seqRow{action: "UnpublishFeatures", seq: 1800},
		seqRow{action: "StopServices", cond: "VersionNT", seq: 1900},
		seqRow{action: "DeleteServices", cond: "VersionNT", seq: 2000},
		seqRow{action: "RemoveRegistryValues", seq: 2600},
		seqRow{action: "RemoveFiles", seq: 3500},
		seqRow{action: "RemoveFolders", seq: 3600},
		seqRow{action: removeAction, cond: `(NOT UPGRADINGPRODUCTCODE) AND (REMOVE~="ALL")`, seq: 3610},
		seqRow{action: "CreateFolders", seq: 3700},
		seqRow{action: "InstallFiles", seq: 4000},
		seqRow{action: setSecret, cond: secretCond, seq: 4010},
		seqRow{action: secretAction, cond: secretCond, seq: 4011},
		seqRow{action: "WriteRegistryValues", seq: 5000},
		seqRow{action: "InstallServices", cond: "VersionNT", seq: 5800},
		seqRow{action: "MsiConfigureServices", cond: "VersionNT>=600", seq: 5850},
		seqRow{action: "StartServices", cond: "VersionNT", seq: 5900},
		seqRow{action: "RegisterUser", seq: 6000},
		seqRow{action: "RegisterProduct", seq: 6100},
		seqRow{action: "PublishFeatures", seq: 6300},
		seqRow{action: "PublishProduct", seq: 6400},
		seqRow{action: "InstallFinalize", seq: 6600},
	)
	add("InstallUISequence",
		seqRow{action: "FindRelatedProducts", seq: 25},
		seqRow{action: "ValidateProductID", seq: 700},
		seqRow{action: "CostInitialize", seq: 800},
		seqRow{action: "FileCost", seq: 900},
		seqRow{action: "CostFinalize", seq: 1000},
		seqRow{action: "ExecuteAction", seq: 1300},
	)
	add("AdminExecuteSequence",
		seqRow{action: "CostInitialize", seq: 800},
		seqRow{action: "FileCost", seq: 900},
		seqRow{action: "CostFinalize", seq: 1000},
		seqRow{action: "InstallValidate", seq: 1400},
		seqRow{action: "InstallInitialize", seq: 1500},
		seqRow{action: "InstallAdminPackage", seq: 3900},
		seqRow{action: "InstallFiles", seq: 4000},
		seqRow{action: "InstallFinalize", seq: 6600},
	)
	add("AdminUISequence",
		seqRow{action: "CostInitialize", seq: 800},
		seqRow{action: "FileCost", seq: 900},
		seqRow{action: "CostFinalize", seq: 1000},
		seqRow{action: "ExecuteAction", seq: 1300},
	)
	return out
}
