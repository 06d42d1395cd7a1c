package linux

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goreleaser/nfpm/v2"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
)

// arMembers splits an ar archive.
func arMembers(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	if !bytes.HasPrefix(b, []byte(arMagic)) {
		t.Fatal("not an ar archive")
	}
	for off := len(arMagic); off < len(b); {
		h := b[off : off+arHeaderLen]
		n, err := strconv.Atoi(strings.TrimSpace(string(h[48:58])))
		if err != nil {
			t.Fatal(err)
		}
		m[strings.TrimRight(string(h[:16]), " ")] = b[off+arHeaderLen : off+arHeaderLen+n]
		off += arHeaderLen + n + n%2
	}
	return m
}

// strictInputs builds a package of type typ carrying zero runs, a short
// pattern, random bytes, text and real PE files, and returns it with them.
func strictInputs(t *testing.T, typ string) ([]byte, []testenv.Input) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	o := (&packaging.Options{Type: typ, StartService: true}).WithDefaults()
	l, err := packaging.NewLayout(o, packaging.Inputs{
		Components: []packaging.Component{
			{Name: "orbit", Platform: "linux", Channel: "stable", File: "orbit", Source: write("orbit", make([]byte, 300000)), Version: "1.40.0"},
			{Name: "osqueryd", Platform: "linux", Channel: "stable", File: "osqueryd", Source: write("osqueryd", []byte("osqueryd")), Version: "5.1.0"},
		},
		TUFMetadata: []byte(`{"root.json":{}}` + "\n"), MTime: time.Unix(1700000000, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	// compress/gzip ends a block every 16K symbols: 8 MiB of zeros make
	// blocks of nothing but distance-1 matches.
	inputs := append(testenv.DeflateInputs(t, 0), testenv.Input{Name: "8 MiB of zeros", Data: make([]byte, 8<<20)})
	l.Entries = append(l.Entries, packaging.Entry{Path: "/opt/orbit/test", Kind: packaging.KindDir, Mode: 0o755, Owner: "root", Group: "root"})
	for i, in := range inputs {
		l.Entries = append(l.Entries, packaging.Entry{Path: "/opt/orbit/test/" + strconv.Itoa(i), Kind: packaging.KindFile,
			Mode: 0o644, Owner: "root", Group: "root", Source: write(strconv.Itoa(i), in.Data)})
	}
	p, err := packaging.PackagerFor(typ)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := p.Package(context.Background(), l, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), inputs
}

// compareExtracted checks the test files under root.
func compareExtracted(t *testing.T, tool, root string, inputs []testenv.Input) {
	t.Helper()
	for i, in := range inputs {
		if b, err := os.ReadFile(filepath.Join(root, "opt/orbit/test", strconv.Itoa(i))); err != nil || !bytes.Equal(b, in.Data) {
			t.Errorf("%s: %s extracted %d bytes (%v), want the %d packaged", in.Name, tool, len(b), err, len(in.Data))
		}
	}
}

// TestDebStrictDeflate: the deb's gzip members have complete Huffman codes
// only, and dpkg-deb still reads every file back.
func TestDebStrictDeflate(t *testing.T) {
	dpkgDeb := testenv.NeedTool(t, "dpkg-deb", "dpkg")
	data, inputs := strictInputs(t, packaging.TypeDeb)
	m := arMembers(t, data)
	for _, name := range []string{"control.tar.gz", "data.tar.gz"} {
		if m[name] == nil {
			t.Fatalf("no %s in the deb", name)
		}
		if err := flatecheck.CheckGzip(bytes.NewReader(m[name])); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	dir := t.TempDir()
	deb := filepath.Join(dir, "t.deb")
	if err := os.WriteFile(deb, data, 0o600); err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(dir, "x")
	if out, err := testenv.Command(dpkgDeb, "-x", deb, x).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	compareExtracted(t, "dpkg-deb", x, inputs)
	if out, err := exec.Command(dpkgDeb, "--info", deb).CombinedOutput(); err != nil {
		t.Errorf("dpkg-deb --info: %v\n%s", err, out)
	}
}

// TestRPMStrictDeflate: the rpm's gzip payload has complete Huffman codes
// only; rpm accepts its digests and rpm2cpio reads every file back.
func TestRPMStrictDeflate(t *testing.T) {
	rpmBin := testenv.NeedTool(t, "rpm", "rpm")
	rpm2cpio := testenv.NeedTool(t, "rpm2cpio", "rpm")
	cpio := testenv.NeedTool(t, "cpio", "cpio")
	data, inputs := strictInputs(t, packaging.TypeRPM)
	// lead (96 bytes), signature header (padded to 8), header, payload; a
	// header is 16 bytes, 16 per index entry, then its data.
	header := func(off int) int {
		if off+16 > len(data) || !bytes.HasPrefix(data[off:], []byte{0x8e, 0xad, 0xe8, 0x01}) {
			t.Fatalf("no rpm header at %d", off)
		}
		return 16 + 16*int(binary.BigEndian.Uint32(data[off+8:])) + int(binary.BigEndian.Uint32(data[off+12:]))
	}
	start := 96 + (header(96)+7)&^7
	start += header(start)
	if err := flatecheck.CheckGzip(bytes.NewReader(data[start:])); err != nil {
		t.Errorf("payload: %v", err)
	}
	dir := t.TempDir()
	rpm := filepath.Join(dir, "t.rpm")
	if err := os.WriteFile(rpm, data, 0o600); err != nil {
		t.Fatal(err)
	}
	dbpath := filepath.Join(dir, "db")
	out, err := exec.Command(rpmBin, "--dbpath", dbpath, "-Kv", "--nosignature", rpm).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Payload SHA256 digest: OK") || !strings.Contains(string(out), "Header SHA256 digest: OK") {
		t.Errorf("rpm -Kv: %v\n%s", err, out)
	}
	// cpio writes each file to stdout only: nothing lands on disk.
	for i, in := range inputs {
		cmd := testenv.Command("sh", "-c", `"$0" "$1" | "$2" -i --to-stdout --quiet "$3"`, rpm2cpio, rpm, cpio, "*/opt/orbit/test/"+strconv.Itoa(i))
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil || !bytes.Equal(b, in.Data) {
			t.Errorf("%s: rpm2cpio | cpio gave %d bytes (%v %s), want the %d packaged", in.Name, len(b), err, stderr.Bytes(), len(in.Data))
		}
	}
}

func TestRewriteDebRefuses(t *testing.T) {
	member := func(name, body string) string {
		h := name + strings.Repeat(" ", 16-len(name)) + "0           0     0     100644  " + strconv.Itoa(len(body))
		h += strings.Repeat(" ", 58-len(h)) + "`\n" + body
		if len(body)%2 == 1 {
			h += "\n"
		}
		return h
	}
	for _, tc := range []struct{ name, deb, want string }{
		{"not ar", "PK\x03\x04", "not an ar archive"},
		{"signed", arMagic + member("debian-binary", "2.0\n") + member("_gpgorigin", "sig"), "signed deb"},
		{"member past the end", arMagic + member("debian-binary", "2.0\n")[:62] + "\n", "bad ar header"},
		{"data past the end", arMagic + member("data.tar", "0123456789")[:65], "data.tar"},
		{"bad gzip", arMagic + member("control.tar.gz", "\x1f\x8b\x08\x00junk"), "control.tar.gz"},
		{"truncated", arMagic + member("debian-binary", "2.0\n")[:40], "truncated ar member header"},
	} {
		if err := rewriteDeb(context.Background(), strings.NewReader(tc.deb), io.Discard, nil, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: rewriteDeb = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	// An archive without gzip members (odd sizes included) comes out as is.
	in := arMagic + member("debian-binary", "2.0\n") + member("a", "odd")
	var out bytes.Buffer
	if err := rewriteDeb(context.Background(), strings.NewReader(in), &out, nil, nil); err != nil || out.String() != in {
		t.Errorf("rewriteDeb changed an archive with nothing to fix: %v", err)
	}
	// data.tar, or nfpm's data.tar.gz, becomes data.tar.gz holding the same bytes.
	raw := strings.Repeat("fleet orbit ", 1<<18) + "x"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(raw))
	zw.Close()
	for name, body := range map[string]string{"data.tar": raw, "data.tar.gz": gz.String()} {
		out.Reset()
		if err := rewriteDeb(context.Background(), strings.NewReader(arMagic+member("debian-binary", "2.0\n")+member(name, body)), &out, nil, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rest := strings.TrimPrefix(out.String(), arMagic+member("debian-binary", "2.0\n"))
		if !strings.HasPrefix(rest, "data.tar.gz     ") {
			t.Fatalf("%s: second member is %q, want data.tar.gz", name, rest[:16])
		}
		size, _ := strconv.Atoi(strings.TrimSpace(rest[48:58]))
		zr, err := gzip.NewReader(strings.NewReader(rest[60 : 60+size]))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(zr); err != nil || string(b) != raw {
			t.Errorf("%s: data.tar.gz holds %d bytes (%v), want the %d of data.tar", name, len(b), err, len(raw))
		}
	}
	if err := rewriteDeb(context.Background(), strings.NewReader(arMagic+member("data.tar.gz", gz.String()+"junk")), io.Discard, nil, nil); err == nil {
		t.Error("rewriteDeb took data after data.tar.gz's gzip member")
	}
}

// failingDeb is an nfpm packager that writes part of a deb, then fails.
type failingDeb struct{ err error }

func (f failingDeb) Package(_ *nfpm.Info, w io.Writer) error {
	if _, err := io.WriteString(w, arMagic+"debian-binary   0"); err != nil {
		return err
	}
	return f.err
}

func (failingDeb) ConventionalFileName(*nfpm.Info) string { return "x.deb" }

func TestWriteDebReportsNfpmError(t *testing.T) {
	want := errors.New("nfpm: bad contents")
	var out bytes.Buffer
	if err := writeDeb(context.Background(), failingDeb{want}, &nfpm.Info{}, &out, nil, ""); !errors.Is(err, want) {
		t.Errorf("writeDeb = %v, want nfpm's error %v", err, want)
	}
}
