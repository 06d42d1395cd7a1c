// Command dist builds pkgctl's release archives (`make dist`): for every
// target a reproducible binary (CGO_ENABLED=0, -trimpath, empty build id), the
// README, the man pages and the shell completions, in
// pkgctl_<version>_<os>_<arch>.tar.gz (.zip for Windows), plus SHA256SUMS.
// Archives are deterministic: sorted entries, fixed modes and owners, every
// mtime SOURCE_DATE_EPOCH (else the commit time), gzip header without name or time.
//
//	go run ./internal/cmd/dist -version v1.2.3 -commit $(git rev-parse HEAD)
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

const pkg = "github.com/pkgctl/pkgctl/cmd/pkgctl"

// allTargets are the release targets (GOOS/GOARCH). windows/arm64 is not one:
// relic v7.6.2's lib/passprompt (imported by lib/certloader) has no keyring
// file for it and does not compile there (`-targets windows/arm64` shows it).
var allTargets = []string{
	"linux/amd64", "linux/arm64",
	"darwin/amd64", "darwin/arm64",
	"windows/amd64",
}

// completions maps each shell `pkgctl completion` supports to its file in the archive.
var completions = []struct{ shell, name string }{
	{"bash", "completions/pkgctl.bash"},
	{"zsh", "completions/_pkgctl"},
	{"fish", "completions/pkgctl.fish"},
	{"powershell", "completions/pkgctl.ps1"},
}

type config struct {
	version, commit string
	out             string
	targets         []string
	mtime           time.Time
}

// file is one archive entry.
type file struct {
	name string
	mode int64
	data []byte
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dist", flag.ContinueOnError)
	version := fs.String("version", "dev", "version linked in (main.version) and named in the archives")
	commit := fs.String("commit", "", "commit linked in (main.commit)")
	out := fs.String("out", "dist", "output directory")
	targets := fs.String("targets", strings.Join(allTargets, ","), "comma-separated GOOS/GOARCH list; \"host\" for this machine's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	mtime, err := sourceDate()
	if err != nil {
		return err
	}
	cfg := config{version: *version, commit: *commit, out: *out, mtime: mtime}
	for _, t := range strings.Split(*targets, ",") {
		if t == "host" {
			t = runtime.GOOS + "/" + runtime.GOARCH
		}
		cfg.targets = append(cfg.targets, t)
	}
	return build(cfg)
}

var safeVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
var targetRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9]+$`)

// sourceDate is SOURCE_DATE_EPOCH, else the time of the HEAD commit.
func sourceDate() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	name := "SOURCE_DATE_EPOCH"
	if s == "" {
		b, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
		if err != nil {
			return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no commit time (git log): %w", err)
		}
		s, name = strings.TrimSpace(string(b)), "commit time"
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("%s %q is not a Unix time", name, s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func build(cfg config) error {
	if !safeVersion.MatchString(cfg.version) {
		return fmt.Errorf("-version %q: want letters, digits and . _ + -", cfg.version)
	}
	for _, t := range cfg.targets {
		if !targetRE.MatchString(t) {
			return fmt.Errorf("-targets: %q is not GOOS/GOARCH", t)
		}
	}
	root, err := moduleDir()
	if err != nil {
		return err
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return fmt.Errorf("read README: %w", err)
	}
	tmp, err := os.MkdirTemp("", "pkgctl-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	docs, err := generateDocs(cfg, tmp)
	if err != nil {
		return err
	}
	docs = append(docs, file{name: "README.md", mode: 0o644, data: readme})
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return fmt.Errorf("create -out %s: %w", cfg.out, err)
	}
	sums := map[string]string{}
	for _, t := range cfg.targets {
		name, sum, err := buildTarget(cfg, t, tmp, docs)
		if err != nil {
			return err
		}
		sums[name] = sum
		fmt.Fprintln(os.Stderr, "wrote", filepath.Join(cfg.out, name))
	}
	return writeSums(cfg.out, sums)
}

func moduleDir() (string, error) {
	b, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the module directory (go list -m): %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// goBuild builds pkgctl for goos/goarch as a release is built.
func goBuild(cfg config, goos, goarch, out string) error {
	ldflags := fmt.Sprintf("-buildid= -X main.version=%s -X main.commit=%s", cfg.version, cfg.commit)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s/%s: %w", goos, goarch, err)
	}
	return nil
}

// generateDocs runs a host build of pkgctl for the man pages and completions,
// which are the same for every target.
func generateDocs(cfg config, tmp string) ([]file, error) {
	exe := filepath.Join(tmp, "host", "pkgctl")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if err := goBuild(cfg, runtime.GOOS, runtime.GOARCH, exe); err != nil {
		return nil, err
	}
	manDir := filepath.Join(tmp, "man")
	if b, err := exec.Command(exe, "man", "--dir", manDir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pkgctl man: %w: %s", err, b)
	}
	pages, err := filepath.Glob(filepath.Join(manDir, "*.1"))
	if err != nil || len(pages) == 0 {
		return nil, fmt.Errorf("pkgctl man wrote no pages to %s", manDir)
	}
	var files []file
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, file{name: "man/man1/" + filepath.Base(p), mode: 0o644, data: data})
	}
	for _, c := range completions {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(exe, "completion", c.shell)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("pkgctl completion %s: %w: %s", c.shell, err, stderr.Bytes())
		}
		if stdout.Len() == 0 {
			return nil, fmt.Errorf("pkgctl completion %s printed nothing", c.shell)
		}
		files = append(files, file{name: c.name, mode: 0o644, data: stdout.Bytes()})
	}
	return files, nil
}

// buildTarget builds and archives one target, returning the archive's name and SHA-256.
func buildTarget(cfg config, target, tmp string, docs []file) (string, string, error) {
	goos, goarch, _ := strings.Cut(target, "/")
	bin := "pkgctl"
	if goos == "windows" {
		bin += ".exe"
	}
	exe := filepath.Join(tmp, goos+"_"+goarch, bin)
	if err := goBuild(cfg, goos, goarch, exe); err != nil {
		return "", "", err
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		return "", "", err
	}
	files := append([]file{{name: bin, mode: 0o755, data: data}}, docs...)
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })

	var buf bytes.Buffer
	name := fmt.Sprintf("pkgctl_%s_%s_%s", cfg.version, goos, goarch)
	if goos == "windows" {
		name += ".zip"
		err = writeZip(&buf, files, cfg.mtime)
	} else {
		name += ".tar.gz"
		err = writeTarGz(&buf, files, cfg.mtime)
	}
	if err != nil {
		return "", "", fmt.Errorf("archive %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(cfg.out, name), buf.Bytes(), 0o644); err != nil {
		return "", "", fmt.Errorf("write %s: %w", name, err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return name, hex.EncodeToString(sum[:]), nil
}

// dirs lists the parent directories of files, each once, in order of first use.
func dirs(files []file) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		for d := pathDir(f.name); d != ""; d = pathDir(d) {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	sort.Strings(out)
	return out
}

func pathDir(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ""
	}
	return name[:i]
}

func writeTarGz(w io.Writer, files []file, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	// The zero Header: no name, no mtime, OS "unknown".
	tw := tar.NewWriter(gz)
	hdr := func(name string, mode int64, size int64, typ byte) *tar.Header {
		return &tar.Header{Name: name, Mode: mode, Size: size, Typeflag: typ, ModTime: mtime}
	}
	for _, d := range dirs(files) {
		if err := tw.WriteHeader(hdr(d+"/", 0o755, 0, tar.TypeDir)); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(hdr(f.name, f.mode, int64(len(f.data)), tar.TypeReg)); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, files []file, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, d := range dirs(files) {
		h := &zip.FileHeader{Name: d + "/", Modified: mtime}
		h.SetMode(os.ModeDir | 0o755)
		if _, err := zw.CreateHeader(h); err != nil {
			return err
		}
	}
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(os.FileMode(f.mode))
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// writeSums writes SHA256SUMS in the format sha256sum -c reads.
func writeSums(out string, sums map[string]string) error {
	if len(sums) == 0 {
		return errors.New("no targets")
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	if err := os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write SHA256SUMS: %w", err)
	}
	return nil
}
