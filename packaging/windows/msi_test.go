package windows

import (
	"github.com/pkgctl/pkgctl/internal/testenv"

	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/packaging/windows/cab"
	"github.com/pkgctl/pkgctl/packaging/windows/msidb"
)

// testLayout is a Windows layout of small fake components.
func testLayout(t testing.TB, arch string, mod func(*packaging.Options)) *packaging.Layout {
	t.Helper()
	return testLayoutIn(t, t.TempDir(), arch, mod)
}

// testLayoutIn is testLayout with the component files in dir, written by the
// first call (as one fetch serves every build of a matrix).
func testLayoutIn(t testing.TB, dir, arch string, mod func(*packaging.Options)) *packaging.Layout {
	t.Helper()
	plat := "windows"
	if arch == packaging.ArchARM64 {
		plat = "windows-arm64"
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	o := &packaging.Options{Type: packaging.TypeMSI, Arch: arch, FleetURL: "https://fleet.example.com/[a]{b}", EnrollSecret: `s[e]c{r}e%t;"é`, Desktop: true}
	if mod != nil {
		mod(o)
	}
	o.WithDefaults()
	in := packaging.Inputs{Components: []packaging.Component{
		{Name: "orbit", Platform: plat, Channel: "stable", File: "orbit.exe", Source: write("orbit.exe", "orbit binary"), Version: "1.40.2"},
		{Name: "osqueryd", Platform: plat, Channel: "stable", File: "osqueryd.exe", Source: write("osqueryd.exe", strings.Repeat("osqueryd ", 20000)), Version: "5.1.0"},
		{Name: "desktop", Platform: plat, Channel: "stable", File: "fleet-desktop.exe", Source: write("fd.exe", "desktop"), Version: "1.40.2"},
	}, TUFMetadata: []byte(`{"root.json":{}}`), MTime: time.Unix(1700000000, 0).UTC()}
	l, err := packaging.NewLayout(o, in)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func build(t testing.TB, l *packaging.Layout) []byte {
	t.Helper()
	return buildCtx(t, context.Background(), l)
}

func buildCtx(t testing.TB, ctx context.Context, l *packaging.Layout) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := (Packager{}).Package(ctx, l, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func rowsByKey(t *testing.T, f *msidb.File, table string) map[string][]any {
	t.Helper()
	td := f.Table(table)
	if td == nil {
		t.Fatalf("no table %s", table)
	}
	out := map[string][]any{}
	for _, r := range td.Rows {
		out[toString(r[0])] = r
	}
	return out
}

func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case msidb.StreamRef:
		return string(x)
	}
	return fmt.Sprint(v)
}

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(r) }

// TestPackageTables reads the package back with msidb and checks the tables
// that carry fleetctl's facts.
func TestPackageTables(t *testing.T) {
	l := testLayout(t, packaging.ArchAMD64, nil)
	out := build(t, l)
	f, err := msidb.Read(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	props := rowsByKey(t, f, "Property")
	for k, want := range map[string]string{
		"UpgradeCode": UpgradeCode, "Manufacturer": Manufacturer, "ProductName": "Fleet osquery", "ProductVersion": "1.40.2",
		"FLEET_URL": "https://fleet.example.com/[a]{b}", "FLEET_SECRET": "dummy", "FLEET_DESKTOP": "True", "ENABLE_SCRIPTS": "False",
		"END_USER_EMAIL": "dummy", "EUA_TOKEN": "dummy", "REINSTALLMODE": "amus",
	} {
		if got := toString(props[k][1]); got != want {
			t.Errorf("Property %s = %q, want %q", k, got, want)
		}
	}
	if h := toString(props["MsiHiddenProperties"][1]); !strings.Contains(h, "FLEET_SECRET") || !strings.Contains(h, secretAction) {
		t.Errorf("MsiHiddenProperties = %q", h)
	}
	reg := rowsByKey(t, f, "Registry")["OrbitEnvironment"]
	env := strings.Split(toString(reg[4]), "[~]")
	for _, want := range []string{"ORBIT_ROOT_DIR=[ORBITROOT].", "ORBIT_FLEET_URL=[FLEET_URL]", "ORBIT_ENROLL_SECRET_PATH=[ORBITROOT]secret.txt",
		`ORBIT_LOG_FILE=[System64Folder]config\systemprofile\AppData\Local\FleetDM\Orbit\Logs\orbit-osquery.log`,
		"ORBIT_UPDATE_URL=https://updates.fleetdm.com", "ORBIT_FLEET_DESKTOP=[FLEET_DESKTOP]", "ORBIT_ENABLE_SCRIPTS=[ENABLE_SCRIPTS]"} {
		if !contains(env, want) {
			t.Errorf("Environment lacks %q: %q", want, env)
		}
	}
	svc := rowsByKey(t, f, "ServiceInstall")["OrbitService"]
	if toString(svc[1]) != "Fleet osquery" || toString(svc[8]) != "LocalSystem" || toString(svc[11]) != binComp {
		t.Errorf("ServiceInstall %v", svc)
	}
	comps := rowsByKey(t, f, "Component")
	if toString(comps[binComp][1]) != binComponentGUID || toString(comps[rootComp][1]) != rootComponentGUID {
		t.Errorf("fleetctl component GUIDs: %v %v", comps[binComp], comps[rootComp])
	}
	// Every file of the layout is in the cab, byte for byte, under its File key.
	rs, err := f.OpenStream(cabName)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := readAll(rs)
	c, err := cab.Open(bytes.NewReader(cb), int64(len(cb)))
	if err != nil {
		t.Fatal(err)
	}
	files, err := c.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range l.Entries {
		if e.Kind != packaging.KindFile {
			continue
		}
		n++
		want := e.Data
		if e.Source != "" {
			want, _ = os.ReadFile(e.Source)
		}
		if got, ok := files[ident("f", e.Path)]; !ok || !bytes.Equal(got, want) {
			t.Errorf("%s: cab holds %d bytes (present %v), want %d", e.Path, len(got), ok, len(want))
		}
	}
	if len(files) != n {
		t.Errorf("cab has %d files, layout %d", len(files), n)
	}
}

// TestPackageMsitools: msiinfo lists and exports every table.
func TestPackageMsitools(t *testing.T) {
	testenv.NeedTool(t, "msiinfo", "msitools")
	for _, arch := range []string{packaging.ArchAMD64, packaging.ArchARM64} {
		p := filepath.Join(t.TempDir(), "x.msi")
		os.WriteFile(p, build(t, testLayout(t, arch, nil)), 0o644)
		out, err := exec.Command("msiinfo", "tables", p).CombinedOutput()
		if err != nil {
			t.Fatalf("msiinfo tables: %v\n%s", err, out)
		}
		for _, table := range strings.Fields(string(out)) {
			cmd := testenv.Command("msiinfo", "export", p, table)
			cmd.Dir = t.TempDir() // binary columns are written as files there
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("msiinfo export %s: %v\n%s", table, err, b)
			}
		}
		sum, err := exec.Command("msiinfo", "suminfo", p).CombinedOutput()
		want := map[string]string{packaging.ArchAMD64: "x64;1033", packaging.ArchARM64: "Arm64;1033"}[arch]
		if err != nil || !strings.Contains(string(sum), "Template: "+want) {
			t.Errorf("suminfo (%v): want template %s\n%s", err, want, sum)
		}
	}
}

// TestReproducibleAndCodes: same layout, same bytes; another layout, other codes.
func TestReproducibleAndCodes(t *testing.T) {
	l := testLayout(t, packaging.ArchAMD64, nil)
	a, b := build(t, l), build(t, l)
	if !bytes.Equal(a, b) {
		t.Fatal("two builds differ")
	}
	p1, _ := plan(l)
	p2, _ := plan(testLayout(t, packaging.ArchAMD64, func(o *packaging.Options) { o.Debug = true }))
	if p1.productGUID == p2.productGUID || p1.packageGUID == p2.packageGUID || p1.productGUID == p1.packageGUID {
		t.Errorf("codes do not follow the inputs: %s %s / %s %s", p1.productGUID, p1.packageGUID, p2.productGUID, p2.packageGUID)
	}
}

func TestEscapeFormatted(t *testing.T) {
	for in, want := range map[string]string{
		"plain":  "plain",
		"[a]{b}": `[\[]a[\]][\{]b[\}]`,
		`%;"é`:   `%;"é`,
		"[~]":    `[\[]~[\]]`,
	} {
		if got := escapeFormatted(in); got != want {
			t.Errorf("escapeFormatted(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShortName(t *testing.T) {
	for _, long := range []string{"orbit.exe", "Orbit", "updates-metadata.json", "fleet-desktop.exe", "osquery.db", "windows-arm64"} {
		s := shortName(long)
		if !shortOK.MatchString(s) {
			t.Errorf("shortName(%q) = %q is not 8.3", long, s)
		}
	}
	if shortName("orbit.exe") != "orbit.exe" {
		t.Error("an 8.3 name is its own short name")
	}
}

func TestFileName(t *testing.T) {
	if got := (Packager{}).FileName(&packaging.Layout{Arch: packaging.ArchARM64}); got != "fleet-osquery-arm64.msi" {
		t.Error(got)
	}
	if got := (Packager{}).FileName(&packaging.Layout{Arch: packaging.ArchAMD64}); got != "fleet-osquery.msi" {
		t.Error(got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Team builds of one fetch reuse the cabinet folder of the component files,
// compressed once: each must be byte-identical to the same build alone,
// whatever GOMAXPROCS, its cabinet must pass cabextract -t, and the File
// table's sequence must follow the cabinet's file order.
func TestSharedFolderSameBytesAsAlone(t *testing.T) {
	cabextract := testenv.NeedTool(t, "cabextract", "cabextract")
	dir, sharedDir := t.TempDir(), t.TempDir()
	ctx := packaging.WithShared(context.Background(), packaging.NewShared(sharedDir))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var outs [][]byte
	for i, url := range []string{"https://a.example.com", "https://team-b.example.com"} {
		l := testLayoutIn(t, dir, packaging.ArchAMD64, func(o *packaging.Options) {
			o.FleetURL, o.EnrollSecret = url, fmt.Sprintf("secret-%d", i)
		})
		runtime.GOMAXPROCS(1)
		alone := build(t, l)
		runtime.GOMAXPROCS(3)
		if !bytes.Equal(alone, build(t, l)) {
			t.Fatalf("team %d: GOMAXPROCS 1 and 3 give different bytes", i)
		}
		in := buildCtx(t, ctx, l)
		if !bytes.Equal(in, alone) {
			t.Fatalf("team %d: the build reusing the shared folder differs from the build alone", i)
		}
		outs = append(outs, in)
	}
	if bytes.Equal(outs[0], outs[1]) {
		t.Fatal("the teams' installers are identical")
	}
	if made, _ := os.ReadDir(sharedDir); len(made) != 1 {
		t.Fatalf("the shared store holds %d folders, want 1 for both teams", len(made))
	}

	f, err := msidb.Read(bytes.NewReader(outs[1]))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := f.OpenStream(cabName)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := readAll(rs)
	path := filepath.Join(t.TempDir(), "cab1.cab")
	if err := os.WriteFile(path, cb, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cabextract, "-t", path).CombinedOutput(); err != nil {
		t.Fatalf("cabextract -t: %v\n%s", err, out)
	}
	c, err := cab.Open(bytes.NewReader(cb), int64(len(cb)))
	if err != nil {
		t.Fatal(err)
	}
	seq := map[string]int{}
	for key, r := range rowsByKey(t, f, "File") {
		n, err := strconv.Atoi(toString(r[7])) // Sequence
		if err != nil {
			t.Fatalf("File %s: Sequence %v", key, r[7])
		}
		seq[key] = n
	}
	folders := map[int]bool{}
	for i, fi := range c.Files {
		folders[fi.Folder] = true
		if seq[fi.Name] != i+1 {
			t.Errorf("cabinet file %d is %s, whose File.Sequence is %d", i, fi.Name, seq[fi.Name])
		}
	}
	if len(folders) != 2 {
		t.Errorf("the cabinet has %d folders, want 2 (components, the team's files)", len(folders))
	}
}
