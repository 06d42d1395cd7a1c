// Package inspect reads a finished installer (.deb, .rpm, .pkg.tar.zst, .pkg,
// .msi), ours or another builder's, into one neutral Report: identity, the
// agent settings as orbit reads them, certificates, TUF metadata, components,
// files, scripts and signatures. Verify checks a Report and the installer's
// structure and returns Findings with stable codes; Diff compares two Reports.
//
// The JSON form of Report, Finding and Diff is documented in
// docs/inspect-json.md; a golden test keeps its field names stable.
package inspect

import "time"

// SchemaVersion is the version of the JSON schema; it changes only when a
// field is renamed or removed.
const SchemaVersion = 1

// Report is what an installer holds.
type Report struct {
	SchemaVersion int               `json:"schema_version"`
	File          string            `json:"file"`
	Size          int64             `json:"size"`
	SHA256        string            `json:"sha256"`
	Format        string            `json:"format"` // deb, rpm, pkg.tar.zst, pkg, msi
	Arch          string            `json:"arch"`
	Name          string            `json:"name"`
	Version       string            `json:"version"`
	Identifiers   map[string]string `json:"identifiers"` // product_code, upgrade_code, package_code, pkg_identifier, ...
	Settings      []Setting         `json:"settings"`
	Certificates  []Certificate     `json:"certificates"`
	KeyPairs      []KeyPair         `json:"key_pairs"`
	TUF           *TUF              `json:"tuf"`
	Components    []Component       `json:"components"`
	Files         []File            `json:"files"`
	Scripts       []Script          `json:"scripts"`
	Signatures    []Signature       `json:"signatures"`
	Staple        *Staple           `json:"staple"` // pkg only; nil for other formats

	// Findings are problems met while reading (structure, checksums);
	// Verify adds the rest.
	Findings []Finding `json:"findings"`

	raw *contents // what the format reader extracted; not serialised
}

// Setting is one agent setting as orbit reads it (ORBIT_* variable, MSI
// property, ...). Secret values are masked unless the report was made with
// ShowSecrets.
type Setting struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Secret bool   `json:"secret"`
	Source string `json:"source"` // the file or table it was read from
}

// Certificate is one X.509 certificate found in a file of the installer or in
// a signature chain.
type Certificate struct {
	File         string    `json:"file"` // installed path, or "signature:<kind>"
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	Serial       string    `json:"serial"`
	SANs         []string  `json:"sans"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	IsCA         bool      `json:"is_ca"`
	SHA256       string    `json:"sha256"` // fingerprint of the DER
	KeyAlgorithm string    `json:"key_algorithm"`
}

// KeyPair is a client certificate and the private key installed beside it.
type KeyPair struct {
	Certificate string `json:"certificate"` // installed path
	Key         string `json:"key"`         // installed path
	Match       bool   `json:"match"`
	Error       string `json:"error"` // why the key could not be read or compared
}

// TUF is the TUF metadata the installer carries for orbit.
type TUF struct {
	File           string      `json:"file"`
	RootVersion    int64       `json:"root_version"`
	RootExpires    time.Time   `json:"root_expires"`
	RootKeyIDs     []string    `json:"root_key_ids"`
	TargetsVersion int64       `json:"targets_version"`
	TargetsExpires time.Time   `json:"targets_expires"`
	Targets        []TUFTarget `json:"targets"` // only those the installer's components use
	TargetCount    int         `json:"target_count"`
}

// TUFTarget is a target as the metadata records it.
type TUFTarget struct {
	Name    string            `json:"name"`
	Version string            `json:"version"`
	Length  int64             `json:"length"`
	Hashes  map[string]string `json:"hashes"`
}

// Component is an agent binary or bundle installed under bin/.
type Component struct {
	Name      string `json:"name"`   // orbit, osqueryd, desktop, ...
	Target    string `json:"target"` // TUF target path, e.g. orbit/linux/stable/orbit
	File      string `json:"file"`   // installed path
	Version   string `json:"version"`
	Length    int64  `json:"length"`
	SHA256    string `json:"sha256"`
	SHA512    string `json:"sha512"`
	InTUF     bool   `json:"in_tuf"`     // the metadata has this target
	TUFMatch  bool   `json:"tuf_match"`  // length and every recorded hash agree
	LiveMatch *bool  `json:"live_match"` // against the live repository, when checked
}

// File is one installed path.
type File struct {
	Path     string `json:"path"`
	Type     string `json:"type"` // file, dir, symlink
	Mode     string `json:"mode"` // octal permission bits, e.g. "0644"
	Owner    string `json:"owner"`
	Group    string `json:"group"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	Link     string `json:"link"`     // symlink target
	Security string `json:"security"` // MSI: SDDL from MsiLockPermissionsEx, or LockPermissions rendered
	Config   bool   `json:"config"`   // deb conffile / rpm %config
}

// Script is a maintainer script or an MSI custom action.
type Script struct {
	Name   string `json:"name"`   // postinst, %post, CustomAction name, ...
	Kind   string `json:"kind"`   // maintainer-script, custom-action, pkg-script
	Detail string `json:"detail"` // interpreter, custom action type and source
	Body   string `json:"body"`   // script text (custom actions: target)
}

// Signature is one signature over the installer or part of it. Fields not
// known for a kind stay empty; new kinds and fields may be added.
type Signature struct {
	Kind        string            `json:"kind"` // authenticode, xar-rsa, xar-cms, rpm-pgp, deb-pgp
	Signer      string            `json:"signer"`
	KeyID       string            `json:"key_id"`
	Algorithm   string            `json:"algorithm"`
	Timestamp   *time.Time        `json:"timestamp"` // counter-signed time, when present
	SigningTime *time.Time        `json:"signing_time"`
	Chain       []Certificate     `json:"chain"`
	Valid       bool              `json:"valid"`   // the signature matches the content
	Trusted     *bool             `json:"trusted"` // chains to --ca / the given key; nil when not checked
	Error       string            `json:"error"`
	Extra       map[string]string `json:"extra"` // kind-specific facts (e.g. notarization staple)
}

// Staple is the notarization ticket stapled to a pkg, as Apple's stapler
// appends it after the xar.
type Staple struct {
	Stapled      bool   `json:"stapled"`
	TicketSize   int64  `json:"ticket_size"`
	TicketSHA256 string `json:"ticket_sha256"`
	// Record is the CloudKit record the ticket of this package is looked up
	// by (derived from the xar TOC checksum), stapled or not.
	Record string `json:"record"`
}

// Finding is one problem Verify (or reading) found.
type Finding struct {
	Code     string `json:"code"`     // stable, e.g. PKG-XAR-TOC-CHECKSUM
	Severity string `json:"severity"` // error or warning
	Subject  string `json:"subject"`  // what it is about: a path, table, certificate
	Message  string `json:"message"`
}

// Severities.
const (
	SevError   = "error"
	SevWarning = "warning"
)
