package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSandbox: a sandboxed command can write in its temp dir, cannot write
// /etc, /opt or /usr (read-only file system as root, permission otherwise),
// and leaves no trace there.
func TestSandbox(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "written")
	if out, err := Command("/bin/sh", "-c", `echo x > "$1"`, "sh", ok).CombinedOutput(); err != nil {
		t.Fatalf("write in the temp dir: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(ok); err != nil || string(b) != "x\n" {
		t.Errorf("temp dir file: %q %v", b, err)
	}
	// Relative paths in the working directory (cmd.Dir) are writable too.
	rel := Command("/bin/sh", "-c", "mkdir -p sub && echo y > sub/f")
	rel.Dir = dir
	if out, err := rel.CombinedOutput(); err != nil {
		t.Fatalf("write relative to cmd.Dir: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "sub/f")); err != nil || string(b) != "y\n" {
		t.Errorf("cmd.Dir file: %q %v", b, err)
	}
	for _, d := range []string{"/etc", "/opt", "/usr/local/bin"} {
		probe := filepath.Join(d, "pkgctl-sandbox-probe")
		out, err := Command("/bin/sh", "-c", `echo x > "$1"`, "sh", probe).CombinedOutput()
		if err == nil {
			os.Remove(probe)
			t.Errorf("sandboxed write to %s succeeded", probe)
		} else {
			t.Logf("%s: %v: %s", probe, err, out)
		}
		if _, err := os.Lstat(probe); err == nil {
			os.Remove(probe)
			t.Errorf("%s exists after a sandboxed write", probe)
		}
	}
	// The sandbox's mounts stay in its namespace: / is still read-write here.
	if os.Geteuid() == 0 {
		data, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) > 5 && f[4] == "/" && !strings.HasPrefix(f[5], "rw") {
				t.Errorf("after the sandbox, / is mounted %s here", f[5])
			}
		}
	}
}
