package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// newUpdater returns a go-tuf v2 updater for baseURL that trusts rootJSON and uses client,
// with a fresh local cache.
func newUpdater(t *testing.T, baseURL string, rootJSON []byte, client *http.Client) *updater.Updater {
	t.Helper()
	cfg, err := config.New(baseURL, rootJSON)
	if err != nil {
		t.Fatalf("config.New: %v", err)
	}
	dir := t.TempDir()
	cfg.LocalMetadataDir = filepath.Join(dir, "metadata")
	cfg.LocalTargetsDir = filepath.Join(dir, "targets")
	cfg.Fetcher = HTTPFetcher{Client: client}
	up, err := updater.New(cfg)
	if err != nil {
		t.Fatalf("updater.New: %v", err)
	}
	return up
}

// fetchTarget refreshes a new client of e's server and downloads targetPath.
func fetchTarget(t *testing.T, e *Env, baseURL, targetPath string) (*metadata.TargetFiles, []byte, error) {
	t.Helper()
	client, err := e.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	up := newUpdater(t, baseURL, e.RootJSON, client)
	if err := up.Refresh(); err != nil {
		return nil, nil, fmt.Errorf("refresh: %w", err)
	}
	ti, err := up.GetTargetInfo(targetPath)
	if err != nil {
		return nil, nil, fmt.Errorf("get target info: %w", err)
	}
	_, data, err := up.DownloadTarget(ti, filepath.Join(t.TempDir(), "download"), "")
	if err != nil {
		return ti, nil, fmt.Errorf("download: %w", err)
	}
	return ti, data, nil
}

func customVersion(t *testing.T, ti *metadata.TargetFiles) string {
	t.Helper()
	if ti.Custom == nil {
		t.Fatalf("%s: no custom metadata", ti.Path)
	}
	var custom struct{ Version string }
	if err := json.Unmarshal(*ti.Custom, &custom); err != nil {
		t.Fatalf("%s: custom metadata: %v", ti.Path, err)
	}
	return custom.Version
}

func TestClientDownloadsTargets(t *testing.T) {
	e := NewTB(t)
	tests := []struct {
		path        string
		wantVersion string
		wantPrefix  string
	}{
		{"orbit/linux/stable/orbit", StableVersion, "#!/bin/sh\necho orbit linux stable 1.2.3\n"},
		{"osqueryd/linux-arm64/edge/osqueryd", EdgeVersion, "#!/bin/sh\necho osqueryd linux-arm64 edge 1.3.0\n"},
		{"orbit/windows/stable/orbit.exe", StableVersion, "pkgctl testenv fake executable: orbit windows stable 1.2.3\n"},
		{"desktop/windows-arm64/edge/fleet-desktop.exe", EdgeVersion, "pkgctl testenv fake executable: desktop windows-arm64 edge 1.3.0\n"},
		{"desktop/macos/stable/desktop.app.tar.gz", StableVersion, "\x1f\x8b"},
		{"osqueryd/macos-app/edge/osqueryd.app.tar.gz", EdgeVersion, "\x1f\x8b"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			ti, data, err := fetchTarget(t, e, e.Server.URL, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, []byte(tt.wantPrefix)) {
				t.Errorf("content starts %q, want prefix %q", data[:min(len(data), 60)], tt.wantPrefix)
			}
			if got := customVersion(t, ti); got != tt.wantVersion {
				t.Errorf("custom version %q, want %q", got, tt.wantVersion)
			}
			for _, alg := range []string{"sha256", "sha512"} {
				if len(ti.Hashes[alg]) == 0 {
					t.Errorf("no %s hash", alg)
				}
			}
		})
	}

	e.Server.ResetRequests()
	if _, _, err := fetchTarget(t, e, e.Server.URL, "orbit/linux/stable/orbit"); err != nil {
		t.Fatal(err)
	}
	want := []string{"/2.root.json", "/timestamp.json", "/snapshot.json", "/targets.json", "/targets/orbit/linux/stable/orbit"}
	if got := e.Server.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

func TestAttackKnobsMakeClientFail(t *testing.T) {
	const target = "orbit/linux/stable/orbit"
	tests := []struct {
		name    string
		attack  func(r *Repo) error
		wantErr error
	}{
		{"expired timestamp", func(r *Repo) error { return r.SetTimestampExpiry(time.Now().Add(-time.Hour)) }, &metadata.ErrExpiredMetadata{}},
		{"rollback snapshot", (*Repo).RollbackSnapshot, &metadata.ErrBadVersionNumber{}},
		{"tampered target", func(r *Repo) error { return r.TamperTarget(target) }, &metadata.ErrLengthOrHashMismatch{}},
		{"longer target", func(r *Repo) error { return r.AppendToTarget(target, []byte("extra")) }, &metadata.ErrDownloadLengthMismatch{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewTB(t)
			if _, _, err := fetchTarget(t, e, e.Server.URL, target); err != nil {
				t.Fatalf("before the attack: %v", err)
			}
			if err := tt.attack(e.Repo); err != nil {
				t.Fatal(err)
			}
			_, data, err := fetchTarget(t, e, e.Server.URL, target)
			if err == nil {
				t.Fatalf("client accepted the repository (%d bytes of target)", len(data))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %T", err, tt.wantErr)
			}
		})
	}
}

func TestPublishRepairsMetadataAttacks(t *testing.T) {
	for name, attack := range map[string]func(r *Repo) error{
		"expired timestamp": func(r *Repo) error { return r.SetTimestampExpiry(time.Now().Add(-time.Hour)) },
		"rollback snapshot": (*Repo).RollbackSnapshot,
	} {
		t.Run(name, func(t *testing.T) {
			e := NewTB(t)
			if err := attack(e.Repo); err != nil {
				t.Fatal(err)
			}
			if err := e.Repo.Publish(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := fetchTarget(t, e, e.Server.URL, "orbit/linux/stable/orbit"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRotateRoot(t *testing.T) {
	e := NewTB(t)
	oldRoot := e.RootJSON
	for range 2 {
		if err := e.Repo.RotateRoot(); err != nil {
			t.Fatal(err)
		}
	}
	newRoot := e.Repo.RootJSON()
	if bytes.Equal(oldRoot, newRoot) {
		t.Fatal("RootJSON did not change")
	}
	for _, name := range []string{"1.root.json", "2.root.json", "3.root.json"} {
		if _, err := metadata.Root().FromFile(filepath.Join(e.Repo.Dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := e.Repo.Publish(); err != nil {
		t.Fatal(err)
	}

	client, err := e.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	for name, root := range map[string][]byte{"old root": oldRoot, "new root": newRoot} {
		t.Run(name, func(t *testing.T) {
			up := newUpdater(t, e.Server.URL, root, client)
			if err := up.Refresh(); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if got := up.GetTrustedMetadataSet().Root.Signed.Version; got != 3 {
				t.Errorf("trusted root version %d, want 3", got)
			}
			ti, err := up.GetTargetInfo("desktop/linux/edge/desktop.tar.gz")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := up.DownloadTarget(ti, filepath.Join(t.TempDir(), "d"), ""); err != nil {
				t.Fatal(err)
			}
		})
	}

	// A root signed only by the new key must not be accepted by a holder of the old root.
	r2, err := metadata.Root().FromFile(filepath.Join(e.Repo.Dir, "2.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.Signatures) != 2 {
		t.Fatalf("2.root.json has %d signatures, want 2 (old and new key)", len(r2.Signatures))
	}
	r1, err := metadata.Root().FromBytes(oldRoot)
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.VerifyDelegate(metadata.ROOT, r2); err != nil {
		t.Errorf("old root does not verify 2.root.json: %v", err)
	}
	r2.Signatures = r2.Signatures[1:]
	if err := r1.VerifyDelegate(metadata.ROOT, r2); err == nil {
		t.Error("old root verifies 2.root.json signed by the new key only")
	}
}
