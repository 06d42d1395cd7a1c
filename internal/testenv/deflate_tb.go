package testenv

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Input is a named test input for compressors.
type Input struct {
	Name string
	Data []byte
}

// peFiles are Wine's PE DLLs (Debian package libwine, which wine64 pulls in).
var peFiles = []string{"shell32.dll", "msi.dll", "kernelbase.dll"}

// DeflateInputs returns what every deflate writer is tested with: zero
// runs, a short repeated pattern, random bytes, text, and real PE files
// from an installed Debian package (Wine's DLLs, package libwine), each cut
// to at most max bytes (0: whole). It fails the test, never skips it, when
// the package is missing.
func DeflateInputs(t testing.TB, max int) []Input {
	t.Helper()
	rnd := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rnd {
		rnd[i] = byte(r.Uint32())
	}
	text, err := os.ReadFile("/usr/share/common-licenses/GPL-3")
	if err != nil {
		t.Fatalf("text input: %v (Debian's base-files has it)", err)
	}
	in := []Input{
		{"zeros", make([]byte, 1<<20)},
		{"pattern", bytes.Repeat([]byte("pkgctl!"), 150000)},
		{"random", rnd},
		{"text", bytes.Repeat(text, 8)},
		{"zeros+random+zeros", append(append(make([]byte, 100000), rnd[:70000]...), make([]byte, 200000)...)},
	}
	for _, name := range peFiles {
		p := DebianFile(t, "libwine", "x86_64-windows/"+name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("PE input: %v", err)
		}
		in = append(in, Input{"PE " + name, b})
	}
	if max > 0 {
		for i := range in {
			if len(in[i].Data) > max {
				in[i].Data = in[i].Data[:max]
			}
		}
	}
	return in
}

// DebianFile returns the path of the file that the installed Debian package
// pkg ships under a path ending in suffix, as dpkg -L lists it. It fails
// the test, never skips it, when the package or file is missing.
func DebianFile(t testing.TB, pkg, suffix string) string {
	t.Helper()
	out, err := exec.Command("dpkg", "-L", pkg).Output()
	if err != nil {
		t.Fatalf("dpkg -L %s: %v: install the Debian package %s (apt-get install -y %s, or run .ci/deps)", pkg, err, pkg, pkg)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasSuffix(l, "/"+suffix) {
			if fi, err := os.Stat(l); err == nil && fi.Mode().IsRegular() {
				return filepath.Clean(l)
			}
		}
	}
	t.Fatalf("the Debian package %s has no file */%s", pkg, suffix)
	return ""
}
