package packaging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.deb")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A failing write leaves the old file and no temp file.
	_, err := WriteAtomic(out, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("want error")
	}
	if b, _ := os.ReadFile(out); string(b) != "old" {
		t.Errorf("output changed to %q after a failed write", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("leftovers in output dir: %v", ents)
	}
	// A good write replaces it whole, world-readable.
	n, err := WriteAtomic(out, func(w io.Writer) error { _, err := w.Write([]byte("new content")); return err })
	if err != nil || n != 11 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	st, _ := os.Stat(out)
	if b, _ := os.ReadFile(out); string(b) != "new content" || st.Mode().Perm() != 0o644 {
		t.Errorf("got %q mode %o", b, st.Mode().Perm())
	}
}

func TestSourceDate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	got, err := SourceDate()
	if err != nil || !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("got %v %v", got, err)
	}
	for _, bad := range []string{"abc", "-5", "12x"} {
		t.Setenv("SOURCE_DATE_EPOCH", bad)
		if _, err := SourceDate(); err == nil {
			t.Errorf("SOURCE_DATE_EPOCH=%q accepted", bad)
		}
	}
}

type namePackager struct{ name string }

func (namePackager) Package(context.Context, *Layout, io.Writer) error { return nil }
func (p namePackager) FileName(*Layout) string                         { return p.name }

// TestOutputPathNativeTooling: --native-tooling puts the output under build/,
// with and without --outfile, exactly as fleetctl's packagers join the name.
func TestOutputPathNativeTooling(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		outfile string
		native  bool
		want    string
	}{
		{"", false, "fleet-osquery_1.2.3_amd64.deb"},
		{"", true, "build/fleet-osquery_1.2.3_amd64.deb"},
		{"out/a.deb", false, "out/a.deb"},
		{"out/a.deb", true, "build/out/a.deb"},
		{filepath.Join(dir, "abs.deb"), false, filepath.Join(dir, "abs.deb")},
		{filepath.Join(dir, "abs.deb"), true, filepath.Join("build", dir, "abs.deb")},
	} {
		o := &Options{Type: TypeDeb, CustomOutfile: tt.outfile, NativeTooling: tt.native}
		got, err := OutputPath(o, namePackager{"fleet-osquery_1.2.3_amd64.deb"}, &Layout{}, BuildEnv{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		want := tt.want
		if !filepath.IsAbs(want) {
			want = filepath.Join(dir, want)
		}
		if got != want {
			t.Errorf("outfile %q native %v: %s, want %s", tt.outfile, tt.native, got, want)
		}
	}
}

// TestWriteAtomicSum: the digest is that of the file put in place, summed
// while writing, or read back when a step (signing) replaced the file.
func TestWriteAtomicSum(t *testing.T) {
	data := bytes.Repeat([]byte("installer bytes "), 1<<16)
	signed := append(slices.Clone(data), "signature"...)
	for _, tc := range []struct {
		name  string
		after func(tmp string) error
		want  []byte
	}{
		{"plain", nil, data},
		{"step reads only", func(tmp string) error { _, err := os.ReadFile(tmp); return err }, data},
		{"step replaces the file", func(tmp string) error {
			next := tmp + ".new"
			if err := os.WriteFile(next, signed, 0o600); err != nil {
				return err
			}
			return os.Rename(next, tmp)
		}, signed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "x.pkg")
			n, digest, err := writeAtomicSum(out, func(w io.Writer) error { _, err := w.Write(data); return err }, tc.after, sha256.New())
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(out)
			sum := sha256.Sum256(got)
			if !bytes.Equal(got, tc.want) || n != int64(len(tc.want)) || !bytes.Equal(digest, sum[:]) {
				t.Errorf("file %d bytes (want %d), size %d, digest %x, file's %x", len(got), len(tc.want), n, digest, sum)
			}
		})
	}
}
