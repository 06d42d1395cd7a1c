package packaging_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
	_ "github.com/pkgctl/pkgctl/packaging/linux"   // deb, rpm
	_ "github.com/pkgctl/pkgctl/packaging/macos"   // pkg
	_ "github.com/pkgctl/pkgctl/packaging/windows" // msi
)

// TestMatrixSharedCompressionSameAsAlone: .pkg, .msi, .deb, .rpm and Arch
// team builds of one matrix share their compressed components (Payload
// prefix, cabinet folder, gzseg segments, zstd frames); every output must be
// byte-identical to the same build run alone.
func TestMatrixSharedCompressionSameAsAlone(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	out := t.TempDir()
	var builds []packaging.MatrixBuild
	for i := range 3 {
		url := fmt.Sprintf("https://team-%d.example.com", i)
		secret := fmt.Sprintf("secret-of-team-%d", i)
		builds = append(builds,
			packaging.MatrixBuild{Name: fmt.Sprint("pkg-", i), Options: matrixOptions(t, env, "pkg", "", url, secret, filepath.Join(out, fmt.Sprint(i, ".pkg")), true)},
			packaging.MatrixBuild{Name: fmt.Sprint("msi-", i), Options: matrixOptions(t, env, "msi", "amd64", url, secret, filepath.Join(out, fmt.Sprint(i, ".msi")), true)},
			packaging.MatrixBuild{Name: fmt.Sprint("deb-", i), Options: matrixOptions(t, env, "deb", "amd64", url, secret, filepath.Join(out, fmt.Sprint(i, ".deb")), true)},
			packaging.MatrixBuild{Name: fmt.Sprint("rpm-", i), Options: matrixOptions(t, env, "rpm", "amd64", url, secret, filepath.Join(out, fmt.Sprint(i, ".rpm")), true)},
			packaging.MatrixBuild{Name: fmt.Sprint("arch-", i), Options: matrixOptions(t, env, "pkg.tar.zst", "amd64", url, secret, filepath.Join(out, fmt.Sprint(i, ".pkg.tar.zst")), true)},
		)
	}
	outs := packaging.BuildMatrix(context.Background(), builds, packaging.BuildEnv{}, packaging.MatrixOptions{Parallel: 2})
	if err := packaging.MatrixErr(outs); err != nil {
		for _, o := range outs {
			t.Log(o.Build.Name, o.Err)
		}
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, a := range sameAsAlone(t, builds, outs) {
		if seen[string(a)] {
			t.Errorf("%s: the same bytes as another team's installer", builds[i].Name)
		}
		seen[string(a)] = true
	}
}
