package linux

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestDebStrictDeflate: a deb carrying zero runs, a short pattern, random
// bytes, text and real PE files has gzip members with complete Huffman
// codes only, and dpkg-deb still reads every file back.
func TestDebStrictDeflate(t *testing.T) {
	dpkgDeb := testenv.NeedTool(t, "dpkg-deb", "dpkg")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	o := (&packaging.Options{Type: packaging.TypeDeb, StartService: true}).WithDefaults()
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
	var buf bytes.Buffer
	if err := (&Packager{Type: packaging.TypeDeb, format: "deb"}).Package(context.Background(), l, &buf); err != nil {
		t.Fatal(err)
	}
	m := arMembers(t, buf.Bytes())
	for _, name := range []string{"control.tar.gz", "data.tar.gz"} {
		if m[name] == nil {
			t.Fatalf("no %s in the deb", name)
		}
		if err := flatecheck.CheckGzip(bytes.NewReader(m[name])); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	deb := write("t.deb", buf.Bytes())
	x := filepath.Join(dir, "x")
	if out, err := exec.Command(dpkgDeb, "-x", deb, x).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	for i, in := range inputs {
		if b, err := os.ReadFile(filepath.Join(x, "opt/orbit/test", strconv.Itoa(i))); err != nil || !bytes.Equal(b, in.Data) {
			t.Errorf("%s: dpkg-deb extracted %d bytes (%v), want the %d packaged", in.Name, len(b), err, len(in.Data))
		}
	}
	if out, err := exec.Command(dpkgDeb, "--info", deb).CombinedOutput(); err != nil {
		t.Errorf("dpkg-deb --info: %v\n%s", err, out)
	}
}

func TestStrictDebRefuses(t *testing.T) {
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
		{"bad gzip", arMagic + member("data.tar.gz", "\x1f\x8b\x08\x00junk"), "data.tar.gz"},
		{"truncated", arMagic + member("debian-binary", "2.0\n")[:40], "truncated ar member header"},
	} {
		if _, err := strictDeb([]byte(tc.deb)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: strictDeb = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	// An archive without gzip members (odd sizes included) comes out as is.
	in := arMagic + member("debian-binary", "2.0\n") + member("a", "odd")
	if out, err := strictDeb([]byte(in)); err != nil || string(out) != in {
		t.Errorf("strictDeb changed an archive with nothing to fix: %v", err)
	}
}
