package packaging

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Kind is what a layout entry creates on the target system.
type Kind int

// Entry kinds.
const (
	KindFile Kind = iota
	KindDir
	KindSymlink
)

func (k Kind) String() string {
	return [...]string{"file", "dir", "symlink"}[k]
}

// Role names what an entry is for, so tests and `inspect` can find it by meaning.
type Role string

// Roles of the files in the orbit root and around it.
const (
	RoleEnrollSecret     Role = "enroll-secret"
	RoleOsqueryFlags     Role = "osquery-flagfile"
	RoleCertsBundle      Role = "ca-bundle"
	RoleFleetCA          Role = "fleet-certificate"
	RoleUpdateCA         Role = "update-tls-certificate"
	RoleFleetClientCert  Role = "fleet-tls-client-certificate"
	RoleFleetClientKey   Role = "fleet-tls-client-key"
	RoleUpdateClientCert Role = "update-tls-client-certificate"
	RoleUpdateClientKey  Role = "update-tls-client-key"
	RoleTUFMetadata      Role = "tuf-metadata"
	RoleTUFMetadataNew   Role = "updates-metadata"
	RoleComponent        Role = "component"
	RoleServiceConfig    Role = "service-config"
	RoleServiceUnit      Role = "service-unit"
	RoleDoc              Role = "doc"
	RoleServiceBinary    Role = "service-binary" // the copy of orbit a Windows service runs
)

// Entry is one thing the installer puts on disk.
type Entry struct {
	Path   string      // absolute destination, slash-separated
	Kind   Kind        // file, dir or symlink
	Mode   fs.FileMode // permission bits
	Owner  string      // owner name (uid UID)
	Group  string      // group name (gid GID)
	UID    int
	GID    int
	Data   []byte // content generated at build time (small files)
	Source string // or: content read from this file (components)
	Link   string // symlink target
	Role   Role
	Secret bool   // holds a secret or private key: never logged, root-only
	Only   string // if set, only this package type carries the entry
	SDDL   string // Windows: the entry's security descriptor (owner, group, DACL)
}

// Size is the length of the entry's content.
func (e *Entry) Size() (int64, error) {
	if e.Kind != KindFile {
		return 0, nil
	}
	if e.Source == "" {
		return int64(len(e.Data)), nil
	}
	st, err := os.Stat(e.Source)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// Scripts are the install-time scripts of a package, already rendered.
type Scripts struct {
	PostInstall string
	PreRemove   string
	PostRemove  string
	PostTrans   string // rpm only
}

// Layout is everything one installer holds, for one target OS. Every format
// serialises a Layout and derives no path or content of its own.
type Layout struct {
	OS         string // "linux", "darwin", "windows"
	Type       string // package type
	Arch       string
	Name       string // package name
	Version    string // orbit version from TUF
	Identifier string
	MTime      time.Time // timestamp of every entry and of the archive
	Entries    []Entry
	Scripts    Scripts
	// Signing, when set, signs the installer (pkg, msi); the format must
	// implement FileSigner.
	Signing *SigningIdentity
	// PGP, when set, signs a deb, rpm or Arch package with OpenPGP.
	PGP *PGPSigner
	// Windows holds what only a Windows installer needs (service, install-time
	// properties); nil for other OSes.
	Windows *WindowsInstall
}

// WindowsInstall is the part of a Windows layout that is not files: the
// service and its settings, and the properties msiexec accepts.
type WindowsInstall struct {
	Service    WindowsService
	Properties []InstallProperty
	// SecretFile is written at install time from the property SecretProperty,
	// unless that property is empty or one of SecretKeep (then the file the
	// package carries, if any, stays).
	SecretFile     string
	SecretProperty string
	SecretKeep     []string
}

// WindowsService is a Windows service the installer registers and starts.
type WindowsService struct {
	Name        string
	DisplayName string
	Description string
	Account     string // "LocalSystem"
	AutoStart   bool
	Binary      string   // Entry.Path of the executable
	Environment []EnvVar // the service's Environment (REG_MULTI_SZ) value, in order
	// Restart on failure: FailureRestarts times, RestartDelay after each,
	// counting failures again after ResetPeriod.
	FailureRestarts int
	RestartDelay    time.Duration
	ResetPeriod     time.Duration
}

// EnvVar is one NAME=value entry of a service environment. The value is
// exactly one of: a literal, an install-time property, or a path on the
// target (Entry.Path convention).
type EnvVar struct {
	Name     string
	Literal  string
	Property string
	Path     string
}

// InstallProperty is a setting the installer takes at install time (an msiexec
// PROPERTY=value), with its default.
type InstallProperty struct {
	Name    string
	Default string
	Secret  bool // never shown in installer logs
}

// Entry returns the entry at p, or nil.
func (l *Layout) Entry(p string) *Entry {
	for i := range l.Entries {
		if l.Entries[i].Path == p {
			return &l.Entries[i]
		}
	}
	return nil
}

// ByRole returns the entries with role r.
func (l *Layout) ByRole(r Role) []*Entry {
	var out []*Entry
	for i := range l.Entries {
		if l.Entries[i].Role == r {
			out = append(out, &l.Entries[i])
		}
	}
	return out
}

// For returns the entries that package type t carries.
func (l *Layout) For(t string) []Entry {
	var out []Entry
	for _, e := range l.Entries {
		if e.Only == "" || e.Only == t {
			out = append(out, e)
		}
	}
	return out
}

func (l *Layout) add(e Entry) {
	l.Entries = append(l.Entries, e)
}

func (l *Layout) sort() {
	sort.SliceStable(l.Entries, func(i, j int) bool { return l.Entries[i].Path < l.Entries[j].Path })
}

// check refuses duplicate paths and relative ones: a format would otherwise
// silently drop or misplace a file.
func (l *Layout) check() error {
	seen := map[string]bool{}
	for _, e := range l.Entries {
		if !strings.HasPrefix(e.Path, "/") || path.Clean(e.Path) != e.Path {
			return fmt.Errorf("layout: entry path %q is not clean and absolute", e.Path)
		}
		key := e.Only + "\x00" + e.Path
		if seen[key] {
			return fmt.Errorf("layout: two entries for %s", e.Path)
		}
		seen[key] = true
	}
	return nil
}

// Component is one agent component fetched and verified from TUF.
type Component struct {
	Name      string // TUF target name: orbit, osqueryd, desktop
	Platform  string // TUF platform: linux, linux-arm64, macos, macos-app, windows, windows-arm64
	Channel   string
	File      string // file name in the repository
	Source    string // local verified copy
	Version   string // custom metadata version
	Extracted []ExtractedEntry
}

// TargetPath is the component's path in the TUF repository.
func (c Component) TargetPath() string {
	return path.Join(c.Name, c.Platform, c.Channel, c.File)
}

// ExtractedEntry is one entry of an unpacked .tar.gz component, relative to the
// directory holding the tarball.
type ExtractedEntry struct {
	Rel    string // slash-separated
	Source string // extracted file on disk ("" for dirs and links)
	Mode   fs.FileMode
	Kind   Kind
	Link   string
}
