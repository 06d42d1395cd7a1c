package macos

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/packaging/macos/bom"
	"github.com/pkgctl/pkgctl/packaging/macos/cpio"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
)

// testLayout is a macOS layout with a 3 MB component read from disk.
func testLayout(t *testing.T, mod func(*packaging.Options)) *packaging.Layout {
	t.Helper()
	return testLayoutIn(t, t.TempDir(), mod)
}

// testLayoutIn is testLayout with its component files in dir (written by
// the first call, as a fetch writes them once for every build).
func testLayoutIn(t *testing.T, dir string, mod func(*packaging.Options)) *packaging.Layout {
	t.Helper()
	big := bytes.Repeat([]byte("orbit binary "), 250_000)
	orbit := filepath.Join(dir, "orbit")
	osq := filepath.Join(dir, "osqueryd")
	if _, err := os.Stat(orbit); err != nil {
		os.WriteFile(orbit, big, 0o600)
		os.WriteFile(osq, []byte("osqueryd"), 0o600)
	}
	o := &packaging.Options{Type: packaging.TypePkg, StartService: true, FleetURL: "https://f.example.com/?a=1&b=<2>", EnrollSecret: `s"e&c<r>e't ü`}
	if mod != nil {
		mod(o)
	}
	l, err := packaging.NewLayout(o.WithDefaults(), packaging.Inputs{
		Components: []packaging.Component{
			{Name: "orbit", Platform: "macos", Channel: "stable", File: "orbit", Source: orbit, Version: "1.40.0"},
			{Name: "osqueryd", Platform: "macos-app", Channel: "stable", File: "osqueryd.app.tar.gz", Source: osq, Version: "5.0.0",
				Extracted: []packaging.ExtractedEntry{{Rel: "osquery.app/Contents/MacOS/osqueryd", Kind: packaging.KindFile, Mode: 0o755, Source: osq}}},
		},
		TUFMetadata: []byte("{}"),
		MTime:       time.Unix(1700000000, 0).UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func build(t *testing.T, l *packaging.Layout) []byte {
	t.Helper()
	return buildCtx(t, context.Background(), l)
}

func buildCtx(t *testing.T, ctx context.Context, l *packaging.Layout) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (Packager{}).Package(ctx, l, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPackageReadBack(t *testing.T) {
	l := testLayout(t, nil)
	pkg := build(t, l)
	x, err := xar.Open(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Verify(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range x.Files {
		names = append(names, f.Path)
	}
	if got := strings.Join(names, " "); got != "Distribution base.pkg base.pkg/Bom base.pkg/PackageInfo base.pkg/Payload base.pkg/Scripts" {
		t.Errorf("members: %s", got)
	}
	read := func(p string) []byte {
		b, err := x.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	// Payload: every layout entry, 0:80, same content.
	gz, err := gzip.NewReader(bytes.NewReader(read(MemberPayload)))
	if err != nil {
		t.Fatal(err)
	}
	cr := cpio.NewReader(gz)
	type meta struct {
		mode     string
		size     int64
		uid, gid int
		sha      [32]byte
	}
	got := map[string]meta{}
	for {
		h, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(cr)
		got[h.Name] = meta{h.Mode.String(), int64(len(data)), h.UID, h.GID, sha256.Sum256(data)}
	}
	if _, ok := got["."]; !ok || len(got) != len(l.Entries)+1 {
		t.Errorf("payload has %d members, layout %d entries (+ \".\")", len(got), len(l.Entries))
	}
	for _, e := range l.Entries {
		m, ok := got["."+e.Path]
		if !ok {
			t.Errorf("payload lacks %s", e.Path)
			continue
		}
		if m.uid != 0 || m.gid != 80 || m.mode[len(m.mode)-9:] != e.Mode.Perm().String()[1:] {
			t.Errorf("%s: %+v, want mode %v 0:80", e.Path, m, e.Mode)
		}
		if e.Kind == packaging.KindFile {
			want := e.Data
			if e.Source != "" {
				want, _ = os.ReadFile(e.Source)
			}
			if m.sha != sha256.Sum256(want) {
				t.Errorf("%s: content differs", e.Path)
			}
		}
	}

	// Bom: same paths, sizes and CRCs as the payload.
	bomData := read(MemberBom)
	entries, err := bom.Read(bytes.NewReader(bomData), int64(len(bomData)))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(got) {
		t.Errorf("Bom has %d entries, payload %d", len(entries), len(got))
	}
	for _, be := range entries {
		m, ok := got[be.Path]
		if !ok || int64(be.Size) != m.size || be.UID != 0 || be.GID != 80 {
			t.Errorf("Bom %s: %+v vs payload %+v", be.Path, be, m)
		}
	}

	// PackageInfo names the counts.
	var info struct {
		Identifier string `xml:"identifier,attr"`
		Version    string `xml:"version,attr"`
		Payload    struct {
			N int   `xml:"numberOfFiles,attr"`
			K int64 `xml:"installKBytes,attr"`
		} `xml:"payload"`
	}
	if err := xml.Unmarshal(read(MemberPackageInfo), &info); err != nil {
		t.Fatal(err)
	}
	if info.Identifier != "com.fleetdm.orbit.base.pkg" || info.Version != "1.40.0" || info.Payload.N != len(got) || info.Payload.K < 3000 {
		t.Errorf("PackageInfo %+v", info)
	}

	// Scripts: ./postinstall equal to the layout's.
	gz, err = gzip.NewReader(bytes.NewReader(read(MemberScripts)))
	if err != nil {
		t.Fatal(err)
	}
	cr = cpio.NewReader(gz)
	var post []byte
	for {
		h, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "./postinstall" {
			post, _ = io.ReadAll(cr)
			if h.Mode.Perm() != 0o744 {
				t.Errorf("postinstall mode %v", h.Mode)
			}
		}
	}
	if string(post) != l.Scripts.PostInstall {
		t.Errorf("Scripts/postinstall differs from the layout's")
	}
}

func TestPackageReproducible(t *testing.T) {
	l := testLayout(t, nil)
	a, b := build(t, l), build(t, l)
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of one layout differ")
	}
	l.MTime = l.MTime.Add(time.Second)
	if bytes.Equal(a, build(t, l)) {
		t.Fatal("the build ignores the layout's time")
	}
}

func TestSignFile(t *testing.T) {
	ca, err := testenv.NewCA("pkg signing CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.IssueCodeSigning("Developer ID Installer: Test")
	if err != nil {
		t.Fatal(err)
	}
	id, err := packaging.ParsePEMIdentity("test", cert, ca.CertPEM, key)
	if err != nil {
		t.Fatal(err)
	}
	l := testLayout(t, nil)
	l.Signing = id
	p := filepath.Join(t.TempDir(), "x.pkg")
	if err := os.WriteFile(p, build(t, l), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (Packager{}).SignFile(context.Background(), l, p); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	x, err := xar.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := x.VerifySignature(ca.Pool())
	if err != nil {
		t.Fatal(err)
	}
	if chain[0].Subject.CommonName != "Developer ID Installer: Test" {
		t.Errorf("leaf %q", chain[0].Subject.CommonName)
	}
	if err := x.Verify(); err != nil {
		t.Fatal(err)
	}
}

func TestRegistered(t *testing.T) {
	p, err := packaging.PackagerFor("pkg")
	if err != nil {
		t.Fatal(err)
	}
	if p.FileName(nil) != "fleet-osquery.pkg" {
		t.Error(p.FileName(nil))
	}
	if _, ok := p.(packaging.FileSigner); !ok {
		t.Error("pkg packager does not sign")
	}
}

// Team builds of one fetch share the compressed Payload prefix (directories
// and component files): each must still be byte-identical to the same build
// alone, whatever GOMAXPROCS, and the prefix must be compressed once.
func TestSharedPrefixSameBytesAsAlone(t *testing.T) {
	dir := t.TempDir()
	teams := []func(*packaging.Options){
		func(o *packaging.Options) { o.FleetURL, o.EnrollSecret = "https://a.example.com", "secret-a" },
		func(o *packaging.Options) {
			o.FleetURL, o.EnrollSecret = "https://team-b.example.com", "a longer secret for team b"
		},
	}
	sharedDir := t.TempDir()
	ctx := packaging.WithShared(context.Background(), packaging.NewShared(sharedDir))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var outs [][]byte
	for i, team := range teams {
		l := testLayoutIn(t, dir, team)
		runtime.GOMAXPROCS(1)
		alone := build(t, l)
		runtime.GOMAXPROCS(4)
		if !bytes.Equal(alone, build(t, l)) {
			t.Fatalf("team %d: GOMAXPROCS 1 and 4 give different bytes", i)
		}
		in := buildCtx(t, ctx, l)
		if !bytes.Equal(in, alone) {
			t.Fatalf("team %d: the build with the shared prefix differs from the build alone", i)
		}
		outs = append(outs, in)
	}
	if bytes.Equal(outs[0], outs[1]) {
		t.Fatal("the teams' packages are identical: the per-team files are missing")
	}
	made, err := os.ReadDir(sharedDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != 1 {
		t.Fatalf("the shared store holds %d prefixes, want 1 for both teams", len(made))
	}
}
