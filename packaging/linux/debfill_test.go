package linux

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
)

// TestWriteDebFill: the deb pkgctl builds from empty files, filled by the
// rewrite, is byte for byte the deb nfpm builds from the files themselves,
// rewritten the same way (same data.tar, md5sums and Installed-Size); a
// file that changes size during the build is an error.
func TestWriteDebFill(t *testing.T) {
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent")
	if err := os.WriteFile(agent, bytes.Repeat([]byte("agent body 0123456789\n"), 9000), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "conf")
	if err := os.WriteFile(conf, []byte("KEY=value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1700000000, 0)
	info := func() *nfpm.Info {
		return nfpm.WithDefaults(&nfpm.Info{
			Name: "fill-test", Arch: "amd64", Platform: "linux", Version: "1.2.3",
			Maintainer: "pkgctl", Description: "test package", MTime: mtime, DisableGlobbing: true,
			Overridables: nfpm.Overridables{Contents: files.Contents{
				{Source: agent, Destination: "/opt/test/bin/agent", Type: files.TypeFile, FileInfo: &files.ContentFileInfo{Mode: 0o755, MTime: mtime, Size: 9000 * 22}},
				{Source: conf, Destination: "/etc/default/test", Type: files.TypeConfigNoReplace, FileInfo: &files.ContentFileInfo{Mode: 0o600, MTime: mtime, Size: 10}},
				{Destination: "/opt/test/run", Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: 0o700, MTime: mtime}},
			}},
		})
	}
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
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("deb filled by the rewrite (%d bytes) differs from the one nfpm built with the files (%d bytes)", got.Len(), want.Len())
	}

	changed := info()
	changed.Contents[1].FileInfo.Size = 11
	if err := writeDeb(context.Background(), np, changed, &bytes.Buffer{}, nil, empty); err == nil {
		t.Error("a file whose size changed during the build: no error")
	}
}
