package linux

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
)

// TestWriteDebFill: the deb pkgctl builds from empty files, filled by the
// rewrite, holds what the deb nfpm builds from the files themselves holds
// once rewritten (the same control.tar.gz bytes, so md5sums and
// Installed-Size, and the same data.tar); a file that changes size during
// the build is an error.
func TestWriteDebFill(t *testing.T) {
	info, empty := fillFixture(t)
	np, err := nfpm.Get("deb")
	if err != nil {
		t.Fatal(err)
	}
	ref := info()
	ref.Deb.Compression = "gzip"
	var raw, want bytes.Buffer
	if err := np.Package(ref, &raw); err != nil {
		t.Fatal(err)
	}
	if err := rewriteDeb(context.Background(), &raw, &want, nil, nil); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := writeDeb(context.Background(), np, info(), &got, nil, empty); err != nil {
		t.Fatal(err)
	}
	// The data tarball is cut into chunks at other places (the contents are
	// compressed on their own, to be shared): compare what the members hold.
	gotM, wantM := debMembers(t, got.Bytes()), debMembers(t, want.Bytes())
	for _, name := range []string{"debian-binary", "control.tar.gz", "data.tar.gz"} {
		if !bytes.Equal(gotM[name], wantM[name]) {
			t.Errorf("%s: the deb filled by the rewrite holds %d bytes, the one nfpm built with the files %d", name, len(gotM[name]), len(wantM[name]))
		}
	}
	if err := flatecheck.CheckGzip(bytes.NewReader(rawMember(t, got.Bytes(), "data.tar.gz"))); err != nil {
		t.Errorf("data.tar.gz: %v", err)
	}

	changed := info()
	changed.Contents[1].FileInfo.Size = 11
	if err := writeDeb(context.Background(), np, changed, &bytes.Buffer{}, nil, empty); err == nil {
		t.Error("a file whose size changed during the build: no error")
	}
}

// debMembers returns the deb's members, gzipped ones decompressed.
func debMembers(t *testing.T, deb []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{"debian-binary", "control.tar.gz", "data.tar.gz"} {
		body := rawMember(t, deb, name)
		if name == "data.tar.gz" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		out[name] = body
	}
	return out
}

// rawMember returns the body of the ar member name.
func rawMember(t *testing.T, deb []byte, name string) []byte {
	t.Helper()
	for off := len(arMagic); off+arHeaderLen <= len(deb); {
		hdr := deb[off : off+arHeaderLen]
		size, err := strconv.Atoi(strings.TrimSpace(string(hdr[48:58])))
		if err != nil {
			t.Fatal(err)
		}
		body := deb[off+arHeaderLen : off+arHeaderLen+size]
		if strings.TrimRight(string(hdr[:16]), " ") == name {
			return body
		}
		off += arHeaderLen + size + size%2
	}
	t.Fatalf("no member %s", name)
	return nil
}

// fillFixture writes a package's files (an agent, a config file) and the
// empty file pkgctl gives nfpm instead, and returns a fresh nfpm.Info for
// them on each call (nfpm and the fill change it).
func fillFixture(t *testing.T) (info func() *nfpm.Info, empty string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	agent := write("agent", bytes.Repeat([]byte("agent body 0123456789\n"), 9000), 0o755)
	conf := write("conf", []byte("KEY=value\n"), 0o600)
	mtime := time.Unix(1700000000, 0)
	return func() *nfpm.Info {
		return nfpm.WithDefaults(&nfpm.Info{
			Name: "fill-test", Arch: "amd64", Platform: "linux", Version: "1.2.3",
			Maintainer: "pkgctl", Description: "test package", MTime: mtime, DisableGlobbing: true,
			Overridables: nfpm.Overridables{Contents: files.Contents{
				{Source: agent, Destination: "/opt/test/bin/agent", Type: files.TypeFile, FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: mtime, Size: 9000 * 22}},
				{Source: conf, Destination: "/etc/default/test", Type: files.TypeConfigNoReplace, FileInfo: &files.ContentFileInfo{Mode: 0o600, MTime: mtime, Size: 10}},
				{Destination: "/opt/test/run", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o700, MTime: mtime}},
			}},
		})
	}, write("empty", nil, 0o600)
}
