// Command bench (`make bench`) measures how fast pkgctl builds an installer from a warm
// cache, against the floor set by the compression the format needs.
//
// It publishes a 150 MB synthetic agent (orbit 30 MB, osqueryd 60 MB, Fleet Desktop 60 MB
// inside desktop.tar.gz; half compressible text, half random bytes) on a fresh TUF
// repository served over mutual TLS on 127.0.0.1, builds the pkgctl binary, and for each
// case runs `pkgctl package` once cold (filling the cache) and -n times warm. It reports the
// median warm wall time, throughput (agent MB / wall s) and the peak RSS of the pkgctl
// process, beside the floor: the time to compress the component files the package holds
// with the library and level the format uses (measured in the same run, -n times, median).
//
// Peak RSS comes from wait4's rusage. Linux can carry the parent's high-water RSS into a
// vforked child at exec, making ru_maxrss of pkgctl max(this process's peak, pkgctl's peak).
// So this process never holds the payload: a child generates the repository, and the floor
// streams the files from disk. A peak not above its own at the time is shown as "<=N".
package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	kflate "github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"

	"github.com/pkgctl/pkgctl/internal/repodir"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

const (
	mb           = 1_000_000 // sizes and rates are in decimal megabytes
	orbitSize    = 30 * mb
	osquerydSize = 60 * mb
	desktopSize  = 60 * mb
	agentSize    = orbitSize + osquerydSize + desktopSize
	platform     = "linux"
	channel      = testenv.StableChannel
	version      = testenv.StableVersion
)

// floor is the compression a format cannot avoid: the package's component files written
// through it, to io.Discard, bound the build from below.
type floor struct {
	name      string
	newWriter func(io.Writer) (io.WriteCloser, error)
}

// benchCase is one row: a pkgctl build and its floor. Add rpm, msi here.
// With teams > 0 the row builds that many installers (one per Fleet team: its
// own URL and enroll secret), once, from a warm cache: as many `pkgctl
// package` runs one after another, or with matrix one run of a config file.
type benchCase struct {
	name    string
	args    []string // pkgctl package flags besides the common ones
	outfile string   // --outfile, in the case's directory (pkgctl checks the extension)
	floor   floor
	// files are the component files the package holds (the floor compresses them).
	files  func(work string) []string
	teams  int
	matrix bool
	// external, when set, builds the same files with another tool instead of
	// pkgctl: it prepares dir and returns the command line.
	external func(work, dir, out string) ([]string, error)
}

// msiFloor is what the cab writer (packaging/windows/cab) compresses with:
// klauspost flate level 6, 32 KiB MSZIP blocks (here one stream, one thread).
var msiFloor = floor{name: "klauspost flate -6", newWriter: func(w io.Writer) (io.WriteCloser, error) {
	return kflate.NewWriter(w, 6)
}}

// teams is the size of the team matrix rows.
const teams = 20

// debFloor is what the deb packager compresses with.
var debFloor = floor{name: "compress/gzip -6", newWriter: func(w io.Writer) (io.WriteCloser, error) {
	return gzip.NewWriterLevel(w, 6)
}}

var cases = []benchCase{
	{
		name:    "deb amd64",
		args:    []string{"--type=deb", "--arch=amd64"},
		outfile: "bench.deb",
		// nfpm v2.45.2 deb/deb.go writes data.tar.gz with the standard library's
		// compress/gzip; packaging/linux sets Deb.Compression = "gzip:6".
		floor: debFloor,
		files: floorFiles,
	},
	{
		name:    "pkg",
		args:    []string{"--type=pkg"},
		outfile: "bench.pkg",
		// packaging/macos gzips the cpio Payload with klauspost/compress gzip at
		// its default level.
		floor: floor{name: "klauspost gzip default", newWriter: func(w io.Writer) (io.WriteCloser, error) {
			return kgzip.NewWriterLevel(w, kgzip.DefaultCompression)
		}},
		files: macFloorFiles,
	},
	{
		name:    "msi amd64",
		args:    []string{"--type=msi", "--arch=amd64"},
		outfile: "bench.msi",
		floor:   msiFloor,
		files:   msiFiles,
	},
	{
		// The same four files (orbit.exe twice, as the msi holds it) built by
		// wixl, msitools' WiX-like builder, for comparison.
		name:     "wixl (msitools) x64",
		outfile:  "wixl.msi",
		floor:    msiFloor,
		files:    msiFiles,
		external: wixlCommand,
	},
	{name: fmt.Sprintf("deb ×%d teams, %d runs", teams, teams), args: []string{"--type=deb"}, outfile: "bench.deb", floor: debFloor, teams: teams, files: floorFiles},
	{name: fmt.Sprintf("deb ×%d teams, 1 matrix run", teams), args: []string{"--type=deb"}, outfile: "bench.deb", floor: debFloor, teams: teams, matrix: true, files: floorFiles},
}

type measurement struct {
	c      benchCase
	cold   time.Duration
	warm   []time.Duration
	rssKiB int64 // max over the warm runs
	// rssBound: some warm run's peak was not above this process's own peak at
	// that time, so rssKiB is only an upper bound of pkgctl's peak.
	rssBound bool
	outSize  int64
	floor    []time.Duration
}

func main() {
	n := flag.Int("n", 3, "warm runs per case (median reported)")
	keep := flag.Bool("keep", false, "keep the work directory")
	prepare := flag.String("prepare", "", "internal: write the repository to this directory and exit")
	flag.Parse()
	var err error
	if *prepare != "" {
		err = prepareRepo(*prepare)
	} else {
		err = run(*n, *keep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int, keep bool) error {
	if n < 1 {
		return errors.New("-n must be at least 1")
	}
	root, err := repodir.Root()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "pkgctl-bench-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("work directory (kept):", work)
	} else {
		defer os.RemoveAll(work)
	}

	fmt.Printf("publishing a %d MB synthetic agent (orbit %d, osqueryd %d, desktop %d MB) ...\n",
		agentSize/mb, orbitSize/mb, osquerydSize/mb, desktopSize/mb)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := runQuiet(exec.Command(self, "-prepare", work)); err != nil {
		return fmt.Errorf("prepare repository: %w", err)
	}
	srv, err := newServer(work)
	if err != nil {
		return err
	}
	defer srv.close()

	bin := filepath.Join(work, "pkgctl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pkgctl")
	build.Dir = root
	if err := runQuiet(build); err != nil {
		return fmt.Errorf("go build: %w", err)
	}

	var results []measurement
	for i, c := range cases {
		m, err := measure(c, n, bin, filepath.Join(work, fmt.Sprintf("case%d", i)), srv)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		results = append(results, m)
	}
	return report(results, n, work)
}

// measure runs the cold build, n warm builds and n floor compressions of one case in dir.
func measure(c benchCase, n int, bin, dir string, srv *server) (measurement, error) {
	m := measurement{c: c}
	out := filepath.Join(dir, c.outfile)
	args := append([]string{"package"}, c.args...)
	args = append(args,
		"--fleet-url=https://fleet.example.com", "--enroll-secret=bench",
		"--update-url="+srv.url, "--update-roots="+string(srv.rootJSON),
		"--update-tls-certificate="+srv.serverCAFile,
		"--update-tls-client-certificate="+srv.clientCertFile, "--update-tls-client-key="+srv.clientKeyFile,
		"--fleet-desktop", "--cache-dir="+filepath.Join(dir, "cache"), "--outfile="+out)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return m, err
	}

	cmdline := append([]string{bin}, args...)
	if c.external != nil {
		var err error
		if cmdline, err = c.external(srv.work, dir, out); err != nil {
			return m, err
		}
	}

	fmt.Printf("%s: cold run (fills the cache) ...\n", c.name)
	cold, _, err := runPkgctl(cmdline)
	if err != nil {
		return m, err
	}
	m.cold = cold
	if c.teams > 0 {
		return measureTeams(m, c, n, bin, dir, srv, args[:len(args)-1])
	}
	for i := range n {
		own := selfRSSKiB()
		d, rss, err := runPkgctl(cmdline)
		if err != nil {
			return m, err
		}
		m.rssBound = m.rssBound || rss <= own
		fmt.Printf("%s: warm run %d/%d: %.2f s, peak RSS %d MiB\n", c.name, i+1, n, d.Seconds(), rss/1024)
		m.warm = append(m.warm, d)
		m.rssKiB = max(m.rssKiB, rss)
	}
	st, err := os.Stat(out)
	if err != nil {
		return m, err
	}
	m.outSize = st.Size()

	for i := range n {
		d, err := timeFloor(c.floor, c.files(srv.work))
		if err != nil {
			return m, err
		}
		fmt.Printf("%s: floor %s %d/%d: %.2f s\n", c.name, c.floor.name, i+1, n, d.Seconds())
		m.floor = append(m.floor, d)
	}
	return m, nil
}

// measureTeams builds c.teams installers once, warm: one pkgctl run per team,
// or one matrix run of a config file listing them. Wall is the total, peak RSS
// the largest of the runs; the floor is c.teams times the single floor.
func measureTeams(m measurement, c benchCase, n int, bin, dir string, srv *server, common []string) (measurement, error) {
	var env []string
	var cfg strings.Builder
	cfg.WriteString("builds:\n")
	for i := range c.teams {
		fmt.Fprintf(&cfg, "  - {name: team-%02d, fleet-url: \"https://team-%02d.example.com\", enroll-secret-env: TEAM_%02d_SECRET, outfile: %q}\n",
			i, i, i, filepath.Join(dir, fmt.Sprintf("team-%02d.deb", i)))
		env = append(env, fmt.Sprintf("TEAM_%02d_SECRET=bench-secret-%02d", i, i))
	}
	var wall time.Duration
	if c.matrix {
		cfgFile := filepath.Join(dir, "pkgctl.yaml")
		if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o644); err != nil {
			return m, err
		}
		// The update and cache flags apply to every build (flag > build entry).
		var args []string
		for _, a := range common {
			if !strings.HasPrefix(a, "--fleet-url=") && !strings.HasPrefix(a, "--enroll-secret=") {
				args = append(args, a)
			}
		}
		args = append(args, "--config="+cfgFile)
		d, rss, err := runPkgctlEnv(append([]string{bin}, args...), env)
		if err != nil {
			return m, err
		}
		wall, m.rssKiB = d, rss
		fmt.Printf("%s: %.2f s, peak RSS %d MiB\n", c.name, d.Seconds(), rss/1024)
	} else {
		for i := range c.teams {
			args := append(append([]string(nil), common...),
				fmt.Sprintf("--fleet-url=https://team-%02d.example.com", i), fmt.Sprintf("--enroll-secret=bench-secret-%02d", i),
				"--outfile="+filepath.Join(dir, fmt.Sprintf("team-%02d.deb", i)))
			d, rss, err := runPkgctl(append([]string{bin}, args...))
			if err != nil {
				return m, err
			}
			wall += d
			m.rssKiB = max(m.rssKiB, rss)
		}
		fmt.Printf("%s: %.2f s in total, peak RSS %d MiB\n", c.name, wall.Seconds(), m.rssKiB/1024)
	}
	m.warm = []time.Duration{wall}
	for i := range c.teams {
		st, err := os.Stat(filepath.Join(dir, fmt.Sprintf("team-%02d.deb", i)))
		if err != nil {
			return m, err
		}
		m.outSize += st.Size()
	}
	d, err := timeFloor(c.floor, c.files(srv.work))
	if err != nil {
		return m, err
	}
	m.floor = []time.Duration{d * time.Duration(c.teams)}
	return m, nil
}

// runPkgctl runs one build (args[0] is pkgctl, or the external tool of a
// case) and returns its wall time and peak RSS in KiB.
func runPkgctl(args []string) (time.Duration, int64, error) {
	return runPkgctlEnv(args, nil)
}

// runPkgctlEnv is runPkgctl with extra environment variables.
func runPkgctlEnv(args, env []string) (time.Duration, int64, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), "SOURCE_DATE_EPOCH=0"), env...)
	start := time.Now()
	if err := runQuiet(cmd); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", filepath.Base(args[0]), err)
	}
	return time.Since(start), maxRSSKiB(cmd.ProcessState.SysUsage()), nil
}

// runQuiet runs cmd and shows its output only when it fails.
func runQuiet(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
	}
	return err
}

// maxRSSKiB reads ru_maxrss from a rusage (KiB on Linux, bytes on macOS).
func maxRSSKiB(usage any) int64 {
	ru, ok := usage.(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) / 1024
	}
	return int64(ru.Maxrss)
}

// floorFiles are the component files the package holds, in the order of their installed
// paths: desktop.tar.gz (orbit keeps it beside its contents), fleet-desktop unpacked from
// it, orbit, osqueryd. That is the agent plus desktop.tar.gz.
func floorFiles(work string) []string {
	target := func(name, file string) string {
		return filepath.Join(work, "repo", "targets", filepath.FromSlash(testenv.TargetPath(name, platform, channel, file)))
	}
	return []string{
		target("desktop", "desktop.tar.gz"),
		filepath.Join(work, "fleet-desktop"),
		target("orbit", "orbit"),
		target("osqueryd", "osqueryd"),
	}
}

// macFloorFiles are the component files a .pkg holds, in the order of their
// installed paths: Fleet Desktop.app unpacked, desktop.app.tar.gz, orbit,
// osquery.app unpacked, osqueryd.app.tar.gz.
func macFloorFiles(work string) []string {
	target := func(name, platform, file string) string {
		return filepath.Join(work, "repo", "targets", filepath.FromSlash(testenv.TargetPath(name, platform, channel, file)))
	}
	return []string{
		filepath.Join(work, "mac-fleet-desktop"),
		target("desktop", "macos", "desktop.app.tar.gz"),
		target("orbit", "macos", "orbit"),
		filepath.Join(work, "mac-osqueryd"),
		target("osqueryd", "macos-app", "osqueryd.app.tar.gz"),
	}
}

// timeFloor streams files, concatenated, through f to io.Discard.
func timeFloor(f floor, files []string) (time.Duration, error) {
	start := time.Now()
	w, err := f.newWriter(io.Discard)
	if err != nil {
		return 0, err
	}
	for _, name := range files {
		if err := copyFile(w, name); err != nil {
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func copyFile(w io.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func report(results []measurement, n int, work string) error {
	fmt.Printf("\nagent %d MB (MB = 10^6 bytes); wall = median of %d warm runs; MB/s = agent MB / wall s;\n"+
		"peak RSS = max over the warm runs; floor = compressing the floor MB of component files the\n"+
		"package holds (the agent plus its tarballs, as shipped), median of %d, in this process\n\n",
		agentSize/mb, n, n)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tcold s\twall s\tMB/s\tpeak RSS MiB\toutput MB\tfloor\tfloor MB\tfloor s\tratio\t")
	for _, m := range results {
		var floorBytes int64
		for _, name := range m.c.files(work) {
			st, err := os.Stat(name)
			if err != nil {
				return err
			}
			floorBytes += st.Size()
		}
		wall, fl := median(m.warm).Seconds(), median(m.floor).Seconds()
		installers := float64(max(m.c.teams, 1))
		rss := fmt.Sprint(m.rssKiB / 1024)
		if m.rssBound {
			rss = "<=" + rss
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.1f\t%s\t%.1f\t%s\t%.1f\t%.2f\t%.2f\t\n",
			m.c.name, m.cold.Seconds(), wall, installers*agentSize/mb/wall, rss,
			float64(m.outSize)/mb, m.c.floor.name, float64(floorBytes)/mb, fl, wall/fl)
	}
	tw.Flush()
	fmt.Println("\nratio = pkgctl wall / floor (1.00: the build costs no more than its compression)")
	fmt.Printf("team rows: %d installers from a warm cache, measured once; wall = all of them, MB/s = %d × agent MB / wall,\n"+
		"peak RSS = the largest run, floor = %d × one floor, on one core (the matrix assembles in parallel on all cores)\n", teams, teams, teams)

	fmt.Printf("bench's own peak RSS: %d MiB; \"<=N\": the build's peak was not above bench's own\n"+
		"peak at the time (Linux carries it into the child), so N only bounds it from above\n", selfRSSKiB()/1024)
	return nil
}

// selfRSSKiB is this process's peak RSS so far.
func selfRSSKiB() int64 {
	var self syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		return 0
	}
	return maxRSSKiB(&self)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// prepareRepo (run in a child process, so that the payload never inflates the parent's
// RSS) writes the TUF repository with the synthetic agent to work/repo and fleet-desktop,
// unpacked from desktop.tar.gz, to work/fleet-desktop.
func prepareRepo(work string) error {
	repo, err := testenv.NewRepo(filepath.Join(work, "repo"))
	if err != nil {
		return err
	}
	if err := testenv.SampleComponentsSized(repo, platform, channel, version, orbitSize, osquerydSize, desktopSize); err != nil {
		return err
	}
	if err := testenv.SampleComponentsSized(repo, "windows", channel, version, orbitSize, osquerydSize, desktopSize); err != nil {
		return err
	}
	if err := repo.Publish(); err != nil {
		return err
	}
	files := floorFiles(work)
	if err := untarExec(files[0], files[1]); err != nil {
		return err
	}
	var total int64
	for _, name := range files[1:] {
		st, err := os.Stat(name)
		if err != nil {
			return err
		}
		total += st.Size()
	}
	if total != agentSize {
		return fmt.Errorf("agent is %d bytes, want %d", total, agentSize)
	}
	return prepareMacOS(repo, work)
}

// prepareMacOS adds the macOS agent to repo (and publishes it) and unpacks the
// executables of its two tarballs beside it, for the pkg floor.
func prepareMacOS(repo *testenv.Repo, work string) error {
	if err := testenv.SampleComponentsSized(repo, "macos", channel, version, orbitSize, osquerydSize, desktopSize); err != nil {
		return err
	}
	if err := repo.Publish(); err != nil {
		return err
	}
	files := macFloorFiles(work)
	if err := untarExec(files[1], files[0]); err != nil {
		return err
	}
	if err := untarExec(files[4], files[3]); err != nil {
		return err
	}
	var total int64
	for _, name := range []string{files[0], files[2], files[3]} {
		st, err := os.Stat(name)
		if err != nil {
			return err
		}
		total += st.Size()
	}
	if total != agentSize {
		return fmt.Errorf("macOS agent is %d bytes, want %d", total, agentSize)
	}
	return nil
}

// untarExec writes the one regular file in the .tar.gz src to dst.
func untarExec(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			return fmt.Errorf("%s: no regular file: %w", src, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
}

// server serves work/repo over mutual TLS with throwaway certificates.
type server struct {
	work, url                                   string
	srv                                         *testenv.Server
	rootJSON                                    []byte
	serverCAFile, clientCertFile, clientKeyFile string
}

func newServer(work string) (*server, error) {
	serverCA, err := testenv.NewCA("pkgctl bench server CA")
	if err != nil {
		return nil, err
	}
	clientCA, err := testenv.NewCA("pkgctl bench client CA")
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := clientCA.IssueClient("pkgctl bench client")
	if err != nil {
		return nil, err
	}
	s := &server{work: work}
	certs := filepath.Join(work, "certs")
	for _, f := range []struct {
		path *string
		name string
		data []byte
	}{
		{&s.serverCAFile, "server-ca.pem", serverCA.CertPEM},
		{&s.clientCertFile, "client.crt", certPEM},
		{&s.clientKeyFile, "client.key", keyPEM},
	} {
		if *f.path, err = testenv.WriteFile(certs, f.name, f.data); err != nil {
			return nil, err
		}
	}
	repoDir := filepath.Join(work, "repo")
	if s.rootJSON, err = os.ReadFile(filepath.Join(repoDir, "root.json")); err != nil {
		return nil, err
	}
	if s.srv, err = testenv.NewServer(http.FileServer(http.Dir(repoDir)), serverCA, clientCA); err != nil {
		return nil, err
	}
	s.url = s.srv.URL
	return s, nil
}

func (s *server) close() { s.srv.Close() }

// msiTarget is a Windows component file in the bench repository.
func msiTarget(work, name, file string) string {
	return filepath.Join(work, "repo", "targets", filepath.FromSlash(testenv.TargetPath(name, "windows", channel, file)))
}

// msiFiles are the component files the msi holds: orbit.exe twice (the TUF
// path and the copy the service runs), osqueryd.exe, fleet-desktop.exe.
func msiFiles(work string) []string {
	orbit := msiTarget(work, "orbit", "orbit.exe")
	return []string{orbit, orbit, msiTarget(work, "osqueryd", "osqueryd.exe"), msiTarget(work, "desktop", "fleet-desktop.exe")}
}

// wixlCommand writes a .wxs installing the msi's component files at the same
// paths and returns the wixl command that builds it.
func wixlCommand(work, dir, out string) ([]string, error) {
	wixl, err := exec.LookPath("wixl")
	if err != nil {
		return nil, errors.New("wixl not found: install the Debian package wixl (or run .ci/deps)")
	}
	comp := func(id, guid, file, name string) string {
		return fmt.Sprintf(`<Component Id="%s" Guid="%s" Win64="yes"><File Id="%s" Source="%s" Name="%s" KeyPath="yes"/></Component>`,
			id, guid, id, file, name)
	}
	// wixl takes sources relative to the .wxs: link the files beside it.
	var files []string
	for i, f := range msiFiles(work) {
		name := fmt.Sprintf("f%d.exe", i)
		os.Remove(filepath.Join(dir, name))
		if err := os.Symlink(f, filepath.Join(dir, name)); err != nil {
			return nil, err
		}
		files = append(files, name)
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
		return nil, err
	}
	return []string{wixl, "-a", "x64", "-o", out, p}, nil
}
