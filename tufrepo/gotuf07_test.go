package tufrepo

// Interop with go-tuf v0.7, the library behind `fleetctl updates` and the agent's (orbit's)
// TUF client. Used only here, in tests: its client reads what tufrepo writes, its
// repository code (what fleetctl runs) maintains a repository tufrepo made, and tufrepo
// maintains a repository its repository code made.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	tuf "github.com/theupdateframework/go-tuf"
	tufclient "github.com/theupdateframework/go-tuf/client"
)

// memDest is a go-tuf v0.7 client download destination in memory.
type memDest struct{ bytes.Buffer }

func (*memDest) Delete() error { return nil }

// v07Fetch initialises a go-tuf v0.7 client (as orbit does) with root, updates it and
// downloads path.
func v07Fetch(t *testing.T, url string, client *http.Client, root []byte, path string) ([]byte, string) {
	t.Helper()
	remote, err := tufclient.HTTPRemoteStore(url, nil, client)
	if err != nil {
		t.Fatal(err)
	}
	c := tufclient.NewClient(tufclient.MemoryLocalStore(), remote)
	if err := c.Init(root); err != nil {
		t.Fatalf("v0.7 client init: %v", err)
	}
	if _, err := c.Update(); err != nil {
		t.Fatalf("v0.7 client update: %v", err)
	}
	var d memDest
	if err := c.Download(path, &d); err != nil {
		t.Fatalf("v0.7 client download %s: %v", path, err)
	}
	meta, err := c.Target(path)
	if err != nil {
		t.Fatal(err)
	}
	var custom struct{ Version string }
	if meta.Custom != nil {
		json.Unmarshal(*meta.Custom, &custom)
	}
	return d.Bytes(), custom.Version
}

// v07Pass is fleetctl's passphrase function over testPass.
func v07Pass(role string, confirm, change bool) ([]byte, error) { return []byte(testPass[role]), nil }

// TestGoTUFv07ClientReads: the agent's TUF client reads a repository made here, before and
// after each role's key is rotated, starting from the first root.
func TestGoTUFv07ClientReads(t *testing.T) {
	t.Parallel()
	r, srcs := newTestRepo(t, time.Now())
	url, client := server(t, r.Dir())
	firstRoot := r.RootJSON()
	want, _ := os.ReadFile(srcOf(srcs, "orbit"))
	if got, v := v07Fetch(t, url, client, firstRoot, "orbit/linux/stable/orbit"); !bytes.Equal(got, want) || v != "1.2.3" {
		t.Fatalf("v0.7 client got %d bytes, version %q", len(got), v)
	}
	for _, role := range Roles {
		o, _ := opts(time.Now())
		r2, err := Open(r.Dir(), o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r2.Rotate(role); err != nil {
			t.Fatal(err)
		}
		if got, _ := v07Fetch(t, url, client, firstRoot, "orbit/linux/1/orbit"); !bytes.Equal(got, want) {
			t.Fatalf("after rotating %s: wrong bytes", role)
		}
	}
}

// TestFleetctlMaintainsOurRepository: go-tuf v0.7's repository code, as fleetctl runs it,
// opens a repository made here (keys and metadata), adds a target and re-signs; clients
// still read everything.
func TestFleetctlMaintainsOurRepository(t *testing.T) {
	t.Parallel()
	r, srcs := newTestRepo(t, time.Now())
	url, client := server(t, r.Dir())
	repo, err := tuf.NewRepo(tuf.FileSystemStore(r.Dir(), v07Pass))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("#!/bin/sh\necho orbit 2.0.0 from fleetctl\n")
	const p = "orbit/linux/edge/orbit"
	staged := filepath.Join(r.Dir(), "staged", "targets", filepath.FromSlash(p))
	os.MkdirAll(filepath.Dir(staged), 0o755)
	if err := os.WriteFile(staged, data, 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := repo.AddTargetsWithExpires([]string{p}, json.RawMessage(`{"version":"2.0.0"}`), now.Add(TargetsExpiry)); err != nil {
		t.Fatalf("fleetctl add: %v", err)
	}
	if err := repo.SnapshotWithExpires(now.Add(SnapshotExpiry)); err != nil {
		t.Fatal(err)
	}
	if err := repo.TimestampWithExpires(now.Add(TimestampExpiry)); err != nil {
		t.Fatal(err)
	}
	if err := repo.Commit(); err != nil {
		t.Fatalf("fleetctl commit: %v", err)
	}
	for path, want := range map[string][]byte{p: data, "osqueryd/linux/stable/osqueryd": mustRead(t, srcOf(srcs, "osqueryd"))} {
		if _, got, _, err := fetch(t, url, client, r.RootJSON(), t.TempDir(), now, path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("v2 client %s: %v", path, err)
		}
		if got, _ := v07Fetch(t, url, client, r.RootJSON(), path); !bytes.Equal(got, want) {
			t.Errorf("v0.7 client %s: wrong bytes", path)
		}
	}
	// And tufrepo carries on after fleetctl.
	o, _ := opts(now)
	r2, err := Open(r.Dir(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Timestamp(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := fetch(t, url, client, r.RootJSON(), t.TempDir(), now, p); err != nil {
		t.Error(err)
	}
}

// TestWeMaintainFleetctlRepository: a repository created by go-tuf v0.7 the way
// `fleetctl updates init` does is maintained here (add, timestamp, rotate) and read by
// both clients.
func TestWeMaintainFleetctlRepository(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "fleetctl")
	repo, err := tuf.NewRepo(tuf.FileSystemStore(dir, v07Pass))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := repo.Init(false); err != nil {
		t.Fatal(err)
	}
	for _, role := range Roles {
		if _, err := repo.GenKeyWithExpires(role, now.Add(RootExpiry)); err != nil {
			t.Fatal(err)
		}
	}
	if err := repo.Sign("root.json"); err != nil {
		t.Fatal(err)
	}
	if err := repo.AddTargetsWithExpires(nil, nil, now.Add(TargetsExpiry)); err != nil {
		t.Fatal(err)
	}
	if err := repo.SnapshotWithExpires(now.Add(SnapshotExpiry)); err != nil {
		t.Fatal(err)
	}
	if err := repo.TimestampWithExpires(now.Add(TimestampExpiry)); err != nil {
		t.Fatal(err)
	}
	if err := repo.Commit(); err != nil {
		t.Fatal(err)
	}
	fleetRoot, err := os.ReadFile(filepath.Join(dir, "repository", "root.json"))
	if err != nil {
		t.Fatal(err)
	}

	o, asked := opts(now)
	r, err := Open(dir, o)
	if err != nil {
		t.Fatalf("open fleetctl's repository: %v", err)
	}
	srcs := sampleSrc(t, t.TempDir(), "3.0.0")
	if _, err := r.Add(srcOf(srcs, "orbit"), "orbit", "linux", "3.0.0", "stable"); err != nil {
		t.Fatalf("add with fleetctl's keys: %v (asked %v)", err, asked.asked)
	}
	if err := r.Timestamp(); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"targets", "root"} {
		o, _ := opts(now)
		r2, err := Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r2.Rotate(role); err != nil {
			t.Fatalf("rotate %s: %v", role, err)
		}
	}
	url, client := server(t, dir)
	want := mustRead(t, srcOf(srcs, "orbit"))
	if _, got, up, err := fetch(t, url, client, fleetRoot, t.TempDir(), now, "orbit/linux/stable/orbit"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("v2 client from fleetctl's root: %v", err)
	} else if v := up.GetTrustedMetadataSet().Root.Signed.Version; v != 3 {
		t.Errorf("trusted root version %d, want 3", v)
	}
	if got, v := v07Fetch(t, url, client, fleetRoot, "orbit/linux/3.0.0/orbit"); !bytes.Equal(got, want) || v != "3.0.0" {
		t.Errorf("v0.7 client from fleetctl's root: version %q", v)
	}
	// fleetctl can still sign after our rotation.
	repo2, err := tuf.NewRepo(tuf.FileSystemStore(dir, v07Pass))
	if err != nil {
		t.Fatal(err)
	}
	if err := repo2.TimestampWithExpires(now.Add(TimestampExpiry)); err != nil {
		t.Fatalf("fleetctl timestamp after our rotation: %v", err)
	}
	if err := repo2.Commit(); err != nil {
		t.Fatalf("fleetctl commit after our rotation: %v", err)
	}
	if got, _ := v07Fetch(t, url, client, fleetRoot, "orbit/linux/stable/orbit"); !bytes.Equal(got, want) {
		t.Error("v0.7 client after fleetctl's timestamp: wrong bytes")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
