package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/pkgctl/pkgctl/internal/flatecheck"
	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging/macos/xar"
	"github.com/pkgctl/pkgctl/packaging/windows/cab"
)

// installerStamps records the installers under dir (size and mtime), so
// that checkNewInstallers looks only at what a run wrote.
func installerStamps(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		switch filepath.Ext(p) {
		case ".msi", ".pkg", ".deb", ".rpm", ".zst":
			if fi, err := d.Info(); err == nil {
				m[p] = strconv.FormatInt(fi.Size(), 10) + " " + fi.ModTime().Format(time.RFC3339Nano)
			}
		}
		return nil
	})
	return m
}

// checkNewInstallers holds every installer a run wrote under dir to what
// strict decoders need: cabextract -t reads an MSI's cabinet, and every
// deflate block of the cabinet, of a pkg's Payload, Scripts and zlib
// members, of a deb's gzip members, of a gzip rpm payload and of an Arch
// package's .MTREE has complete Huffman codes.
func checkNewInstallers(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	for p, stamp := range installerStamps(t, dir) {
		if before[p] == stamp {
			continue
		}
		switch filepath.Ext(p) {
		case ".msi":
			checkMSIDeflate(t, p)
		case ".pkg":
			checkPkgDeflate(t, p)
		case ".deb":
			checkDebDeflate(t, p)
		case ".rpm":
			checkRPMDeflate(t, p)
		case ".zst":
			checkArchDeflate(t, p)
		}
	}
}

func checkMSIDeflate(t *testing.T, msi string) {
	t.Helper()
	msiinfo := needTool(t, "msiinfo", "msitools")
	cabextract := needTool(t, "cabextract", "cabextract")
	streams, err := testenv.Command(msiinfo, "streams", msi).Output()
	if err != nil {
		t.Fatalf("msiinfo streams %s: %v", msi, err)
	}
	n := 0
	for _, s := range strings.Fields(string(streams)) {
		if !strings.HasSuffix(s, ".cab") {
			continue
		}
		n++
		data, err := testenv.Command(msiinfo, "extract", msi, s).Output()
		if err != nil {
			t.Fatalf("msiinfo extract %s %s: %v", msi, s, err)
		}
		c, err := cab.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s %s: %v", msi, s, err)
		}
		c.Strict = true
		if err := c.Walk(func(cab.FileInfo, io.Reader) error { return nil }); err != nil {
			t.Errorf("%s %s: %v", filepath.Base(msi), s, err)
		}
		f := filepath.Join(t.TempDir(), s)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := testenv.Command(cabextract, "-t", f).CombinedOutput(); err != nil {
			t.Errorf("cabextract -t on the cabinet %s of %s: %v\n%s", s, filepath.Base(msi), err, out)
		}
	}
	if n == 0 {
		t.Errorf("%s: no cabinet stream (msiinfo streams: %q)", msi, streams)
	}
}

func checkPkgDeflate(t *testing.T, pkg string) {
	t.Helper()
	f, err := os.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	x, err := xar.Open(f, fi.Size())
	if err != nil {
		t.Fatalf("%s: %v", pkg, err)
	}
	if err := flatecheck.CheckZlib(x.StoredTOC()); err != nil {
		t.Errorf("%s: TOC: %v", filepath.Base(pkg), err)
	}
	for _, e := range x.Files {
		var err error
		switch {
		case strings.HasSuffix(e.Path, "/Payload") || strings.HasSuffix(e.Path, "/Scripts"):
			err = flatecheck.CheckGzip(x.Stored(e))
		case e.Encoding == "application/x-gzip": // xar's name for zlib
			err = flatecheck.CheckZlib(x.Stored(e))
		}
		if err != nil {
			t.Errorf("%s: %s: %v", filepath.Base(pkg), e.Path, err)
		}
	}
}

func checkDebDeflate(t *testing.T, deb string) {
	t.Helper()
	b, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	const magic = "!<arch>\n"
	if !bytes.HasPrefix(b, []byte(magic)) {
		t.Fatalf("%s: not an ar archive", deb)
	}
	gz := 0
	for off := len(magic); off+60 <= len(b); {
		h := b[off : off+60]
		name := strings.TrimRight(string(h[:16]), " ")
		n, err := strconv.Atoi(strings.TrimSpace(string(h[48:58])))
		if err != nil || off+60+n > len(b) {
			t.Fatalf("%s: bad ar member header %q", deb, h)
		}
		if strings.HasSuffix(name, ".gz") {
			gz++
			if err := flatecheck.CheckGzip(bytes.NewReader(b[off+60 : off+60+n])); err != nil {
				t.Errorf("%s: %s: %v", filepath.Base(deb), name, err)
			}
		}
		off += 60 + n + n%2
	}
	if gz < 2 {
		t.Errorf("%s: %d gzip members, want control.tar.gz and data.tar.gz", deb, gz)
	}
}

// TestStrictDeflateRealPE builds an MSI, a pkg, a deb and an rpm whose orbit is a
// real PE file (Wine's shell32.dll from Debian) with a run of zeros long
// enough for compress/gzip to make blocks of it alone (it cuts blocks every
// 16K symbols): inputs that make klauspost/compress and compress/gzip write
// incomplete Huffman codes. runIn's checkNewInstallers then runs cabextract -t and the
// strict block check on each.
func TestStrictDeflateRealPE(t *testing.T) {
	t.Parallel()
	pe, err := os.ReadFile(testenv.DebianFile(t, "libwine", "x86_64-windows/shell32.dll"))
	if err != nil {
		t.Fatal(err)
	}
	orbit := append(append(pe[:4<<20:4<<20], make([]byte, 8<<20)...), pe[4<<20:5<<20]...)
	env := testenv.NewTB(t)
	for _, plat := range []string{"windows", "linux", "macos"} {
		file := map[string]string{"windows": "orbit.exe"}[plat]
		if file == "" {
			file = "orbit"
		}
		if err := env.Repo.AddTarget("orbit", plat, testenv.StableChannel, file, orbit, testenv.StableVersion); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Repo.Publish(); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"msi", "pkg", "deb", "rpm", "pkg.tar.zst"} {
		t.Run(typ, func(t *testing.T) {
			r := runPkgctl(t, "fleet-osquery."+typ, append([]string{"package", "--type=" + typ, "--cache-dir=" + t.TempDir(),
				"--fleet-url=https://fleet.example.com", "--enroll-secret=strict-deflate-secret"}, updateArgs(env, env.Server.URL)...)...)
			mustSucceed(t, r)
			if _, err := os.Stat(r.Outfile); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func checkRPMDeflate(t *testing.T, rpm string) {
	t.Helper()
	b, err := os.ReadFile(rpm)
	if err != nil {
		t.Fatal(err)
	}
	// lead (96 bytes), signature header (padded to 8), header, payload;
	// a header is 16 bytes, 16 per index entry, then its data.
	header := func(off int) int {
		if off+16 > len(b) || b[off] != 0x8e || b[off+1] != 0xad {
			t.Fatalf("%s: no rpm header at %d", rpm, off)
		}
		return 16 + 16*int(binary.BigEndian.Uint32(b[off+8:])) + int(binary.BigEndian.Uint32(b[off+12:]))
	}
	off := 96 + (header(96)+7)&^7
	off += header(off)
	if off+2 > len(b) || b[off] != 0x1f || b[off+1] != 0x8b {
		return // not a gzip payload
	}
	if err := flatecheck.CheckGzip(bytes.NewReader(b[off:])); err != nil {
		t.Errorf("%s: payload: %v", filepath.Base(rpm), err)
	}
}

func checkArchDeflate(t *testing.T, pkg string) {
	t.Helper()
	if !strings.HasSuffix(pkg, ".pkg.tar.zst") {
		return
	}
	f, err := os.Open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Errorf("%s: no .MTREE", pkg)
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		if h.Name == ".MTREE" {
			if err := flatecheck.CheckGzip(tr); err != nil {
				t.Errorf("%s: .MTREE: %v", filepath.Base(pkg), err)
			}
			return
		}
	}
}
