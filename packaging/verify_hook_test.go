package packaging

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type bytesPackager struct{}

func (bytesPackager) Package(_ context.Context, _ *Layout, w io.Writer) error {
	_, err := w.Write([]byte("installer bytes"))
	return err
}
func (bytesPackager) FileName(*Layout) string { return "out.deb" }

// TestVerifyHook runs BuildEnv.Verify on the finished temporary file: its
// error fails the build and leaves nothing at the output path; success
// renames the file into place.
func TestVerifyHook(t *testing.T) {
	registryMu.Lock()
	old, had := registry[TypeDeb]
	registryMu.Unlock()
	Register(TypeDeb, bytesPackager{})
	t.Cleanup(func() {
		registryMu.Lock()
		defer registryMu.Unlock()
		if had {
			registry[TypeDeb] = old
		} else {
			delete(registry, TypeDeb)
		}
	})
	dir := t.TempDir()
	src := filepath.Join(dir, "bin")
	os.WriteFile(src, []byte("x"), 0o600)
	o := &Options{Type: TypeDeb, Arch: ArchAMD64, OrbitChannel: "stable", OsquerydChannel: "stable", DesktopChannel: "stable"}
	o.WithDefaults()
	reqs, err := ComponentsFor(o)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetched{meta: []byte(`{"root.json":{}}`), comps: map[string]Component{}, infos: map[string]TargetInfo{}}
	for _, r := range reqs {
		c := Component{Name: r.Name, Platform: r.Platform, Channel: r.Channel, File: r.File, Source: src, Version: "1.2.3"}
		f.comps[c.TargetPath()] = c
	}
	out := filepath.Join(dir, "out", "x.deb")
	os.MkdirAll(filepath.Dir(out), 0o755)
	o.CustomOutfile = out
	var seen string
	env := BuildEnv{Verify: func(tmp string) error {
		b, _ := os.ReadFile(tmp)
		seen = string(b)
		if filepath.Dir(tmp) != filepath.Dir(out) || tmp == out {
			t.Errorf("verified %s, want a temporary file beside %s", tmp, out)
		}
		return errors.New("DEB-DATA-UNREADABLE")
	}}
	_, err = f.Assemble(context.Background(), o, env)
	if err == nil || !strings.Contains(err.Error(), "--verify") || !strings.Contains(err.Error(), "DEB-DATA-UNREADABLE") {
		t.Fatalf("err = %v", err)
	}
	if seen != "installer bytes" {
		t.Errorf("verify saw %q", seen)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
		t.Errorf("a refused build left %v", ents)
	}
	env.Verify = func(string) error { return nil }
	if _, err := f.Assemble(context.Background(), o, env); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "installer bytes" {
		t.Errorf("output %q", b)
	}
}
