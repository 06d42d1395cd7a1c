// Command bench (`make bench`) measures how fast and how lean pkgctl builds each
// installer format from a warm cache, on a real agent, against what no build
// can avoid and against peer tools.
//
// The agent is real machine code (see agent.go): orbit and Fleet Desktop are Go
// programs built for each OS, osqueryd is LLVM's shared library (Linux, macOS)
// or Wine's largest PE DLLs (Windows), from Debian packages `make bench`
// installs when missing; tarballs are as Fleet ships them. A child process
// publishes them on a TUF repository served over mutual TLS on 127.0.0.1.
//
// For each format, in the same run, it measures wall time, peak RSS and output
// size of:
//   - pkgctl building one installer (median of -n warm runs), also with
//     GOMAXPROCS=1;
//   - the floors, over exactly the component bytes the installer holds: the
//     compression library and level the format uses, one thread, in a child
//     process; GNU gzip -6 (one core); pigz -6 on every core;
//   - the peers on the same files: nfpm's CLI (deb, rpm, archlinux), wixl (msi);
//   - team matrices of -teams installers (only the Fleet URL and enroll secret
//     differ) from one --config run each.
//
// and prints one table with the ratios. Peak RSS comes from wait4's rusage;
// the parent never holds the payload, so that Linux cannot carry its own
// high-water mark into a child.
package main

import (
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
	"strconv"
	"strings"
	"time"

	"github.com/pkgctl/pkgctl/internal/repodir"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

const (
	mb      = 1_000_000 // sizes are in decimal megabytes
	channel = testenv.StableChannel
	version = testenv.StableVersion
)

// config is the command line.
type config struct {
	n       int
	teams   []int
	formats []string
	keep    bool
	profile string
	trace   bool
}

func main() {
	var c config
	var teams, formats, floorName string
	flag.IntVar(&c.n, "n", 3, "warm runs per single build and floor (median reported)")
	flag.StringVar(&teams, "teams", "1,10,50", "team matrix sizes, comma-separated (empty: none)")
	flag.StringVar(&formats, "formats", strings.Join(formatNames(), ","), "formats to measure, comma-separated")
	flag.BoolVar(&c.keep, "keep", false, "keep the work directory")
	flag.BoolVar(&c.trace, "trace", false, "with -profile: an execution trace of every pkgctl run too")
	flag.StringVar(&c.profile, "profile", "", "write a CPU profile of every pkgctl run into this directory (numbered in run order)")
	flag.IntVar(&osquerydCopies, "osqueryd-copies", 1, "osqueryd is this many copies of its Debian files, one after another (8: a macOS agent of about 1 GB, for the memory target)")
	flag.BoolVar(&rebuildAgent, "rebuild-agent", false, "build the agent's Go programs again (else built once, in the user cache directory)")
	prepare := flag.String("prepare", "", "internal: write the agent and repository to this directory and exit")
	flag.StringVar(&floorName, "floor", "", "internal: compress the files given as arguments with this floor and print the size")
	flag.Parse()
	var err error
	switch {
	case *prepare != "":
		err = prepareRepo(*prepare)
	case floorName != "":
		err = runFloor(floorName, flag.Args())
	default:
		if c.teams, err = parseInts(teams); err == nil {
			c.formats = splitList(formats)
			err = run(c)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("-teams: %q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// bench is the state of one run.
type bench struct {
	config
	work, bin string
	srv       *server
	profiles  int // pkgctl runs profiled so far
	tools     tools
	floors    map[string]result // memoised by tool and files
	rows      []row
}

func run(c config) error {
	if c.n < 1 {
		return errors.New("-n must be at least 1")
	}
	if osquerydCopies < 1 {
		return errors.New("-osqueryd-copies must be at least 1")
	}
	var fmts []format
	for _, name := range c.formats {
		f, ok := formatByName(name)
		if !ok {
			return fmt.Errorf("-formats: unknown format %q (known: %s)", name, strings.Join(formatNames(), ", "))
		}
		fmts = append(fmts, f)
	}
	root, err := repodir.Root()
	if err != nil {
		return err
	}
	if err := checkAgentSources(); err != nil {
		return err
	}
	b := &bench{config: c, floors: map[string]result{}}
	if b.work, err = os.MkdirTemp("", "pkgctl-bench-"); err != nil {
		return err
	}
	if c.keep {
		fmt.Println("work directory (kept):", b.work)
	} else {
		defer os.RemoveAll(b.work)
	}
	if b.tools, err = findTools(); err != nil {
		return err
	}

	fmt.Println("building the agent (pkgctl and the demo for each OS, osqueryd from Debian files) and its TUF repository ...")
	self, err := os.Executable()
	if err != nil {
		return err
	}
	prep := exec.Command(self, fmt.Sprintf("-osqueryd-copies=%d", osquerydCopies), "-prepare", b.work)
	if rebuildAgent {
		prep.Args = append(prep.Args[:1], append([]string{"-rebuild-agent"}, prep.Args[1:]...)...)
	}
	if err := runQuiet(prep); err != nil {
		return fmt.Errorf("prepare repository: %w", err)
	}
	if b.srv, err = newServer(b.work); err != nil {
		return err
	}
	defer b.srv.close()
	b.bin = filepath.Join(b.work, "pkgctl")
	build := exec.Command("go", "build", "-o", b.bin, "./cmd/pkgctl")
	build.Dir = root
	if err := runQuiet(build); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	for _, f := range fmts {
		if err := b.measureFormat(f); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	b.report(fmts)
	return nil
}

// checkAgentSources says which Debian package to install when a file of the
// agent is missing (make bench installs them).
func checkAgentSources() error {
	for _, srcs := range osquerydSources {
		for _, s := range srcs {
			if _, err := os.Stat(s.path); err != nil {
				return fmt.Errorf("%s missing: install the Debian package %s (make bench does: .ci/deps %s)", s.path, s.pkg, strings.Join(debianPackages(), " "))
			}
		}
	}
	return nil
}

// result is one measured process (or the median of several runs).
type result struct {
	wall   time.Duration
	cpu    time.Duration // user + system time of the process and its children
	rssKiB int64
	out    int64 // output bytes
}

// row is one line of the table.
type row struct {
	format, what string
	res          result
	// base names the row this one's wall is compared with besides the floor
	// (matrix rows: the one-team matrix).
	base  *result
	floor bool
	note  string
}

// measureFormat fills the rows of one format.
func (b *bench) measureFormat(f format) error {
	dir := filepath.Join(b.work, f.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := f.files(b.work)
	var holds int64
	for _, name := range files {
		st, err := os.Stat(name)
		if err != nil {
			return err
		}
		holds += st.Size()
	}
	fmt.Printf("%s: the installer holds %.1f MB of component files\n", f.name, float64(holds)/mb)

	out := filepath.Join(dir, "single"+f.ext)
	args := b.pkgctlArgs(f, dir)
	single := append([]string{b.bin}, append(args, "--fleet-url=https://fleet.example.com", "--enroll-secret=bench", "--outfile="+out)...)
	// Cold run: fills the cache (shared by every format of the OS).
	if _, err := b.exec(single, nil, nil); err != nil {
		return err
	}
	if err := b.repeat(f.name, "pkgctl", single, nil, out, ""); err != nil {
		return err
	}
	if f.ownWriter {
		if err := b.repeat(f.name, "pkgctl GOMAXPROCS=1", single, []string{"GOMAXPROCS=1"}, out, ""); err != nil {
			return err
		}
	}
	for _, fl := range []struct {
		what string
		cmd  []string
	}{
		{f.floor + ", 1 thread (floor)", append([]string{b.tools.self, "-floor", f.floor}, files...)},
		{"gzip -6, 1 core", append([]string{b.tools.gzip, "-6", "-c", "-f"}, files...)},
		{fmt.Sprintf("pigz -6, %d cores", runtime.NumCPU()), append([]string{b.tools.pigz, "-6", "-c", "-f", "-p", strconv.Itoa(runtime.NumCPU())}, files...)},
	} {
		key := strings.Join(fl.cmd, "\x00")
		res, ok := b.floors[key]
		if !ok {
			var err error
			if res, err = b.median(fl.cmd, nil, ""); err != nil {
				return err
			}
			b.floors[key] = res
		}
		fmt.Printf("%s: %s: %.2f s (CPU %.2f s)\n", f.name, fl.what, res.wall.Seconds(), res.cpu.Seconds())
		b.rows = append(b.rows, row{format: f.name, what: fl.what, res: res, floor: true})
	}
	if f.peer != nil {
		peerOut := filepath.Join(dir, "peer"+f.ext)
		what, cmd, err := f.peer(b, dir, peerOut)
		if err != nil {
			return err
		}
		if _, err := b.exec(cmd, nil, nil); err != nil { // warm the page cache and the tool
			return err
		}
		if err := b.repeat(f.name, what, cmd, nil, peerOut, ""); err != nil {
			return err
		}
	}
	var one *result
	for _, n := range b.teams {
		res, err := b.matrix(f, dir, args, n)
		if err != nil {
			return err
		}
		fmt.Printf("%s: matrix of %d: %.2f s, peak RSS %d MiB\n", f.name, n, res.wall.Seconds(), res.rssKiB/1024)
		r := row{format: f.name, what: fmt.Sprintf("matrix of %d (one --config run)", n), res: res, base: one}
		if n == 1 {
			one = &r.res
			r.base = nil
		}
		b.rows = append(b.rows, r)
	}
	return nil
}

// pkgctlArgs are the flags every pkgctl build of f shares.
func (b *bench) pkgctlArgs(f format, dir string) []string {
	return append([]string{"package"}, append(slices.Clone(f.args),
		"--update-url="+b.srv.url, "--update-roots="+string(b.srv.rootJSON),
		"--update-tls-certificate="+b.srv.serverCAFile,
		"--update-tls-client-certificate="+b.srv.clientCertFile, "--update-tls-client-key="+b.srv.clientKeyFile,
		"--fleet-desktop", "--cache-dir="+filepath.Join(b.work, "cache"))...)
}

// repeat runs cmd -n times and adds the median row; out, when set, is the file
// whose size is the output size (else the process's stdout is counted).
func (b *bench) repeat(format, what string, cmd, env []string, out, note string) error {
	res, err := b.median(cmd, env, out)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s: %.2f s (CPU %.2f s), peak RSS %d MiB\n", format, what, res.wall.Seconds(), res.cpu.Seconds(), res.rssKiB/1024)
	b.rows = append(b.rows, row{format: format, what: what, res: res, note: note})
	return nil
}

// median runs cmd -n times: median wall, largest peak RSS, last output size.
func (b *bench) median(cmd, env []string, out string) (result, error) {
	var walls, cpus []time.Duration
	var res result
	for range b.n {
		var cw countWriter
		r, err := b.exec(cmd, env, &cw)
		if err != nil {
			return res, err
		}
		walls = append(walls, r.wall)
		cpus = append(cpus, r.cpu)
		res.rssKiB = max(res.rssKiB, r.rssKiB)
		res.out = cw.n
		if out != "" {
			st, err := os.Stat(out)
			if err != nil {
				return res, err
			}
			res.out = st.Size()
		}
	}
	res.wall, res.cpu = median(walls), median(cpus)
	return res, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// matrix builds n team installers of f from one --config run.
func (b *bench) matrix(f format, dir string, args []string, n int) (result, error) {
	mdir := filepath.Join(dir, fmt.Sprintf("matrix-%d", n))
	if err := os.MkdirAll(mdir, 0o755); err != nil {
		return result{}, err
	}
	defer os.RemoveAll(mdir) // 50 installers are gigabytes
	var cfg strings.Builder
	var env []string
	cfg.WriteString("builds:\n")
	var outs []string
	for i := range n {
		out := filepath.Join(mdir, fmt.Sprintf("team-%02d%s", i, f.ext))
		outs = append(outs, out)
		fmt.Fprintf(&cfg, "  - {name: team-%02d, fleet-url: \"https://team-%02d.example.com\", enroll-secret-env: TEAM_%02d_SECRET, outfile: %q}\n", i, i, i, out)
		env = append(env, fmt.Sprintf("TEAM_%02d_SECRET=bench-secret-%02d", i, i))
	}
	cfgFile := filepath.Join(mdir, "pkgctl.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o644); err != nil {
		return result{}, err
	}
	// --config verifies every output by default (pkgctl verify's checks: an
	// inflate and a hash of each installer); the single build does not, so
	// neither do the matrices here.
	res, err := b.exec(append([]string{b.bin}, append(slices.Clone(args), "--config="+cfgFile, "--verify=false")...), env, nil)
	if err != nil {
		return res, err
	}
	for _, o := range outs {
		st, err := os.Stat(o)
		if err != nil {
			return res, err
		}
		res.out += st.Size()
	}
	return res, nil
}

// exec runs one process with SOURCE_DATE_EPOCH=0 and env, its stdout to
// stdout (nil: discarded), and returns its wall time and peak RSS.
func (b *bench) exec(args, env []string, stdout io.Writer) (result, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(append(os.Environ(), "SOURCE_DATE_EPOCH=0"), env...)
	if b.profile != "" && args[0] == b.bin {
		b.profiles++
		name := filepath.Join(b.profile, fmt.Sprintf("%02d.pprof", b.profiles))
		fmt.Printf("  (CPU profile %s: %s)\n", name, strings.Join(args[1:min(len(args), 4)], " "))
		cmd.Env = append(cmd.Env, "PKGCTL_CPUPROFILE="+name)
		if b.trace {
			cmd.Env = append(cmd.Env, "PKGCTL_TRACE="+strings.TrimSuffix(name, ".pprof")+".trace")
		}
	}
	if stdout == nil {
		stdout = io.Discard
	}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if name, ok := strings.CutPrefix(cmd.Env[len(cmd.Env)-1], "PKGCTL_TRACE="); ok {
		defer func() { os.WriteFile(strings.TrimSuffix(name, ".trace")+".stderr", []byte(stderr.String()), 0o644) }()
	}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", filepath.Base(args[0]), err, stderr.String())
	}
	return result{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		rssKiB: maxRSSKiB(cmd.ProcessState.SysUsage())}, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// runQuiet runs cmd and shows its output only when it fails.
func runQuiet(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
	}
	return err
}

// server serves work/repo over mutual TLS with throwaway certificates.
type server struct {
	url                                         string
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
	s := &server{}
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
