package packaging

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/pkgctl/pkgctl/internal/flagfile"
	"github.com/pkgctl/pkgctl/templates"
)

// Target OS names of a Layout.
const (
	OSLinux   = "linux"
	OSMacOS   = "darwin"
	OSWindows = "windows"
)

// TargetOS is the OS that package type t installs on.
func TargetOS(t string) string {
	switch t {
	case TypePkg:
		return OSMacOS
	case TypeMSI:
		return OSWindows
	default:
		return OSLinux
	}
}

// Facts of the orbit agent's layout (../shared/fleetd-compat.md §2). These names
// and modes are what orbit expects; every format takes them from here.
const (
	PackageName        = "fleet-osquery"
	PackageDescription = "Fleet osquery -- runtime and autoupdater"
	PackageVendor      = "Fleet Device Management"
	PackageLicense     = "https://github.com/fleetdm/fleet/blob/main/LICENSE"
	PackageHomepage    = "https://fleetdm.com"

	// Unix orbit root (Linux and macOS).
	UnixOrbitRoot = "/opt/orbit"

	LinuxEnvFile     = "/etc/default/orbit"
	LinuxServiceUnit = "/usr/lib/systemd/system/orbit.service"
	LinuxOrbitLink   = "/opt/orbit/bin/orbit/orbit"
	LinuxBinLink     = "/usr/local/bin/orbit"

	// MetadataFileName is the TUF metadata store orbit ≥ 1.38.0 reads;
	// OldMetadataFileName is the one older orbits read (and custom TUF servers get).
	MetadataFileName    = "updates-metadata.json"
	OldMetadataFileName = "tuf-metadata.json"
	// FleetUpdateURL is Fleet's own TUF server, fleetctl's default --update-url.
	FleetUpdateURL = "https://updates.fleetdm.com"

	dirMode  fs.FileMode = 0o755 // constant.DefaultDirMode
	fileMode fs.FileMode = 0o600 // constant.DefaultFileMode
	execMode fs.FileMode = 0o755 // downloaded targets
	pubMode  fs.FileMode = 0o644 // certificates anyone may read
)

// OrbitRootFile is one file in the orbit root: its name, mode, and the flag
// whose value it holds.
type OrbitRootFile struct {
	Role   Role
	Name   string
	Mode   fs.FileMode
	Secret bool
	OSes   []string // target OSes that carry it
}

var allOSes = []string{OSLinux, OSMacOS, OSWindows}

// OrbitRootFiles is the table of the files in the orbit root.
var OrbitRootFiles = []OrbitRootFile{
	// Linux passes the secret in /etc/default/orbit instead.
	{RoleEnrollSecret, "secret.txt", fileMode, true, []string{OSMacOS, OSWindows}},
	{RoleOsqueryFlags, "osquery.flags", fileMode, false, allOSes},
	{RoleCertsBundle, "certs.pem", pubMode, false, allOSes},
	{RoleFleetCA, "fleet.pem", pubMode, false, allOSes},
	{RoleUpdateCA, "update.pem", pubMode, false, allOSes},
	{RoleFleetClientCert, "fleet_client.crt", fileMode, false, allOSes},
	{RoleFleetClientKey, "fleet_client.key", fileMode, true, allOSes},
	{RoleUpdateClientCert, "update_client.crt", fileMode, false, allOSes},
	{RoleUpdateClientKey, "update_client.key", fileMode, true, allOSes},
	{RoleTUFMetadataNew, MetadataFileName, fileMode, false, allOSes},
	{RoleTUFMetadata, OldMetadataFileName, fileMode, false, allOSes},
}

// Inputs are what a build gathered before laying files out.
type Inputs struct {
	Components  []Component
	TUFMetadata []byte
	MTime       time.Time
}

// NewLayout lays out the agent for o.Type from validated options and fetched inputs.
func NewLayout(o *Options, in Inputs) (*Layout, error) {
	switch TargetOS(o.Type) {
	case OSLinux:
		return linuxLayout(o, in)
	case OSMacOS:
		return macosLayout(o, in)
	case OSWindows:
		return windowsLayout(o, in)
	default:
		return nil, &NotSupportedError{What: "--type=" + o.Type}
	}
}

// NotSupportedError is returned for a feature that pkgctl does not build yet.
type NotSupportedError struct{ What string }

func (e *NotSupportedError) Error() string {
	return e.What + " is not supported yet by pkgctl"
}

// rootFileContents reads what each orbit-root file holds for these options; a
// role missing from the map is not written.
func rootFileContents(o *Options, in Inputs) (map[Role][]byte, error) {
	c := map[Role][]byte{RoleCertsBundle: templates.CertsPEM()}
	// No secret.txt without a secret (fleetctl's writeMacOSSecret) and no
	// osquery.flags without --osquery-flagfile (fleetctl ≥ 4.92.0): an empty
	// file in the payload would replace what the operator put on the host.
	if o.EnrollSecret != "" {
		c[RoleEnrollSecret] = []byte(o.EnrollSecret)
	}
	read := func(role Role, flag, p string) error {
		if p == "" {
			return nil
		}
		b, err := flagfile.Read(p, flagfile.MaxSize)
		if err != nil {
			return fmt.Errorf("read --%s %s: %w", flag, p, err)
		}
		c[role] = b
		return nil
	}
	for _, f := range []struct {
		role       Role
		flag, path string
	}{
		{RoleOsqueryFlags, "osquery-flagfile", o.OsqueryFlagfile},
		{RoleFleetCA, "fleet-certificate", o.FleetCertificate},
		{RoleUpdateCA, "update-tls-certificate", o.UpdateTLSServerCertificate},
		{RoleFleetClientCert, "fleet-tls-client-certificate", o.FleetTLSClientCertificate},
		{RoleFleetClientKey, "fleet-tls-client-key", o.FleetTLSClientKey},
		{RoleUpdateClientCert, "update-tls-client-certificate", o.UpdateTLSClientCertificate},
		{RoleUpdateClientKey, "update-tls-client-key", o.UpdateTLSClientKey},
	} {
		if err := read(f.role, f.flag, f.path); err != nil {
			return nil, err
		}
	}
	if len(in.TUFMetadata) == 0 {
		return nil, fmt.Errorf("layout: no TUF metadata")
	}
	c[RoleTUFMetadata] = in.TUFMetadata
	// A custom TUF server gets only tuf-metadata.json; orbit ≥ 1.38.0 copies it to
	// updates-metadata.json on first start (fleetd-compat.md §3).
	if o.UpdateURL == FleetUpdateURL {
		c[RoleTUFMetadataNew] = in.TUFMetadata
	}
	return c, nil
}

// orbitRootEntries turns rootFileContents into entries under root for osName.
func orbitRootEntries(o *Options, in Inputs, osName, root string, owner entryOwner) ([]Entry, error) {
	contents, err := rootFileContents(o, in)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, f := range OrbitRootFiles {
		data, ok := contents[f.Role]
		if !ok || !contains(f.OSes, osName) {
			continue
		}
		out = append(out, owner.entry(Entry{
			Path: path.Join(root, f.Name), Kind: KindFile, Mode: f.Mode,
			Data: bytes.Clone(data), Role: f.Role, Secret: f.Secret,
		}))
	}
	return out, nil
}

// componentEntries places each component at bin/<name>/<platform>/<channel>/<file>
// under root, with a tarball's extracted entries beside it (fleetctl ships both).
func componentEntries(root string, comps []Component, owner entryOwner) []Entry {
	var out []Entry
	dirs := map[string]bool{}
	addDir := func(p string) {
		for d := p; d != root && d != "/" && d != "."; d = path.Dir(d) {
			if dirs[d] {
				return
			}
			dirs[d] = true
			out = append(out, owner.entry(Entry{Path: d, Kind: KindDir, Mode: dirMode, Role: RoleComponent}))
		}
	}
	for _, c := range comps {
		dir := path.Join(root, "bin", c.Name, c.Platform, c.Channel)
		addDir(dir)
		out = append(out, owner.entry(Entry{
			Path: path.Join(dir, c.File), Kind: KindFile, Mode: execMode, Source: c.Source, Role: RoleComponent,
		}))
		for _, x := range c.Extracted {
			p := path.Join(dir, x.Rel)
			if x.Kind == KindDir {
				if !dirs[p] {
					dirs[p] = true
					out = append(out, owner.entry(Entry{Path: p, Kind: KindDir, Mode: x.Mode.Perm(), Role: RoleComponent}))
				}
				continue
			}
			addDir(path.Dir(p))
			out = append(out, owner.entry(Entry{Path: p, Kind: x.Kind, Mode: x.Mode.Perm(), Source: x.Source, Link: x.Link, Role: RoleComponent}))
		}
	}
	return out
}

type entryOwner struct {
	Owner, Group string
	UID, GID     int
}

func (w entryOwner) entry(e Entry) Entry {
	e.Owner, e.Group, e.UID, e.GID = w.Owner, w.Group, w.UID, w.GID
	return e
}

// legacyVarLib reports an orbit older than 0.0.11, which looks for its root at
// /var/lib/orbit: fleetctl then adds the link /var/lib/orbit → /opt/orbit. A
// version that does not parse is taken as newer, as fleetctl does.
func legacyVarLib(version string) bool {
	var major, minor, patch int
	if n, err := fmt.Sscanf(version, "%d.%d.%d", &major, &minor, &patch); err != nil || n != 3 {
		return false
	}
	return major == 0 && minor == 0 && patch < 11
}

// componentFor returns the component named name.
func componentFor(comps []Component, name string) (Component, bool) {
	for _, c := range comps {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}
