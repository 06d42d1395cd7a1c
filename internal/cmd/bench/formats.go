package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	kflate "github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// format is one installer type and what its rows compare it with.
type format struct {
	name string
	ext  string   // output file extension (pkgctl checks it)
	args []string // pkgctl flags
	// files are the component files the installer holds, in its order.
	files func(work string) []string
	// floor names the compression library and level the format uses (floors).
	floor string
	// ownWriter: pkgctl's own writer (not nfpm), measured with GOMAXPROCS=1 too.
	ownWriter bool
	// peer, when set, builds the same files with another tool.
	peer func(b *bench, dir, out string) (what string, cmd []string, err error)
}

var formats = []format{
	// packaging/linux gzips data.tar (-6) with internal/gzseg: klauspost flate
	// in parallel chunks (after nfpm's own fast pass, see nfpmDebCompression).
	{name: "deb", ext: ".deb", args: []string{"--type=deb", "--arch=amd64"}, files: linuxFiles, floor: "klauspost gzip -6", peer: nfpmPeer("deb")},
	// rpmpack (nfpm's rpm) gzips with klauspost/pgzip: klauspost flate per block.
	{name: "rpm", ext: ".rpm", args: []string{"--type=rpm", "--arch=amd64"}, files: linuxFiles, floor: "klauspost gzip -6", peer: nfpmPeer("rpm")},
	// nfpm's archlinux: klauspost zstd at its default level.
	{name: "pkg.tar.zst", ext: ".pkg.tar.zst", args: []string{"--type=pkg.tar.zst", "--arch=amd64"}, files: linuxFiles, floor: "klauspost zstd default", peer: nfpmPeer("archlinux")},
	// packaging/macos: klauspost gzip at its default level.
	{name: "pkg", ext: ".pkg", args: []string{"--type=pkg"}, files: macFiles, floor: "klauspost gzip default", ownWriter: true},
	// packaging/windows/cab: klauspost flate level 6, 32 KiB MSZIP blocks.
	{name: "msi", ext: ".msi", args: []string{"--type=msi", "--arch=amd64"}, files: winFiles, floor: "klauspost flate -6", ownWriter: true, peer: wixlPeer},
}

func formatNames() []string {
	var out []string
	for _, f := range formats {
		out = append(out, f.name)
	}
	return out
}

func formatByName(name string) (format, bool) {
	for _, f := range formats {
		if f.name == name {
			return f, true
		}
	}
	return format{}, false
}

// floorWriters are the floors' compressors, by name, each on one thread.
var floorWriters = map[string]func(io.Writer) (io.WriteCloser, error){
	"compress/gzip -6":  func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriterLevel(w, 6) },
	"klauspost gzip -6": func(w io.Writer) (io.WriteCloser, error) { return kgzip.NewWriterLevel(w, 6) },
	"klauspost gzip default": func(w io.Writer) (io.WriteCloser, error) {
		return kgzip.NewWriterLevel(w, kgzip.DefaultCompression)
	},
	"klauspost flate -6": func(w io.Writer) (io.WriteCloser, error) { return kflate.NewWriter(w, 6) },
	"klauspost zstd default": func(w io.Writer) (io.WriteCloser, error) {
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	},
}

// runFloor (a child process) streams files, concatenated, through the named
// floor on one thread and writes the compressed bytes to stdout.
func runFloor(name string, files []string) error {
	newWriter, ok := floorWriters[name]
	if !ok {
		return fmt.Errorf("unknown floor %q", name)
	}
	runtime.GOMAXPROCS(1)
	// Like gzip -c, the compressed stream goes to stdout (the parent counts it).
	bw := bufio.NewWriterSize(os.Stdout, 1<<20)
	w, err := newWriter(bw)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := appendFile(w, f); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// linuxFiles are the component files a deb, rpm or Arch package holds:
// desktop.tar.gz (orbit keeps it beside its contents), fleet-desktop unpacked
// from it, orbit, osqueryd.
func linuxFiles(work string) []string {
	return []string{
		repoFile(work, "desktop", "linux", "desktop.tar.gz"),
		agentFile(work, "linux", agentDesktop),
		agentFile(work, "linux", agentOrbit),
		agentFile(work, "linux", agentOsqueryd),
	}
}

// macFiles are the component files a .pkg holds, in the order of their
// installed paths: Fleet Desktop.app unpacked, desktop.app.tar.gz, orbit,
// osquery.app unpacked, osqueryd.app.tar.gz.
func macFiles(work string) []string {
	return []string{
		agentFile(work, "macos", agentDesktop),
		repoFile(work, "desktop", "macos", "desktop.app.tar.gz"),
		agentFile(work, "macos", agentOrbit),
		agentFile(work, "macos", agentOsqueryd),
		repoFile(work, "osqueryd", "macos-app", "osqueryd.app.tar.gz"),
	}
}

// winFiles are the component files the msi holds: orbit.exe twice (the TUF
// path and the copy the service runs), osqueryd.exe, fleet-desktop.exe.
func winFiles(work string) []string {
	orbit := agentFile(work, "windows", agentOrbit)
	return []string{orbit, orbit, agentFile(work, "windows", agentOsqueryd), agentFile(work, "windows", agentDesktop)}
}

// tools are the reference programs.
type tools struct {
	self, gzip, pigz, wixl, nfpm string
}

// nfpmVersion is the nfpm the project pins (libraries.md); its CLI is the peer.
const nfpmVersion = "v2.45.2"

func findTools() (tools, error) {
	var t tools
	var err error
	if t.self, err = os.Executable(); err != nil {
		return t, err
	}
	for _, x := range []struct {
		p        *string
		name, pk string
	}{{&t.gzip, "gzip", "gzip"}, {&t.pigz, "pigz", "pigz"}, {&t.wixl, "wixl", "wixl"}} {
		if *x.p, err = exec.LookPath(x.name); err != nil {
			return t, fmt.Errorf("%s not found: install the Debian package %s (make bench does)", x.name, x.pk)
		}
	}
	// nfpm's CLI at the pinned version, built from the module proxy once.
	cache, err := os.UserCacheDir()
	if err != nil {
		return t, err
	}
	gobin := filepath.Join(cache, "pkgctl-bench", "nfpm-"+nfpmVersion)
	t.nfpm = filepath.Join(gobin, "nfpm")
	if _, err := os.Stat(t.nfpm); err != nil {
		fmt.Printf("building nfpm %s's CLI into %s ...\n", nfpmVersion, gobin)
		cmd := exec.Command("go", "install", "github.com/goreleaser/nfpm/v2/cmd/nfpm@"+nfpmVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
		cmd.Dir = os.TempDir() // outside the module: the CLI has its own requirements
		if err := runQuiet(cmd); err != nil {
			return t, fmt.Errorf("go install nfpm %s: %w", nfpmVersion, err)
		}
	}
	return t, nil
}

// nfpmPeer builds the same files as a package of the given nfpm packager
// with nfpm's CLI, with the compression packaging/linux asks for.
func nfpmPeer(packager string) func(b *bench, dir, out string) (string, []string, error) {
	return func(b *bench, dir, out string) (string, []string, error) {
		files := linuxFiles(b.work)
		dsts := []string{
			"/opt/orbit/bin/desktop/linux/stable/desktop.tar.gz",
			"/opt/orbit/bin/desktop/linux/stable/fleet-desktop/fleet-desktop",
			"/opt/orbit/bin/orbit/linux/stable/orbit",
			"/opt/orbit/bin/osqueryd/linux/stable/osqueryd",
		}
		var cfg strings.Builder
		fmt.Fprintf(&cfg, "name: fleet-osquery\narch: amd64\nplatform: linux\nversion: %s\nmaintainer: bench <bench@example.com>\ndescription: bench\n", version)
		cfg.WriteString("deb: {compression: \"gzip:6\"}\nrpm: {compression: \"gzip:6\"}\ncontents:\n")
		for i, f := range files {
			fmt.Fprintf(&cfg, "  - {src: %q, dst: %q, file_info: {mode: 0755}}\n", f, dsts[i])
		}
		p := filepath.Join(dir, "nfpm.yaml")
		if err := os.WriteFile(p, []byte(cfg.String()), 0o644); err != nil {
			return "", nil, err
		}
		return "nfpm " + nfpmVersion + " CLI (peer)", []string{b.tools.nfpm, "package", "-f", p, "-p", packager, "-t", out}, nil
	}
}

// wixlPeer writes a .wxs installing the msi's component files at the same
// paths and returns the wixl command that builds it.
func wixlPeer(b *bench, dir, out string) (string, []string, error) {
	comp := func(id, guid, file, name string) string {
		return fmt.Sprintf(`<Component Id="%s" Guid="%s" Win64="yes"><File Id="%s" Source="%s" Name="%s" KeyPath="yes"/></Component>`,
			id, guid, id, file, name)
	}
	// wixl takes sources relative to the .wxs: link the files beside it.
	var files []string
	for i, f := range winFiles(b.work) {
		name := fmt.Sprintf("f%d.exe", i)
		os.Remove(filepath.Join(dir, name))
		if err := os.Symlink(f, filepath.Join(dir, name)); err != nil {
			return "", nil, err
		}
		files = append(files, name)
	}
	if len(files) != 4 {
		return "", nil, errors.New("wixl: want 4 files")
	}
	wxs := `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
 <Product Id="*" Name="Fleet osquery" Language="1033" Version="1.2.3" Manufacturer="Fleet Device Management (fleetdm.com)" UpgradeCode="B681CB20-107E-428A-9B14-2D3C1AFED244">
  <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"/>
  <Media Id="1" Cabinet="cab1.cab" EmbedCab="yes"/>
  <Directory Id="TARGETDIR" Name="SourceDir"><Directory Id="ProgramFiles64Folder"><Directory Id="ORBITROOT" Name="Orbit"><Directory Id="BIN" Name="bin">
   <Directory Id="ORBITBINORBIT" Name="orbit">` + comp("C_ORBITBIN", "AF347B4E-B84B-4DD4-9C4D-133BE17B613D", files[1], "orbit.exe") + `
    <Directory Id="OW" Name="windows"><Directory Id="OWS" Name="stable">` + comp("C1", "3E0B5D4A-0C1A-4F4B-9E0D-000000000001", files[0], "orbit.exe") + `</Directory></Directory></Directory>
   <Directory Id="Q" Name="osqueryd"><Directory Id="QW" Name="windows"><Directory Id="QWS" Name="stable">` + comp("C2", "3E0B5D4A-0C1A-4F4B-9E0D-000000000002", files[2], "osqueryd.exe") + `</Directory></Directory></Directory>
   <Directory Id="D" Name="desktop"><Directory Id="DW" Name="windows"><Directory Id="DWS" Name="stable">` + comp("C3", "3E0B5D4A-0C1A-4F4B-9E0D-000000000003", files[3], "fleet-desktop.exe") + `</Directory></Directory></Directory>
  </Directory></Directory></Directory></Directory>
  <Feature Id="Orbit" Level="1"><ComponentRef Id="C_ORBITBIN"/><ComponentRef Id="C1"/><ComponentRef Id="C2"/><ComponentRef Id="C3"/></Feature>
 </Product>
</Wix>
`
	p := filepath.Join(dir, "fleet-osquery.wxs")
	if err := os.WriteFile(p, []byte(wxs), 0o644); err != nil {
		return "", nil, err
	}
	return "wixl (msitools, peer)", []string{b.tools.wixl, "-a", "x64", "-o", out, p}, nil
}
