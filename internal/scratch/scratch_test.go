//go:build linux

package scratch

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// deadPID returns the id of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestSweep(t *testing.T) {
	dir := t.TempDir()
	dead, live := strconv.Itoa(deadPID(t)), strconv.Itoa(os.Getppid())
	mk := func(name string, isDir bool) string {
		p := filepath.Join(dir, name)
		var err error
		if isDir {
			err = os.MkdirAll(filepath.Join(p, "sub"), 0o700)
		} else {
			err = os.WriteFile(p, []byte("secret"), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := []string{
		mk("pkgctl-stage-"+dead+"-123456", true),
		mk("pkgctl-build-"+dead+"-99", true),
		mk(".fleet-osquery.deb.pkgctl-"+dead+"-42", false),
	}
	kept := []string{
		mk("pkgctl-stage-"+live+"-123456", true),                 // running process
		mk(".fleet-osquery.deb.pkgctl-"+live+"-42", false),       // running process
		mk("pkgctl-stage-"+strconv.Itoa(os.Getpid())+"-1", true), // this process
		mk("pkgctl-stage-abc", true),                             // not ours
		mk("fleet-osquery.deb", false),                           // an installer
		mk("pkgctl-e2e-"+dead, true),                             // no random suffix: not a scratch name
	}
	removed := Sweep(dir)
	if len(removed) != len(gone) {
		t.Errorf("Sweep removed %q, want %q", removed, gone)
	}
	for _, p := range gone {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s survived the sweep", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was swept: %v", p, err)
		}
	}
}

func TestFileHasNoName(t *testing.T) {
	dir := t.TempDir()
	f, err := File(dir, "cab")
	if err != nil {
		t.Fatal(err)
	}
	defer Close(f)
	if _, err := f.Write([]byte("payload")); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the directory shows %v", ents)
	}
}

func TestOutput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.deb")
	for _, existing := range []bool{false, true} {
		if existing {
			os.WriteFile(path, []byte("old"), 0o644)
		}
		o, err := CreateOutput(path)
		if err != nil {
			t.Fatal(err)
		}
		o.Write([]byte("partial"))
		if ents, _ := os.ReadDir(dir); len(ents) != map[bool]int{false: 0, true: 1}[existing] {
			t.Errorf("while writing the directory shows %v", ents)
		}
		if err := o.Commit(); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != "partial" {
			t.Errorf("after Commit the file holds %q", got)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("after Commit the directory shows %v", ents)
		}
	}
	o, err := CreateOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	o.Write([]byte("new"))
	name, err := o.Named()
	if err != nil || filepath.Dir(name) != dir {
		t.Fatalf("Named = %q, %v", name, err)
	}
	o.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("after Abort the directory shows %v", ents)
	}
}

// TestOutputWrites writes through Write, WriteString and ReadFrom, direct
// and buffered, sizes on and off the alignment and across chunks; the file
// must hold exactly those bytes when a step reads it by name, and after Sync
// and Commit.
func TestOutputWrites(t *testing.T) {
	for _, mode := range []string{"direct", "buffered", "direct refused"} {
		for _, size := range []int{0, 1, directAlign, directAlign + 1, directChunk, 3*directChunk + 12345, (directDepth+5)*directChunk + 5} {
			t.Run(fmt.Sprintf("%s/%d", mode, size), func(t *testing.T) {
				defer func(use, refuse bool) { useDirect, refuseDirect = use, refuse }(useDirect, refuseDirect)
				useDirect, refuseDirect = mode != "buffered", mode == "direct refused"
				testOutputWrites(t, size)
			})
		}
	}
}

func testOutputWrites(t *testing.T, size int) {
	path := filepath.Join(t.TempDir(), "big.pkg")
	want := make([]byte, size)
	for i := range want {
		want[i] = byte(i*131 + i>>13)
	}
	o, err := CreateOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	third := size / 3
	for p := want[:third]; len(p) > 0; {
		n := min(len(p), 1<<20+7)
		if _, err := o.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if _, err := o.WriteString(string(want[third : 2*third])); err != nil {
		t.Fatal(err)
	}
	if n, err := o.ReadFrom(bytes.NewReader(want[2*third:])); err != nil || n != int64(size-2*third) {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	name, err := o.Named()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("by name: read %d bytes (err %v), want the %d written", len(got), err, size)
	}
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := o.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (err %v), want the %d written", len(got), err, size)
	}
}

// TestOutputDirect: where the file system takes direct I/O (asked of it
// here on its own), a large Output uses it.
func TestOutputDirect(t *testing.T) {
	dir := t.TempDir()
	probe, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	supported := setDirect(probe, true) == nil
	probe.Close()
	o, err := CreateOutput(filepath.Join(dir, "x.msi"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Abort()
	if _, err := o.Write(make([]byte, directChunk+1)); err != nil {
		t.Fatal(err)
	}
	if (o.direct != nil) != supported {
		t.Errorf("Output writes with O_DIRECT: %v; the file system in %s takes it: %v", o.direct != nil, dir, supported)
	}
	t.Logf("%s: direct I/O %v", runtime.GOOS, supported)
}
