package e2e

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	relicxar "github.com/sassoftware/relic/v7/lib/fruit/xar"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging/macos/bom"
)

// This file states the macOS layout from ../shared/fleetd-compat.md §2.1 on its
// own, independently of packaging.Layout, and checks .pkg files with bsdtar, 7z,
// GNU cpio, cksum, openssl and python3's plistlib.

// Values the agent must receive unchanged: XML metacharacters and non-ASCII.
const (
	trickyFleetURL = `https://fleet.example.com:8443/p?a=1&b="x"<y>'z'/ünïcødé`
	trickySecret   = `S3cr"et&<x>'ü-`
)

// pkgSpec is one .pkg build.
type pkgSpec struct {
	Name       string
	Full       bool   // every optional setting, with tricky values
	NoService  bool   // --service=false
	Identifier string // --identifier ("" = default)
	Sign       string // "", "file" (--macos-devid-pem) or "content" (--macos-devid-pem-content)
}

func (b pkgSpec) identifier() string {
	if b.Identifier == "" {
		return "com.fleetdm.orbit"
	}
	return b.Identifier
}

// pkgSigner is the Developer ID identity the signed builds use.
type pkgSigner struct {
	CA              *testenv.CA
	CAFile, PEMFile string
	PEMContent      string
	CertPEM, KeyPEM []byte
}

func newPkgSigner(t *testing.T) *pkgSigner {
	t.Helper()
	// As Apple's: root CA, an intermediate ("Developer ID Certification
	// Authority"), then the Developer ID Installer leaf.
	root, err := testenv.NewCA("e2e Apple-like Root CA")
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("e2e Developer ID Certification Authority")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := inter.IssueCodeSigning("Developer ID Installer: pkgctl e2e (TESTTEAMID)")
	if err != nil {
		t.Fatal(err)
	}
	registerSecret(key)
	dir := t.TempDir()
	content := string(cert) + string(inter.CertPEM) + string(key)
	return &pkgSigner{CA: root, CertPEM: cert, KeyPEM: key, PEMContent: content,
		CAFile: writeFile(t, dir, "ca.pem", root.CertPEM), PEMFile: writeFile(t, dir, "devid.pem", []byte(content))}
}

func (b pkgSpec) args(t *testing.T, s *sharedEnv, sg *pkgSigner) []string {
	args := []string{"package", "--type=pkg", "--cache-dir=" + t.TempDir()}
	args = append(args, updateArgs(s.Env, s.Nginx.URL)...)
	if b.Full {
		args = append(args,
			"--fleet-url="+trickyFleetURL, "--enroll-secret="+trickySecret,
			"--fleet-certificate="+s.FleetCAFile,
			"--fleet-tls-client-certificate="+s.FleetClientCertFile, "--fleet-tls-client-key="+s.FleetClientKeyFile,
			"--fleet-desktop", "--fleet-desktop-alternative-browser-host="+altHost,
			"--osquery-flagfile="+s.FlagfilePath,
			"--debug", "--enable-scripts", "--host-identifier=instance", "--disable-keystore",
			"--osquery-db="+osqueryDB, "--update-interval=30m", "--use-system-configuration", "--verbose",
		)
	}
	if b.NoService {
		args = append(args, "--service=false")
	}
	if b.Identifier != "" {
		args = append(args, "--identifier="+b.Identifier)
	}
	if b.Sign != "" {
		// Offline: the default time stamp comes from Apple's server (TestPkgTimestamped
		// uses a local one).
		args = append(args, "--macos-sign-timestamp-url=none")
	}
	switch b.Sign {
	case "file":
		args = append(args, "--macos-devid-pem="+sg.PEMFile)
	case "content":
		// As fleetctl takes it: from the environment is the usual way, the flag works too.
		args = append(args, "--macos-devid-pem-content="+sg.PEMContent)
	}
	return args
}

// expectedPkgTree is what the Payload must install (fleetd-compat.md §2.1), with
// paths from "/" and modes; every directory is a payload member.
func expectedPkgTree(t *testing.T, s *sharedEnv, b pkgSpec) tree {
	t.Helper()
	eb := newTreeBuilder(t, s)
	tr, dir, file := eb.tr, eb.dir, eb.file
	dir("/opt")
	dir("/opt/orbit")
	eb.orbitRootFiles(b.Full)
	// No secret.txt without --enroll-secret (fleetctl's writeMacOSSecret).
	if b.Full {
		file("/opt/orbit/secret.txt", 0o600, []byte(trickySecret))
	}
	eb.component("orbit", "macos", "stable", "orbit")
	eb.unpack(eb.component("osqueryd", "macos-app", "stable", "osqueryd.app.tar.gz"))
	if b.Full {
		eb.unpack(eb.component("desktop", "macos", "stable", "desktop.app.tar.gz"))
	}
	if !b.NoService {
		dir("/Library")
		dir("/Library/LaunchDaemons")
		tr["/Library/LaunchDaemons/com.fleetdm.orbit.plist"] = &node{Kind: "file", Mode: 0o644, Check: func([]byte) error { return nil }} // checked by plistlib below
	}
	return tr
}

// expectedPlistEnv is EnvironmentVariables for b (fleetd-compat.md §2.1).
func expectedPlistEnv(s *sharedEnv, b pkgSpec) map[string]string {
	env := map[string]string{
		"ORBIT_ORBIT_CHANNEL": "stable", "ORBIT_OSQUERYD_CHANNEL": "stable",
		"ORBIT_UPDATE_URL": s.Nginx.URL, "ORBIT_UPDATE_TLS_CERTIFICATE": "/opt/orbit/update.pem",
		"ORBIT_UPDATE_INTERVAL": "15m0s",
	}
	if b.Full {
		for k, v := range map[string]string{
			"ORBIT_DEBUG": "true", "ORBIT_FLEET_CERTIFICATE": "/opt/orbit/fleet.pem",
			"ORBIT_ENROLL_SECRET_PATH": "/opt/orbit/secret.txt", "ORBIT_FLEET_URL": trickyFleetURL,
			"ORBIT_USE_SYSTEM_CONFIGURATION": "true", "ORBIT_ENABLE_SCRIPTS": "true",
			"ORBIT_FLEET_DESKTOP": "true", "ORBIT_DESKTOP_CHANNEL": "stable",
			"ORBIT_FLEET_DESKTOP_ALTERNATIVE_BROWSER_HOST": altHost,
			"ORBIT_UPDATE_INTERVAL":                        "30m0s", "ORBIT_HOST_IDENTIFIER": "instance",
			"ORBIT_DISABLE_KEYSTORE": "true", "ORBIT_OSQUERY_DB": osqueryDB,
		} {
			env[k] = v
		}
	}
	return env
}

func TestPkg(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	bsdtar := needTool(t, "bsdtar", "libarchive-tools")
	sevenZ := needTool(t, "7z", "p7zip-full")
	cpioBin := needTool(t, "cpio", "cpio")
	cksum := needTool(t, "cksum", "coreutils")
	openssl := needTool(t, "openssl", "openssl")
	python := needTool(t, "/usr/bin/python3", "python3")
	sg := newPkgSigner(t)
	registerSecret([]byte(trickySecret))

	for _, b := range []pkgSpec{
		{Name: "full signed from file", Full: true, Sign: "file"},
		{Name: "minimal", Sign: ""},
		{Name: "no service, custom identifier, signed from content", NoService: true, Identifier: "com.example.agent", Sign: "content"},
	} {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := runPkgctl(t, "fleet-osquery.pkg", b.args(t, s, sg)...)
			mustSucceed(t, r)
			pkg := r.Outfile
			want := expectedPkgTree(t, s, b)
			members := []string{"Distribution", "base.pkg", "base.pkg/Bom", "base.pkg/PackageInfo", "base.pkg/Payload", "base.pkg/Scripts"}

			t.Run("bsdtar -tf", func(t *testing.T) {
				out, _ := tool(t, false, bsdtar, "-tf", pkg)
				got := strings.Fields(out)
				for i := range got {
					got[i] = strings.TrimSuffix(got[i], "/")
				}
				sort.Strings(got)
				if strings.Join(got, " ") != strings.Join(members, " ") {
					t.Errorf("bsdtar lists %v, want %v", got, members)
				}
			})
			t.Run("xar encodings", func(t *testing.T) {
				// As Apple's productbuild stores them (bom-facts.md §15): the
				// small XML and the Bom zlib-compressed, the Payload as is.
				data, err := os.ReadFile(pkg)
				if err != nil {
					t.Fatal(err)
				}
				x := parseXarTOC(t, data)
				for name, enc := range map[string]string{
					"Distribution": "application/x-gzip", "base.pkg/PackageInfo": "application/x-gzip",
					"base.pkg/Bom": "application/x-gzip", "base.pkg/Payload": "application/octet-stream",
				} {
					if got := x.files[name].Encoding; got != enc {
						t.Errorf("%s stored as %q, want %q", name, got, enc)
					}
				}
			})
			t.Run("7z l", func(t *testing.T) {
				out, _ := tool(t, false, sevenZ, "l", pkg)
				for _, m := range members {
					if !strings.Contains(out, m) {
						t.Errorf("7z l does not list %s:\n%s", m, out)
					}
				}
				if !strings.Contains(out, "Type = Xar") && !strings.Contains(out, "Type = xar") {
					t.Errorf("7z does not see a xar archive:\n%s", out)
				}
			})

			// bsdtar checks every member's checksum as it extracts.
			flat := t.TempDir()
			tool(t, false, bsdtar, "-xf", pkg, "-C", flat)
			read := func(name string) []byte {
				data, err := os.ReadFile(filepath.Join(flat, filepath.FromSlash(name)))
				if err != nil {
					t.Fatal(err)
				}
				return data
			}

			t.Run("bsdtar rejects a changed heap byte", func(t *testing.T) {
				data, err := os.ReadFile(pkg)
				if err != nil {
					t.Fatal(err)
				}
				x := parseXarTOC(t, data)
				off := x.heapStart + x.files["base.pkg/Payload"].Offset + 20
				data[off] ^= 0x01
				bad := filepath.Join(t.TempDir(), "bad.pkg")
				if err := os.WriteFile(bad, data, 0o600); err != nil {
					t.Fatal(err)
				}
				out, err := tool(t, true, bsdtar, "-xf", bad, "-C", t.TempDir())
				if err == nil {
					t.Errorf("bsdtar extracted a package with a changed Payload byte:\n%s", out)
				}
			})

			// The Payload, with GNU cpio.
			payload := gunzip(t, read("base.pkg/Payload"))
			cpioList := cpioListing(t, cpioBin, payload)
			root := filepath.Join(t.TempDir(), "root")
			if err := os.MkdirAll(root, 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := testenv.Command(cpioBin, "-idm", "--quiet", "--no-absolute-filenames")
			cmd.Dir, cmd.Stdin = root, bytes.NewReader(payload)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("cpio -idm: %v\n%s", err, out)
			}

			t.Run("cpio -itv", func(t *testing.T) {
				var errs []string
				if e, ok := cpioList["."]; !ok || e.mode != "drwxr-xr-x" {
					errs = append(errs, "no root directory \".\" (drwxr-xr-x)")
				}
				for p, e := range cpioList {
					if e.uid != "0" || e.gid != "80" {
						errs = append(errs, fmt.Sprintf("%s owned %s:%s, want 0:80", p, e.uid, e.gid))
					}
					if p == "." {
						continue
					}
					w := want["/"+strings.TrimPrefix(p, "./")]
					if w == nil {
						errs = append(errs, "extra "+p)
						continue
					}
					if wm := lsMode(w); e.mode != wm {
						errs = append(errs, fmt.Sprintf("%s mode %s, want %s", p, e.mode, wm))
					}
				}
				for _, p := range want.paths() {
					if _, ok := cpioList["."+p]; !ok {
						errs = append(errs, "missing "+p)
					}
				}
				if len(errs) > 0 {
					sort.Strings(errs)
					t.Errorf("cpio -itv differs from the layout:\n  %s", strings.Join(errs, "\n  "))
				}
			})
			t.Run("payload content", func(t *testing.T) {
				compareTrees(t, "tree extracted by cpio", readTree(t, root), want, false)
			})

			t.Run("Bom equals payload", func(t *testing.T) {
				bomData := read("base.pkg/Bom")
				entries, err := bom.Read(bytes.NewReader(bomData), int64(len(bomData)))
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if err := bom.Lsbom(&got, entries); err != nil {
					t.Fatal(err)
				}
				// The same listing from cpio's view and coreutils cksum.
				var lines []string
				for p, e := range cpioList {
					mode := strconv.FormatUint(uint64(e.unixMode()), 8)
					if e.mode[0] == 'd' {
						lines = append(lines, fmt.Sprintf("%s\t%s\t%s/%s\t", p, mode, e.uid, e.gid))
						continue
					}
					out, _ := tool(t, false, cksum, filepath.Join(root, filepath.FromSlash(p)))
					f := strings.Fields(out)
					lines = append(lines, fmt.Sprintf("%s\t%s\t%s/%s\t%s\t%s\t", p, mode, e.uid, e.gid, f[1], f[0]))
				}
				gotLines := strings.Split(strings.TrimRight(got.String(), "\n"), "\n")
				sort.Strings(gotLines)
				sort.Strings(lines)
				if strings.Join(gotLines, "\n") != strings.Join(lines, "\n") {
					t.Errorf("Bom listing:\n%s\nwant (cpio + cksum):\n%s", strings.Join(gotLines, "\n"), strings.Join(lines, "\n"))
				}
			})

			t.Run("PackageInfo and Distribution", func(t *testing.T) {
				var files int
				var kbytes int64
				for p, e := range cpioList {
					files++
					if e.mode[0] == '-' {
						st, err := os.Stat(filepath.Join(root, filepath.FromSlash(p)))
						if err != nil {
							t.Fatal(err)
						}
						kbytes += (st.Size() + 1023) / 1024
					}
				}
				var info struct {
					XMLName         xml.Name `xml:"pkg-info"`
					Identifier      string   `xml:"identifier,attr"`
					Version         string   `xml:"version,attr"`
					InstallLocation string   `xml:"install-location,attr"`
					Auth            string   `xml:"auth,attr"`
					Payload         struct {
						Files  int   `xml:"numberOfFiles,attr"`
						KBytes int64 `xml:"installKBytes,attr"`
					} `xml:"payload"`
					Postinstall struct {
						File string `xml:"file,attr"`
					} `xml:"scripts>postinstall"`
				}
				if err := xml.Unmarshal(read("base.pkg/PackageInfo"), &info); err != nil {
					t.Fatalf("PackageInfo: %v", err)
				}
				if info.Identifier != b.identifier()+".base.pkg" || info.Version != testenv.StableVersion ||
					info.InstallLocation != "/" || info.Auth != "root" || info.Postinstall.File != "./postinstall" {
					t.Errorf("PackageInfo %+v", info)
				}
				if info.Payload.Files != files || info.Payload.KBytes != kbytes {
					t.Errorf("PackageInfo payload: %d files, %d KiB; cpio has %d files, %d KiB", info.Payload.Files, info.Payload.KBytes, files, kbytes)
				}
				var dist struct {
					XMLName xml.Name `xml:"installer-gui-script"`
					Title   string   `xml:"title"`
					Choice  struct {
						ID     string `xml:"id,attr"`
						PkgRef struct {
							ID string `xml:"id,attr"`
						} `xml:"pkg-ref"`
					} `xml:"choice"`
					Refs []struct {
						ID      string `xml:"id,attr"`
						Version string `xml:"version,attr"`
						KBytes  string `xml:"installKBytes,attr"`
						Href    string `xml:",chardata"`
						Bundle  struct {
							ID string `xml:"id,attr"`
						} `xml:"bundle-version>bundle"`
					} `xml:"pkg-ref"`
					Options struct {
						Archs string `xml:"hostArchitectures,attr"`
					} `xml:"options"`
				}
				if err := xml.Unmarshal(read("Distribution"), &dist); err != nil {
					t.Fatalf("Distribution: %v", err)
				}
				id := b.identifier() + ".base.pkg"
				if dist.Title != "Fleet osquery" || dist.Choice.PkgRef.ID != id || len(dist.Refs) != 2 ||
					dist.Options.Archs != "arm64,x86_64" {
					t.Fatalf("Distribution %+v", dist)
				}
				if r := dist.Refs[0]; r.ID != id || r.Version != testenv.StableVersion || strings.TrimSpace(r.Href) != "#base.pkg" || r.KBytes != fmt.Sprint(kbytes) {
					t.Errorf("Distribution pkg-ref %+v", r)
				}
				if r := dist.Refs[1]; r.ID != id || r.Bundle.ID != b.identifier() {
					t.Errorf("Distribution bundle-version ref %+v", r)
				}
			})

			if !b.NoService {
				t.Run("plist (plistlib)", func(t *testing.T) {
					p := filepath.Join(root, "Library", "LaunchDaemons", "com.fleetdm.orbit.plist")
					out, _ := tool(t, false, python, "-c", "import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],'rb'))))", p)
					var pl struct {
						Label                string
						ProgramArguments     []string
						KeepAlive            bool
						RunAtLoad            bool
						ThrottleInterval     int
						StandardErrorPath    string
						StandardOutPath      string
						EnvironmentVariables map[string]string
					}
					if err := json.Unmarshal([]byte(out), &pl); err != nil {
						t.Fatalf("plistlib output: %v\n%s", err, out)
					}
					if pl.Label != "com.fleetdm.orbit" || strings.Join(pl.ProgramArguments, " ") != "/opt/orbit/bin/orbit/orbit" ||
						!pl.KeepAlive || !pl.RunAtLoad || pl.ThrottleInterval != 10 ||
						pl.StandardErrorPath != "/var/log/orbit/orbit.stderr.log" || pl.StandardOutPath != "/var/log/orbit/orbit.stdout.log" {
						t.Errorf("plist %+v", pl)
					}
					wantEnv := expectedPlistEnv(s, b)
					for k, v := range wantEnv {
						if pl.EnvironmentVariables[k] != v {
							t.Errorf("plist %s = %q, want %q", k, pl.EnvironmentVariables[k], v)
						}
					}
					for k := range pl.EnvironmentVariables {
						if _, ok := wantEnv[k]; !ok {
							t.Errorf("plist has unexpected %s", k)
						}
					}
				})
			}

			t.Run("postinstall", func(t *testing.T) {
				scripts := t.TempDir()
				cmd := testenv.Command(cpioBin, "-idm", "--quiet", "--no-absolute-filenames")
				cmd.Dir, cmd.Stdin = scripts, bytes.NewReader(gunzip(t, read("base.pkg/Scripts")))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("cpio Scripts: %v\n%s", err, out)
				}
				checkPostinstall(t, filepath.Join(scripts, "postinstall"), !b.NoService)
			})

			if b.Sign != "" {
				t.Run("signature (openssl, relic)", func(t *testing.T) {
					checkPkgSignature(t, openssl, pkg, sg)
				})
			} else {
				t.Run("unsigned", func(t *testing.T) {
					data, _ := os.ReadFile(pkg)
					if x := parseXarTOC(t, data); bytes.Contains(x.toc, []byte("<signature")) {
						t.Error("an unsigned build has a signature")
					}
				})
			}

			t.Run("reproducible", func(t *testing.T) {
				r2 := runPkgctl(t, "fleet-osquery.pkg", b.args(t, s, sg)...)
				mustSucceed(t, r2)
				a, _ := os.ReadFile(pkg)
				c, _ := os.ReadFile(r2.Outfile)
				if !bytes.Equal(a, c) {
					t.Errorf("two builds with the same inputs and SOURCE_DATE_EPOCH differ (%d and %d bytes)", len(a), len(c))
				}
			})
		})
	}
}

// TestPkgSigningErrors: a bad identity fails before anything is written, naming the flag.
func TestPkgSigningErrors(t *testing.T) {
	t.Parallel()
	s := getShared(t)
	ca, err := testenv.NewCA("e2e other CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ca.IssueCodeSigning("Developer ID Installer: one")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ca.IssueCodeSigning("Developer ID Installer: two")
	if err != nil {
		t.Fatal(err)
	}
	ecCert, ecKey, err := ca.IssueClient("ecdsa")
	if err != nil {
		t.Fatal(err)
	}
	registerSecret(otherKey)
	registerSecret(ecKey)
	dir := t.TempDir()
	base := append([]string{"package", "--type=pkg", "--cache-dir=" + t.TempDir()}, updateArgs(s.Env, s.Nginx.URL)...)
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"mismatched key", []string{"--macos-devid-pem=" + writeFile(t, dir, "mismatch.pem", append(cert, otherKey...))}, []string{"--macos-devid-pem", "does not match"}},
		{"ECDSA key", []string{"--macos-devid-pem-content=" + string(ecCert) + string(ecKey)}, []string{"--macos-devid-pem-content", "RSA"}},
		{"no key", []string{"--macos-devid-pem=" + writeFile(t, dir, "cert.pem", cert)}, []string{"--macos-devid-pem", "no PEM private key"}},
		{"both forms", []string{"--macos-devid-pem=" + writeFile(t, dir, "x.pem", cert), "--macos-devid-pem-content=x"}, []string{"may not be provided together"}},
		{"sign identity", []string{"--sign-identity=Developer ID Installer: X"}, []string{"--sign-identity", "--macos-devid-pem"}},
		{"notarize unsigned", []string{"--notarize"}, []string{"--notarize", "--macos-devid-pem"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runPkgctl(t, "fleet-osquery.pkg", append(append([]string{}, base...), c.args...)...)
			mustFail(t, r, c.want...)
		})
	}
}

// --- helpers ------------------------------------------------------------------

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cpioEntry is one line of `cpio -itv --numeric-uid-gid`.
type cpioEntry struct{ mode, uid, gid string }

// unixMode turns an ls mode string (drwxr-xr-x) into st_mode bits.
func (e cpioEntry) unixMode() uint32 {
	var m uint32
	switch e.mode[0] {
	case 'd':
		m = 0o40000
	case 'l':
		m = 0o120000
	default:
		m = 0o100000
	}
	for i, c := range e.mode[1:10] {
		if c != '-' {
			m |= 1 << (8 - i)
		}
	}
	return m
}

var cpioLine = regexp.MustCompile(`^([-dl][-rwxsStT]{9})\s+\d+\s+(\d+)\s+(\d+)\s+\d+\s+\w{3}\s+\d+\s+[\d:]+\s(.+)$`)

func cpioListing(t *testing.T, cpioBin string, payload []byte) map[string]cpioEntry {
	t.Helper()
	cmd := exec.Command(cpioBin, "-itv", "--numeric-uid-gid", "--quiet")
	cmd.Stdin = bytes.NewReader(payload)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -itv: %v\n%s", err, out)
	}
	m := map[string]cpioEntry{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		g := cpioLine.FindStringSubmatch(line)
		if g == nil {
			t.Fatalf("cpio -itv line not understood: %q", line)
		}
		m[g[4]] = cpioEntry{mode: g[1], uid: g[2], gid: g[3]}
	}
	return m
}

// lsMode is the ls-style mode of an expected node.
func lsMode(n *node) string {
	kind := map[string]string{"dir": "d", "file": "-", "symlink": "l"}[n.Kind]
	return kind + n.Mode.Perm().String()[1:]
}

// xarTOC is a xar archive's TOC, read with this file's own small parser.
type xarTOC struct {
	headerSize    int64
	tocCompressed []byte
	toc           []byte
	heapStart     int64
	files         map[string]xarData
	sigOffset     int64
	sigSize       int64
	xsigOffset    int64
	xsigSize      int64
	cksumOffset   int64
	cksumSize     int64
	certs         []string // base64 DER, leaf first
}

type xarData struct {
	Offset, Length int64
	Encoding       string
}

func parseXarTOC(t *testing.T, data []byte) xarTOC {
	t.Helper()
	if len(data) < 28 || string(data[:4]) != "xar!" {
		t.Fatal("not a xar archive")
	}
	x := xarTOC{headerSize: int64(binary.BigEndian.Uint16(data[4:6]))}
	n := int64(binary.BigEndian.Uint64(data[8:16]))
	x.tocCompressed = data[x.headerSize : x.headerSize+n]
	x.heapStart = x.headerSize + n
	zr, err := zlib.NewReader(bytes.NewReader(x.tocCompressed))
	if err != nil {
		t.Fatal(err)
	}
	if x.toc, err = io.ReadAll(zr); err != nil {
		t.Fatal(err)
	}
	type file struct {
		Name string `xml:"name"`
		Data *struct {
			Offset   int64 `xml:"offset"`
			Length   int64 `xml:"length"`
			Encoding struct {
				Style string `xml:"style,attr"`
			} `xml:"encoding"`
		} `xml:"data"`
		Files []file `xml:"file"`
	}
	var doc struct {
		TOC struct {
			Checksum struct {
				Offset int64 `xml:"offset"`
				Size   int64 `xml:"size"`
			} `xml:"checksum"`
			Signature struct {
				Style  string   `xml:"style,attr"`
				Offset int64    `xml:"offset"`
				Size   int64    `xml:"size"`
				Certs  []string `xml:"KeyInfo>X509Data>X509Certificate"`
			} `xml:"signature"`
			XSignature struct {
				Offset int64 `xml:"offset"`
				Size   int64 `xml:"size"`
			} `xml:"x-signature"`
			Files []file `xml:"file"`
		} `xml:"toc"`
	}
	if err := xml.Unmarshal(x.toc, &doc); err != nil {
		t.Fatalf("TOC: %v", err)
	}
	x.files = map[string]xarData{}
	var walk func(dir string, fs []file)
	walk = func(dir string, fs []file) {
		for _, f := range fs {
			p := path.Join(dir, f.Name)
			if f.Data != nil {
				x.files[p] = xarData{f.Data.Offset, f.Data.Length, f.Data.Encoding.Style}
			}
			walk(p, f.Files)
		}
	}
	walk("", doc.TOC.Files)
	x.cksumOffset, x.cksumSize = doc.TOC.Checksum.Offset, doc.TOC.Checksum.Size
	x.sigOffset, x.sigSize, x.certs = doc.TOC.Signature.Offset, doc.TOC.Signature.Size, doc.TOC.Signature.Certs
	x.xsigOffset, x.xsigSize = doc.TOC.XSignature.Offset, doc.TOC.XSignature.Size
	return x
}

// checkPkgSignature verifies the TOC's RSA signature with openssl (digest of
// the compressed TOC, leaf certificate from the TOC, chain to the test CA),
// checks relic's verifier agrees, and that both reject a changed TOC byte.
func checkPkgSignature(t *testing.T, openssl, pkg string, sg *pkgSigner) {
	data, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	x := parseXarTOC(t, data)
	if len(x.certs) < 2 || x.sigSize == 0 {
		t.Fatalf("the TOC has no RSA signature with the leaf and intermediate certificates:\n%s", x.toc)
	}
	dir := t.TempDir()
	put := func(name string, b []byte) string { return writeFile(t, dir, name, b) }
	var certFiles []string
	for i, c := range x.certs {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c), ""))
		if err != nil {
			t.Fatal(err)
		}
		certFiles = append(certFiles, put(fmt.Sprintf("cert%d.pem", i), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	}
	leaf := certFiles[0]
	subj, _ := tool(t, false, openssl, "x509", "-in", leaf, "-noout", "-subject")
	if !strings.Contains(subj, "Developer ID Installer: pkgctl e2e") {
		t.Errorf("leaf certificate: %s", subj)
	}
	verifyArgs := []string{"verify", "-purpose", "any", "-CAfile", sg.CAFile}
	if len(certFiles) > 1 {
		untrusted := put("untrusted.pem", bytes.Join(func() [][]byte {
			var out [][]byte
			for _, f := range certFiles[1:] {
				b, _ := os.ReadFile(f)
				out = append(out, b)
			}
			return out
		}(), nil))
		verifyArgs = append(verifyArgs, "-untrusted", untrusted)
	}
	if out, _ := tool(t, false, openssl, append(verifyArgs, leaf)...); !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify of the TOC's chain: %s", out)
	}
	pub, _ := tool(t, false, openssl, "x509", "-in", leaf, "-noout", "-pubkey")
	pubFile := put("pub.pem", []byte(pub))
	sig := data[x.heapStart+x.sigOffset : x.heapStart+x.sigOffset+x.sigSize]

	verify := func(toc, sig []byte) error {
		tocFile := put("toc.bin", toc)
		sigFile := put("sig.bin", sig)
		digest := filepath.Join(dir, "digest.bin")
		tool(t, false, openssl, "dgst", "-sha1", "-binary", "-out", digest, tocFile)
		out, err := tool(t, true, openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pubFile, "-in", digest, "-sigfile", sigFile, "-pkeyopt", "digest:sha1")
		if err != nil || !strings.Contains(out, "Signature Verified Successfully") {
			return fmt.Errorf("openssl pkeyutl -verify: %v %s", err, out)
		}
		return nil
	}
	if err := verify(x.tocCompressed, sig); err != nil {
		t.Errorf("signature of the TOC: %v", err)
	}
	// The TOC checksum in the heap is the digest that was signed.
	stored := data[x.heapStart+x.cksumOffset : x.heapStart+x.cksumOffset+x.cksumSize]
	digest, _ := os.ReadFile(filepath.Join(dir, "digest.bin"))
	if !bytes.Equal(stored, digest) {
		t.Errorf("heap checksum %x, openssl SHA-1 of the TOC %x", stored, digest)
	}
	relicOK := func(b []byte) error {
		rx, err := relicxar.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return err
		}
		_, err = rx.Verify(false)
		return err
	}
	if err := relicOK(data); err != nil {
		t.Errorf("relic: %v", err)
	}

	// One byte of the compressed TOC changed (its last byte, inside zlib's
	// Adler-32): openssl and relic both refuse it.
	badTOC := bytes.Clone(x.tocCompressed)
	badTOC[len(badTOC)-1] ^= 0x01
	if err := verify(badTOC, sig); err == nil {
		t.Error("openssl accepts the signature over a changed TOC")
	}
	bad := bytes.Clone(data)
	bad[x.headerSize+int64(len(x.tocCompressed))-1] ^= 0x01
	if err := relicOK(bad); err == nil {
		t.Error("relic accepts a package with a changed TOC byte")
	}
	// One byte of the RSA signature changed: openssl refuses it. relic checks
	// the CMS x-signature: one byte of it changed, relic refuses.
	badSig := bytes.Clone(sig)
	badSig[7] ^= 0x01
	if err := verify(x.tocCompressed, badSig); err == nil {
		t.Error("openssl accepts a changed signature byte")
	}
	if x.xsigSize == 0 {
		t.Fatal("the TOC has no CMS x-signature")
	}
	// The CMS blob may be shorter than its reserved space: flip a byte of its
	// last field (the signer's signature value), found from the DER length.
	xs := data[x.heapStart+x.xsigOffset : x.heapStart+x.xsigOffset+x.xsigSize]
	cmsLen := x.xsigSize
	if len(xs) > 4 && xs[0] == 0x30 && xs[1] == 0x82 {
		cmsLen = 4 + int64(xs[2])<<8 + int64(xs[3])
	}
	bad = bytes.Clone(data)
	bad[x.heapStart+x.xsigOffset+cmsLen-5] ^= 0x01
	if err := relicOK(bad); err == nil {
		t.Error("relic accepts a package with a changed x-signature byte")
	}
}

// checkPostinstall runs the postinstall with the target volume in a temp dir
// ($3), launchctl, pkill and sleep replaced by stubs that record their calls.
func checkPostinstall(t *testing.T, script string, service bool) {
	t.Helper()
	// 0744 as fleetctl writes it (fleetd-compat.md §2.1); cpio -idm kept the mode.
	if st, err := os.Stat(script); err != nil || st.Mode().Perm() != 0o744 {
		t.Fatalf("postinstall missing or not mode 0744: %v %v", st, err)
	}
	bash := needTool(t, "bash", "bash")
	if out, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n postinstall: %v\n%s", err, out)
	}
	stubs := t.TempDir()
	log := filepath.Join(stubs, "calls.log")
	for _, name := range []string{"launchctl", "pkill", "sleep"} {
		stub := "#!/bin/sh\necho \"" + name + " $*\" >> \"$STUB_LOG\"\n"
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(inband bool) []string {
		vol := t.TempDir()
		if err := os.MkdirAll(filepath.Join(vol, "opt/orbit/bin/orbit"), 0o755); err != nil {
			t.Fatal(err)
		}
		if inband {
			if err := os.WriteFile(filepath.Join(vol, "opt/orbit/.inband_upgrade"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(log, nil, 0o644)
		cmd := testenv.Command(bash, script, "/path/to/fleet-osquery.pkg", "/", vol+"/", "/")
		cmd.Env = []string{"PATH=" + stubs + ":/usr/bin:/bin", "STUB_LOG=" + log}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("postinstall: %v\n%s", err, out)
		}
		for link, target := range map[string]string{
			"opt/orbit/bin/orbit/orbit": "/opt/orbit/bin/orbit/macos/stable/orbit",
			"usr/local/bin/orbit":       "/opt/orbit/bin/orbit/orbit",
		} {
			if got, err := os.Readlink(filepath.Join(vol, link)); err != nil || got != target {
				t.Errorf("postinstall: /%s -> %q (%v), want -> %s", link, got, err, target)
			}
		}
		if inband {
			if _, err := os.Stat(filepath.Join(vol, "opt/orbit/.inband_upgrade")); err == nil {
				t.Error("postinstall left /opt/orbit/.inband_upgrade")
			}
			// The delayed restart runs in the background: wait for its last call.
			for i := 0; i < 200; i++ {
				if data, _ := os.ReadFile(log); strings.Contains(string(data), "launchctl kickstart") {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		data, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	wantCalls := []string{
		"launchctl bootout system/com.fleetdm.orbit",
		"launchctl enable system/com.fleetdm.orbit",
		"launchctl bootstrap system /Library/LaunchDaemons/com.fleetdm.orbit.plist",
		"launchctl kickstart system/com.fleetdm.orbit",
	}
	calls := run(false)
	if !service {
		if strings.Join(calls, "") != "" {
			t.Errorf("--service=false postinstall calls %v", calls)
		}
		return
	}
	if got, want := strings.Join(calls, "\n"), strings.Join(append([]string{"pkill fleet-desktop"}, wantCalls...), "\n"); got != want {
		t.Errorf("postinstall calls:\n%s\nwant:\n%s", got, want)
	}
	// In-band upgrade: later, Fleet Desktop is stopped too (fleetctl's
	// macosPostinstallTemplate), then the job restarted.
	calls = run(true)
	if got, want := strings.Join(calls, "\n"), strings.Join(append([]string{"sleep 30", "pkill fleet-desktop"}, wantCalls...), "\n"); got != want {
		t.Errorf("in-band upgrade postinstall calls:\n%s\nwant:\n%s", got, want)
	}
}
