package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSamePath(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	must(os.MkdirAll(filepath.Join(a, "sub"), 0o755))
	must(os.MkdirAll(b, 0o755))
	must(os.Symlink(b, filepath.Join(dir, "link-to-b")))
	// a/link/.. is b's parent... through a link: c -> b/x, so c/.. is b.
	must(os.MkdirAll(filepath.Join(b, "x"), 0o755))
	must(os.Symlink(filepath.Join(b, "x"), filepath.Join(a, "c")))
	must(os.WriteFile(filepath.Join(b, "exists.deb"), nil, 0o644))
	must(os.Symlink(filepath.Join(b, "exists.deb"), filepath.Join(a, "alias.deb")))
	for _, tc := range []struct {
		x, y string
		same bool
	}{
		{"b/out.deb", "b/out.deb", true},
		{"b/out.deb", "link-to-b/out.deb", true},     // symlinked directory
		{"b/out.deb", "a/../b/out.deb", true},        // a/../b
		{"b/out.deb", "a/c/../out.deb", true},        // .. after a link follows the link
		{"a/out.deb", "a/c/../out.deb", false},       // ... so it is not a/out.deb
		{"b/out.deb", "b/OUT.deb", true},             // case: one file on macOS and Windows
		{"a/alias.deb", "b/exists.deb", true},        // an existing file by another name
		{"a/out.deb", "b/out.deb", false},            // different directories
		{"b/out.deb", "b/out2.deb", false},           // different names
		{"missing/out.deb", "missing/out.deb", true}, // directory not there yet
		{"missing/out.deb", "other/out.deb", false},
	} {
		x, y := dir+"/"+tc.x, dir+"/"+tc.y // not Join: it would clean "a/c/.." lexically
		if got := SamePath(x, y); got != tc.same {
			t.Errorf("SamePath(%s, %s) = %v, want %v", tc.x, tc.y, got, tc.same)
		}
	}
}

func TestCheckOutputs(t *testing.T) {
	dir := t.TempDir()
	b := filepath.Join(dir, "b")
	if err := os.MkdirAll(b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(b, filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	cfg := filepath.Join(dir, "pkgctl.yaml")
	build := func(name, out string) MatrixBuild {
		return MatrixBuild{Name: name, Options: &Options{Type: TypeDeb, CustomOutfile: out, FleetCertificate: ca}}
	}
	for _, tc := range []struct {
		name     string
		builds   []MatrixBuild
		manifest string
		want     string
	}{
		{"distinct", []MatrixBuild{build("x", filepath.Join(b, "x.deb")), build("y", filepath.Join(b, "y.deb"))}, filepath.Join(dir, "m.json"), ""},
		{"symlinked dir", []MatrixBuild{build("x", filepath.Join(b, "x.deb")), build("y", filepath.Join(dir, "alias", "x.deb"))}, "", "builds x and y both write one file"},
		{"dot-dot", []MatrixBuild{build("x", filepath.Join(b, "x.deb")), build("y", b+"/../b/x.deb")}, "", "builds x and y both write one file"},
		{"case", []MatrixBuild{build("x", filepath.Join(b, "x.deb")), build("y", filepath.Join(b, "X.deb"))}, "", "builds x and y both write one file"},
		{"outfile is an input", []MatrixBuild{build("x", ca)}, "", "--fleet-certificate of build x"},
		{"outfile is the config", []MatrixBuild{build("x", cfg)}, "", "is also --config"},
		{"manifest is an output", []MatrixBuild{build("x", filepath.Join(b, "x.deb"))}, filepath.Join(dir, "alias", "x.deb"), "--manifest"},
		{"manifest is the config", []MatrixBuild{build("x", "")}, cfg, "is also --config"},
		{"manifest is an input", []MatrixBuild{build("x", "")}, ca, "is also --fleet-certificate of build x"},
		{"same default name", []MatrixBuild{build("x", ""), build("y", "")}, "", "builds x and y both write the default file name"},
		{"default names of two archs", []MatrixBuild{build("x", ""), {Name: "y", Options: &Options{Type: TypeDeb, Arch: ArchARM64}}}, "", ""},
		{"default names of two channels", []MatrixBuild{build("x", ""), {Name: "y", Options: &Options{Type: TypeDeb, OrbitChannel: "edge"}}}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckOutputs(tc.builds, ProtectedFiles(tc.builds, cfg, tc.manifest))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidateOutfileIsNotAnInput(t *testing.T) {
	f := newCertFiles(t)
	for _, o := range []Options{
		{Type: TypeDeb, FleetCertificate: f.CA, CustomOutfile: f.CA},
		{Type: TypeDeb, FleetTLSClientCertificate: f.Cert, FleetTLSClientKey: f.Key, CustomOutfile: f.Key},
		{Type: TypeDeb, OsqueryFlagfile: f.Empty, CustomOutfile: f.Empty},
	} {
		// The inputs end in .pem/.key: name the outfile the input through a link ending in .deb.
		link := filepath.Join(t.TempDir(), "x.deb")
		if err := os.Symlink(o.CustomOutfile, link); err != nil {
			t.Fatal(err)
		}
		target := o.CustomOutfile
		o.CustomOutfile = link
		o.WithDefaults()
		_, err := o.Validate()
		if fe, ok := err.(*FlagError); !ok || fe.Flag != "outfile" || !strings.Contains(err.Error(), "would replace an input") {
			t.Errorf("--outfile %s -> %s: err = %v", link, target, err)
		}
	}
}
