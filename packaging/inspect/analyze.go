package inspect

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"howett.net/plist"
)

// Where the agent's files are (packaging's Layout facts; Windows paths use
// the same drive-less convention as packaging.WindowsOrbitRoot).
var (
	orbitRoots   = []string{"/opt/orbit", "/Program Files/Orbit"}
	linuxEnvFile = "/etc/default/orbit"
	launchdPlist = "/Library/LaunchDaemons/com.fleetdm.orbit.plist"
	tufFiles     = []string{"updates-metadata.json", "tuf-metadata.json"}
)

// secretSetting reports whether a setting's value is a secret.
func secretSetting(name string) bool {
	n := strings.ToUpper(name)
	return strings.Contains(n, "SECRET") && !strings.HasSuffix(n, "_PATH") ||
		strings.Contains(n, "TOKEN") || strings.Contains(n, "PASSWORD") || strings.Contains(n, "PASSPHRASE")
}

// secretFile reports whether an installed file holds a secret.
func secretFile(p string) bool {
	b := path.Base(p)
	return b == "secret.txt" || strings.HasSuffix(b, ".key") || p == linuxEnvFile
}

const masked = "********"

// maskURL hides the password of a URL's user info.
func maskURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), masked)
		return u.String()
	}
	return v
}

// analyze derives the format-neutral parts of a report from the files.
func analyze(r *Report, c *contents, opt Options) {
	r.Settings = settings(c, opt)
	for _, e := range c.entries {
		f := e.File
		if secretFile(f.Path) && !opt.ShowSecrets && f.SHA256 != "" {
			f.SHA256 = masked
		}
		r.Files = append(r.Files, f)
	}
	r.Certificates, r.KeyPairs = certificates(c)
	r.TUF, r.Components = tufAndComponents(r, c)
	for _, s := range r.Signatures {
		r.Certificates = append(r.Certificates, s.Chain...)
	}
	nonNil(r)
}

// nonNil makes empty lists [] in JSON, so consumers never meet null lists.
func nonNil(r *Report) {
	if r.Identifiers == nil {
		r.Identifiers = map[string]string{}
	}
	if r.Settings == nil {
		r.Settings = []Setting{}
	}
	if r.Certificates == nil {
		r.Certificates = []Certificate{}
	}
	if r.KeyPairs == nil {
		r.KeyPairs = []KeyPair{}
	}
	if r.Components == nil {
		r.Components = []Component{}
	}
	if r.Files == nil {
		r.Files = []File{}
	}
	if r.Scripts == nil {
		r.Scripts = []Script{}
	}
	if r.Signatures == nil {
		r.Signatures = []Signature{}
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
}

// settings reads the agent's settings where orbit reads them: the env file
// (deb, rpm, Arch), the launchd plist (pkg) or the service definition (msi).
func settings(c *contents, opt Options) []Setting {
	vars := c.env
	if e := c.entry(linuxEnvFile); e != nil && e.kept {
		for _, line := range strings.Split(string(e.data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
			if ok {
				vars = append(vars, envVar{k, unquoteEnv(v), linuxEnvFile})
			}
		}
	}
	if e := c.entry(launchdPlist); e != nil && e.kept {
		var doc struct {
			Env map[string]string `plist:"EnvironmentVariables"`
		}
		if _, err := plist.Unmarshal(e.data, &doc); err != nil {
			c.find("SETTINGS-PLIST", SevError, launchdPlist, "the launchd plist does not parse: %v", err)
		}
		keys := make([]string, 0, len(doc.Env))
		for k := range doc.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vars = append(vars, envVar{k, doc.Env[k], launchdPlist})
		}
	}
	// The osquery flagfile orbit passes to osqueryd.
	for _, root := range orbitRoots {
		e := c.entry(root + "/osquery.flags")
		if e == nil || !e.kept {
			continue
		}
		for _, line := range strings.Split(string(e.data), "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "--") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				k, v, _ = strings.Cut(line, " ")
			}
			vars = append(vars, envVar{"osquery " + strings.TrimSpace(k), strings.TrimSpace(v), e.Path})
		}
	}
	var out []Setting
	for _, v := range vars {
		s := Setting{Name: v.name, Value: v.value, Source: v.source, Secret: secretSetting(v.name)}
		if !opt.ShowSecrets {
			if s.Secret && s.Value != "" {
				s.Value = masked
			}
			s.Value = maskURL(s.Value)
		}
		out = append(out, s)
	}
	return out
}

// unquoteEnv removes systemd EnvironmentFile quoting.
func unquoteEnv(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '"' {
			v = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, `$`, "\\`", "`").Replace(v)
		}
	}
	return v
}

// inOrbitRoot is p's path relative to an orbit root, or "".
func inOrbitRoot(p string) string {
	for _, root := range orbitRoots {
		if rel, ok := strings.CutPrefix(p, root+"/"); ok {
			return rel
		}
	}
	return ""
}

// certificates describes every certificate in a PEM file of the orbit root
// and pairs each client key with the certificate beside it.
func certificates(c *contents) ([]Certificate, []KeyPair) {
	var certs []Certificate
	var pairs []KeyPair
	for _, e := range c.entries {
		rel := inOrbitRoot(e.Path)
		if rel == "" || strings.Contains(rel, "/") || !e.kept {
			continue
		}
		if path.Base(e.Path) == "certs.pem" {
			continue // the public root bundle (fleetctl's certs.pem): see bundles
		}
		rest := e.data
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				c.find("CERT-UNPARSABLE", SevError, e.Path, "a CERTIFICATE block does not parse: %v", err)
				continue
			}
			certs = append(certs, describeCert(e.Path, cert))
		}
		if strings.HasSuffix(rel, ".key") {
			crt := c.entry(strings.TrimSuffix(e.Path, ".key") + ".crt")
			kp := KeyPair{Key: e.Path}
			if crt == nil {
				kp.Error = "no certificate beside the key"
			} else {
				kp.Certificate = crt.Path
				kp.Match, kp.Error = keyMatches(crt.data, e.data)
			}
			pairs = append(pairs, kp)
		}
	}
	return certs, pairs
}

func describeCert(where string, c *x509.Certificate) Certificate {
	sum := sha256.Sum256(c.Raw)
	out := Certificate{File: where, Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), IsCA: c.IsCA, SHA256: hex.EncodeToString(sum[:]),
		KeyAlgorithm: c.PublicKeyAlgorithm.String(), SANs: []string{}}
	out.SANs = append(out.SANs, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out.SANs = append(out.SANs, ip.String())
	}
	for _, u := range c.URIs {
		out.SANs = append(out.SANs, u.String())
	}
	out.SANs = append(out.SANs, c.EmailAddresses...)
	return out
}

// keyMatches reports whether the first private key in keyPEM belongs to the
// first certificate in certPEM. The error text never holds key material.
func keyMatches(certPEM, keyPEM []byte) (bool, string) {
	var cert *x509.Certificate
	for rest := certPEM; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return false, "certificate does not parse"
			}
			cert = c
			break
		}
	}
	if cert == nil {
		return false, "no certificate in the file"
	}
	var key crypto.Signer
	for rest := keyPEM; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if k, err := parseKey(blk); err == nil {
			key = k
			break
		}
	}
	if key == nil {
		return false, "no readable private key in the file (encrypted or unknown type)"
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return false, "the key does not belong to the certificate"
	}
	return true, ""
}

func parseKey(blk *pem.Block) (crypto.Signer, error) {
	var k any
	var err error
	switch blk.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("not a private key block")
	}
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type")
	}
	return s, nil
}

// tufMeta is the parsed TUF metadata store of an installer.
type tufMeta struct {
	root    *metadata.Metadata[metadata.RootType]
	targets *metadata.Metadata[metadata.TargetsType]
	raw     map[string]json.RawMessage
}

// readTUF parses orbit's metadata store (a JSON object of role files).
func readTUF(data []byte) (*tufMeta, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object of TUF role files: %w", err)
	}
	m := &tufMeta{raw: raw}
	rj, ok := raw["root.json"]
	if !ok {
		return nil, fmt.Errorf("no root.json in the metadata store")
	}
	var err error
	if m.root, err = metadata.Root().FromBytes(rj); err != nil {
		return nil, fmt.Errorf("root.json: %w", err)
	}
	if tj, ok := raw["targets.json"]; ok {
		if m.targets, err = metadata.Targets().FromBytes(tj); err != nil {
			return nil, fmt.Errorf("targets.json: %w", err)
		}
	}
	return m, nil
}

// tufAndComponents reads the TUF metadata store and matches each component
// under bin/ with its target.
func tufAndComponents(r *Report, c *contents) (*TUF, []Component) {
	var t *TUF
	var meta *tufMeta
	for _, root := range orbitRoots {
		for _, name := range tufFiles {
			e := c.entry(root + "/" + name)
			if e == nil || !e.kept || t != nil {
				continue
			}
			m, err := readTUF(e.data)
			if err != nil {
				c.find("TUF-METADATA-UNPARSABLE", SevError, e.Path, "%v", err)
				continue
			}
			meta = m
			t = &TUF{File: e.Path, RootVersion: m.root.Signed.Version, RootExpires: m.root.Signed.Expires.UTC(), RootKeyIDs: []string{}, Targets: []TUFTarget{}}
			for id := range m.root.Signed.Keys {
				t.RootKeyIDs = append(t.RootKeyIDs, id)
			}
			sort.Strings(t.RootKeyIDs)
			if m.targets != nil {
				t.TargetsVersion, t.TargetsExpires = m.targets.Signed.Version, m.targets.Signed.Expires.UTC()
				t.TargetCount = len(m.targets.Signed.Targets)
			}
		}
	}
	var comps []Component
	for _, e := range c.entries {
		rel := inOrbitRoot(e.Path)
		parts := strings.Split(rel, "/")
		// bin/<name>/<platform>/<channel>/<file>
		if len(parts) != 5 || parts[0] != "bin" || e.Type != "file" {
			continue
		}
		comp := Component{Name: parts[1], Target: strings.Join(parts[1:], "/"), File: e.Path, Length: e.Size, SHA256: e.SHA256, SHA512: e.sha512}
		if meta != nil && meta.targets != nil {
			if tf, ok := meta.targets.Signed.Targets[comp.Target]; ok {
				comp.InTUF = true
				tt := TUFTarget{Name: comp.Target, Length: tf.Length, Hashes: map[string]string{}}
				for alg, h := range tf.Hashes {
					tt.Hashes[alg] = hex.EncodeToString(h)
				}
				if tf.Custom != nil {
					var cu struct {
						Version string `json:"version"`
					}
					if json.Unmarshal(*tf.Custom, &cu) == nil {
						tt.Version, comp.Version = cu.Version, cu.Version
					}
				}
				comp.TUFMatch = hashesMatch(tt, comp)
				t.Targets = append(t.Targets, tt)
			}
		}
		comps = append(comps, comp)
	}
	return t, comps
}

// hashesMatch reports whether the component's length and every hash the
// target records (that we computed) agree, and at least one hash was compared.
func hashesMatch(t TUFTarget, c Component) bool {
	if t.Length != c.Length {
		return false
	}
	n := 0
	for alg, h := range t.Hashes {
		var got string
		switch alg {
		case "sha256":
			got = c.SHA256
		case "sha512":
			got = c.SHA512
		default:
			continue
		}
		if !strings.EqualFold(got, h) {
			return false
		}
		n++
	}
	return n > 0
}
