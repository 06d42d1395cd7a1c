package packaging

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// Manifest describes the installers of one run. It holds no secret and no
// time other than SOURCE_DATE_EPOCH, and its JSON is sorted, so the same
// inputs give the same bytes.
type Manifest struct {
	Tool            string           `json:"tool"`                        // "pkgctl <version>"
	SourceDateEpoch *int64           `json:"source_date_epoch,omitempty"` // nil when unset
	Outputs         []ManifestOutput `json:"outputs"`                     // sorted by path
}

// ManifestOutput is one installer.
type ManifestOutput struct {
	Name       string              `json:"name"`
	Path       string              `json:"path"` // relative to the manifest's directory, slash-separated
	Type       string              `json:"type"`
	Arch       string              `json:"arch"`
	Size       int64               `json:"size"`
	SHA256     string              `json:"sha256"`
	Version    string              `json:"version"` // package (orbit) version
	Components []ManifestComponent `json:"components"`
	// Settings are the build's non-secret settings by flag name; Secrets names
	// the secret settings that were given (never their values).
	Settings map[string]string `json:"settings"`
	Secrets  []string          `json:"secrets_set,omitempty"`
	// Signature is the detached signature file beside the installer (a
	// signed Arch package's .sig), which ships with it; nil when none.
	Signature *ManifestFile `json:"signature,omitempty"`
}

// ManifestFile is a file that accompanies an installer.
type ManifestFile struct {
	Path   string `json:"path"` // relative like ManifestOutput.Path
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ManifestComponent is one TUF target an installer holds.
type ManifestComponent struct {
	Target  string            `json:"target"`
	Length  int64             `json:"length"`
	Hashes  map[string]string `json:"hashes"`
	Version string            `json:"version,omitempty"`
}

// NewManifestOutput describes a finished build. base is the directory paths
// are written relative to (the manifest's directory, or the working directory
// for --json); settings and secrets come from the command's flag table.
func NewManifestOutput(out MatrixOutcome, base string, settings map[string]string, secrets []string) (ManifestOutput, error) {
	r := out.Result
	rel, err := filepath.Rel(base, r.Path)
	if err != nil {
		rel = r.Path
	}
	m := ManifestOutput{
		Name: out.Build.Name, Path: filepath.ToSlash(rel),
		Type: out.Build.Options.Type, Arch: out.Build.Options.Arch,
		Size: r.Size, SHA256: out.SHA256, Version: r.Version,
		Settings: settings, Secrets: append([]string(nil), secrets...),
	}
	sort.Strings(m.Secrets)
	for _, t := range r.Targets {
		m.Components = append(m.Components, ManifestComponent{Target: t.Path, Length: t.Length, Hashes: t.Hashes, Version: t.Version})
	}
	if r.Signature != "" {
		data, err := os.ReadFile(r.Signature)
		if err != nil {
			return m, fmt.Errorf("manifest: read the signature of %s: %w", out.Build.Name, err)
		}
		rel, err := filepath.Rel(base, r.Signature)
		if err != nil {
			rel = r.Signature
		}
		sum := sha256.Sum256(data)
		m.Signature = &ManifestFile{Path: filepath.ToSlash(rel), Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	}
	return m, nil
}

// SourceDateEpoch returns SOURCE_DATE_EPOCH when it is set and valid.
func SourceDateEpoch() *int64 {
	v, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &n
}

// Marshal returns the manifest as indented JSON with a trailing newline.
// encoding/json writes map keys sorted; outputs are sorted here.
func (m *Manifest) Marshal() ([]byte, error) {
	sort.SliceStable(m.Outputs, func(i, j int) bool {
		if m.Outputs[i].Path != m.Outputs[j].Path {
			return m.Outputs[i].Path < m.Outputs[j].Path
		}
		return m.Outputs[i].Name < m.Outputs[j].Name
	})
	for i := range m.Outputs {
		c := m.Outputs[i].Components
		sort.SliceStable(c, func(a, b int) bool { return c[a].Target < c[b].Target })
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// ReadManifest reads a manifest written by Marshal.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	return &m, nil
}
