//go:build linux

package linux

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
	"golang.org/x/sys/unix"

	"github.com/pkgctl/pkgctl/internal/scratch"
	"github.com/pkgctl/pkgctl/packaging"
)

func testLayout(t *testing.T, secret []byte) *packaging.Layout {
	comp := filepath.Join(t.TempDir(), "orbit")
	if err := os.WriteFile(comp, bytes.Repeat([]byte("ELF"), 5000), 0o755); err != nil {
		t.Fatal(err)
	}
	return &packaging.Layout{
		OS: packaging.OSLinux, Type: packaging.TypeDeb, Arch: "amd64", Name: "fleet-osquery", Version: "1.2.3",
		MTime: time.Unix(1700000000, 0).UTC(),
		Entries: []packaging.Entry{
			{Path: "/opt/orbit", Kind: packaging.KindDir, Mode: 0o755, Owner: "root", Group: "root"},
			{Path: "/opt/orbit/secret.txt", Kind: packaging.KindFile, Mode: 0o600, Owner: "root", Group: "root", Data: secret, Secret: true},
			{Path: "/opt/orbit/empty.flags", Kind: packaging.KindFile, Mode: 0o644, Owner: "root", Group: "root", Data: []byte{}},
			{Path: "/opt/orbit/tuf-metadata.json", Kind: packaging.KindFile, Mode: 0o644, Owner: "root", Group: "root", Data: bytes.Repeat([]byte("{}"), 70000)},
			{Path: "/opt/orbit/bin/orbit", Kind: packaging.KindFile, Mode: 0o755, Owner: "root", Group: "root", Source: comp},
		},
		Scripts: packaging.Scripts{PostInstall: "#!/bin/sh\necho hi\n", PostTrans: "#!/bin/sh\ntrue\n"},
	}
}

// TestStaging: generated files reach the package with their content, size
// and mode, the output is reproducible, and the stage directory is named for
// the sweep and removed when the build ends.
func TestStaging(t *testing.T) {
	secret := []byte("enroll-S3cret-never-on-disk")
	for _, typ := range []string{packaging.TypeDeb, packaging.TypeRPM, packaging.TypeArchZst} {
		t.Run(typ, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			l := testLayout(t, secret)
			l.Type = typ
			p := &Packager{Type: typ, format: map[string]string{packaging.TypeDeb: "deb", packaging.TypeRPM: "rpm", packaging.TypeArchZst: "archlinux"}[typ]}
			build := func() []byte {
				var buf bytes.Buffer
				if err := p.Package(context.Background(), l, &buf); err != nil {
					t.Fatal(err)
				}
				return buf.Bytes()
			}
			if a, b := build(), build(); !bytes.Equal(a, b) {
				t.Fatal("two builds differ")
			}
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("TMPDIR holds %v after the builds", ents)
			}
			if typ == packaging.TypeDeb {
				deb := build()
				checkDebData(t, deb, "./opt/orbit/secret.txt", secret, 0o600)
				checkDebData(t, deb, "./opt/orbit/empty.flags", []byte{}, 0o644)
				checkDebData(t, deb, "./opt/orbit/tuf-metadata.json", bytes.Repeat([]byte("{}"), 70000), 0o644)
			}
		})
	}
	st := &stager{}
	if _, err := st.stage("x", secret); err != nil {
		t.Fatal(err)
	}
	defer st.close()
	if want := scratch.Prefix("stage"); !strings.HasPrefix(filepath.Base(st.dir), want) {
		t.Errorf("stage directory %s is not named %s* (the sweep would not find it)", st.dir, want)
	}
	if fi, err := os.Stat(st.dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("stage directory mode: %v, %v", fi, err)
	}
}

// TestNfpmNeedsRegularFiles records why secrets are staged as files: nfpm
// v2.45.2 packs a memfd's /proc/self/fd/N path as a symbolic link. If this
// fails, nfpm has learnt to read such paths: stage in memory instead.
func TestNfpmNeedsRegularFiles(t *testing.T) {
	fd, err := unix.MemfdCreate("pkgctl-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "memfd")
	defer f.Close()
	f.Write([]byte("secret"))
	info := &nfpm.Info{Name: "x", Arch: "amd64", Version: "1", Maintainer: "m", Description: "d",
		Overridables: nfpm.Overridables{Contents: files.Contents{{
			Source: fmt.Sprintf("/proc/self/fd/%d", fd), Destination: "/opt/secret", Type: files.TypeFile,
			FileInfo: &files.ContentFileInfo{Mode: 0o600, Size: 6},
		}}}}
	if err := nfpm.PrepareForPackager(nfpm.WithDefaults(info), "deb"); err != nil {
		t.Fatal(err)
	}
	for _, c := range info.Contents {
		if c.Destination == "/opt/secret" && c.Type != files.TypeSymlink {
			t.Errorf("nfpm now packs a memfd path as %q: stage secrets in memory (scratch) instead of files", c.Type)
		}
	}
}

// checkDebData finds name in the deb's data.tar.gz and checks content and mode.
func checkDebData(t *testing.T, deb []byte, name string, want []byte, mode os.FileMode) {
	t.Helper()
	data := arMember(t, deb, "data.tar.gz")
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s not in data.tar.gz", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != name {
			continue
		}
		got, _ := io.ReadAll(tr)
		if !bytes.Equal(got, want) || h.Size != int64(len(want)) || os.FileMode(h.Mode).Perm() != mode {
			t.Errorf("%s: %d bytes (header %d), mode %o; want %d bytes, mode %o", name, len(got), h.Size, h.Mode, len(want), mode)
		}
		return
	}
}

// arMember returns a member of an ar archive (common format, as nfpm writes it).
func arMember(t *testing.T, ar []byte, name string) []byte {
	t.Helper()
	if !bytes.HasPrefix(ar, []byte("!<arch>\n")) {
		t.Fatal("not an ar archive")
	}
	for off := 8; off+60 <= len(ar); {
		h := ar[off : off+60]
		var size int
		for _, c := range bytes.TrimSpace(h[48:58]) {
			size = size*10 + int(c-'0')
		}
		n := strings.TrimRight(strings.TrimSpace(string(h[:16])), "/")
		if n == name {
			return ar[off+60 : off+60+size]
		}
		off += 60 + size + size%2
	}
	t.Fatalf("%s not in the ar archive", name)
	return nil
}
