package packaging_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
	_ "github.com/pkgctl/pkgctl/packaging/linux" // deb, rpm, pkg.tar.zst
)

func matrixOptions(t *testing.T, env *testenv.Env, typ, arch, fleetURL, secret, out string, desktop bool) *packaging.Options {
	t.Helper()
	o := &packaging.Options{
		Type: typ, Arch: arch, FleetURL: fleetURL, EnrollSecret: secret, CustomOutfile: out,
		StartService: true, Desktop: desktop, HostOS: "linux",
		UpdateURL: env.Server.URL, UpdateRoots: string(env.RootJSON),
		UpdateTLSServerCertificate: env.ServerCAFile,
		UpdateTLSClientCertificate: env.ClientCertFile, UpdateTLSClientKey: env.ClientKeyFile,
	}
	o.WithDefaults()
	if _, err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestMatrixSharesOneFetch builds six installers for two teams (deb, rpm and
// pkg.tar.zst, amd64 and arm64) and counts what the TUF server was asked:
// every metadata file and every target exactly once. One build writes into a
// missing directory and must fail alone; the others must be byte-identical to
// the same builds made one by one.
func TestMatrixSharesOneFetch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	out := t.TempDir()
	var builds []packaging.MatrixBuild
	for _, team := range []string{"a", "b"} {
		url := "https://team-" + team + ".example.com"
		secret := "secret-of-team-" + team
		builds = append(builds,
			packaging.MatrixBuild{Name: team + "-deb", Options: matrixOptions(t, env, "deb", "amd64", url, secret, filepath.Join(out, team+".deb"), true)},
			packaging.MatrixBuild{Name: team + "-rpm", Options: matrixOptions(t, env, "rpm", "arm64", url, secret, filepath.Join(out, team+".rpm"), false)},
			packaging.MatrixBuild{Name: team + "-arch", Options: matrixOptions(t, env, "pkg.tar.zst", "amd64", url, secret, filepath.Join(out, team+".pkg.tar.zst"), true)},
		)
	}
	// /proc exists (validation passes) but nobody, not even root, can create a file in it.
	broken := packaging.MatrixBuild{Name: "broken", Options: matrixOptions(t, env, "deb", "amd64", "https://x.example.com", "s", "/proc/pkgctl-matrix-test.deb", false)}
	all := append(append([]packaging.MatrixBuild(nil), builds...), broken)

	env.Server.ResetRequests()
	outs := packaging.BuildMatrix(context.Background(), all, packaging.BuildEnv{}, packaging.MatrixOptions{Parallel: 3, HashOutputs: true})

	counts := map[string]int{}
	for _, p := range env.Server.Requests() {
		counts[p]++
	}
	wantTargets := []string{
		"/targets/orbit/linux/stable/orbit", "/targets/osqueryd/linux/stable/osqueryd", "/targets/desktop/linux/stable/desktop.tar.gz",
		"/targets/orbit/linux-arm64/stable/orbit", "/targets/osqueryd/linux-arm64/stable/osqueryd",
	}
	for _, p := range wantTargets {
		if counts[p] != 1 {
			t.Errorf("%s requested %d times, want once", p, counts[p])
		}
	}
	var targets int
	for p, n := range counts {
		if strings.HasPrefix(p, "/targets/") {
			targets++
		} else if strings.HasSuffix(p, "timestamp.json") || strings.HasSuffix(p, "snapshot.json") || strings.HasSuffix(p, "targets.json") {
			if n != 1 {
				t.Errorf("metadata %s requested %d times, want once (one refresh)", p, n)
			}
		}
	}
	if targets != len(wantTargets) {
		t.Errorf("%d target paths requested, want %d: %v", targets, len(wantTargets), counts)
	}

	if err := packaging.MatrixErr(outs); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("MatrixErr = %v, want the broken build named", err)
	}
	last := outs[len(outs)-1]
	if last.Err == nil || !strings.Contains(last.Err.Error(), "/proc") {
		t.Errorf("broken build error %v, want it to name the directory", last.Err)
	}
	for _, o := range outs[:len(outs)-1] {
		if o.Err != nil {
			t.Fatalf("build %s failed: %v", o.Build.Name, o.Err)
		}
		data, err := os.ReadFile(o.Result.Path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != o.SHA256 || int64(len(data)) != o.Result.Size {
			t.Errorf("%s: outcome sha256/size do not match the file", o.Build.Name)
		}
		if len(o.Result.Targets) == 0 || o.Result.Targets[0].Length == 0 || o.Result.Targets[0].Hashes["sha256"] == "" && o.Result.Targets[0].Hashes["sha512"] == "" {
			t.Errorf("%s: no TUF target info: %+v", o.Build.Name, o.Result.Targets)
		}
	}
	if ents, _ := os.ReadDir(out); len(ents) != len(builds) {
		t.Errorf("output directory holds %d entries, want the %d installers only", len(ents), len(builds))
	}

	// The same builds one by one give the same bytes.
	sameAsAlone(t, builds, outs)
}

// TestMatrixGroupsUpdateServers: builds that differ in update server settings
// cannot share a client; each group gets its own fetch and a failing group
// fails only its builds.
func TestMatrixGroupsUpdateServers(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	out := t.TempDir()
	good := matrixOptions(t, env, "deb", "amd64", "https://f.example.com", "s", filepath.Join(out, "good.deb"), false)
	bad := matrixOptions(t, env, "deb", "amd64", "https://f.example.com", "s", filepath.Join(out, "bad.deb"), false)
	bad.UpdateURL = env.Server.URL + "/nowhere"
	outs := packaging.BuildMatrix(context.Background(), []packaging.MatrixBuild{{Name: "good", Options: good}, {Name: "bad", Options: bad}}, packaging.BuildEnv{}, packaging.MatrixOptions{})
	if outs[0].Err != nil {
		t.Errorf("good build failed: %v", outs[0].Err)
	}
	if outs[1].Err == nil || !strings.Contains(outs[1].Err.Error(), "fetch the agent") {
		t.Errorf("bad build error %v, want a fetch error", outs[1].Err)
	}
	if _, err := packaging.Fetch(context.Background(), []*packaging.Options{good, bad}, packaging.BuildEnv{}); err == nil || !strings.Contains(err.Error(), "cannot share") {
		t.Errorf("Fetch of mixed settings: %v, want a refusal", err)
	}
}

// TestMatrixSameOutfile refuses two builds that would write one file.
func TestMatrixSameOutfile(t *testing.T) {
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	out := filepath.Join(t.TempDir(), "x.deb")
	a := matrixOptions(t, env, "deb", "amd64", "https://a.example.com", "s", out, false)
	b := matrixOptions(t, env, "deb", "amd64", "https://b.example.com", "s", out, false)
	outs := packaging.BuildMatrix(context.Background(), []packaging.MatrixBuild{{Name: "a", Options: a}, {Name: "b", Options: b}}, packaging.BuildEnv{}, packaging.MatrixOptions{Parallel: 1})
	// Either may run first; exactly one writes and the other is refused.
	switch {
	case outs[0].Err == nil && outs[1].Err != nil && strings.Contains(outs[1].Err.Error(), "also written by build a"):
	case outs[1].Err == nil && outs[0].Err != nil && strings.Contains(outs[0].Err.Error(), "also written by build b"):
	default:
		t.Errorf("outcomes: %v / %v", outs[0].Err, outs[1].Err)
	}
}

// TestMatrixMissingChannelFailsOnlyItsBuild: one build asks for an orbit channel
// the repository does not have. It shares the fetch group of the others, which
// must still finish; its error names the missing target.
func TestMatrixMissingChannelFailsOnlyItsBuild(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	out := t.TempDir()
	deb := matrixOptions(t, env, "deb", "amd64", "https://f.example.com", "s", filepath.Join(out, "a.deb"), false)
	rpm := matrixOptions(t, env, "rpm", "amd64", "https://f.example.com", "s", filepath.Join(out, "a.rpm"), false)
	nightly := matrixOptions(t, env, "deb", "arm64", "https://f.example.com", "s", filepath.Join(out, "nightly.deb"), false)
	nightly.OrbitChannel = "nightly"
	builds := []packaging.MatrixBuild{{Name: "deb", Options: deb}, {Name: "nightly", Options: nightly}, {Name: "rpm", Options: rpm}}
	outs := packaging.BuildMatrix(context.Background(), builds, packaging.BuildEnv{}, packaging.MatrixOptions{Parallel: 2})
	for _, i := range []int{0, 2} {
		if outs[i].Err != nil {
			t.Errorf("build %s failed: %v", outs[i].Build.Name, outs[i].Err)
		} else if _, err := os.Stat(outs[i].Result.Path); err != nil {
			t.Errorf("build %s: %v", outs[i].Build.Name, err)
		}
	}
	if outs[1].Err == nil || !strings.Contains(outs[1].Err.Error(), "nightly") {
		t.Errorf("nightly build: err %v, want one naming the nightly channel", outs[1].Err)
	}
	if _, err := os.Stat(filepath.Join(out, "nightly.deb")); err == nil {
		t.Error("the failed build wrote its output")
	}
	// Fetch (single builds) still fails as a whole.
	if _, err := packaging.Fetch(context.Background(), []*packaging.Options{deb, nightly}, packaging.BuildEnv{}); err == nil || !strings.Contains(err.Error(), "nightly") {
		t.Errorf("Fetch with a missing channel: %v", err)
	}
}

// TestMatrixBadOrbitVersionFailsOnlyItsBuild: an orbit target whose version
// no format can take fails the builds that need it, before its download,
// naming the target; the others finish.
func TestMatrixBadOrbitVersionFailsOnlyItsBuild(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if err := env.Repo.AddTarget("orbit", "linux", "bad", "orbit", []byte("orbit"), "1.2.3\nDepends: evil"); err != nil {
		t.Fatal(err)
	}
	if err := env.Repo.Publish(); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	good := matrixOptions(t, env, "deb", "amd64", "https://f.example.com", "s", filepath.Join(out, "good.deb"), false)
	bad := matrixOptions(t, env, "rpm", "amd64", "https://f.example.com", "s", filepath.Join(out, "bad.rpm"), false)
	bad.OrbitChannel = "bad"
	outs := packaging.BuildMatrix(context.Background(), []packaging.MatrixBuild{{Name: "good", Options: good}, {Name: "bad", Options: bad}},
		packaging.BuildEnv{}, packaging.MatrixOptions{Parallel: 2})
	if outs[0].Err != nil {
		t.Errorf("good build: %v", outs[0].Err)
	}
	if err := outs[1].Err; err == nil || !strings.Contains(err.Error(), `TUF target "orbit/linux/bad/orbit"`) || !strings.Contains(err.Error(), "not a decimal number") {
		t.Errorf("bad build: err %v, want one naming the target and the rule", err)
	}
	if _, err := os.Stat(filepath.Join(out, "bad.rpm")); err == nil {
		t.Error("the refused build wrote its output")
	}
}

// sameAsAlone builds each of builds alone and fails for any whose output is
// empty or differs from the matrix's (outs, in the same order). It returns
// the matrix outputs' bytes.
func sameAsAlone(t *testing.T, builds []packaging.MatrixBuild, outs []packaging.MatrixOutcome) [][]byte {
	t.Helper()
	single := t.TempDir()
	var got [][]byte
	for i, b := range builds {
		o := *b.Options
		o.CustomOutfile = filepath.Join(single, filepath.Base(b.Options.CustomOutfile))
		res, err := packaging.Build(context.Background(), &o, packaging.BuildEnv{})
		if err != nil {
			t.Fatalf("single %s: %v", b.Name, err)
		}
		a, _ := os.ReadFile(outs[i].Result.Path)
		s, _ := os.ReadFile(res.Path)
		if len(a) == 0 || !bytes.Equal(a, s) {
			t.Errorf("%s: matrix output differs from the single build", b.Name)
		}
		got = append(got, a)
	}
	return got
}
