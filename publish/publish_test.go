package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

const token = "ghp_TestT0ken-never-printed-1234567890"

type fixture struct {
	gh     *testenv.GitHub
	client *http.Client
	files  []string
	sums   map[string]string
	slept  []time.Duration
	now    time.Time
	log    bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ca, err := testenv.NewCA("publish test CA")
	if err != nil {
		t.Fatal(err)
	}
	gh, err := testenv.NewGitHub(ca, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	client, err := testenv.NewHTTPClient(ca.CertPEM, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{gh: gh, client: client, sums: map[string]string{}, now: time.Unix(1_800_000_000, 0)}
	dir := t.TempDir()
	for _, name := range []string{"fleet-osquery_1.2.3_amd64.deb", "fleet-osquery-1.2.3.x86_64.rpm", "manifest.json"} {
		data := []byte(strings.Repeat(name, 1000))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		f.sums[name] = hex.EncodeToString(sum[:])
		f.files = append(f.files, p)
	}
	return f
}

func (f *fixture) options() *Options {
	return &Options{
		Owner: "acme", Repo: "agents", Tag: "v1.2.3",
		Files: slices.Clone(f.files[:2]), Manifest: f.files[2],
		BaseURL: f.gh.URL, Token: token, HTTPClient: f.client,
		Sleep: func(_ context.Context, d time.Duration) error {
			f.slept = append(f.slept, d)
			f.now = f.now.Add(d)
			return nil
		},
		Now:  func() time.Time { return f.now },
		Logf: func(format string, args ...any) { fmt.Fprintf(&f.log, format+"\n", args...) },
	}
}

// check verifies the release holds the three files, byte for byte, the
// manifest last, with the right content types, and that every request carried
// the token and the token is in no log line.
func (f *fixture) check(t *testing.T) {
	t.Helper()
	rels := f.gh.Releases()
	if len(rels) != 1 || rels[0].Tag != "v1.2.3" {
		t.Fatalf("releases = %+v", rels)
	}
	var names []string
	for _, a := range rels[0].Assets {
		names = append(names, a.Name)
		if a.SHA256 != f.sums[a.Name] {
			t.Errorf("asset %s: sha256 %s, want %s", a.Name, a.SHA256, f.sums[a.Name])
		}
		want := "application/octet-stream"
		if a.Name == "manifest.json" {
			want = "application/json"
		}
		if a.ContentType != want {
			t.Errorf("asset %s content type %q, want %q", a.Name, a.ContentType, want)
		}
	}
	if want := []string{"fleet-osquery_1.2.3_amd64.deb", "fleet-osquery-1.2.3.x86_64.rpm", "manifest.json"}; !slices.Equal(names, want) {
		t.Errorf("assets %v, want %v (manifest last)", names, want)
	}
	for _, r := range f.gh.Log() {
		if r.Auth != "Bearer "+token {
			t.Errorf("%s %s: Authorization %q", r.Method, r.Path, r.Auth)
		}
		if r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/api/uploads/") && r.ContentType == "" {
			t.Errorf("upload %s without Content-Type", r.Query)
		}
	}
	if strings.Contains(f.log.String(), token) {
		t.Errorf("log holds the token:\n%s", f.log.String())
	}
}

func TestPublishCreatesRelease(t *testing.T) {
	f := newFixture(t)
	res, err := Publish(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	f.check(t)
	if len(res.Assets) != 3 || len(f.slept) != 0 {
		t.Errorf("res %+v slept %v", res, f.slept)
	}
	var uploads int
	for _, r := range f.gh.Log() {
		if strings.HasPrefix(r.Path, "/api/uploads/repos/acme/agents/releases/") {
			uploads++
		}
	}
	if uploads != 3 {
		t.Errorf("%d uploads on the uploads path, want 3", uploads)
	}
}

func TestPublishReusesRelease(t *testing.T) {
	for _, draft := range []bool{false, true} {
		t.Run(fmt.Sprint("draft=", draft), func(t *testing.T) {
			f := newFixture(t)
			r := f.gh.AddRelease("v1.2.3", draft)
			if _, err := Publish(context.Background(), f.options()); err != nil {
				t.Fatal(err)
			}
			f.check(t)
			if got := f.gh.Releases()[0].ID; got != r.ID {
				t.Errorf("release %d used, want the existing %d", got, r.ID)
			}
		})
	}
}

func TestPublishExistingAsset(t *testing.T) {
	f := newFixture(t)
	r := f.gh.AddRelease("v1.2.3", false)
	f.gh.AddAsset(r, "fleet-osquery-1.2.3.x86_64.rpm", []byte("old"))
	_, err := Publish(context.Background(), f.options())
	if err == nil || !strings.Contains(err.Error(), "fleet-osquery-1.2.3.x86_64.rpm") || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("err = %v, want it to name the asset and --replace", err)
	}
	// Nothing was uploaded: the clash is found before the first upload.
	if names := f.gh.AssetNames("v1.2.3"); !slices.Equal(names, []string{"fleet-osquery-1.2.3.x86_64.rpm"}) {
		t.Errorf("assets after refusal: %v", names)
	}
	o := f.options()
	o.Replace = true
	if _, err := Publish(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	f.check(t)
}

func TestPublishRetries502(t *testing.T) {
	f := newFixture(t)
	f.gh.Fail(http.MethodPost, "/releases", http.StatusBadGateway, nil, `{"message":"Server Error"}`)
	f.gh.Fail(http.MethodPost, "/assets", http.StatusBadGateway, nil, `{"message":"Server Error"}`)
	if _, err := Publish(context.Background(), f.options()); err != nil {
		t.Fatal(err)
	}
	f.check(t)
	if len(f.slept) != 2 || f.slept[0] != time.Second {
		t.Errorf("slept %v, want two backoffs starting at 1s", f.slept)
	}
}

func TestPublishSecondaryRateLimit(t *testing.T) {
	f := newFixture(t)
	f.gh.FailSecondaryRateLimit(http.MethodGet, "/releases/tags/", 42)
	if _, err := Publish(context.Background(), f.options()); err != nil {
		t.Fatal(err)
	}
	f.check(t)
	if !slices.Equal(f.slept, []time.Duration{42 * time.Second}) {
		t.Errorf("slept %v, want the Retry-After of 42s", f.slept)
	}
	if !strings.Contains(f.log.String(), "secondary rate limit") {
		t.Errorf("log does not say why it waited:\n%s", f.log.String())
	}
}

func TestPublishPrimaryRateLimit(t *testing.T) {
	f := newFixture(t)
	// Reset 30 s after the injected clock: pkgctl waits until then (+1 s).
	f.gh.FailPrimaryRateLimit(http.MethodGet, "/assets", f.now.Unix()+30)
	if _, err := Publish(context.Background(), f.options()); err != nil {
		t.Fatal(err)
	}
	f.check(t)
	if len(f.slept) != 1 || f.slept[0] != 31*time.Second {
		t.Errorf("slept %v, want 31s (until X-RateLimit-Reset)", f.slept)
	}
}

func TestPublishRetryBudget(t *testing.T) {
	f := newFixture(t)
	f.gh.FailSecondaryRateLimit(http.MethodGet, "/releases/tags/", 3600)
	o := f.options()
	o.MaxWait = 10 * time.Minute
	_, err := Publish(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "retry budget") {
		t.Fatalf("err = %v, want a retry budget error", err)
	}
	if len(f.slept) != 0 {
		t.Errorf("slept %v before giving up", f.slept)
	}
	// Persistent 5xx: backoff until the budget is spent, then a clear error.
	f = newFixture(t)
	for range 20 {
		f.gh.Fail(http.MethodGet, "/releases/tags/", http.StatusServiceUnavailable, nil, `{"message":"unavailable"}`)
	}
	o = f.options()
	o.MaxWait = 10 * time.Second
	_, err = Publish(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want the 503 named", err)
	}
	var total time.Duration
	for _, d := range f.slept {
		total += d
	}
	if total > 10*time.Second || len(f.slept) != 3 { // 1+2+4, then 8 would pass 10s
		t.Errorf("slept %v (total %s), want 1s 2s 4s within the 10s budget", f.slept, total)
	}
}

func TestPublishBadToken(t *testing.T) {
	f := newFixture(t)
	o := f.options()
	o.Token = "wrong-token-value-abcdef"
	_, err := Publish(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want 401", err)
	}
	if strings.Contains(err.Error(), o.Token) {
		t.Errorf("error holds the token: %v", err)
	}
}

func TestCheck(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"no token", func(o *Options) { o.Token = "" }, "GITHUB_TOKEN"},
		{"no tag", func(o *Options) { o.Tag = "" }, "tag"},
		{"missing file", func(o *Options) { o.Files = append(o.Files, "/nonexistent/x.deb") }, "/nonexistent/x.deb"},
		{"same asset name", func(o *Options) { o.Files = append(o.Files, filepath.Join(t.TempDir(), "manifest.json")) }, "manifest.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := f.options()
			tt.mod(o)
			if tt.name == "same asset name" {
				os.WriteFile(o.Files[len(o.Files)-1], []byte("x"), 0o644)
			}
			_, err := Publish(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if n := len(f.gh.Log()); n != 0 {
		t.Errorf("%d requests sent for refused options", n)
	}
}

func TestParseRepo(t *testing.T) {
	for _, bad := range []string{"", "acme", "acme/", "/x", "a/b/c", "a b/c"} {
		if _, _, err := ParseRepo(bad); err == nil {
			t.Errorf("ParseRepo(%q) accepted", bad)
		}
	}
	if o, r, err := ParseRepo("acme/agents"); err != nil || o != "acme" || r != "agents" {
		t.Errorf("got %q %q %v", o, r, err)
	}
}
