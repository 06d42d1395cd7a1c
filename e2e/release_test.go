package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

// releaseEnv is a private TUF repository (its Go server counts requests) and
// the two teams' secrets.
type releaseEnv struct {
	env              *testenv.Env
	secretA, secretB string
}

func newReleaseEnv(t *testing.T) *releaseEnv {
	t.Helper()
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	registerSecret(env.ClientKeyPEM)
	r := &releaseEnv{env: env, secretA: "team-A-s3cret-" + t.Name(), secretB: "team-B-s3cret-" + t.Name()}
	registerSecret([]byte(r.secretA))
	registerSecret([]byte(r.secretB))
	return r
}

// config is a pkgctl.yaml for two teams × deb, rpm (arm64) and pkg.tar.zst,
// outputs in out/, no cache (so every download shows on the server).
func (r *releaseEnv) config(extraBuild string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "update-url: %s\n", r.env.Server.URL)
	b.WriteString("update-roots: |\n")
	for _, line := range strings.Split(strings.TrimSpace(string(r.env.RootJSON)), "\n") {
		b.WriteString("  " + line + "\n")
	}
	fmt.Fprintf(&b, "update-tls-certificate: %s\n", r.env.ServerCAFile)
	fmt.Fprintf(&b, "update-tls-client-certificate: %s\n", r.env.ClientCertFile)
	fmt.Fprintf(&b, "update-tls-client-key: %s\n", r.env.ClientKeyFile)
	b.WriteString("cache-dir: \"\"\nfleet-desktop: true\nupdate-interval: 30m\nbuilds:\n")
	for _, team := range []string{"a", "b"} {
		for _, typ := range []struct{ typ, arch string }{{"deb", "amd64"}, {"rpm", "arm64"}, {"pkg.tar.zst", "amd64"}} {
			fmt.Fprintf(&b, "  - name: team-%s-%s\n    type: %s\n    arch: %s\n    fleet-url: https://team-%s.example.com\n    enroll-secret-env: TEAM_%s_SECRET\n    outfile: out/team-%s.%s\n",
				team, typ.typ, typ.typ, typ.arch, team, strings.ToUpper(team), team, typ.typ)
		}
	}
	b.WriteString(extraBuild)
	return b.String()
}

func (r *releaseEnv) secretsEnv() []string {
	return []string{"TEAM_A_SECRET=" + r.secretA, "TEAM_B_SECRET=" + r.secretB}
}

func releaseDir(t *testing.T, cfg string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "pkgctl.yaml", []byte(cfg))
	return dir
}

// extract unpacks an installer with the Debian tool for its format and returns
// the content of the file at path inside it.
func extract(t *testing.T, typ, file, path string) []byte {
	t.Helper()
	dir := t.TempDir()
	switch typ {
	case "deb":
		tool(t, false, needTool(t, "dpkg-deb", "dpkg"), "-x", file, dir)
	case "rpm":
		rpm2cpio := needTool(t, "rpm2cpio", "rpm")
		cpio := needTool(t, "cpio", "cpio")
		// nfpm's rpm payload has absolute names: without --no-absolute-filenames
		// cpio would write into / (as root, over the host's files).
		c := testenv.Command("sh", "-c", `"$1" "$2" | "$4" -idm --quiet --no-absolute-filenames -D "$3"`, "sh", rpm2cpio, file, dir, cpio)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("rpm2cpio | cpio: %v\n%s", err, out)
		}
	case "pkg.tar.zst":
		tool(t, false, needTool(t, "bsdtar", "libarchive-tools"), "-xf", file, "-C", dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, path))
	if err != nil {
		t.Fatalf("%s has no %s: %v", file, path, err)
	}
	return data
}

type manifest struct {
	SourceDateEpoch *int64 `json:"source_date_epoch"`
	Outputs         []struct {
		Name, Path, Type, Arch, SHA256, Version string
		Size                                    int64
		Components                              []struct {
			Target string
			Length int64
			Hashes map[string]string
		}
		Settings map[string]string
		Secrets  []string `json:"secrets_set"`
	}
}

// TestReleaseTeamMatrix builds deb, rpm and pkg.tar.zst for two teams from one
// config file: one download of each component, the right settings in each
// installer (read with dpkg-deb, rpm2cpio+cpio, rpm -qp, bsdtar), and a
// manifest that matches the files, holds no secret and is byte-stable.
func TestReleaseTeamMatrix(t *testing.T) {
	t.Parallel()
	re := newReleaseEnv(t)
	dir := releaseDir(t, re.config(""))
	re.env.Server.ResetRequests()
	r := runIn(t, dir, re.secretsEnv(), "package", "--config=pkgctl.yaml", "--manifest=out/manifest.json", "--parallel=2")
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}

	// One TUF refresh and one download of each component for six builds.
	counts := map[string]int{}
	for _, p := range re.env.Server.Requests() {
		counts[p]++
	}
	targets := 0
	for p, n := range counts {
		if strings.HasPrefix(p, "/targets/") {
			targets++
		}
		if n != 1 && !strings.HasSuffix(p, "root.json") {
			t.Errorf("%s requested %d times, want once", p, n)
		}
	}
	// linux: orbit, osqueryd, desktop; linux-arm64 (the rpms): the same three.
	if targets != 6 {
		t.Errorf("%d targets downloaded, want 6: %v", targets, counts)
	}

	// The summary table names every file.
	for _, team := range []string{"a", "b"} {
		for _, typ := range []string{"deb", "rpm", "pkg.tar.zst"} {
			if !strings.Contains(r.Stdout, filepath.Join(dir, "out", "team-"+team+"."+typ)) {
				t.Errorf("summary does not list team-%s.%s:\n%s", team, typ, r.Stdout)
			}
		}
	}

	// Settings inside each installer, read by Debian's tools.
	for team, secret := range map[string]string{"a": re.secretA, "b": re.secretB} {
		for _, typ := range []string{"deb", "rpm", "pkg.tar.zst"} {
			file := filepath.Join(dir, "out", "team-"+team+"."+typ)
			env := string(extract(t, typ, file, "etc/default/orbit"))
			for _, want := range []string{
				"ORBIT_FLEET_URL=https://team-" + team + ".example.com",
				"ORBIT_ENROLL_SECRET=" + secret,
				"ORBIT_FLEET_DESKTOP=true",
				"ORBIT_UPDATE_INTERVAL=30m0s",
				"ORBIT_UPDATE_URL=" + re.env.Server.URL,
			} {
				if !strings.Contains(env, want+"\n") {
					t.Errorf("%s: /etc/default/orbit lacks %q:\n%s", file, want, env)
				}
			}
		}
		rpmFile := filepath.Join(dir, "out", "team-"+team+".rpm")
		out, _ := tool(t, false, needTool(t, "rpm", "rpm"), "-qp", "--queryformat", "%{ARCH} %{VERSION}", rpmFile)
		if out != "aarch64 "+testenv.StableVersion {
			t.Errorf("rpm -qp %s: %q, want aarch64 %s", rpmFile, out, testenv.StableVersion)
		}
		debFile := filepath.Join(dir, "out", "team-"+team+".deb")
		out, _ = tool(t, false, needTool(t, "dpkg-deb", "dpkg"), "-f", debFile, "Architecture", "Version")
		if out != "Architecture: amd64\nVersion: "+testenv.StableVersion+"\n" {
			t.Errorf("dpkg-deb -f %s: %q", debFile, out)
		}
	}

	// The manifest: sha256 and size of every file, TUF targets, no secrets.
	data, err := os.ReadFile(filepath.Join(dir, "out", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "manifest", data)
	for _, s := range []string{re.secretA, re.secretB} {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("manifest holds an enroll secret")
		}
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.SourceDateEpoch == nil || *m.SourceDateEpoch != sourceDateEpoch || len(m.Outputs) != 6 {
		t.Fatalf("manifest: epoch %v, %d outputs", m.SourceDateEpoch, len(m.Outputs))
	}
	for _, o := range m.Outputs {
		file := filepath.Join(dir, "out", filepath.FromSlash(o.Path))
		fdata, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("manifest path %q: %v", o.Path, err)
		}
		sum := sha256.Sum256(fdata)
		if o.SHA256 != hex.EncodeToString(sum[:]) || o.Size != int64(len(fdata)) {
			t.Errorf("%s: manifest sha256/size %s/%d, file %x/%d", o.Path, o.SHA256, o.Size, sum, len(fdata))
		}
		if o.Version != testenv.StableVersion || len(o.Components) != 3 || o.Settings["fleet-url"] == "" ||
			len(o.Secrets) != 1 || o.Secrets[0] != "enroll-secret" {
			t.Errorf("%s: %+v", o.Path, o)
		}
		for _, c := range o.Components {
			repoFile := readRepoFileFrom(t, re.env, c.Target)
			sum := sha256.Sum256(repoFile)
			if c.Length != int64(len(repoFile)) || c.Hashes["sha256"] != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: component %s length/hash do not match the repository", o.Path, c.Target)
			}
		}
	}

	// Stable bytes: the same run in another directory writes the same manifest,
	// and --json prints the same bytes on stdout.
	dir2 := releaseDir(t, re.config(""))
	r2 := runIn(t, dir2, re.secretsEnv(), "package", "--config=pkgctl.yaml", "--manifest=out/manifest.json", "--json")
	if r2.Code != 0 {
		t.Fatalf("second run exit %d\n%s", r2.Code, r2.Stderr)
	}
	data2, _ := os.ReadFile(filepath.Join(dir2, "out", "manifest.json"))
	if !bytes.Equal(data, data2) {
		t.Errorf("manifest bytes differ between two identical runs")
	}
	if r2.Stdout != string(data2) {
		t.Errorf("--json printed other bytes than the --manifest file:\n%s", r2.Stdout)
	}
	// Without --manifest, --json paths are relative to the working directory.
	r3 := runIn(t, dir2, re.secretsEnv(), "package", "--config=pkgctl.yaml", "--json")
	var mj manifest
	if err := json.Unmarshal([]byte(r3.Stdout), &mj); err != nil || r3.Code != 0 {
		t.Fatalf("--json stdout is not JSON (exit %d): %v\n%s", r3.Code, err, r3.Stdout)
	}
	if len(mj.Outputs) != 6 || !strings.HasPrefix(mj.Outputs[0].Path, "out/") {
		t.Errorf("--json outputs: %+v", mj.Outputs[0])
	}
	for _, o := range m.Outputs {
		a, _ := os.ReadFile(filepath.Join(dir, "out", o.Path))
		b, _ := os.ReadFile(filepath.Join(dir2, "out", o.Path))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two identical runs", o.Path)
		}
	}
}

func readRepoFileFrom(t *testing.T, env *testenv.Env, target string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.Repo.Dir, "targets", filepath.FromSlash(target)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestReleaseMatrixFailure: a build that cannot write its outfile fails alone;
// the other builds are complete, the exit code is non-zero and the error names
// the build and the reason.
func TestReleaseMatrixFailure(t *testing.T) {
	t.Parallel()
	re := newReleaseEnv(t)
	// /proc exists, so validation passes, but no one can create a file there.
	extra := "  - name: unwritable\n    type: deb\n    fleet-url: https://c.example.com\n    enroll-secret-env: TEAM_A_SECRET\n    outfile: /proc/pkgctl-e2e.deb\n"
	dir := releaseDir(t, re.config(extra))
	r := runIn(t, dir, re.secretsEnv(), "package", "--manifest=out/manifest.json") // ./pkgctl.yaml found without --config
	if r.Code == 0 {
		t.Fatalf("exit 0 with a failing build\n%s", r.Stdout)
	}
	for _, want := range []string{"build unwritable failed:", "/proc", "1 build(s) failed: unwritable"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	if !strings.Contains(r.Stdout, "FAILED") {
		t.Errorf("summary does not show the failure:\n%s", r.Stdout)
	}
	debTool := needTool(t, "dpkg-deb", "dpkg")
	for _, team := range []string{"a", "b"} {
		for _, typ := range []string{"deb", "rpm", "pkg.tar.zst"} {
			file := filepath.Join(dir, "out", "team-"+team+"."+typ)
			if _, err := os.Stat(file); err != nil {
				t.Errorf("%s missing after another build failed: %v", file, err)
			}
		}
		tool(t, false, debTool, "--info", filepath.Join(dir, "out", "team-"+team+".deb"))
	}
	if left := listDir(t, filepath.Join(dir, "out")); len(left) != 7 { // six installers + manifest
		t.Errorf("out/ holds %v", left)
	}
}

// TestReleasePublish builds the matrix and publishes it to a local HTTPS stub
// of the GitHub API in one run; then `pkgctl publish --manifest` is refused
// for existing assets unless --replace; a missing token is refused before any
// download.
func TestReleasePublish(t *testing.T) {
	t.Parallel()
	re := newReleaseEnv(t)
	ca, err := testenv.NewCA("e2e GitHub stub CA")
	if err != nil {
		t.Fatal(err)
	}
	const token = "ghp_e2eT0kenThatMustNeverBePrinted0123"
	registerSecret([]byte(token))
	gh, err := testenv.NewGitHub(ca, token)
	if err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	caFile := writeFile(t, t.TempDir(), "github-ca.pem", ca.CertPEM)
	// The binary trusts the stub through SSL_CERT_FILE, as it would trust a
	// GitHub Enterprise server with a private CA.
	env := append(re.secretsEnv(), "SSL_CERT_FILE="+caFile)
	publishArgs := []string{"--publish-github=acme/agents", "--publish-tag=v1.2.3", "--publish-github-url=" + gh.URL}

	t.Run("missing token refused before any build", func(t *testing.T) {
		dir := releaseDir(t, re.config(""))
		re.env.Server.ResetRequests()
		r := runIn(t, dir, env, append([]string{"package", "--config=pkgctl.yaml"}, publishArgs...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, "GITHUB_TOKEN is not set") {
			t.Errorf("exit %d, stderr:\n%s", r.Code, r.Stderr)
		}
		if n := len(re.env.Server.Requests()); n != 0 {
			t.Errorf("%d requests to the TUF server before the refusal", n)
		}
		if left := listDir(t, filepath.Join(dir, "out")); len(left) != 0 {
			t.Errorf("out/ holds %v", left)
		}
	})

	dir := releaseDir(t, re.config(""))
	withToken := append(append([]string(nil), env...), "GITHUB_TOKEN="+token)
	r := runIn(t, dir, withToken, append([]string{"package", "--config=pkgctl.yaml", "--manifest=out/manifest.json"}, publishArgs...)...)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	rels := gh.Releases()
	if len(rels) != 1 || rels[0].Tag != "v1.2.3" || len(rels[0].Assets) != 7 {
		t.Fatalf("releases: %+v", rels)
	}
	if last := rels[0].Assets[6]; last.Name != "manifest.json" || last.ContentType != "application/json" {
		t.Errorf("last asset %+v, want the manifest", last)
	}
	for _, a := range rels[0].Assets {
		data, err := os.ReadFile(filepath.Join(dir, "out", a.Name))
		if err != nil {
			t.Fatalf("asset %s: %v", a.Name, err)
		}
		sum := sha256.Sum256(data)
		if a.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("asset %s differs from the file", a.Name)
		}
	}
	for _, req := range gh.Log() {
		if req.Auth != "Bearer "+token {
			t.Errorf("%s %s without the token", req.Method, req.Path)
		}
	}

	// Again, with pkgctl publish: the assets exist.
	r = runIn(t, dir, withToken, "publish", "--github=acme/agents", "--tag=v1.2.3", "--github-url="+gh.URL, "--manifest=out/manifest.json")
	if r.Code == 0 || !strings.Contains(r.Stderr, "already has asset(s)") || !strings.Contains(r.Stderr, "--replace") {
		t.Errorf("publish over existing assets: exit %d\n%s", r.Code, r.Stderr)
	}
	gh.Fail("POST", "/assets", 502, nil, `{"message":"Bad Gateway"}`)
	r = runIn(t, dir, withToken, "publish", "--github=acme/agents", "--tag=v1.2.3", "--github-url="+gh.URL, "--manifest=out/manifest.json", "--replace")
	if r.Code != 0 {
		t.Fatalf("publish --replace: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "502") || !strings.Contains(r.Stdout, "retrying") {
		t.Errorf("the 502 retry is not reported:\n%s", r.Stdout)
	}
	if got := gh.AssetNames("v1.2.3"); len(got) != 7 {
		t.Errorf("assets after --replace: %v", got)
	}

	// FILE arguments, to a new prerelease; and the same without a token.
	args := []string{"publish", "--github=acme/agents", "--tag=v1.2.4-rc1", "--prerelease", "--github-url=" + gh.URL, "out/team-a.deb", "out/team-b.rpm"}
	r = runIn(t, dir, env, args...)
	if r.Code != 2 || !strings.Contains(r.Stderr, "GITHUB_TOKEN is not set") {
		t.Errorf("publish without token: exit %d\n%s", r.Code, r.Stderr)
	}
	r = runIn(t, dir, withToken, args...)
	if r.Code != 0 {
		t.Fatalf("publish FILES: exit %d\n%s", r.Code, r.Stderr)
	}
	if got := gh.AssetNames("v1.2.4-rc1"); strings.Join(got, " ") != "team-a.deb team-b.rpm" {
		t.Errorf("assets of v1.2.4-rc1: %v", got)
	}
	for _, rel := range gh.Releases() {
		if rel.Tag == "v1.2.4-rc1" && !rel.Prerelease {
			t.Errorf("v1.2.4-rc1 is not a prerelease")
		}
	}
	// The token is never printed, whatever happened (runIn checked every run).
}
