package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSnapshotDiff: each kind of change under a root shows in the diff, and
// an untouched tree shows nothing.
func TestSnapshotDiff(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(root string) error
		want   string
	}{
		{"nothing", func(string) error { return nil }, ""},
		{"file created deep", func(r string) error {
			return os.WriteFile(filepath.Join(r, "a/b/c/d/new"), nil, 0o644)
		}, "created "},
		{"directory created", func(r string) error { return os.Mkdir(filepath.Join(r, "orbit"), 0o755) }, "created "},
		{"file removed", func(r string) error { return os.Remove(filepath.Join(r, "default/x")) }, "removed "},
		{"file rewritten", func(r string) error {
			return os.WriteFile(filepath.Join(r, "default/x"), []byte("longer content"), 0o644)
		}, "changed "},
		{"file touched", func(r string) error {
			return os.Chtimes(filepath.Join(r, "default/x"), time.Unix(1, 0), time.Unix(1, 0))
		}, "changed "},
		{"mode changed", func(r string) error { return os.Chmod(filepath.Join(r, "default"), 0o700) }, "changed "},
		{"symlink created", func(r string) error { return os.Symlink("/x", filepath.Join(r, "a/b/c/d/l")) }, "created "},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"default", "a/b/c/d"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(root, "default/x"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			before, err := TakeSnapshot(root, filepath.Join(root, "missing"))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.change(root); err != nil {
				t.Fatal(err)
			}
			after, err := TakeSnapshot(root, filepath.Join(root, "missing"))
			if err != nil {
				t.Fatal(err)
			}
			d := before.Diff(after)
			if c.want == "" {
				if len(d) != 0 {
					t.Errorf("diff of an untouched tree: %q", d)
				}
				return
			}
			if len(d) == 0 || !strings.HasPrefix(strings.Join(d, "\n"), c.want) {
				t.Errorf("diff %q, want a line starting %q", d, c.want)
			}
		})
	}
}
