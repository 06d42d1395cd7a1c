// Package e2e tests pkgctl from the outside: a pkgctl binary built once per run
// fetches the agent from a real TUF repository (internal/testenv) served by real
// nginx with ssl_verify_client on, and Debian's own tools (dpkg-deb, dpkg,
// lintian, rpm, rpmlint, bsdtar) check and install what it writes.
//
// A missing tool fails the test with the Debian package to install; nothing is
// skipped. `.ci/deps` installs them all.
package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// sourceDateEpoch is SOURCE_DATE_EPOCH for every build: 2023-11-14T22:13:20Z.
const sourceDateEpoch = 1700000000

var (
	// pkgctlBin is the pkgctl binary built by TestMain.
	pkgctlBin string
	// workDir holds the binary and the shared environment; removed after the run.
	workDir string
)

func TestMain(m *testing.M) {
	code, err := testMain(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		code = 1
	}
	os.Exit(code)
}

func testMain(m *testing.M) (int, error) {
	var err error
	if workDir, err = os.MkdirTemp("", "pkgctl-e2e-"); err != nil {
		return 1, err
	}
	defer os.RemoveAll(workDir)
	if pkgctlBin, err = buildPkgctl(workDir); err != nil {
		return 1, err
	}
	// Fails the run if anything under /etc, /opt or /usr changed: the
	// installers' payloads must never land in the machine's own /.
	code := testenv.MainUntouched(m)
	closeShared()
	return code, nil
}

// buildPkgctl builds ./cmd/pkgctl into dir, as a user would run it.
func buildPkgctl(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "pkgctl")
	cmd := exec.Command(goBin, "build", "-ldflags", "-X main.version=e2e", "-o", bin, "./cmd/pkgctl")
	cmd.Dir = ".." // the module root; go test runs in the package directory
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/pkgctl: %v\n%s", err, out)
	}
	return bin, nil
}

// shared is the environment of the happy paths and of the tests that do not
// change the repository: one TUF repository with stable (1.2.3) and edge
// (1.3.0) components, behind nginx and behind the Go mTLS server.
type sharedEnv struct {
	Env   *testenv.Env
	Nginx *testenv.Nginx

	// Files for the Fleet server flags (a CA of their own, unrelated to TUF).
	FleetCAFile, FleetClientCertFile, FleetClientKeyFile string
	FleetCAPEM, FleetClientCertPEM, FleetClientKeyPEM    []byte
	FlagfilePath                                         string
	FlagfileData                                         []byte
	EnrollSecret                                         string
}

var (
	sharedOnce sync.Once
	shared     *sharedEnv
	sharedErr  error
)

// getShared returns the shared environment, creating it on first use.
func getShared(t *testing.T) *sharedEnv {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = newShared(filepath.Join(workDir, "shared")) })
	if sharedErr != nil {
		t.Fatalf("shared environment: %v", sharedErr)
	}
	return shared
}

func newShared(dir string) (*sharedEnv, error) {
	env, err := testenv.New(dir)
	if err != nil {
		return nil, err
	}
	s := &sharedEnv{Env: env, EnrollSecret: "e2e-Enr0ll-S3cret-" + fmt.Sprint(time.Now().UnixNano())}
	registerSecret([]byte(s.EnrollSecret))
	registerSecret(env.ClientKeyPEM)
	if s.Nginx, err = env.StartNginx(); err != nil {
		env.Close()
		return nil, fmt.Errorf("%w (nginx comes from the Debian package nginx)", err)
	}
	fleetCA, err := testenv.NewCA("e2e Fleet server CA")
	if err != nil {
		return nil, err
	}
	s.FleetCAPEM = fleetCA.CertPEM
	if s.FleetClientCertPEM, s.FleetClientKeyPEM, err = fleetCA.IssueClient("e2e fleet client"); err != nil {
		return nil, err
	}
	registerSecret(s.FleetClientKeyPEM)
	s.FlagfileData = []byte("--verbose=true\n--host_identifier=instance\n")
	for _, f := range []struct {
		dst  *string
		name string
		data []byte
	}{
		{&s.FleetCAFile, "fleet-ca.pem", s.FleetCAPEM},
		{&s.FleetClientCertFile, "fleet-client.crt", s.FleetClientCertPEM},
		{&s.FleetClientKeyFile, "fleet-client.key", s.FleetClientKeyPEM},
		{&s.FlagfilePath, "osquery.flags", s.FlagfileData},
	} {
		if *f.dst, err = testenv.WriteFile(dir, f.name, f.data); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func closeShared() {
	if shared != nil {
		shared.Env.Close()
	}
}

// updateArgs are the TUF flags for env's repository served at url.
func updateArgs(env *testenv.Env, url string) []string {
	return []string{
		"--update-url=" + url,
		"--update-roots=" + string(env.RootJSON),
		"--update-tls-certificate=" + env.ServerCAFile,
		"--update-tls-client-certificate=" + env.ClientCertFile,
		"--update-tls-client-key=" + env.ClientKeyFile,
	}
}

// needTool fails the test when a command is missing, naming the Debian package.
func needTool(t *testing.T, tool, debianPackage string) string {
	t.Helper()
	return testenv.NeedTool(t, tool, debianPackage)
}

// tool runs an external checker and returns its combined output; a non-zero
// exit fails the test unless allowFail.
func tool(t *testing.T, allowFail bool, name string, args ...string) (string, error) {
	t.Helper()
	cmd := testenv.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil && !allowFail {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), err
}

// --- secrets ---------------------------------------------------------------

var (
	secretsMu sync.Mutex
	secrets   [][]byte // byte strings that must never appear in pkgctl's output
)

// registerSecret adds a value that no run may print. For a PEM private key it
// registers the whole PEM, each line of its base64 body and its DER bytes.
func registerSecret(v []byte) {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	secrets = append(secrets, bytes.Clone(v))
	if block, _ := pem.Decode(v); block != nil {
		secrets = append(secrets, block.Bytes)
		body := base64.StdEncoding.EncodeToString(block.Bytes)
		for len(body) > 0 {
			n := min(len(body), 64)
			if n >= 16 {
				secrets = append(secrets, []byte(body[:n]))
			}
			body = body[n:]
		}
	}
}

// assertNoSecrets fails if any registered secret appears in out.
func assertNoSecrets(t *testing.T, what string, out []byte) {
	t.Helper()
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, s := range secrets {
		if len(s) > 0 && bytes.Contains(out, s) {
			t.Errorf("%s contains secret material (%d bytes starting %q...)", what, len(s), s[:min(len(s), 6)])
		}
	}
}

// --- running pkgctl ---------------------------------------------------------

// runResult is one pkgctl run.
type runResult struct {
	Code           int
	Stdout, Stderr string
	OutDir         string // fresh output directory of the run
	Outfile        string // --outfile (inside OutDir)
}

// runPkgctl runs the pkgctl binary with args (plus --outfile=<fresh dir>/<outName>
// when outName != ""), SOURCE_DATE_EPOCH and a private TMPDIR. For every run it
// checks: no secret in stdout or stderr, no panic, and that pkgctl left nothing
// in its TMPDIR (generated keys and the secret are staged there).
func runPkgctl(t *testing.T, outName string, args ...string) runResult {
	t.Helper()
	return runPkgctlEnv(t, nil, outName, args...)
}

// runPkgctlEnv is runPkgctl with extra environment variables (NAME=value) added
// after the filtered environment, which drops FLEETCTL_* and PKGCTL_*.
func runPkgctlEnv(t *testing.T, extra []string, outName string, args ...string) runResult {
	t.Helper()
	dir := t.TempDir()
	var out string
	if outName != "" {
		out = filepath.Join(dir, outName)
		args = append(args, "--outfile="+out)
	}
	r := runIn(t, dir, extra, args...)
	r.OutDir, r.Outfile = dir, out
	return r
}

// runIn runs pkgctl in dir with SOURCE_DATE_EPOCH, a private TMPDIR and HOME, and
// extra environment variables (NAME=value), then checks what every run must
// hold: no secret in stdout or stderr, no panic, nothing left in its TMPDIR.
func runIn(t *testing.T, dir string, extra []string, args ...string) runResult {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(pkgctlBin, args...)
	cmd.Dir = dir
	cmd.Env = append(filteredEnv(),
		fmt.Sprintf("SOURCE_DATE_EPOCH=%d", sourceDateEpoch),
		"TMPDIR="+tmp,
		"XDG_CACHE_HOME="+filepath.Join(tmp, "xdg-cache"), // in case a run forgets --cache-dir
		"HOME="+tmp,
	)
	cmd.Env = append(cmd.Env, extra...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	r := runResult{OutDir: dir}
	installers := installerStamps(t, dir)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("run pkgctl: %v", err)
	}
	r.Stdout, r.Stderr = so.String(), se.String()
	assertNoSecrets(t, "stdout", so.Bytes())
	assertNoSecrets(t, "stderr", se.Bytes())
	if strings.Contains(r.Stderr, "panic:") || strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("pkgctl panicked:\n%s", r.Stderr)
	}
	if left := listDir(t, tmp, "xdg-cache"); len(left) > 0 {
		t.Errorf("pkgctl left %v in its TMPDIR", left)
	}
	if r.Code == 0 {
		checkNewInstallers(t, dir, installers)
	}
	if len(args) > 0 && args[0] == "package" && r.Code == 0 {
		verifyInstallers(t, dir)
	}
	return r
}

// verifyInstallers runs `pkgctl verify` on every installer under dir: each
// installer a test builds must be sound by pkgctl's own checks too.
func verifyInstallers(t *testing.T, dir string) {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			for _, ext := range []string{".deb", ".rpm", ".pkg.tar.zst", ".pkg", ".msi"} {
				if strings.HasSuffix(p, ext) {
					found = append(found, p)
				}
			}
		}
		return nil
	})
	for _, p := range found {
		if v := runIn(t, dir, nil, "verify", p); v.Code != 0 {
			t.Errorf("pkgctl verify %s: exit %d\n%s%s", filepath.Base(p), v.Code, v.Stdout, v.Stderr)
		}
	}
}

// filteredEnv is the test's environment without the variables that change what
// pkgctl does (FLEETCTL_*, PKGCTL_*, SOURCE_DATE_EPOCH, proxies).
func filteredEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "FLEETCTL_"), strings.HasPrefix(k, "PKGCTL_"),
			k == "SOURCE_DATE_EPOCH", k == "TMPDIR", k == "HOME", k == "XDG_CACHE_HOME",
			strings.EqualFold(k, "https_proxy"), strings.EqualFold(k, "http_proxy"), strings.EqualFold(k, "all_proxy"):
			continue
		}
		out = append(out, kv)
	}
	return append(out, "NO_PROXY=*")
}

// listDir returns the names in dir, except skip.
func listDir(t *testing.T, dir string, skip ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !contains(skip, e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mustSucceed checks a run that must build r.Outfile: exit 0, the success
// message naming the file, and nothing else in the output directory.
func mustSucceed(t *testing.T, r runResult) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("pkgctl exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "Success! You generated fleetd at "+r.Outfile) {
		t.Errorf("stdout does not name the output file %s:\n%s", r.Outfile, r.Stdout)
	}
	if st, err := os.Stat(r.Outfile); err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
		t.Fatalf("output file %s: %v", r.Outfile, err)
	}
	if left := listDir(t, r.OutDir, filepath.Base(r.Outfile)); len(left) > 0 {
		t.Errorf("output directory holds more than the installer: %v", left)
	}
}

// mustFail checks a run that must fail: exit != 0, an "Error:" line on stderr
// holding every one of want (case-insensitive), and no file at all in the
// output directory (neither the installer nor a temporary file).
func mustFail(t *testing.T, r runResult, want ...string) {
	t.Helper()
	if r.Code == 0 {
		t.Fatalf("pkgctl succeeded, want failure\nstdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "Error:") {
		t.Errorf("stderr has no Error: line:\n%s", r.Stderr)
	}
	low := strings.ToLower(r.Stderr)
	for _, w := range want {
		if !strings.Contains(low, strings.ToLower(w)) {
			t.Errorf("stderr does not mention %q:\n%s", w, r.Stderr)
		}
	}
	if strings.Contains(r.Stdout, "Success!") {
		t.Errorf("stdout claims success:\n%s", r.Stdout)
	}
	if left := listDir(t, r.OutDir); len(left) > 0 {
		t.Errorf("failed run left %v in the output directory", left)
	}
}

// writeFile writes data to dir/name (0600, as key files are) and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p, err := testenv.WriteFile(dir, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
