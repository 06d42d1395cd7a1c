// Command demo (`make demo`) builds every installer format pkgctl knows, offline, the way a
// user would: it builds the pkgctl binary, makes throwaway certificates, creates a TUF
// repository under demo/tuf with `pkgctl updates init`, publishes sample agent components
// with `pkgctl updates add`, serves demo/tuf/repository over mutual TLS on 127.0.0.1 and
// runs `pkgctl package` for each format with `pkgctl updates roots` as --update-roots,
// printing each command line.
// Formats that pkgctl reports as "not supported yet" are listed as skipped; any other
// failure makes the demo exit non-zero.
//
// It needs only Go: no root, no apt, no Debian tool (those check installers in
// `make test`). The repository is served by Go's own TLS server. Afterwards
// `go run ./internal/cmd/demo serve` (`make demo-serve`) serves it again on a fixed
// address, and the demo prints a build command to run against it.
//
// Flags: -dir DIR puts demo/ under DIR instead of the repository root; -only TYPE
// runs only the builds of that --type.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/pkgctl/pkgctl/internal/repodir"
	"github.com/pkgctl/pkgctl/internal/testenv"
)

// build is one `pkgctl package` run. With an outfile it runs from the repository root with
// --outfile=demo/out/<outfile>; without, it runs in demo/out and keeps pkgctl's default name.
type build struct {
	typ, arch, outfile string
	sign               bool // pkg: sign with the demo Developer ID Installer PEM
}

var builds = []build{
	{"deb", "amd64", "fleet-osquery-amd64.deb", false},
	{"deb", "arm64", "", false},
	{"rpm", "amd64", "fleet-osquery-amd64.rpm", false},
	{"rpm", "arm64", "", false},
	{"pkg.tar.zst", "amd64", "", false},
	{"pkg", "", "fleet-osquery.pkg", false}, // --arch is not allowed with --type=pkg
	{"pkg", "", "fleet-osquery-signed.pkg", true},
	{"msi", "amd64", "fleet-osquery-amd64.msi", false},
	{"msi", "arm64", "", false},
}

// result is the outcome of one build, for the final table.
type result struct {
	build
	status string // "ok", "skipped: not supported yet" or "FAILED ..."
	files  []string
}

func main() { os.Exit(run(os.Args[1:])) }

func run(argv []string) int {
	if len(argv) > 0 && argv[0] == "serve" {
		return serve(argv[1:])
	}
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	base := fs.String("dir", "", "directory to create demo/ in (default: the repository root)")
	only := fs.String("only", "", "run only the builds of this --type")
	if err := fs.Parse(argv); err != nil {
		return 2
	}
	root, err := repodir.Root()
	if err != nil {
		return fail(err)
	}
	if *base == "" {
		*base = root
	}
	if err := os.Chdir(*base); err != nil {
		return fail(err)
	}
	fmt.Println("== pkgctl demo: everything lives in demo/ (removed first) ==")
	if err := os.RemoveAll("demo"); err != nil {
		return fail(err)
	}

	if err := os.MkdirAll("demo/out", 0o755); err != nil {
		return fail(err)
	}
	bin, err := filepath.Abs("demo/bin/pkgctl")
	if err != nil {
		return fail(err)
	}
	// CGO_ENABLED=0: pkgctl is pure Go, and a machine with only Go has no C compiler.
	goEnv := append(os.Environ(), "CGO_ENABLED=0")
	if err := runCmd(root, []arg{{v: "go", show: "CGO_ENABLED=0 go"}, {v: "build"}, {v: "-o"}, {v: bin, show: "demo/bin/pkgctl"}, {v: "./cmd/pkgctl"}}, goEnv, os.Stdout); err != nil {
		return fail(err)
	}

	// Throwaway PKI, then the TUF repository made with `pkgctl updates`, served with mTLS.
	env, err := newServerFiles("demo/env")
	if err != nil {
		return fail(err)
	}
	if err := makeRepository(env); err != nil {
		return fail(err)
	}
	srv, err := testenv.NewServer(http.FileServer(http.Dir(filepath.Join(tufDir, "repository"))), env.serverCA, env.clientCA)
	if err != nil {
		return fail(err)
	}
	defer srv.Close()
	env.url = srv.URL
	files, err := fleetFiles(env)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("\nTUF repository %s/repository (orbit, osqueryd, desktop for every platform), served with mTLS at %s\n", tufDir, env.url)

	epoch := sourceDateEpoch(root)
	fmt.Printf("\nSOURCE_DATE_EPOCH=%s (reproducible output)\n", epoch)
	cmdEnv := append(os.Environ(), "SOURCE_DATE_EPOCH="+epoch)

	var results []result
	failed := false
	for _, b := range builds {
		if *only != "" && b.typ != *only {
			continue
		}
		r := runBuild(b, env, files, cmdEnv)
		if strings.HasPrefix(r.status, "FAILED") {
			failed = true
		}
		results = append(results, r)
	}
	printTable(results)
	if failed {
		fmt.Println("\ndemo FAILED: a supported format did not build")
		return 1
	}
	fmt.Println("\ndemo OK")
	printRerun(env, files)
	return 0
}

// printRerun tells how to keep experimenting: serve the repository again on a
// fixed address and run one build against it.
func printRerun(env *serverFiles, f demoFiles) {
	fmt.Println("\n== Keep experimenting ==")
	fmt.Printf("Serve demo/tuf again (Go's TLS server, client certificates required; Ctrl-C stops it):\n\n    go run ./internal/cmd/demo serve    # or: make demo-serve; listens on %s\n", serveAddr)
	fmt.Println("\nthen, in another terminal at the same directory, rebuild one installer against it:")
	env.url = "https://" + serveAddr
	dir, args := buildArgs(builds[0], env, f)
	printCmd(dir, args)
}

// demoFiles are the inputs a Fleet administrator would have on disk.
type demoFiles struct {
	rootJSON, enrollSecret, fleetCA, fleetCert, fleetKey string
	devIDPEM                                             string // Developer ID Installer certificate + RSA key (pkg signing)
}

// fleetFiles writes the TUF roots, an enroll secret and a throwaway Fleet server CA and
// Fleet client certificate beside the TUF certificates in demo/env.
func fleetFiles(env *serverFiles) (f demoFiles, err error) {
	dir := env.dir
	fleetCA, err := testenv.NewCA("pkgctl demo Fleet server CA")
	if err != nil {
		return f, err
	}
	fleetClientCA, err := testenv.NewCA("pkgctl demo Fleet client CA")
	if err != nil {
		return f, err
	}
	cert, key, err := fleetClientCA.IssueClient("pkgctl demo host")
	if err != nil {
		return f, err
	}
	devIDCA, err := testenv.NewCA("pkgctl demo Developer ID CA")
	if err != nil {
		return f, err
	}
	devIDCert, devIDKey, err := devIDCA.IssueCodeSigning("Developer ID Installer: pkgctl demo (TESTTEAMID)")
	if err != nil {
		return f, err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails
	for _, w := range []struct {
		path *string
		name string
		data []byte
	}{
		{&f.rootJSON, "root.json", env.rootJSON},
		{&f.enrollSecret, "enroll-secret", []byte(hex.EncodeToString(secret))},
		{&f.fleetCA, "fleet-ca.pem", fleetCA.CertPEM},
		{&f.fleetCert, "fleet-client.crt", cert},
		{&f.fleetKey, "fleet-client.key", key},
		{&f.devIDPEM, "devid-installer.pem", append(append(devIDCert, devIDCA.CertPEM...), devIDKey...)},
	} {
		if *w.path, err = testenv.WriteFile(dir, w.name, w.data); err != nil {
			return f, err
		}
	}
	return f, nil
}

// arg is one command-line argument: v is passed to the program, show (if set) is printed
// instead, so that secrets appear only as the file that holds them.
type arg struct{ v, show string }

// runBuild runs `pkgctl package` for b and classifies the outcome.
func runBuild(b build, env *serverFiles, f demoFiles, cmdEnv []string) result {
	r := result{build: b}
	dir, args := buildArgs(b, env, f)

	before, _ := os.ReadDir("demo/out")
	var out bytes.Buffer
	err := runCmd(dir, args, cmdEnv, io.MultiWriter(os.Stdout, &out))
	switch {
	case err == nil:
		r.status = "ok"
	case strings.Contains(out.String(), "not supported yet"):
		r.status = "skipped: not supported yet"
	default:
		r.status = "FAILED (" + err.Error() + ")"
	}
	after, _ := os.ReadDir("demo/out")
	for _, e := range after {
		if !slices.ContainsFunc(before, func(x os.DirEntry) bool { return x.Name() == e.Name() }) && !strings.HasPrefix(e.Name(), ".") {
			r.files = append(r.files, filepath.Join("demo/out", e.Name()))
		}
	}
	if r.status == "ok" && len(r.files) == 0 {
		r.status = "FAILED (no new file in demo/out)"
	}
	return r
}

// buildArgs is the `pkgctl package` command line of b and the directory it runs in.
func buildArgs(b build, env *serverFiles, f demoFiles) (string, []arg) {
	dir := "."
	if b.outfile == "" {
		dir = "demo/out"
	}
	// rel makes a repository-relative path relative to the directory the command runs in.
	rel := func(p string) string {
		s, err := filepath.Rel(dir, p)
		if err != nil {
			return p
		}
		return s
	}
	readFile := func(p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			panic(err) // written by fleetFiles a moment ago
		}
		return string(data)
	}
	flag := func(name, value string) arg { return arg{v: "--" + name + "=" + value} }
	fromFile := func(name, path string) arg {
		return arg{v: "--" + name + "=" + readFile(path), show: fmt.Sprintf(`--%s="$(cat %s)"`, name, rel(path))}
	}
	args := []arg{{v: rel("demo/bin/pkgctl")}, {v: "package"}, flag("type", b.typ)}
	if b.arch != "" {
		args = append(args, flag("arch", b.arch))
	}
	args = append(args,
		flag("fleet-url", "https://fleet.example.com"),
		fromFile("enroll-secret", f.enrollSecret),
		flag("fleet-certificate", rel(f.fleetCA)),
		flag("fleet-tls-client-certificate", rel(f.fleetCert)),
		flag("fleet-tls-client-key", rel(f.fleetKey)),
		flag("update-url", env.url),
		// The roots are what `pkgctl updates roots` printed (also kept in demo/env/root.json).
		arg{v: "--update-roots=" + readFile(f.rootJSON), show: fmt.Sprintf(`--update-roots="$(%s updates roots --path=%s)"`, rel("demo/bin/pkgctl"), rel(tufDir))},
		flag("update-tls-certificate", rel(env.serverCAFile)),
		flag("update-tls-client-certificate", rel(env.clientCertFile)),
		flag("update-tls-client-key", rel(env.clientKeyFile)),
		arg{v: "--fleet-desktop"},
		flag("fleet-desktop-alternative-browser-host", "fleet-desktop.example.com"),
		flag("cache-dir", rel("demo/cache")),
	)
	if b.sign {
		// The demo runs offline: no time stamp from Apple's server.
		args = append(args, flag("macos-devid-pem", rel(f.devIDPEM)), flag("macos-sign-timestamp-url", "none"))
	}
	if b.outfile != "" {
		args = append(args, flag("outfile", "demo/out/"+b.outfile))
	}
	return dir, args
}

// runCmd prints the command as a user would type it, then runs it in dir with its
// output to w.
func runCmd(dir string, args []arg, env []string, w io.Writer) error {
	printCmd(dir, args)
	return execCmd(dir, args, env, w)
}

// printCmd prints the command as a user would type it.
func printCmd(dir string, args []arg) {
	var line strings.Builder
	line.WriteString("\n$ ")
	sub := dir != "." && !filepath.IsAbs(dir) // the go build runs in the module root: not shown
	if sub {
		fmt.Fprintf(&line, "(cd %s && ", dir)
	}
	for i, a := range args {
		if i > 0 {
			if strings.HasPrefix(a.v, "--") {
				line.WriteString(" \\\n    ")
			} else {
				line.WriteString(" ")
			}
		}
		if a.show != "" {
			line.WriteString(a.show)
		} else {
			line.WriteString(shellQuote(a.v))
		}
	}
	if sub {
		line.WriteString(")")
	}
	fmt.Println(line.String())
}

// execCmd runs the command in dir with its output to w.
func execCmd(dir string, args []arg, env []string, w io.Writer) error {
	argv := make([]string, len(args))
	for i, a := range args {
		argv[i] = a.v
	}
	cmd := exec.Command(argv[0], argv[1:]...) // a relative program path is taken relative to cmd.Dir
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = w
	cmd.Stderr = w
	return cmd.Run()
}

var plainArg = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if plainArg.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func printTable(results []result) {
	fmt.Println("\n== Results ==")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "type\tarch\tfile\tsize\tsha256")
	for _, r := range results {
		arch := r.arch
		if arch == "" {
			arch = "-"
		}
		if r.status != "ok" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\n", r.typ, arch, r.status)
			continue
		}
		for _, p := range r.files {
			size, sum, err := hashFile(p)
			if err != nil {
				fmt.Fprintf(tw, "%s\t%s\t%s\t\t%v\n", r.typ, arch, p, err)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.typ, arch, p, size, sum)
		}
	}
	tw.Flush()
}

func hashFile(p string) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// sourceDateEpoch is $SOURCE_DATE_EPOCH if set, else the last commit's time of the
// repository at root, else 0 (git is optional).
func sourceDateEpoch(root string) string {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		return v
	}
	cmd := exec.Command("git", "log", "-1", "--format=%ct")
	cmd.Dir = root
	out, err := cmd.Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "0"
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "demo:", err)
	return 1
}
