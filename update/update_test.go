package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

func TestDefaultRootJSON(t *testing.T) {
	root, err := metadata.Root().FromBytes(DefaultRootJSON)
	if err != nil {
		t.Fatalf("DefaultRootJSON does not parse as TUF root metadata: %v", err)
	}
	if root.Signed.Type != metadata.ROOT || root.Signed.Version != 6 || root.Signed.ConsistentSnapshot {
		t.Errorf("type %q version %d consistent_snapshot %v, want root v6 without consistent snapshots",
			root.Signed.Type, root.Signed.Version, root.Signed.ConsistentSnapshot)
	}
	want := map[string]struct{ keys, threshold int }{
		metadata.ROOT:      {3, 1},
		metadata.TARGETS:   {3, 1},
		metadata.SNAPSHOT:  {3, 1},
		metadata.TIMESTAMP: {5, 1},
	}
	for role, w := range want {
		r := root.Signed.Roles[role]
		if r == nil || len(r.KeyIDs) != w.keys || r.Threshold != w.threshold {
			t.Errorf("role %s = %+v, want %d keys, threshold %d", role, r, w.keys, w.threshold)
		}
	}
	if got := root.Signed.Roles[metadata.ROOT].KeyIDs[0]; got != "bc711f19576de2d71d1ca41eeccf7412f12c3ee4971185cd69066f8dc51d1ce6" {
		t.Errorf("first root keyid %s", got)
	}
	if len(root.Signed.Keys) != 14 {
		t.Errorf("%d keys, want 14", len(root.Signed.Keys))
	}
	for id, k := range root.Signed.Keys {
		if k.Type != metadata.KeyTypeEd25519 {
			t.Errorf("key %s has type %s", id, k.Type)
		}
	}
	// The embedded copy is byte-exact: its root signature still verifies.
	if _, err := trustedmetadata.New(DefaultRootJSON); err != nil {
		t.Errorf("DefaultRootJSON is not validly self-signed: %v", err)
	}
	c, err := New(Options{})
	if err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
	defer c.Close()
	if c.url != DefaultURL || !bytes.Equal(c.root, DefaultRootJSON) {
		t.Errorf("defaults: url %s, root default %v", c.url, bytes.Equal(c.root, DefaultRootJSON))
	}
}

func TestFetchComponents(t *testing.T) {
	e := testenv.NewTB(t)
	custom := []byte("custom orbit build\x00\x01\x02")
	if err := e.Repo.AddTarget("orbit", "linux", "4.6", "orbit", custom, "4.6.1"); err != nil {
		t.Fatal(err)
	}
	if err := e.Repo.Publish(); err != nil {
		t.Fatal(err)
	}
	// The client starts from root v1 and must follow the rotation to v2.
	if err := e.Repo.RotateRoot(); err != nil {
		t.Fatal(err)
	}
	var progress textProgress
	opts := envOptions(e)
	opts.Progress = &progress
	c := newClient(t, opts)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}

	tests := []struct {
		target, platform, channel, file string
		version                         string
		want                            []byte // nil: the sample file, checked by its first line
		firstLine                       string
	}{
		{"orbit", "linux", "stable", "orbit", "1.2.3", nil, "#!/bin/sh\necho orbit linux stable 1.2.3\n"},
		{"osqueryd", "linux", "stable", "osqueryd", "1.2.3", nil, "#!/bin/sh\necho osqueryd linux stable 1.2.3\n"},
		{"desktop", "linux", "stable", "desktop.tar.gz", "1.2.3", nil, "\x1f\x8b"},
		{"orbit", "windows-arm64", "stable", "orbit.exe", "1.2.3", nil, "pkgctl testenv fake executable: orbit windows-arm64 stable 1.2.3\n"},
		{"osqueryd", "windows-arm64", "stable", "osqueryd.exe", "1.2.3", nil, "pkgctl testenv fake executable: osqueryd windows-arm64 stable 1.2.3\n"},
		{"desktop", "windows-arm64", "edge", "fleet-desktop.exe", "1.3.0", nil, "pkgctl testenv fake executable: desktop windows-arm64 edge 1.3.0\n"},
		{"orbit", "linux", "4.6", "orbit", "4.6.1", custom, ""},
	}
	for _, tt := range tests {
		repoPath := tt.target + "/" + tt.platform + "/" + tt.channel + "/" + tt.file
		t.Run(repoPath, func(t *testing.T) {
			got, err := c.Fetch(context.Background(), tt.target, tt.platform, tt.channel, tt.file)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			data, err := os.ReadFile(got.File)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == nil {
				want = servedTarget(t, e, repoPath)
				if !strings.HasPrefix(string(want), tt.firstLine) {
					t.Fatalf("sample %s starts %q, want %q", repoPath, want[:min(len(want), 40)], tt.firstLine)
				}
			}
			if !bytes.Equal(data, want) {
				t.Errorf("content differs from what was added (%d vs %d bytes)", len(data), len(want))
			}
			s256, s512 := sha256.Sum256(want), sha512.Sum512(want)
			if got.Path != repoPath || got.Version != tt.version || got.Length != int64(len(want)) ||
				got.Hashes["sha256"] != hex.EncodeToString(s256[:]) || got.Hashes["sha512"] != hex.EncodeToString(s512[:]) {
				t.Errorf("target = %+v, want path %s version %s length %d", got, repoPath, tt.version, len(want))
			}
			if !strings.Contains(progress.String(), "downloaded "+repoPath+": ") {
				t.Errorf("no final progress line for %s in %q", repoPath, progress.String())
			}
		})
	}
	if n := len(servedTarget(t, e, "orbit/linux/stable/orbit")); !strings.Contains(progress.String(), fmt.Sprintf("downloaded orbit/linux/stable/orbit: %d\n", n)) {
		t.Errorf("progress was not fed every byte: %q", progress.String())
	}

	md, err := c.Metadata()
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	checkMetadata(t, md, e.Repo.RootJSON(), 2)

	// The metadata is a complete trust base: a client trusting its root.json refreshes.
	var files map[string]json.RawMessage
	if err := json.Unmarshal(md, &files); err != nil {
		t.Fatal(err)
	}
	opts2 := envOptions(e)
	opts2.RootJSON = files["root.json"]
	c2 := newClient(t, opts2)
	if _, err := c2.Fetch(context.Background(), "orbit", "linux", "edge", "orbit"); err != nil {
		t.Errorf("Fetch with the stored root: %v", err)
	}
}

// checkMetadata checks Metadata() output: orbit's filestore format with the 4 roles.
func checkMetadata(t *testing.T, md, wantRoot []byte, wantRootVersion int64) {
	t.Helper()
	if !bytes.HasSuffix(md, []byte("}\n")) || bytes.Count(md, []byte("\n")) != 1 {
		t.Errorf("metadata is not one JSON line with a trailing newline")
	}
	var files map[string]json.RawMessage
	if err := json.Unmarshal(md, &files); err != nil {
		t.Fatalf("metadata does not parse: %v", err)
	}
	var reenc bytes.Buffer
	if err := json.NewEncoder(&reenc).Encode(files); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reenc.Bytes(), md) {
		t.Errorf("metadata is not encoding/json Encoder output with sorted keys")
	}
	if len(files) != 4 {
		t.Errorf("metadata has %d entries, want 4", len(files))
	}
	root, err := metadata.Root().FromBytes(files["root.json"])
	if err != nil {
		t.Fatalf("root.json: %v", err)
	}
	if root.Signed.Version != wantRootVersion {
		t.Errorf("root version %d, want %d", root.Signed.Version, wantRootVersion)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, wantRoot); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(files["root.json"], compact.Bytes()) {
		t.Errorf("root.json is not the trusted (rotated) root")
	}
	if _, err := metadata.Timestamp().FromBytes(files["timestamp.json"]); err != nil {
		t.Errorf("timestamp.json: %v", err)
	}
	if _, err := metadata.Snapshot().FromBytes(files["snapshot.json"]); err != nil {
		t.Errorf("snapshot.json: %v", err)
	}
	targets, err := metadata.Targets().FromBytes(files["targets.json"])
	if err != nil {
		t.Fatalf("targets.json: %v", err)
	}
	if targets.Signed.Targets["orbit/linux/stable/orbit"] == nil {
		t.Errorf("targets.json lacks orbit/linux/stable/orbit")
	}
}

// stripContentLength makes responses chunked, so that only the streaming check sees the length.
func stripContentLength(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&noLengthWriter{ResponseWriter: w}, r)
	})
}

type noLengthWriter struct{ http.ResponseWriter }

func (w *noLengthWriter) WriteHeader(code int) {
	w.Header().Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
}

func (w *noLengthWriter) Write(b []byte) (int, error) {
	w.Header().Del("Content-Length")
	n, err := w.ResponseWriter.Write(b)
	// Flushing before the handler returns keeps net/http from computing a Content-Length.
	w.ResponseWriter.(http.Flusher).Flush()
	return n, err
}

func TestTUFAttacks(t *testing.T) {
	const orbit = "orbit/linux/stable/orbit"
	tests := []struct {
		name    string
		attack  func(t *testing.T, e *testenv.Env, opts *Options)
		wantIs  error
		wantMsg []string
	}{
		{
			name:    "tampered target",
			attack:  func(t *testing.T, e *testenv.Env, _ *Options) { must(t, e.Repo.TamperTarget(orbit)) },
			wantIs:  &metadata.ErrLengthOrHashMismatch{},
			wantMsg: []string{"TUF verification of target " + orbit + " from https://", "/targets/" + orbit + " failed", "hash mismatch"},
		},
		{
			name: "expired timestamp",
			attack: func(t *testing.T, e *testenv.Env, _ *Options) {
				must(t, e.Repo.SetTimestampExpiry(time.Now().Add(-time.Hour)))
			},
			wantIs:  &metadata.ErrExpiredMetadata{},
			wantMsg: []string{"TUF verification of timestamp.json from https://", "/timestamp.json failed", "timestamp.json is expired"},
		},
		{
			name:    "rolled-back snapshot version",
			attack:  func(t *testing.T, e *testenv.Env, _ *Options) { must(t, e.Repo.RollbackSnapshot()) },
			wantIs:  &metadata.ErrBadVersionNumber{},
			wantMsg: []string{"TUF verification of snapshot.json from https://", "/snapshot.json failed", "rollback"},
		},
		{
			name: "wrong root",
			attack: func(t *testing.T, e *testenv.Env, opts *Options) {
				other, err := testenv.NewRepo(t.TempDir())
				must(t, err)
				opts.RootJSON = other.RootJSON()
			},
			wantIs:  &metadata.ErrUnsignedMetadata{},
			wantMsg: []string{"TUF verification of timestamp.json from https://", "failed", "--update-roots"},
		},
		{
			name: "target longer than metadata",
			attack: func(t *testing.T, e *testenv.Env, _ *Options) {
				must(t, e.Repo.AppendToTarget(orbit, []byte("more")))
			},
			wantIs:  &metadata.ErrLengthOrHashMismatch{},
			wantMsg: []string{"TUF verification of target " + orbit + " from https://", "more than the ", " bytes in the signed targets metadata"},
		},
		{
			name: "target longer than metadata, chunked",
			attack: func(t *testing.T, e *testenv.Env, opts *Options) {
				must(t, e.Repo.AppendToTarget(orbit, []byte("more")))
				s, err := testenv.NewServer(stripContentLength(http.FileServer(http.Dir(e.Repo.Dir))), e.ServerCA, e.ClientCA)
				must(t, err)
				t.Cleanup(s.Close)
				opts.URL = s.URL
			},
			wantIs:  &metadata.ErrLengthOrHashMismatch{},
			wantMsg: []string{"TUF verification of target " + orbit + " from https://", "longer than the ", " bytes in the signed targets metadata"},
		},
		{
			name: "target shorter than metadata",
			attack: func(t *testing.T, e *testenv.Env, _ *Options) {
				must(t, os.WriteFile(filepath.Join(e.Repo.Dir, "targets", orbit), []byte("short"), 0o644))
			},
			wantIs:  &metadata.ErrLengthOrHashMismatch{},
			wantMsg: []string{"TUF verification of target " + orbit, "the file has 5 bytes, the signed targets metadata says "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testenv.NewTB(t)
			opts := envOptions(e)
			opts.CacheDir = t.TempDir()
			tt.attack(t, e, &opts)
			c := newClient(t, opts)
			got, err := c.Fetch(context.Background(), "orbit", "linux", "stable", "orbit")
			if err == nil {
				t.Fatalf("Fetch succeeded: %+v", got)
			}
			t.Logf("error: %v", err)
			if got != nil {
				t.Errorf("Fetch returned a target with the error: %+v", got)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("error is not %T: %v", tt.wantIs, err)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if files := cacheFiles(t, opts.CacheDir); len(files) != 0 {
				t.Errorf("files left in the cache: %v", files)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestTLSErrors(t *testing.T) {
	e := testenv.NewTB(t)
	dir := t.TempDir()
	otherCA, err := testenv.NewCA("other CA")
	must(t, err)
	otherCert, otherKey, err := otherCA.IssueClient("intruder")
	must(t, err)
	otherCertFile, err := testenv.WriteFile(dir, "other.crt", otherCert)
	must(t, err)
	otherKeyFile, err := testenv.WriteFile(dir, "other.key", otherKey)
	must(t, err)
	otherCAFile, err := testenv.WriteFile(dir, "other-ca.pem", otherCA.CertPEM)
	must(t, err)
	expCert, expKey, err := e.ClientCA.IssueClientValidity("expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	must(t, err)
	expCertFile, err := testenv.WriteFile(dir, "expired.crt", expCert)
	must(t, err)
	expKeyFile, err := testenv.WriteFile(dir, "expired.key", expKey)
	must(t, err)

	handler := http.FileServer(http.Dir(e.Repo.Dir))
	servers := map[string]string{
		"tls1.3": e.Server.URL,
		"tls1.2": startTLSServer(t, handler, e.ServerCA, e.ClientCA, tls.VersionTLS12, "127.0.0.1").URL,
	}
	resolveTestHosts(t, "tuf.test")

	secrets := append(keySecrets(t, e.ClientKeyPEM), keySecrets(t, otherKey)...)
	tests := []struct {
		name    string
		opts    func(o *Options)
		wantMsg []string
	}{
		{
			name: "no client certificate",
			opts: func(o *Options) { o.ClientCertFile, o.ClientKeyFile = "", "" },
			wantMsg: []string{"requires a TLS client certificate",
				"--update-tls-client-certificate", "--update-tls-client-key"},
		},
		{
			name:    "client certificate from another CA",
			opts:    func(o *Options) { o.ClientCertFile, o.ClientKeyFile = otherCertFile, otherKeyFile },
			wantMsg: []string{"rejected the certificate from --update-tls-client-certificate " + otherCertFile},
		},
		{
			name:    "expired client certificate",
			opts:    func(o *Options) { o.ClientCertFile, o.ClientKeyFile = expCertFile, expKeyFile },
			wantMsg: []string{"rejected the certificate from --update-tls-client-certificate " + expCertFile},
		},
		{
			name:    "server not matching --update-tls-certificate",
			opts:    func(o *Options) { o.ServerCAFile = otherCAFile },
			wantMsg: []string{"not signed by a CA in --update-tls-certificate " + otherCAFile},
		},
		{
			name: "server certificate not valid for the host name",
			opts: func(o *Options) {
				o.URL = strings.Replace(o.URL, "127.0.0.1", "tuf.test", 1)
			},
			wantMsg: []string{"not valid for that host name", "--update-tls-certificate"},
		},
	}
	for _, tt := range tests {
		for version, url := range servers {
			t.Run(tt.name+"/"+version, func(t *testing.T) {
				opts := envOptions(e)
				opts.URL = url
				tt.opts(&opts)
				c := newClient(t, opts)
				err := c.Refresh(context.Background())
				if err == nil {
					t.Fatal("Refresh succeeded")
				}
				t.Logf("error: %v", err)
				for _, w := range tt.wantMsg {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				assertNoSecrets(t, err, secrets)
				// The same classification applies to target downloads.
				_, err = c.Fetch(context.Background(), "orbit", "linux", "stable", "orbit")
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg[0]) {
					t.Errorf("Fetch error %v, want %q", err, tt.wantMsg[0])
				}
			})
		}
	}
}

func TestNewErrors(t *testing.T) {
	e := testenv.NewTB(t)
	dir := t.TempDir()
	otherCA, err := testenv.NewCA("other CA")
	must(t, err)
	_, otherKey, err := otherCA.IssueClient("other")
	must(t, err)
	otherKeyFile, err := testenv.WriteFile(dir, "other.key", otherKey)
	must(t, err)
	garbage, err := testenv.WriteFile(dir, "garbage.pem", []byte("not pem at all"))
	must(t, err)
	secrets := append(keySecrets(t, e.ClientKeyPEM), keySecrets(t, otherKey)...)

	tests := []struct {
		name    string
		opts    func(o *Options)
		wantMsg string
	}{
		{"bad URL", func(o *Options) { o.URL = "ftp://x" }, "invalid --update-url"},
		{"relative URL", func(o *Options) { o.URL = "updates.example.com" }, "invalid --update-url"},
		{"bad root JSON", func(o *Options) { o.RootJSON = []byte(`{"signed":{}}`) }, "invalid --update-roots"},
		{"root with bad signature", func(o *Options) {
			o.RootJSON = bytes.Replace(e.RootJSON, []byte(`"version": 1`), []byte(`"version": 2`), 1)
		}, "invalid --update-roots"},
		{"certificate without key", func(o *Options) { o.ClientKeyFile = "" }, "--update-tls-client-certificate and --update-tls-client-key must be given together"},
		{"key without certificate", func(o *Options) { o.ClientCertFile = "" }, "--update-tls-client-certificate and --update-tls-client-key must be given together"},
		{"certificate and key swapped", func(o *Options) { o.ClientCertFile, o.ClientKeyFile = o.ClientKeyFile, o.ClientCertFile }, "load --update-tls-client-certificate"},
		{"key of another certificate", func(o *Options) { o.ClientKeyFile = otherKeyFile }, "load --update-tls-client-certificate"},
		{"key as server CA", func(o *Options) { o.ServerCAFile = e.ClientKeyFile }, "--update-tls-certificate " + e.ClientKeyFile + ": no PEM certificate found"},
		{"garbage server CA", func(o *Options) { o.ServerCAFile = garbage }, "no PEM certificate found"},
		{"missing server CA", func(o *Options) { o.ServerCAFile = filepath.Join(dir, "nope.pem") }, "read --update-tls-certificate"},
		{"missing key", func(o *Options) { o.ClientKeyFile = filepath.Join(dir, "nope.key") }, "--update-tls-client-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := envOptions(e)
			tt.opts(&opts)
			c, err := New(opts)
			if err == nil {
				c.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			assertNoSecrets(t, err, secrets)
		})
	}
}

func TestCache(t *testing.T) {
	e := testenv.NewTB(t)
	cache := filepath.Join(t.TempDir(), "cache")
	opts := envOptions(e)
	opts.CacheDir = cache
	ctx := context.Background()
	const orbit = "orbit/linux/stable/orbit"

	first := newClient(t, opts)
	t1, err := first.Fetch(ctx, "orbit", "linux", "stable", "orbit")
	must(t, err)
	if !strings.HasPrefix(t1.File, cache+string(filepath.Separator)+"sha512"+string(filepath.Separator)) ||
		filepath.Base(t1.File) != t1.Hashes["sha512"] {
		t.Errorf("cache entry %s is not <cache>/sha512/<hex>", t1.File)
	}
	for _, p := range []string{cache, filepath.Dir(t1.File)} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %v, want 0700 (%v)", p, st.Mode().Perm(), err)
		}
	}
	if got := targetRequests(e.Server); len(got) != 1 {
		t.Errorf("first fetch: target requests %v", got)
	}

	tests := []struct {
		name         string
		prepare      func(t *testing.T)
		wantRequests int
		wantProgress string
		wantContent  func() []byte
		wantVersion  string
	}{
		{
			name:         "cache hit with a new client",
			prepare:      func(t *testing.T) {},
			wantRequests: 0,
			wantProgress: "cached " + orbit + "\n",
			wantContent:  func() []byte { return servedTarget(t, e, orbit) },
			wantVersion:  "1.2.3",
		},
		{
			name: "corrupted cache entry is re-downloaded",
			prepare: func(t *testing.T) {
				// Same length, one byte changed: only the hash check can notice.
				data, err := os.ReadFile(t1.File)
				must(t, err)
				data[len(data)/2] ^= 0x20
				must(t, os.WriteFile(t1.File, data, 0o600))
			},
			wantRequests: 1,
			wantProgress: "downloaded " + orbit,
			wantContent:  func() []byte { return servedTarget(t, e, orbit) },
			wantVersion:  "1.2.3",
		},
		{
			name: "truncated cache entry is re-downloaded",
			prepare: func(t *testing.T) {
				must(t, os.Truncate(t1.File, 3))
			},
			wantRequests: 1,
			wantProgress: "downloaded " + orbit,
			wantContent:  func() []byte { return servedTarget(t, e, orbit) },
			wantVersion:  "1.2.3",
		},
		{
			name: "entry not matching republished metadata is not used",
			prepare: func(t *testing.T) {
				must(t, e.Repo.AddTarget("orbit", "linux", "stable", "orbit", []byte("orbit 1.2.4\n"), "1.2.4"))
				must(t, e.Repo.Publish())
			},
			wantRequests: 1,
			wantProgress: "downloaded " + orbit,
			wantContent:  func() []byte { return []byte("orbit 1.2.4\n") },
			wantVersion:  "1.2.4",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.prepare(t)
			e.Server.ResetRequests()
			var progress textProgress
			o := opts
			o.Progress = &progress
			c := newClient(t, o)
			got, err := c.Fetch(ctx, "orbit", "linux", "stable", "orbit")
			must(t, err)
			if reqs := targetRequests(e.Server); len(reqs) != tt.wantRequests {
				t.Errorf("target requests %v, want %d", reqs, tt.wantRequests)
			}
			data, err := os.ReadFile(got.File)
			must(t, err)
			if !bytes.Equal(data, tt.wantContent()) {
				t.Errorf("content %q", data)
			}
			if got.Version != tt.wantVersion {
				t.Errorf("version %q, want %q", got.Version, tt.wantVersion)
			}
			if !strings.Contains(progress.String(), tt.wantProgress) {
				t.Errorf("progress %q lacks %q", progress.String(), tt.wantProgress)
			}
		})
	}
}

func TestFetchWithoutCache(t *testing.T) {
	e := testenv.NewTB(t)
	c, err := New(envOptions(e))
	must(t, err)
	got, err := c.Fetch(context.Background(), "desktop", "linux", "stable", "desktop.tar.gz")
	must(t, err)
	if st, err := os.Stat(got.File); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("downloaded file: %v %v", st, err)
	}
	names, err := ExtractTarGz(got.File, t.TempDir())
	must(t, err)
	if strings.Join(names, ",") != "fleet-desktop,fleet-desktop/fleet-desktop" {
		t.Errorf("extracted %v", names)
	}
	must(t, c.Close())
	if _, err := os.Stat(got.File); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left %s: %v", got.File, err)
	}
	if _, err := c.Fetch(context.Background(), "orbit", "linux", "stable", "orbit"); err == nil {
		t.Errorf("Fetch after Close succeeded")
	}
}

func TestFetchErrors(t *testing.T) {
	e := testenv.NewTB(t)
	c := newClient(t, envOptions(e))
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name                            string
		ctx                             context.Context
		target, platform, channel, file string
		wantMsg                         []string
	}{
		{"unknown channel", context.Background(), "orbit", "linux", "beta", "orbit",
			[]string{"target orbit/linux/beta/orbit is not in the TUF repository", `channels available for orbit on linux: "edge", "stable"`, "--orbit-channel"}},
		{"unknown platform", context.Background(), "osqueryd", "plan9", "stable", "osqueryd",
			[]string{"osqueryd/plan9/stable/osqueryd is not in the TUF repository", "no osqueryd for platform plan9"}},
		{"path traversal", context.Background(), "orbit", "..", "stable", "orbit",
			[]string{`invalid target path element ".."`}},
		{"slash in element", context.Background(), "orbit", "linux/x", "stable", "orbit",
			[]string{`invalid target path element "linux/x"`}},
		{"canceled", canceled, "orbit", "linux", "stable", "orbit",
			[]string{"canceled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Fetch(tt.ctx, tt.target, tt.platform, tt.channel, tt.file)
			if err == nil {
				t.Fatalf("Fetch succeeded: %+v", got)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestFetchErrorQuotesRepositoryNames: channel names listed in an error come
// from the repository; a terminal escape sequence in one arrives quoted.
func TestFetchErrorQuotesRepositoryNames(t *testing.T) {
	e := testenv.NewTB(t)
	const evil = "\x1b]0;pwned\x07\x1b[2J"
	must(t, e.Repo.AddTarget("orbit", "linux", evil, "orbit", []byte("x"), "1.2.3"))
	must(t, e.Repo.Publish())
	c := newClient(t, envOptions(e))
	_, err := c.Fetch(context.Background(), "orbit", "linux", "beta", "orbit")
	if err == nil {
		t.Fatal("Fetch of a missing channel succeeded")
	}
	if strings.ContainsAny(err.Error(), "\x1b\x07") {
		t.Errorf("the error carries the repository's escape sequence: %q", err)
	}
	if !strings.Contains(err.Error(), `"\x1b]0;pwned\a\x1b[2J"`) {
		t.Errorf("the error does not name the channel quoted: %q", err)
	}
}

func TestMetadataNeedsRefresh(t *testing.T) {
	e := testenv.NewTB(t)
	c := newClient(t, envOptions(e))
	if _, err := c.Metadata(); err == nil {
		t.Fatal("Metadata before Refresh succeeded")
	}
	// Refresh may be repeated; each starts from the configured root.
	for i := 0; i < 2; i++ {
		must(t, c.Refresh(context.Background()))
	}
	md, err := c.Metadata()
	must(t, err)
	checkMetadata(t, md, e.RootJSON, 1)
}

func TestHTTPStatusErrors(t *testing.T) {
	e := testenv.NewTB(t)
	tests := []struct {
		name    string
		handler http.Handler
		wantMsg []string
	}{
		{"wrong URL path", http.NotFoundHandler(),
			[]string{"HTTP 404", "/timestamp.json", "check --update-url"}},
		{"forbidden", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) }),
			[]string{"HTTP 403", "may have rejected the certificate from --update-tls-client-certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := testenv.NewServer(tt.handler, e.ServerCA, e.ClientCA)
			must(t, err)
			t.Cleanup(s.Close)
			opts := envOptions(e)
			opts.URL = s.URL
			err = newClient(t, opts).Refresh(context.Background())
			if err == nil {
				t.Fatal("Refresh succeeded")
			}
			var he *metadata.ErrDownloadHTTP
			if !errors.As(err, &he) {
				t.Errorf("error is not an ErrDownloadHTTP: %v", err)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestProxy(t *testing.T) {
	e := testenv.NewTB(t)
	server := startTLSServer(t, http.FileServer(http.Dir(e.Repo.Dir)), e.ServerCA, e.ClientCA, 0, "tuf.test")
	resolveTestHosts(t, "tuf.test")
	_, port, _ := strings.Cut(strings.TrimPrefix(server.URL, "https://"), ":")
	url := "https://tuf.test:" + port

	tests := []struct {
		name         string
		noProxy      string
		wantConnects bool
	}{
		{"HTTPS_PROXY is used", "", true},
		{"NO_PROXY bypasses the proxy", "example.com,tuf.test", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := startConnectProxy(t)
			t.Setenv("HTTPS_PROXY", proxy.URL)
			t.Setenv("https_proxy", "")
			t.Setenv("HTTP_PROXY", "")
			t.Setenv("http_proxy", "")
			t.Setenv("NO_PROXY", tt.noProxy)
			t.Setenv("no_proxy", "")
			opts := envOptions(e)
			opts.URL = url
			c := newClient(t, opts)
			got, err := c.Fetch(context.Background(), "orbit", "linux", "stable", "orbit")
			must(t, err)
			data, err := os.ReadFile(got.File)
			must(t, err)
			if !bytes.Equal(data, servedTarget(t, e, "orbit/linux/stable/orbit")) {
				t.Errorf("wrong content")
			}
			n := proxy.connects.Load()
			if tt.wantConnects && n == 0 {
				t.Errorf("no CONNECT through the proxy")
			}
			if !tt.wantConnects && n != 0 {
				t.Errorf("%d CONNECTs despite NO_PROXY", n)
			}
			for _, h := range proxy.Hosts() {
				if h != "tuf.test:"+port {
					t.Errorf("CONNECT to %s", h)
				}
			}
		})
	}
}

func TestUserAgent(t *testing.T) {
	e := testenv.NewTB(t)
	var agents []string
	s, err := testenv.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agents = append(agents, r.UserAgent())
		http.FileServer(http.Dir(e.Repo.Dir)).ServeHTTP(w, r)
	}), e.ServerCA, e.ClientCA)
	must(t, err)
	t.Cleanup(s.Close)
	opts := envOptions(e)
	opts.URL = s.URL + "/" // a trailing slash is accepted
	opts.Version = "1.2.3"
	_, err = newClient(t, opts).Fetch(context.Background(), "orbit", "linux", "stable", "orbit")
	must(t, err)
	if len(agents) < 5 {
		t.Fatalf("only %d requests", len(agents))
	}
	for _, a := range agents {
		if a != "pkgctl/1.2.3" {
			t.Errorf("User-Agent %q", a)
		}
	}
}

func TestStalledDownload(t *testing.T) {
	e := testenv.NewTB(t)
	orig := stallTimeout
	stallTimeout = 300 * time.Millisecond
	t.Cleanup(func() { stallTimeout = orig })
	files := http.FileServer(http.Dir(e.Repo.Dir))
	s, err := testenv.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/targets/") {
			files.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Length", "40")
		w.Write([]byte("#!/bin/sh\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // never sends the rest
	}), e.ServerCA, e.ClientCA)
	must(t, err)
	t.Cleanup(s.Close)
	opts := envOptions(e)
	opts.URL = s.URL
	start := time.Now()
	got, err := newClient(t, opts).Fetch(context.Background(), "orbit", "linux", "stable", "orbit")
	if err == nil {
		t.Fatalf("Fetch succeeded: %+v", got)
	}
	if !strings.Contains(err.Error(), "stalled: no data for 300ms") {
		t.Errorf("error %q does not say the download stalled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestConcurrentFetch(t *testing.T) {
	e := testenv.NewTB(t)
	opts := envOptions(e)
	opts.CacheDir = t.TempDir()
	opts.Progress = &textProgress{}
	c := newClient(t, opts)
	type result struct {
		path string
		err  error
	}
	results := make(chan result)
	for _, comp := range testenv.Components {
		go func() {
			got, err := c.Fetch(context.Background(), comp.Name, comp.Platform, "edge", comp.File)
			if err == nil {
				var data []byte
				data, err = os.ReadFile(got.File)
				want, rerr := os.ReadFile(filepath.Join(e.Repo.Dir, "targets", filepath.FromSlash(comp.Path("edge"))))
				if err == nil && (rerr != nil || !bytes.Equal(data, want)) {
					err = fmt.Errorf("content differs from the served file (%v)", rerr)
				}
			}
			results <- result{comp.Path("edge"), err}
		}()
	}
	for range testenv.Components {
		if r := <-results; r.err != nil {
			t.Errorf("%s: %v", r.path, r.err)
		}
	}
}

// TestCustomURLWithoutRoots: a custom --update-url without --update-roots is
// checked against Fleet's root. The error says the roots are missing and how to
// get them, and does not blame the repository's maintainers.
func TestCustomURLWithoutRoots(t *testing.T) {
	e := testenv.NewTB(t)
	opts := envOptions(e)
	opts.RootJSON = nil
	c := newClient(t, opts)
	err := c.Refresh(context.Background())
	if err == nil {
		t.Fatal("refresh with Fleet's root against a custom repository succeeded")
	}
	for _, want := range []string{"--update-roots is missing", "pkgctl updates roots --path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "maintainers") {
		t.Errorf("error blames the maintainers: %v", err)
	}
}
