package packaging_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pkgctl/pkgctl/internal/testenv"
	"github.com/pkgctl/pkgctl/packaging"
	_ "github.com/pkgctl/pkgctl/packaging/linux" // deb, rpm, pkg.tar.zst
)

// recMeter records what a build tells its progress line.
type recMeter struct {
	mu    sync.Mutex
	total int64
	sets  int
	n     int64
	adds  int
	max   int64 // largest single Add
}

func (m *recMeter) SetTotal(total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total, m.sets = total, m.sets+1
}

func (m *recMeter) Add(n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n += n
	m.adds++
	m.max = max(m.max, n)
}

// TestBuildMeter: every format tells its build's line the bytes of content
// it holds and reaches exactly that; all but the Arch package (nfpm does the
// whole job) count as they go, in more than one step.
func TestBuildMeter(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	env, err := testenv.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	out := t.TempDir()
	types := []struct{ typ, arch, ext string }{
		{"pkg", "", ".pkg"}, {"msi", "amd64", ".msi"}, {"deb", "amd64", ".deb"},
		{"rpm", "amd64", ".rpm"}, {"pkg.tar.zst", "amd64", ".pkg.tar.zst"},
		// A second team: its components were compressed by the first (packaging.Shared).
		{"pkg", "", ".pkg"}, {"msi", "amd64", ".msi"},
	}
	var builds []packaging.MatrixBuild
	meters := make([]*recMeter, len(types))
	for i, ty := range types {
		meters[i] = &recMeter{}
		team := fmt.Sprint("team-", i/5)
		o := matrixOptions(t, env, ty.typ, ty.arch, "https://"+team+".example.com", team+"-secret", filepath.Join(out, team+ty.ext), false)
		builds = append(builds, packaging.MatrixBuild{Name: team + ty.ext, Options: o})
	}
	outs := packaging.BuildMatrix(context.Background(), builds, packaging.BuildEnv{}, packaging.MatrixOptions{
		Parallel: 1,
		Meter:    func(i int) packaging.Meter { return meters[i] },
	})
	if err := packaging.MatrixErr(outs); err != nil {
		t.Fatal(err)
	}
	for i, ty := range types {
		m := meters[i]
		if m.sets != 1 || m.total <= 0 {
			t.Errorf("%s: SetTotal called %d times, total %d", builds[i].Name, m.sets, m.total)
			continue
		}
		if m.n != m.total {
			t.Errorf("%s: counted %d bytes of %d", builds[i].Name, m.n, m.total)
		}
		if ty.typ != "pkg.tar.zst" && (m.adds < 2 || m.max >= m.total) {
			t.Errorf("%s: %d adds, the largest %d of %d: the packager did not count as it went", builds[i].Name, m.adds, m.max, m.total)
		}
	}
}
