package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/templates"
)

// This file is the test's own statement of the Linux layout, written from
// ../shared/fleetd-compat.md §2.3 (what `fleetctl package` installs and what
// orbit reads), independently of packaging.Layout: if the Layout drifts from
// the facts, the installed tree stops matching and the tests say where.

// buildSpec is one happy-path installer.
type buildSpec struct {
	Name         string
	Type         string // deb, rpm, pkg.tar.zst
	Arch         string // amd64, arm64
	OrbitChannel string // "" = stable
	Full         bool   // every optional setting: Fleet URL, secret and certificates, desktop, flagfile, ...
}

const (
	fleetURL     = "https://fleet.example.com:8080"
	altHost      = "fleet-desktop.example.com"
	endUserEmail = "user@example.com"
	osqueryDB    = "/var/lib/orbit-osquery-db"
)

func (b buildSpec) orbitChannel() string {
	if b.OrbitChannel == "" {
		return testenv.StableChannel
	}
	return b.OrbitChannel
}

// orbitVersion is the package version: the orbit target's version in TUF.
func (b buildSpec) orbitVersion() string {
	if b.orbitChannel() == testenv.EdgeChannel {
		return testenv.EdgeVersion
	}
	return testenv.StableVersion
}

func (b buildSpec) platform() string {
	if b.Arch == "arm64" {
		return "linux-arm64"
	}
	return "linux"
}

// args are the pkgctl flags of the build against updateURL.
func (b buildSpec) args(t *testing.T, s *sharedEnv, updateURL string) []string {
	args := []string{"package", "--type=" + b.Type, "--arch=" + b.Arch, "--cache-dir=" + t.TempDir()}
	args = append(args, updateArgs(s.Env, updateURL)...)
	if b.OrbitChannel != "" {
		args = append(args, "--orbit-channel="+b.OrbitChannel)
	}
	if b.Full {
		args = append(args,
			"--fleet-url="+fleetURL, "--enroll-secret="+s.EnrollSecret,
			"--fleet-certificate="+s.FleetCAFile,
			"--fleet-tls-client-certificate="+s.FleetClientCertFile, "--fleet-tls-client-key="+s.FleetClientKeyFile,
			"--fleet-desktop", "--fleet-desktop-alternative-browser-host="+altHost,
			"--osquery-flagfile="+s.FlagfilePath,
			"--debug", "--enable-scripts", "--host-identifier=instance", "--end-user-email="+endUserEmail,
			"--osquery-db="+osqueryDB, "--update-interval=30m", "--disable-setup-experience",
			"--verbose",
		)
	}
	return args
}

// node is one expected or found filesystem entry.
type node struct {
	Kind string      // file, dir, symlink
	Mode fs.FileMode // permission bits (plus setuid/setgid/sticky); not for symlinks
	Link string      // symlink target
	Data []byte      // file content, unless Check is set
	// Check verifies content that is not byte-fixed (TUF metadata, env file).
	Check func(data []byte) error
	// Implied marks a parent directory the package need not own (rpm does not).
	Implied bool
	UID     int
	GID     int
}

// tree maps absolute slash paths ("/opt/orbit") to entries.
type tree map[string]*node

func (tr tree) paths() []string {
	var out []string
	for p := range tr {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// expectedTree is everything the installer must put on disk for b, built
// against s's repository served at updateURL.
func expectedTree(t *testing.T, s *sharedEnv, b buildSpec, updateURL string) tree {
	t.Helper()
	eb := newTreeBuilder(t, s)
	tr, dir, file := eb.tr, eb.dir, eb.file

	// The orbit root; a custom --update-url gets tuf-metadata.json only (orbit ≥ 1.38.0
	// copies it to updates-metadata.json on first start); no secret.txt on Linux.
	dir("/opt/orbit")
	eb.orbitRootFiles(b.Full)

	// Components at bin/<target>/<platform>/<channel>/<file>, 0755.
	plat := b.platform()
	orbit := eb.component("orbit", plat, b.orbitChannel(), "orbit")
	eb.component("osqueryd", plat, testenv.StableChannel, "osqueryd")
	if b.Full {
		// fleetctl ships the tarball and what it holds, extracted beside it.
		eb.unpack(eb.component("desktop", plat, testenv.StableChannel, "desktop.tar.gz"))
	}
	tr["/opt/orbit/bin/orbit/orbit"] = &node{Kind: "symlink", Link: orbit}
	tr["/usr/local/bin/orbit"] = &node{Kind: "symlink", Link: "/opt/orbit/bin/orbit/orbit"}
	dir("/var/log/osquery")
	dir("/var/log/orbit")

	// The service.
	tr["/etc/default/orbit"] = &node{Kind: "file", Mode: 0o600, Check: envFileCheck(expectedEnv(s, b, updateURL))}
	tr["/usr/lib/systemd/system/orbit.service"] = &node{Kind: "file", Mode: 0o644, Check: unitCheck}

	if b.Type == "deb" {
		// Debian policy: a copyright file; and the lintian overrides of the package.
		tr["/usr/share/doc/fleet-osquery/copyright"] = &node{Kind: "file", Mode: 0o644, Check: func(d []byte) error {
			if !bytes.Contains(d, []byte("Fleet Device Management")) {
				return fmt.Errorf("copyright does not name Fleet Device Management:\n%s", d)
			}
			return nil
		}}
		file("/usr/share/lintian/overrides/fleet-osquery", 0o644, readRepoFile(t, "templates/linux/lintian-overrides"))
	}

	// Parent directories (root:root 0755), owned by other packages on a real system.
	for _, p := range tr.paths() {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := tr[d]; !ok {
				tr[d] = &node{Kind: "dir", Mode: 0o755, Implied: true}
			}
		}
	}
	return tr
}

// expectedEnv is /etc/default/orbit for b (fleetd-compat.md §2.3).
func expectedEnv(s *sharedEnv, b buildSpec, updateURL string) map[string]string {
	env := map[string]string{
		"ORBIT_UPDATE_URL":             updateURL,
		"ORBIT_ORBIT_CHANNEL":          b.orbitChannel(),
		"ORBIT_OSQUERYD_CHANNEL":       "stable",
		"ORBIT_UPDATE_INTERVAL":        "15m0s",
		"ORBIT_UPDATE_TLS_CERTIFICATE": "/opt/orbit/update.pem",
	}
	if b.Full {
		env["ORBIT_UPDATE_INTERVAL"] = "30m0s"
		env["ORBIT_FLEET_DESKTOP"] = "true"
		env["ORBIT_DESKTOP_CHANNEL"] = "stable"
		env["ORBIT_FLEET_DESKTOP_ALTERNATIVE_BROWSER_HOST"] = altHost
		env["ORBIT_FLEET_URL"] = fleetURL
		env["ORBIT_FLEET_CERTIFICATE"] = "/opt/orbit/fleet.pem"
		env["ORBIT_ENROLL_SECRET"] = s.EnrollSecret
		env["ORBIT_DEBUG"] = "true"
		env["ORBIT_ENABLE_SCRIPTS"] = "true"
		env["ORBIT_HOST_IDENTIFIER"] = "instance"
		env["ORBIT_OSQUERY_DB"] = osqueryDB
		env["ORBIT_END_USER_EMAIL"] = endUserEmail
		env["ORBIT_DISABLE_SETUP_EXPERIENCE"] = "true"
	}
	return env
}

// envFileCheck accepts an EnvironmentFile whose non-blank lines are exactly
// want (any order, no key twice). fleetctl writes ORBIT_HOST_IDENTIFIER only
// when it is not the default "uuid".
func envFileCheck(want map[string]string) func([]byte) error {
	return func(data []byte) error {
		got := map[string]string{}
		var errs []string
		for i, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || !strings.HasPrefix(k, "ORBIT_") {
				errs = append(errs, fmt.Sprintf("line %d is not ORBIT_KEY=value: %q", i+1, line))
				continue
			}
			if _, dup := got[k]; dup {
				errs = append(errs, "duplicate "+k)
			}
			got[k] = v
		}
		for k, v := range want {
			if g, ok := got[k]; !ok {
				errs = append(errs, "missing "+k+"="+v)
			} else if g != v {
				errs = append(errs, fmt.Sprintf("%s=%q, want %q", k, g, v))
			}
		}
		for k, v := range got {
			if _, ok := want[k]; ok {
				continue
			}
			errs = append(errs, fmt.Sprintf("unexpected %s=%s", k, v))
		}
		if len(errs) > 0 {
			sort.Strings(errs)
			return errors.New(strings.Join(errs, "; "))
		}
		return nil
	}
}

// unitCheck compares orbit.service with fleetd-compat.md §2.3, key by key.
func unitCheck(data []byte) error {
	want := []string{
		"Unit.Description=Orbit osquery",
		"Unit.After=network.service syslog.service",
		"Unit.StartLimitIntervalSec=0",
		"Service.TimeoutStartSec=0",
		"Service.EnvironmentFile=/etc/default/orbit",
		"Service.ExecStart=/opt/orbit/bin/orbit/orbit",
		"Service.Restart=always",
		"Service.RestartSec=1",
		"Service.KillMode=control-group",
		"Service.KillSignal=SIGTERM",
		"Service.CPUQuota=20%",
		"Install.WantedBy=multi-user.target",
	}
	var got []string
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, _ := strings.Cut(line, "=")
			got = append(got, section+"."+strings.TrimSpace(k)+"="+strings.TrimSpace(v))
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		return fmt.Errorf("orbit.service settings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return nil
}

// tufMetadataCheck accepts orbit's metadata store: a JSON object holding
// exactly root.json, targets.json, snapshot.json and timestamp.json, each the
// signed document the repository serves (compared compacted).
func tufMetadataCheck(repoDir string) func([]byte) error {
	return func(data []byte) error {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("tuf-metadata.json is not a JSON object: %v", err)
		}
		roles := []string{"root.json", "targets.json", "snapshot.json", "timestamp.json"}
		if len(m) != len(roles) {
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return fmt.Errorf("tuf-metadata.json keys %v, want %v", keys, roles)
		}
		for _, r := range roles {
			served, err := os.ReadFile(filepath.Join(repoDir, r))
			if err != nil {
				return err
			}
			var want, got bytes.Buffer
			if err := json.Compact(&want, served); err != nil {
				return err
			}
			if err := json.Compact(&got, m[r]); err != nil {
				return fmt.Errorf("tuf-metadata.json %s: %v", r, err)
			}
			if !bytes.Equal(want.Bytes(), got.Bytes()) {
				return fmt.Errorf("tuf-metadata.json %s differs from the repository's", r)
			}
		}
		return nil
	}
}

// untarGz lists a .tar.gz as a tree relative to its directory.
func untarGz(t *testing.T, data []byte) tree {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tree{}
	r := tar.NewReader(zr)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(path.Clean(h.Name), "/")
		switch h.Typeflag {
		case tar.TypeDir:
			tr[name] = &node{Kind: "dir", Mode: fs.FileMode(h.Mode) & fs.ModePerm}
		case tar.TypeReg:
			b, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			tr[name] = &node{Kind: "file", Mode: fs.FileMode(h.Mode) & fs.ModePerm, Data: b}
		case tar.TypeSymlink:
			tr[name] = &node{Kind: "symlink", Link: h.Linkname}
		default:
			t.Fatalf("unexpected tar entry %s type %c", h.Name, h.Typeflag)
		}
	}
	return tr
}

// readRepoFile reads a file of this repository by its path from the module root.
func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readTree reads everything under root, skipping the paths in skip (relative
// to root, slash-separated, with everything beneath them).
func readTree(t *testing.T, root string, skip ...string) tree {
	t.Helper()
	tr := tree{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if contains(skip, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		n := &node{Mode: st.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), UID: -1, GID: -1}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			n.UID, n.GID = int(sys.Uid), int(sys.Gid)
		}
		switch {
		case st.IsDir():
			n.Kind = "dir"
		case st.Mode()&fs.ModeSymlink != 0:
			n.Kind = "symlink"
			if n.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case st.Mode().IsRegular():
			n.Kind = "file"
			if n.Data, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			n.Kind = fmt.Sprintf("special(%v)", st.Mode().Type())
		}
		tr["/"+rel] = n
		return nil
	})
	if err != nil {
		t.Fatalf("read installed tree %s: %v", root, err)
	}
	return tr
}

// compareTrees reports every difference between an installed tree and the
// expected one: missing and extra entries, kinds, modes, symlink targets,
// contents, and (when checkOwner) root ownership.
func compareTrees(t *testing.T, what string, got, want tree, checkOwner bool) {
	t.Helper()
	var errs []string
	for _, p := range want.paths() {
		w, g := want[p], got[p]
		if g == nil {
			errs = append(errs, fmt.Sprintf("missing %s %s", w.Kind, p))
			continue
		}
		if g.Kind != w.Kind {
			errs = append(errs, fmt.Sprintf("%s is a %s, want %s", p, g.Kind, w.Kind))
			continue
		}
		if w.Kind != "symlink" && g.Mode != w.Mode {
			errs = append(errs, fmt.Sprintf("%s mode %04o, want %04o", p, g.Mode, w.Mode))
		}
		if checkOwner && (g.UID != 0 || g.GID != 0) {
			errs = append(errs, fmt.Sprintf("%s owned by %d:%d, want root (0:0)", p, g.UID, g.GID))
		}
		switch w.Kind {
		case "symlink":
			if g.Link != w.Link {
				errs = append(errs, fmt.Sprintf("%s -> %s, want -> %s", p, g.Link, w.Link))
			}
		case "file":
			if w.Check != nil {
				if err := w.Check(g.Data); err != nil {
					errs = append(errs, fmt.Sprintf("%s: %v", p, err))
				}
			} else if !bytes.Equal(g.Data, w.Data) {
				errs = append(errs, fmt.Sprintf("%s content differs (%d bytes, want %d)", p, len(g.Data), len(w.Data)))
			}
		}
	}
	for _, p := range got.paths() {
		if want[p] == nil {
			errs = append(errs, fmt.Sprintf("extra %s %s", got[p].Kind, p))
		}
	}
	if len(errs) > 0 {
		t.Errorf("%s differs from the expected layout:\n  %s", what, strings.Join(errs, "\n  "))
	}
}

// isRoot reports whether the tests run as root, so installed files can be
// owned by root.
func isRoot() bool { return os.Geteuid() == 0 }

// listing is a package listing from an external tool: path → kind, mode,
// owner and group names, link target.
type listing map[string]listed

type listed struct {
	Kind         string
	Mode         fs.FileMode
	Owner, Group string
	Link         string
}

// compareListing checks a package's own listing against the expected tree:
// every entry of want that is not Implied must be listed (all of them when
// withImplied), nothing outside want, with the same kind, mode and link, owned
// by root:root.
func compareListing(t *testing.T, what string, got listing, want tree, withImplied bool) {
	t.Helper()
	var errs []string
	for _, p := range want.paths() {
		w := want[p]
		g, ok := got[p]
		if !ok {
			if withImplied || !w.Implied {
				errs = append(errs, fmt.Sprintf("%s not listed", p))
			}
			continue
		}
		if g.Kind != w.Kind {
			errs = append(errs, fmt.Sprintf("%s listed as %s, want %s", p, g.Kind, w.Kind))
			continue
		}
		if w.Kind != "symlink" && g.Mode != w.Mode {
			errs = append(errs, fmt.Sprintf("%s listed with mode %04o, want %04o", p, g.Mode, w.Mode))
		}
		if w.Kind == "symlink" && g.Link != w.Link {
			errs = append(errs, fmt.Sprintf("%s listed -> %s, want -> %s", p, g.Link, w.Link))
		}
		// bsdtar shows uid/gid 0 as numbers when the archive names no owner
		// (nfpm's Arch packages name them for directories only).
		if (g.Owner != "root" && g.Owner != "0") || (g.Group != "root" && g.Group != "0") {
			errs = append(errs, fmt.Sprintf("%s listed as owned by %s:%s, want root:root", p, g.Owner, g.Group))
		}
	}
	var extra []string
	for p := range got {
		if want[p] == nil {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		errs = append(errs, fmt.Sprintf("unexpected %s listed", p))
	}
	if len(errs) > 0 {
		t.Errorf("%s differs from the expected layout:\n  %s", what, strings.Join(errs, "\n  "))
	}
}

// parseMode reads "drwxr-xr-x" / "-rw-------" / "lrwxrwxrwx" style modes.
func parseMode(s string) (kind string, mode fs.FileMode, err error) {
	if len(s) != 10 {
		return "", 0, fmt.Errorf("mode %q", s)
	}
	switch s[0] {
	case '-':
		kind = "file"
	case 'd':
		kind = "dir"
	case 'l':
		kind = "symlink"
	default:
		return "", 0, fmt.Errorf("mode %q: unknown type", s)
	}
	bits := []fs.FileMode{0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001}
	for i, c := range s[1:] {
		switch c {
		case '-':
		case 's', 't':
			mode |= bits[i]
			fallthrough
		case 'S', 'T':
			mode |= map[int]fs.FileMode{2: fs.ModeSetuid, 5: fs.ModeSetgid, 8: fs.ModeSticky}[i]
		default:
			mode |= bits[i]
		}
	}
	return kind, mode, nil
}

// treeBuilder writes an expected tree for one build against s's repository.
type treeBuilder struct {
	t  *testing.T
	s  *sharedEnv
	tr tree
}

func newTreeBuilder(t *testing.T, s *sharedEnv) *treeBuilder {
	return &treeBuilder{t: t, s: s, tr: tree{}}
}

func (b *treeBuilder) dir(p string) { b.tr[p] = &node{Kind: "dir", Mode: 0o755} }

func (b *treeBuilder) file(p string, mode fs.FileMode, data []byte) {
	b.tr[p] = &node{Kind: "file", Mode: mode, Data: data}
}

// orbitRootFiles adds what every Unix orbit root holds for these builds: the CA
// bundle, the update server's CA and client pair, the TUF metadata, and with full
// the flagfile, Fleet CA and Fleet client pair (else an empty flagfile).
func (b *treeBuilder) orbitRootFiles(full bool) {
	s := b.s
	b.dir("/opt/orbit/staging")
	b.file("/opt/orbit/certs.pem", 0o644, templates.CertsPEM())
	b.file("/opt/orbit/update.pem", 0o644, s.Env.ServerCA.CertPEM)
	b.file("/opt/orbit/update_client.crt", 0o600, s.Env.ClientCertPEM)
	b.file("/opt/orbit/update_client.key", 0o600, s.Env.ClientKeyPEM)
	b.tr["/opt/orbit/tuf-metadata.json"] = &node{Kind: "file", Mode: 0o600, Check: tufMetadataCheck(s.Env.Repo.Dir)}
	if full {
		b.file("/opt/orbit/osquery.flags", 0o600, s.FlagfileData)
		b.file("/opt/orbit/fleet.pem", 0o644, s.FleetCAPEM)
		b.file("/opt/orbit/fleet_client.crt", 0o600, s.FleetClientCertPEM)
		b.file("/opt/orbit/fleet_client.key", 0o600, s.FleetClientKeyPEM)
	}
}

// component places a TUF target at /opt/orbit/bin/<name>/<platform>/<channel>/<file>
// (0755, with its directories), with the repository's bytes, and returns its path.
func (b *treeBuilder) component(name, platform, channel, file string) string {
	d := path.Join("/opt/orbit/bin", name, platform, channel)
	for p := d; p != "/opt/orbit"; p = path.Dir(p) {
		b.dir(p)
	}
	data, err := os.ReadFile(filepath.Join(b.s.Env.Repo.Dir, "targets", filepath.FromSlash(testenv.TargetPath(name, platform, channel, file))))
	if err != nil {
		b.t.Fatal(err)
	}
	p := path.Join(d, file)
	b.tr[p] = &node{Kind: "file", Mode: 0o755, Data: data}
	return p
}

// unpack adds what the tarball at p holds beside it, as fleetctl ships it.
func (b *treeBuilder) unpack(p string) {
	for rel, n := range untarGz(b.t, b.tr[p].Data) {
		b.tr[path.Join(path.Dir(p), rel)] = n
	}
}
