package inspect

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sassoftware/relic/v7/lib/pkcs9"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
	_ "github.com/pkgctl/pkgctl/packaging/linux"   // deb, rpm, pkg.tar.zst
	_ "github.com/pkgctl/pkgctl/packaging/macos"   // pkg
	_ "github.com/pkgctl/pkgctl/packaging/windows" // msi
)

// fixture is a set of inputs for building our own installers: a real TUF
// repository with the components, and certificates.
type fixture struct {
	dir  string
	repo *testenv.Repo
	env  *testenv.Env // serves repo over mTLS
	ca   *testenv.CA
	// files written for options
	fleetCA, clientCrt, clientKey string
	// ts, when set, time-stamps the signatures build makes.
	ts pkcs9.Timestamper
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	env, err := testenv.New(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	repo := env.Repo
	ca, err := testenv.NewCA("inspect test CA")
	if err != nil {
		t.Fatal(err)
	}
	crt, key, err := ca.IssueClient("inspect test host")
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{dir: dir, repo: repo, ca: ca, env: env}
	fx.fleetCA = fx.write(t, "fleet-ca.pem", ca.CertPEM)
	fx.clientCrt = fx.write(t, "client.crt", crt)
	fx.clientKey = fx.write(t, "client.key", key)
	return fx
}

func (fx *fixture) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(fx.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// metadataStore is orbit's TUF metadata store made from the repository.
func (fx *fixture) metadataStore(t *testing.T) []byte {
	t.Helper()
	m := map[string]json.RawMessage{}
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		b, err := os.ReadFile(filepath.Join(fx.repo.Dir, role+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			t.Fatal(err)
		}
		m[role+".json"] = buf.Bytes()
	}
	out, _ := json.Marshal(m)
	return out
}

// build builds an installer of type typ as pkgctl does (layout, packager,
// optional signing) and returns its path.
func (fx *fixture) build(t *testing.T, typ, arch string, mod func(*packaging.Options), sign bool) string {
	t.Helper()
	o := &packaging.Options{Type: typ, Arch: arch, FleetURL: "https://fleet.example.com", EnrollSecret: "s3cret-enroll",
		FleetCertificate: fx.fleetCA, FleetTLSClientCertificate: fx.clientCrt, FleetTLSClientKey: fx.clientKey,
		UpdateURL: "https://tuf.example.com", StartService: true, OsqueryFlagfile: fx.write(t, "osquery.flags", []byte("--verbose\n# comment\n--host_identifier=uuid\n"))}
	if mod != nil {
		mod(o)
	}
	o.WithDefaults()
	reqs, err := packaging.ComponentsFor(o)
	if err != nil {
		t.Fatal(err)
	}
	var comps []packaging.Component
	for _, r := range reqs {
		data := []byte(strings.Repeat(r.Name+" "+r.Platform+" binary\n", 50))
		if err := fx.repo.AddTarget(r.Name, r.Platform, r.Channel, r.File, data, "1.40.2"); err != nil {
			t.Fatal(err)
		}
		src := fx.write(t, strings.ReplaceAll(r.Name+"-"+r.Platform+"-"+r.File, "/", "_"), data)
		comps = append(comps, packaging.Component{Name: r.Name, Platform: r.Platform, Channel: r.Channel, File: r.File, Source: src, Version: "1.40.2"})
	}
	if err := fx.repo.Publish(); err != nil {
		t.Fatal(err)
	}
	l, err := packaging.NewLayout(o, packaging.Inputs{Components: comps, TUFMetadata: fx.metadataStore(t), MTime: time.Unix(1700000000, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := packaging.PackagerFor(typ)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "installer."+typ)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Package(context.Background(), l, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if sign {
		crt, key, err := fx.ca.IssueCodeSigning("Developer ID Installer: inspect test (TESTTEAMID)")
		if err != nil {
			t.Fatal(err)
		}
		if l.Signing, err = packaging.ParsePEMIdentity("test identity", crt, key); err != nil {
			t.Fatal(err)
		}
		l.Signing.Timestamper = fx.ts
		if err := p.(packaging.FileSigner).SignFile(context.Background(), l, out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// codes returns the codes of the error findings (or all when all is set).
func codes(fs []Finding, all bool) []string {
	var out []string
	for _, f := range fs {
		if all || f.Severity == SevError {
			out = append(out, f.Code)
		}
	}
	return out
}

func hasCode(fs []Finding, code string) bool {
	for _, f := range fs {
		if f.Code == code {
			return true
		}
	}
	return false
}

func mustOpen(t *testing.T, path string, opt Options) *Report {
	t.Helper()
	r, err := Open(path, opt)
	if err != nil {
		t.Fatalf("Open %s: %v", path, err)
	}
	return r
}

// tamper writes a copy of src with the byte at off flipped.
func tamper(t *testing.T, src string, off int64) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	b[off] ^= 0x20
	p := filepath.Join(t.TempDir(), "tampered-"+filepath.Base(src))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// payloadOffset is an offset inside the compressed payload of an installer
// of type typ.
func payloadOffset(t *testing.T, path, typ string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch typ {
	case packaging.TypeDeb:
		i := bytes.Index(b, []byte("data.tar"))
		return int64(i + 60 + 100)
	case packaging.TypeRPM:
		return int64(len(b) - 100)
	case packaging.TypePkg:
		return int64(len(b) - 50)
	case packaging.TypeMSI:
		i := bytes.Index(b, []byte("MSCF"))
		j := bytes.Index(b[i:], []byte("CK"))
		if i < 0 || j < 0 {
			t.Fatal("no cabinet data in the msi")
		}
		return int64(i + j + 5)
	}
	return int64(len(b) / 2)
}

func testenvCA(name string) (*x509.CertPool, error) {
	ca, err := testenv.NewCA(name)
	if err != nil {
		return nil, err
	}
	return ca.Pool(), nil
}

// zstdFlipMatters reports whether flipping byte off of the zstd stream in
// file p (as tamper does) changes what the reference zstd tool decodes. A
// few bits of a zstd encoding are never read (zstd -t accepts the stream and
// the output is identical): such a flip leaves the package pacman installs
// unchanged, so no content check can, or needs to, report it.
func zstdFlipMatters(t *testing.T, p string, off int64) bool {
	t.Helper()
	zstd := testenv.NeedTool(t, "zstd", "zstd")
	decode := func(path string) ([]byte, error) {
		return exec.Command(zstd, "-dcq", path).Output()
	}
	want, err := decode(p)
	if err != nil {
		t.Fatalf("zstd -d %s: %v", p, err)
	}
	got, err := decode(tamper(t, p, off))
	return err != nil || !bytes.Equal(got, want)
}
