package repodir

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestGoModNeedsNoNewerGo: go.mod's go line is the newest that a module the
// build uses requires, not more (a newer patch makes `go install` fetch a
// toolchain on older 1.26 releases), and go.mod has no toolchain line.
func TestGoModNeedsNoNewerGo(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var ours string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "go" {
			ours = f[1]
		}
		if len(f) > 0 && f[0] == "toolchain" {
			t.Errorf("go.mod has %q: leave the toolchain to the user", line)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-test", "-f", "{{if .Module}}{{if ne .Module.Path \"github.com/pkgctl/pkgctl\"}}{{.Module.GoVersion}} {{.Module.Path}}{{end}}{{end}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	need, by := "1.0", ""
	for _, line := range strings.Split(string(out), "\n") {
		v, mod, ok := strings.Cut(line, " ")
		if ok && v != "" && compareGo(v, need) > 0 {
			need, by = v, mod
		}
	}
	if compareGo(ours, need) != 0 {
		t.Errorf("go.mod says go %s; the newest a dependency needs is %s (%s)", ours, need, by)
	}
}

// compareGo compares Go versions like 1.26, 1.26.0 and 1.26.8 (1.26 < 1.26.0).
func compareGo(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		if i >= len(pa) {
			return -1
		}
		if i >= len(pb) {
			return 1
		}
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
