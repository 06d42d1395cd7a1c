package inspect

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/goreleaser/nfpm/v2"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
)

// Installers built by other tools: each must be read, and verify must find
// no error in the untouched file and an error in a tampered copy.

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(content, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

// checkForeign opens path, checks name and format, expects no error finding
// and, after one byte of the payload at off is flipped, an error finding.
func checkForeign(t *testing.T, path, format, name string, off int64, opt Options) *Report {
	t.Helper()
	r := mustOpen(t, path, opt)
	if r.Format != format || r.Name != name {
		t.Errorf("format %q name %q, want %q %q", r.Format, r.Name, format, name)
	}
	if fs := Verify(r, VerifyOptions{}); Failed(fs, nil, false) {
		t.Errorf("untouched %s fails verify: %+v", filepath.Base(path), fs)
	}
	if fs := verifyFile(t, tamper(t, path, off), opt); !Failed(fs, nil, false) {
		t.Errorf("tampered %s passes verify: %+v", filepath.Base(path), fs)
	}
	return r
}

func TestForeignDpkgDeb(t *testing.T) {
	dpkg := testenv.NeedTool(t, "dpkg-deb", "dpkg")
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	writeFiles(t, root, map[string]string{
		"DEBIAN/control":   "Package: foreign-deb\nVersion: 0.9-1\nArchitecture: all\nMaintainer: T <t@example.com>\nDescription: test\n",
		"DEBIAN/postinst":  "#!/bin/sh\necho configured\n",
		"DEBIAN/conffiles": "/etc/foreign.conf\n",
		"etc/foreign.conf": "a=1\n",
		"usr/bin/foreign":  "#!/bin/sh\necho hi\n",
	})
	// md5sums as dh_md5sums writes it.
	writeFiles(t, root, map[string]string{"DEBIAN/md5sums": md5line(t, root, "usr/bin/foreign")})
	out := filepath.Join(dir, "foreign.deb")
	run(t, dir, dpkg, "--root-owner-group", "-Zxz", "--build", root, out)
	raw, _ := os.ReadFile(out)
	r := checkForeign(t, out, "deb", "foreign-deb", int64(bytes.Index(raw, []byte("data.tar"))+60+40), Options{})
	if len(r.Scripts) != 1 || r.Scripts[0].Name != "postinst" {
		t.Errorf("scripts %+v", r.Scripts)
	}
	var conf, bin *File
	for i := range r.Files {
		switch r.Files[i].Path {
		case "/etc/foreign.conf":
			conf = &r.Files[i]
		case "/usr/bin/foreign":
			bin = &r.Files[i]
		}
	}
	if conf == nil || !conf.Config || bin == nil || bin.Mode != "0755" || bin.Owner != "root" {
		t.Errorf("files %+v", r.Files)
	}
}

func md5line(t *testing.T, root, rel string) string {
	out, err := exec.Command("md5sum", rel).Output()
	if err != nil {
		cmd := exec.Command("md5sum", rel)
		cmd.Dir = root
		out, err = cmd.Output()
	}
	cmd := exec.Command("md5sum", rel)
	cmd.Dir = root
	if out, err = cmd.Output(); err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestForeignRpmbuild(t *testing.T) {
	rpmbuild := testenv.NeedTool(t, "rpmbuild", "rpm")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"foreign.spec": `Name: foreign-rpm
Version: 3.1
Release: 2
Summary: test
License: MIT
BuildArch: noarch
%description
test
%install
mkdir -p %{buildroot}/opt/orbit
echo hello > %{buildroot}/opt/orbit/hello.txt
%files
%attr(0640,root,root) /opt/orbit/hello.txt
%post
echo installed
`})
	run(t, dir, rpmbuild, "-bb", "--define", "_topdir "+dir, "--define", "_build_id_links none", filepath.Join(dir, "foreign.spec"))
	matches, _ := filepath.Glob(filepath.Join(dir, "RPMS", "*", "*.rpm"))
	if len(matches) != 1 {
		t.Fatalf("rpmbuild made %v", matches)
	}
	st, _ := os.Stat(matches[0])
	r := checkForeign(t, matches[0], "rpm", "foreign-rpm", st.Size()-60, Options{})
	if r.Version != "3.1-2" || len(r.Scripts) != 1 || r.Scripts[0].Name != "%post" {
		t.Errorf("version %q scripts %+v", r.Version, r.Scripts)
	}
	found := false
	for _, f := range r.Files {
		found = found || f.Path == "/opt/orbit/hello.txt" && f.Mode == "0640"
	}
	if !found {
		t.Errorf("files %+v", r.Files)
	}
}

// pgpKey makes an OpenPGP key pair: the armored private key file and the
// armored public key.
func pgpKey(t *testing.T, dir, name string) (keyFile string, public []byte, id string) {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	keyFile = filepath.Join(dir, name+".asc")
	if err := os.WriteFile(keyFile, priv.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, pub.Bytes(), e.PrimaryKey.KeyIdString()
}

// TestForeignNfpm builds signed deb, rpm and Arch packages from an nfpm YAML
// configuration the way nfpm's CLI does (Parse, Get, WithDefaults, Package).
func TestForeignNfpm(t *testing.T) {
	dir := t.TempDir()
	key, pub, keyID := pgpKey(t, dir, "packager")
	_, otherPub, _ := pgpKey(t, dir, "stranger")
	writeFiles(t, dir, map[string]string{"flags": "--verbose\n", "post.sh": "#!/bin/sh\necho post\n"})
	cfgYAML := `name: foreign-nfpm
arch: amd64
platform: linux
version: 2.0.1
maintainer: Test <t@example.com>
description: test
contents:
  - src: ` + filepath.Join(dir, "flags") + `
    dst: /opt/orbit/osquery.flags
    file_info: {mode: 0600}
scripts:
  postinstall: ` + filepath.Join(dir, "post.sh") + `
deb:
  signature:
    key_file: ` + key + `
rpm:
  signature:
    key_file: ` + key + `
`
	cfg, err := nfpm.ParseWithEnvMapping(strings.NewReader(cfgYAML), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	keyring, err := ReadKeyring(pub)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := ReadKeyring(otherPub)
	for _, format := range []string{"deb", "rpm", "archlinux"} {
		t.Run(format, func(t *testing.T) {
			info, err := cfg.Get(format)
			if err != nil {
				t.Fatal(err)
			}
			info = nfpm.WithDefaults(info)
			p, err := nfpm.Get(format)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := p.Package(info, &buf); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out."+format)
			if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"deb": "deb", "rpm": "rpm", "archlinux": "pkg.tar.zst"}[format]
			off := int64(buf.Len() / 2)
			if format == "deb" {
				off = int64(bytes.Index(buf.Bytes(), []byte("data.tar")) + 60 + 30)
			}
			if format == "archlinux" {
				// pacman reads a detached <package>.sig beside the package.
				ents, err := ReadKeyring(readFile(t, key))
				if err != nil {
					t.Fatal(err)
				}
				var sig bytes.Buffer
				if err := openpgp.DetachSign(&sig, ents[0], bytes.NewReader(buf.Bytes()), nil); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(out+".sig", sig.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := checkForeign(t, out, want, "foreign-nfpm", off, Options{})
			// rpm: one signature over the header, one over header and payload.
			if len(r.Signatures) == 0 {
				t.Fatal("no signature found")
			}
			for _, s := range r.Signatures {
				if !strings.EqualFold(s.KeyID, keyID) {
					t.Fatalf("signatures %+v, want key %s", r.Signatures, keyID)
				}
			}
			if fs := Verify(r, VerifyOptions{}); !hasCode(fs, "SIG-"+strings.ToUpper(map[string]string{"archlinux": "arch"}[format]+map[string]string{"deb": "deb", "rpm": "rpm"}[format])+"-PGP-UNCHECKED") {
				t.Errorf("without --gpg-key: %+v", fs)
			}
			r = mustOpen(t, out, Options{Keyring: keyring})
			for _, s := range r.Signatures {
				if !s.Valid || s.Trusted == nil || !*s.Trusted {
					t.Errorf("with the signer's key: %+v", s)
				}
			}
			if fs := Verify(r, VerifyOptions{}); len(fs) != 0 {
				t.Errorf("with the signer's key: %+v", fs)
			}
			if fs := Verify(mustOpen(t, out, Options{Keyring: stranger}), VerifyOptions{}); !Failed(fs, nil, false) {
				t.Errorf("with another key: %+v", fs)
			}
		})
	}
}

const wxs = `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Foreign Orbit" Language="1033" Version="1.2.3" Manufacturer="Example" UpgradeCode="{11111111-2222-3333-4444-555555555555}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"/>
    <Media Id="1" Cabinet="product.cab" EmbedCab="yes"/>
    <Property Id="FLEET_URL" Value="https://fleet.example.com"/>
    <Property Id="FLEET_SECRET" Value="foreign-secret"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="ORBITROOT" Name="Orbit">
          <Component Id="C_Orbit" Guid="{AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEE1}" Win64="yes">
            <File Id="orbit.exe" Source="orbit.exe" KeyPath="yes"/>
            <File Id="osquery.flags" Source="osquery.flags"/>
            <ServiceInstall Id="OrbitSvc" Name="Fleet osquery" Type="ownProcess" Start="auto" ErrorControl="ignore"
              Arguments='--root-dir "[ORBITROOT]." --fleet-url "[FLEET_URL]" --enroll-secret "[FLEET_SECRET]" --update-interval 15m0s'/>
            <ServiceControl Id="OrbitCtl" Name="Fleet osquery" Start="install" Stop="both" Remove="uninstall"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="C_Orbit"/></Feature>
  </Product>
</Wix>
`

// TestForeignWixl builds an MSI with wixl (msitools), reads its settings
// from the service arguments, signs it with osslsigncode and tampers with it.
func TestForeignWixl(t *testing.T) {
	wixl := testenv.NeedTool(t, "wixl", "wixl")
	ossl := testenv.NeedTool(t, "osslsigncode", "osslsigncode")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.wxs": wxs, "orbit.exe": strings.Repeat("orbit binary ", 4000), "osquery.flags": "--verbose\n"})
	run(t, dir, wixl, "-a", "x64", "-o", "a.msi", "a.wxs")
	msi := filepath.Join(dir, "a.msi")
	raw, _ := os.ReadFile(msi)
	r := checkForeign(t, msi, "msi", "Foreign Orbit", int64(bytes.Index(raw, []byte("MSCF"))+120), Options{})
	settings := map[string]string{}
	for _, s := range r.Settings {
		settings[s.Name] = s.Value
	}
	if settings["ORBIT_FLEET_URL"] != "https://fleet.example.com" || settings["ORBIT_ENROLL_SECRET"] != masked || settings["ORBIT_UPDATE_INTERVAL"] != "15m0s" {
		t.Errorf("settings %+v", r.Settings)
	}
	if r.Identifiers["upgrade_code"] != "{11111111-2222-3333-4444-555555555555}" || r.Identifiers["product_code"] == "" || r.Arch != "amd64" {
		t.Errorf("identity %+v %s", r.Identifiers, r.Arch)
	}
	if len(r.Files) != 2 || r.Files[0].Path != "/Program Files/Orbit/orbit.exe" || r.Files[0].Size != 4000*13 {
		t.Errorf("files %+v", r.Files)
	}

	// Sign it: the Authenticode signature must be found, chain to the CA,
	// and break when a table or the signature changes.
	ca, err := testenv.NewCA("wixl test CA")
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := ca.IssueCodeSigning("wixl signer")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"c.pem": string(crt), "k.pem": string(key)})
	run(t, dir, ossl, "sign", "-certs", "c.pem", "-key", "k.pem", "-in", "a.msi", "-out", "signed.msi")
	signed := filepath.Join(dir, "signed.msi")
	opt := Options{Roots: ca.Pool()}
	r = mustOpen(t, signed, opt)
	if len(r.Signatures) != 1 || !r.Signatures[0].Valid || r.Signatures[0].Signer != "CN=wixl signer,OU=TESTTEAMID,O=pkgctl testenv" {
		t.Fatalf("signature %+v", r.Signatures)
	}
	if fs := Verify(r, VerifyOptions{}); Failed(fs, nil, false) {
		t.Errorf("signed: %+v", fs)
	}
	raw, _ = os.ReadFile(signed)
	for what, off := range map[string]int{"table": bytes.Index(raw, []byte("Foreign Orbit")) + 1, "signature": bytes.LastIndex(raw, []byte("wixl signer")) + 1} {
		// A changed table breaks the signed digest; a changed certificate
		// breaks the chain (or the signature).
		fs := verifyFile(t, tamper(t, signed, int64(off)), opt)
		if !hasCode(fs, "SIG-AUTHENTICODE-INVALID") && !(what == "signature" && hasCode(fs, "SIG-AUTHENTICODE-UNTRUSTED")) {
			t.Errorf("%s tampered: %+v", what, fs)
		}
	}
}

// TestForeignXarChecksums repacks one of our packages with bsdtar, whose xar
// writer can use md5 or no TOC checksum and md5 or no member checksums.
func TestForeignXarChecksums(t *testing.T) {
	bsdtar := testenv.NeedTool(t, "bsdtar", "libarchive-tools")
	fx := newFixture(t)
	pkg := fx.build(t, packaging.TypePkg, "", nil, false)
	dir := t.TempDir()
	run(t, dir, bsdtar, "-xf", pkg)
	for _, o := range []string{"xar:toc-checksum=md5", "xar:toc-checksum=none,xar:checksum=none", "xar:toc-checksum=sha1,xar:checksum=md5"} {
		t.Run(o, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "repacked.pkg")
			run(t, dir, bsdtar, "--format", "xar", "--options", o, "-cf", out, "Distribution", "base.pkg")
			r := mustOpen(t, out, Options{})
			if len(r.Components) == 0 || len(r.Settings) == 0 {
				t.Errorf("components %d settings %d", len(r.Components), len(r.Settings))
			}
			fs := Verify(r, VerifyOptions{})
			if Failed(fs, nil, false) {
				t.Errorf("findings %+v", fs)
			}
			if strings.Contains(o, "toc-checksum=none") != hasCode(fs, "PKG-XAR-TOC-NO-CHECKSUM") {
				t.Errorf("TOC checksum warning: %+v", fs)
			}
		})
	}
}

// TestForeignApple reads Apple-built packages: an unsigned product archive
// and one signed with a timestamped CMS signature.
func TestForeignApple(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "apple-pkg")
	r := checkForeign(t, filepath.Join(dir, "XZ.pkg"), "pkg", "XZ", 20000, Options{})
	if r.Identifiers["pkg_identifier"] != "org.tukaani.xz" || len(r.Files) != 71 {
		t.Errorf("XZ.pkg: %+v, %d files", r.Identifiers, len(r.Files))
	}
	signed := filepath.Join(dir, "Product-signed.pkg")
	r = mustOpen(t, signed, Options{})
	if len(r.Signatures) != 1 {
		t.Fatalf("signatures %+v", r.Signatures)
	}
	s := r.Signatures[0]
	if !s.Valid || !strings.Contains(s.Signer, "My Test Certificate") || s.Timestamp == nil || len(s.Chain) != 2 {
		t.Errorf("signature %+v", s)
	}
	// The certificate expired in 2018, after the 2017 timestamp: that is fine.
	if fs := Verify(r, VerifyOptions{}); Failed(fs, nil, false) {
		t.Errorf("findings %+v", fs)
	}
	raw, _ := os.ReadFile(signed)
	if fs := verifyFile(t, tamper(t, signed, xarSignatureOffset(t, raw)), Options{}); !hasCode(fs, "SIG-XAR-RSA-INVALID") {
		t.Errorf("signature tampered: %+v", fs)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
