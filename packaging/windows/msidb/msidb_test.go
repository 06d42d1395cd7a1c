package msidb

import (
	"github.com/pkgctl/pkgctl/internal/testenv"

	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/packaging/windows/cab"
)

var testTime = time.Date(2024, 1, 2, 3, 4, 6, 0, time.UTC)

type payload struct {
	key, name string
	data      []byte
}

func testPayload() []payload {
	rnd := rand.New(rand.NewSource(7))
	big := make([]byte, 100_000)
	rnd.Read(big[:60_000])
	return []payload{
		{"orbit.exe", "orbit.exe", big},
		{"secret.txt", "secret.txt", []byte("s3cr3t [x] {y} %z; \"q\" ünï")},
		{"empty.flags", "osquery.flags", nil},
	}
}

type insert struct {
	table string
	row   Row
}

// testRows is a small but complete installer: every kind of column (keys,
// nullable, i2, i4, localizable, binary), non-ASCII and MSI-special text.
func testRows(files []payload) []insert {
	rows := []insert{
		{"Property", Row{"Property": "ProductName", "Value": "Fleet osquery"}},
		{"Property", Row{"Property": "ProductCode", "Value": "{11111111-2222-3333-4444-555555555555}"}},
		{"Property", Row{"Property": "ProductVersion", "Value": "1.24.0"}},
		{"Property", Row{"Property": "Manufacturer", "Value": "Fleet Device Management (fleetdm.com)"}},
		{"Property", Row{"Property": "UpgradeCode", "Value": "{B681CB20-107E-428A-9B14-2D3C1AFED244}"}},
		{"Property", Row{"Property": "FLEET_SECRET", "Value": "a[b]{c}%d;e\"f ünï 秘密"}},
		{"Property", Row{"Property": "ProductLanguage", "Value": "1033"}},
		{"Directory", Row{"Directory": "TARGETDIR", "DefaultDir": "SourceDir"}},
		{"Directory", Row{"Directory": "ProgramFiles64Folder", "Directory_Parent": "TARGETDIR", "DefaultDir": "PFiles"}},
		{"Directory", Row{"Directory": "ORBITROOT", "Directory_Parent": "ProgramFiles64Folder", "DefaultDir": "Orbit"}},
		{"Component", Row{"Component": "C_files", "ComponentId": "{22222222-2222-3333-4444-555555555555}", "Directory_": "ORBITROOT", "Attributes": 256, "KeyPath": "orbit.exe"}},
		{"Feature", Row{"Feature": "Orbit", "Title": "Orbit", "Display": 1, "Level": 1, "Attributes": 0}},
		{"FeatureComponents", Row{"Feature_": "Orbit", "Component_": "C_files"}},
		{"Media", Row{"DiskId": 1, "LastSequence": len(files), "Cabinet": "#cab1.cab"}},
		{"Registry", Row{"Registry": "R_env", "Root": 2, "Key": `SYSTEM\CurrentControlSet\Services\Fleet osquery`, "Name": "Environment", "Value": "ORBIT_A=1[~]ORBIT_B=2", "Component_": "C_files"}},
		{"ServiceInstall", Row{"ServiceInstall": "S_orbit", "Name": "Fleet osquery", "DisplayName": "Fleet osquery", "ServiceType": 16, "StartType": 2, "ErrorControl": 0, "Arguments": "--root-dir \"[ORBITROOT].\"", "Component_": "C_files", "Description": "Fleet agent"}},
		{"ServiceControl", Row{"ServiceControl": "SC_orbit", "Name": "Fleet osquery", "Event": 0xA1, "Wait": 0, "Component_": "C_files"}},
		{"Upgrade", Row{"UpgradeCode": "{B681CB20-107E-428A-9B14-2D3C1AFED244}", "VersionMin": "0.0.1", "Attributes": 257, "ActionProperty": "WIX_UPGRADE_DETECTED"}},
		{"InstallExecuteSequence", Row{"Action": "CostInitialize", "Sequence": 800}},
		{"InstallExecuteSequence", Row{"Action": "InstallFiles", "Sequence": 4000}},
		{"InstallExecuteSequence", Row{"Action": "RemoveExistingProducts", "Condition": "WIX_UPGRADE_DETECTED", "Sequence": 1450}},
		{"InstallExecuteSequence", Row{"Action": "ExitDialog", "Sequence": -1}},
		{"CustomAction", Row{"Action": "CA_big", "Type": 3106, "Source": "SystemFolder", "Target": "x", "ExtendedType": 2147483647}},
		{"MsiFileHash", Row{"File_": "orbit.exe", "Options": 0, "HashPart1": -2147483647, "HashPart2": 0, "HashPart3": 1, "HashPart4": 2147483647}},
	}
	for i, f := range files {
		rows = append(rows, insert{"File", Row{"File": f.key, "Component_": "C_files", "FileName": f.name, "FileSize": len(f.data), "Attributes": 512, "Sequence": i + 1}})
	}
	return rows
}

var binaryData = []byte("binary stream content\x00\x01\x02")

func buildDB(t testing.TB, dir string) []byte {
	t.Helper()
	files := testPayload()
	cw, err := cab.NewWriter(cab.Options{TempDir: dir, ModTime: testTime})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	for _, f := range files {
		if err := cw.Add(f.key, bytes.NewReader(f.data), 0); err != nil {
			t.Fatal(err)
		}
	}
	size, err := cw.Finish()
	if err != nil {
		t.Fatal(err)
	}
	db := New(CodepageUTF8)
	db.Summary = SummaryInfo{Title: "Installation Database", Subject: "Fleet osquery", Author: "Fleet Device Management",
		Keywords: "Installer", Comments: "pkgctl test", Template: "x64;1033",
		RevisionNumber: "{33333333-2222-3333-4444-555555555555}", PageCount: 500, WordCount: 2, Security: 2,
		Created: testTime, LastSaved: testTime, CreatingApplication: "pkgctl"}
	for _, in := range testRows(files) {
		if err := db.Insert(in.table, in.row); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Insert("Binary", Row{"Name": "Helper", "Data": binaryData}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddStream("cab1.cab", size, cw.Open); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := db.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "test.msi")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := testenv.Command(name, args...)
	// msiinfo export writes a Binary table's streams to Binary/ in its
	// working directory: keep them in a temp dir, not in the source tree.
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

func cell(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func TestMsitools(t *testing.T) {
	testenv.NeedTool(t, "msiinfo", "msitools")
	testenv.NeedTool(t, "msidump", "msitools")
	testenv.NeedTool(t, "msiextract", "msitools")
	path := writeTemp(t, buildDB(t, t.TempDir()))
	files := testPayload()
	inserted := testRows(files)

	// Tables: the ones we inserted into, plus _Validation.
	want := map[string]bool{"_Validation": true, "Binary": true}
	for _, in := range inserted {
		want[in.table] = true
	}
	got := map[string]bool{}
	for _, l := range strings.Fields(run(t, "msiinfo", "tables", path)) {
		if l != "_SummaryInformation" && l != "_ForceCodepage" {
			got[l] = true
		}
	}
	if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
		t.Errorf("msiinfo tables = %v, want %v", sorted(got), sorted(want))
	}

	// Every table exported equals what was inserted, types included.
	byTable := map[string][]Row{}
	for _, in := range inserted {
		byTable[in.table] = append(byTable[in.table], in.row)
	}
	byTable["Binary"] = []Row{{"Name": "Helper", "Data": "Binary.Helper"}}
	vrows := validationRows(allDefs(t, want))
	for _, r := range vrows {
		row := Row{}
		for i, c := range StandardTable("_Validation").Columns {
			row[c.Name] = r[i]
		}
		byTable["_Validation"] = append(byTable["_Validation"], row)
	}
	for table, rows := range byTable {
		def := StandardTable(table)
		out := run(t, "msiinfo", "export", path, table)
		lines := strings.Split(strings.TrimRight(out, "\r\n"), "\n")
		for i := range lines {
			lines[i] = strings.TrimRight(lines[i], "\r")
		}
		var names, types, keys []string
		for _, c := range def.Columns {
			names = append(names, c.Name)
			types = append(types, c.Type)
			if c.Key {
				keys = append(keys, c.Name)
			}
		}
		if lines[0] != strings.Join(names, "\t") {
			t.Errorf("%s: msiinfo columns %q, want %q", table, lines[0], strings.Join(names, "\t"))
		}
		if lines[1] != strings.Join(types, "\t") {
			t.Errorf("%s: msiinfo types %q, want %q", table, lines[1], strings.Join(types, "\t"))
		}
		if lines[2] != table+"\t"+strings.Join(keys, "\t") {
			t.Errorf("%s: msiinfo keys %q, want %q", table, lines[2], table+"\t"+strings.Join(keys, "\t"))
		}
		var wantRows []string
		for _, r := range rows {
			var cells []string
			for _, c := range def.Columns {
				cells = append(cells, cell(r[c.Name]))
			}
			wantRows = append(wantRows, strings.Join(cells, "\t"))
		}
		gotRows := lines[3:]
		sort.Strings(wantRows)
		sort.Strings(gotRows)
		if strings.Join(gotRows, "\n") != strings.Join(wantRows, "\n") {
			t.Errorf("%s: msiinfo export rows\n%s\nwant\n%s", table, strings.Join(gotRows, "\n"), strings.Join(wantRows, "\n"))
		}
	}

	// Summary information.
	sum := run(t, "msiinfo", "suminfo", path)
	for _, w := range []string{"Title: Installation Database", "Subject: Fleet osquery", "Author: Fleet Device Management",
		"Keywords: Installer", "Comments: pkgctl test", "Template: x64;1033",
		"Revision number (UUID): {33333333-2222-3333-4444-555555555555}", "Created: Tue Jan  2 03:04:06 2024",
		"Last saved: Tue Jan  2 03:04:06 2024", "Version: 500 (1f4)", "Source: 2 (2)", "Application: pkgctl", "Security: 2 (2)"} {
		if !strings.Contains(sum, w+"\n") {
			t.Errorf("msiinfo suminfo lacks %q:\n%s", w, sum)
		}
	}

	// Streams: the cab and the binary column's stream.
	streams := strings.Fields(strings.ReplaceAll(run(t, "msiinfo", "streams", path), "\x05", ""))
	sort.Strings(streams)
	if fmt.Sprint(streams) != "[Binary.Helper SummaryInformation cab1.cab]" {
		t.Errorf("msiinfo streams = %v", streams)
	}
	if got := run(t, "msiinfo", "extract", path, "Binary.Helper"); got != string(binaryData) {
		t.Errorf("msiinfo extract Binary.Helper = %q", got)
	}

	// msidump writes one idt per table and the streams.
	dump := t.TempDir()
	run(t, "msidump", "-t", "-s", "-d", dump, path)
	for table := range want {
		if _, err := os.Stat(filepath.Join(dump, table+".idt")); err != nil {
			t.Errorf("msidump wrote no %s.idt: %v", table, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dump, "_Streams", "cab1.cab")); err != nil || len(b) == 0 {
		t.Errorf("msidump did not dump the cab stream: %v", err)
	}

	// msiextract: every file byte-equal, under the Directory table's path
	// (msiextract uses DefaultDir names as they are: PFiles, not Program Files).
	x := t.TempDir()
	run(t, "msiextract", "-C", x, path)
	for _, f := range files {
		p := filepath.Join(x, "PFiles", "Orbit", f.name)
		b, err := os.ReadFile(p)
		if err != nil {
			var all []string
			filepath.Walk(x, func(p string, _ os.FileInfo, _ error) error { all = append(all, p); return nil })
			t.Errorf("msiextract: %v (extracted %v)", err, all)
			continue
		}
		if !bytes.Equal(b, f.data) {
			t.Errorf("msiextract: %s differs (%d bytes, want %d)", f.name, len(b), len(f.data))
		}
	}
}

func sorted(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func allDefs(t *testing.T, names map[string]bool) []*Table {
	var defs []*Table
	for n := range names {
		d := StandardTable(n)
		if d == nil {
			t.Fatalf("no standard table %s", n)
		}
		defs = append(defs, d)
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].Name < defs[j].Name })
	return defs
}

func TestReaderRoundTripAndCheck(t *testing.T) {
	data := buildDB(t, t.TempDir())
	f, err := Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if f.Codepage != CodepageUTF8 {
		t.Errorf("codepage %d", f.Codepage)
	}
	if f.Summary == nil || f.Summary.RevisionNumber != "{33333333-2222-3333-4444-555555555555}" || !f.Summary.Created.Equal(testTime) || f.Summary.PageCount != 500 {
		t.Errorf("summary = %+v", f.Summary)
	}
	for _, in := range testRows(testPayload()) {
		tb := f.Table(in.table)
		if tb == nil {
			t.Fatalf("no table %s", in.table)
		}
		found := false
		for _, r := range tb.Rows {
			match := true
			for i, c := range tb.Columns {
				if cell(r[i]) != cell(in.row[c.Name]) {
					match = false
					break
				}
			}
			found = found || match
		}
		if !found {
			t.Errorf("table %s: row %v not read back", in.table, in.row)
		}
	}
	// The cab stream reads back and holds every file.
	r, err := f.OpenStream("cab1.cab")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cab.Open(r, r.Size())
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range testPayload() {
		if !bytes.Equal(got[p.key], p.data) {
			t.Errorf("cab in msi: %s differs", p.key)
		}
	}
	// Check catches a wrong refcount and a missing _Validation row.
	f.refs[0]++
	if err := f.Check(); err == nil || !strings.Contains(err.Error(), "refcount") {
		t.Errorf("Check with a wrong refcount = %v", err)
	}
	f.refs[0]--
	v := f.Table("_Validation")
	v.Rows, v.raw = v.Rows[1:], v.raw[1:]
	if err := f.Check(); err == nil || !strings.Contains(err.Error(), "no _Validation row") {
		t.Errorf("Check without a _Validation row = %v", err)
	}
}

func TestReproducible(t *testing.T) {
	a := buildDB(t, t.TempDir())
	b := buildDB(t, t.TempDir())
	if !bytes.Equal(a, b) {
		t.Fatal("same inserts gave different databases")
	}
}

// TestCompareWithWixl builds a reference MSI with wixl and compares the
// structure: our reader must read it, every table both define must have the
// same column names and types in _Columns, and stream names must be encoded
// the same way.
func TestCompareWithWixl(t *testing.T) {
	testenv.NeedTool(t, "wixl", "wixl")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello"), 0o644)
	wxs := `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="11111111-2222-3333-4444-555555555555" Name="Test" Language="1033" Version="1.0.0" Manufacturer="Fleet" UpgradeCode="B681CB20-107E-428A-9B14-2D3C1AFED244">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"/>
    <Media Id="1" Cabinet="cab1.cab" EmbedCab="yes"/>
    <Binary Id="Helper" SourceFile="a.txt"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="ORBITROOT" Name="Orbit">
          <Component Id="C1" Guid="22222222-2222-3333-4444-555555555555" Win64="yes">
            <File Id="a.txt" Source="a.txt" KeyPath="yes"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="F" Level="1"><ComponentRef Id="C1"/></Feature>
  </Product>
</Wix>`
	os.WriteFile(filepath.Join(dir, "t.wxs"), []byte(wxs), 0o644)
	cmd := exec.Command("wixl", "-a", "x64", "-o", "t.msi", "t.wxs")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wixl: %v\n%s", err, out)
	}
	ref, err := Open(filepath.Join(dir, "t.msi"))
	if err != nil {
		t.Fatalf("our reader cannot read wixl's MSI: %v", err)
	}
	defer ref.Close()
	// A real wixl MSI installs: Lint may find it unusual, never broken;
	// the strict Check (for our own databases) does flag it.
	if errs, warns := ref.Lint(); len(errs) != 0 || len(warns) == 0 {
		t.Errorf("Lint of wixl's MSI: errors %v (want none), %d warnings (want some)", errs, len(warns))
	}
	if ref.Check() == nil {
		t.Errorf("Check passes wixl's MSI, whose reference counts are off")
	}
	compared := 0
	for _, rt := range ref.Tables {
		def := StandardTable(rt.Name)
		if def == nil {
			continue
		}
		compared++
		var got, want []string
		for _, c := range rt.Columns {
			got = append(got, fmt.Sprintf("%s:%#x", c.Name, c.Type))
		}
		for _, c := range def.Columns {
			want = append(want, fmt.Sprintf("%s:%#x", c.Name, c.typeBits()))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("table %s: wixl columns\n%s\nours\n%s", rt.Name, strings.Join(got, " "), strings.Join(want, " "))
		}
	}
	if compared < 15 {
		t.Errorf("only %d tables compared with wixl", compared)
	}

	ours, err := Read(bytes.NewReader(buildDB(t, t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	names := func(f *File) map[string]bool {
		m := map[string]bool{}
		for _, s := range f.Streams {
			m[s.Name] = true
		}
		return m
	}
	refNames, ourNames := names(ref), names(ours)
	for _, n := range []string{SummaryStreamName, EncodeStreamName("_StringPool", true), EncodeStreamName("_StringData", true),
		EncodeStreamName("_Tables", true), EncodeStreamName("_Columns", true), EncodeStreamName("File", true),
		EncodeStreamName("Property", true), EncodeStreamName("cab1.cab", false), EncodeStreamName("Binary.Helper", false)} {
		if !refNames[n] {
			d, _ := DecodeStreamName(n)
			t.Errorf("wixl's MSI has no stream %q (%q)", n, d)
		}
		if !ourNames[n] {
			t.Errorf("our MSI has no stream %q", n)
		}
	}
	if len(ref.RawStreams) != 2 || ref.RawStreams[0].Name != "Binary.Helper" || ref.RawStreams[1].Name != "cab1.cab" {
		t.Errorf("decoded wixl raw streams = %+v", ref.RawStreams)
	}
	// wixl's _Tables and _Columns rows are sorted as ours are.
	for _, tn := range []string{"_Tables", "_Columns"} {
		tb := ref.Table(tn)
		for i := 1; i < len(tb.raw); i++ {
			if compareKeys(tb, tb.raw[i-1], tb.raw[i]) >= 0 {
				t.Errorf("wixl's %s is not sorted by key at row %d: our Check rule would be wrong", tn, i)
				break
			}
		}
	}
}

func TestStreamNames(t *testing.T) {
	// From a wixl-built MSI: the cab stream and _StringPool.
	if got := EncodeStreamName("cab1.cab", false); got != "\u4126\u3865\u41be\u4164" {
		t.Errorf("EncodeStreamName(cab1.cab) = %+q", got)
	}
	for _, tc := range []struct {
		name  string
		table bool
	}{{"_StringPool", true}, {"Binary.Helper", false}, {"a", false}, {"x y-z", false}, {"MsiServiceConfigFailureActions", true}} {
		enc := EncodeStreamName(tc.name, tc.table)
		dec, table := DecodeStreamName(enc)
		if dec != tc.name || table != tc.table {
			t.Errorf("round trip %q %v -> %+q -> %q %v", tc.name, tc.table, enc, dec, table)
		}
	}
}

func TestInsertErrors(t *testing.T) {
	db := New(CodepageWestern)
	if err := db.Insert("Property", Row{"Property": "A", "Value": "x"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		table string
		row   Row
		want  string
	}{
		{"Nope", Row{}, "unknown table Nope"},
		{"Property", Row{"Property": "A", "Value": "y"}, "duplicate primary key"},
		{"Property", Row{"Property": "B"}, "column Value: null"},
		{"Property", Row{"Property": "B", "Value": ""}, "column Value: null"},
		{"Property", Row{"Property": "B", "Value": "v", "Extra": 1}, "no column Extra"},
		{"Property", Row{"Property": strings.Repeat("p", 73), "Value": "v"}, "longer than the column's 72"},
		{"Property", Row{"Property": "B", "Value": 5}, "want a string"},
		{"Property", Row{"Property": "B", "Value": "秘密"}, "codepage 1252"},
		{"Media", Row{"DiskId": 0, "LastSequence": 1}, "out of range 1..32767"},
		{"Media", Row{"DiskId": "1", "LastSequence": 1}, "want an integer"},
		{"RemoveFile", Row{"FileKey": "k", "Component_": "c", "DirProperty": "D", "InstallMode": 4}, "not one of 1;2;3"},
		{"Binary", Row{"Name": "b", "Data": "text"}, "want []byte"},
		{"_Validation", Row{}, "generated"},
		{"Property", Row{"Property": "1abc", "Value": "v"}, "not an identifier"},
		{"Property", Row{"Property": "a-b", "Value": "v"}, "not an identifier"},
		{"Component", Row{"Component": "c", "ComponentId": "{a7dfd09e-2d2b-4535-a04f-5d4de90f3863}", "Directory_": "D", "Attributes": 0}, "not an uppercase GUID"},
		{"Upgrade", Row{"UpgradeCode": "B681CB20-107E-428A-9B14-2D3C1AFED244", "Attributes": 0, "ActionProperty": "X"}, "not an uppercase GUID"},
		{"Property", Row{"Property": "B", "Value": "a\x00b"}, "NUL"},
		{"Binary", Row{"Name": strings.Repeat("n", 60), "Data": []byte{1}}, "too long once encoded"},
	} {
		err := db.Insert(tc.table, tc.row)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Insert(%s, %v) = %v, want error containing %q", tc.table, tc.row, err, tc.want)
		}
	}
	if err := New(437).Insert("Property", Row{}); err == nil || !strings.Contains(err.Error(), "codepage 437") {
		t.Errorf("codepage 437: %v", err)
	}
	if err := db.AddStream("cab1.cab", 1, nil); err == nil {
		t.Error("AddStream without open accepted")
	}
}

func TestCustomTable(t *testing.T) {
	db := New(CodepageUTF8)
	err := db.CreateTable(&Table{Name: "MyTable", Columns: []Column{
		{Name: "Id", Type: "s72", Key: true, Category: "Identifier"},
		{Name: "N", Type: "I4"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Insert("MyTable", Row{"Id": "a", "N": -5}, Row{"Id": "b"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*Table{
		{Name: "Bad", Columns: []Column{{Name: "x", Type: "q1", Key: true}}},
		{Name: strings.Repeat("T", 32), Columns: []Column{{Name: "x", Type: "s72", Key: true}}},
		{Name: "NoKey", Columns: []Column{{Name: "x", Type: "s72"}}},
		{Name: "KeyLast", Columns: []Column{{Name: "x", Type: "s72", Key: true}, {Name: "y", Type: "s72"}, {Name: "z", Type: "s72", Key: true}}},
		{Name: "MyTable", Columns: []Column{{Name: "x", Type: "s72", Key: true}}},
	} {
		if err := db.CreateTable(bad); err == nil {
			t.Errorf("CreateTable(%s) accepted", bad.Name)
		}
	}
	var buf bytes.Buffer
	if _, err := db.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	tb := f.Table("MyTable")
	if tb == nil || len(tb.Rows) != 2 || tb.Rows[0][1] != int32(-5) || tb.Rows[1][1] != nil {
		t.Errorf("MyTable = %+v", tb)
	}
}

func BenchmarkWriteDatabase(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		buildDB(b, dir)
	}
}

func TestSummaryCodepage(t *testing.T) {
	for _, tc := range []struct {
		subject string
		dbCP    int
		wantCP  int
	}{
		{"Fleet osquery", CodepageUTF8, CodepageWestern},
		{"Flëet", CodepageUTF8, CodepageWestern},
		{"秘密", CodepageUTF8, CodepageUTF8},
	} {
		s := SummaryInfo{Subject: tc.subject, Template: "Arm64;1033", Created: testTime, PageCount: 500, WordCount: 2}
		b, err := encodeSummary(&s, tc.dbCP)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeSummary(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Codepage != tc.wantCP || got.Subject != tc.subject || got.Template != "Arm64;1033" || !got.Created.Equal(testTime) || got.WordCount != 2 {
			t.Errorf("%q: decoded %+v, want codepage %d", tc.subject, got, tc.wantCP)
		}
	}
	s := SummaryInfo{Codepage: CodepageWestern, Subject: "秘密"}
	if _, err := encodeSummary(&s, CodepageUTF8); err == nil {
		t.Error("a string outside the explicit codepage 1252 was accepted")
	}
}

// TestLargePool covers long strings (>= 64 KiB, a two-entry pool record) and
// more than 65535 strings (3-byte string references), checked by msiinfo.
func TestLargePool(t *testing.T) {
	testenv.NeedTool(t, "msiinfo", "msitools")
	db := New(CodepageUTF8)
	long := strings.Repeat("ü", 40_000) // 80000 bytes of UTF-8
	rows := []Row{{"Property": "LONG", "Value": long}}
	for i := 0; i < 40_000; i++ {
		rows = append(rows, Row{"Property": fmt.Sprintf("P%05d", i), "Value": fmt.Sprintf("v%05d", i)})
	}
	if err := db.Insert("Property", rows...); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := db.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if f.strRef != 3 {
		t.Errorf("string references are %d bytes with %d strings, want 3", f.strRef, len(f.strings))
	}
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	p := f.Table("Property")
	if len(p.Rows) != len(rows) {
		t.Fatalf("read %d rows, want %d", len(p.Rows), len(rows))
	}
	found := false
	for _, r := range p.Rows {
		found = found || r[0] == "LONG" && r[1] == long
	}
	if !found {
		t.Error("the long string did not read back")
	}
	path := writeTemp(t, buf.Bytes())
	out := run(t, "msiinfo", "export", path, "Property")
	lines := strings.Split(strings.TrimRight(out, "\r\n"), "\n")
	if len(lines) != 3+len(rows) {
		t.Errorf("msiinfo exports %d lines, want %d", len(lines), 3+len(rows))
	}
	if !strings.Contains(out, "LONG\t"+long) || !strings.Contains(out, "P39999\tv39999") {
		t.Error("msiinfo export lacks the long string or the last row")
	}
}
