//go:build unix

package flagfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(regular, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, 11), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"regular", regular, ""},
		{"symlink to regular", link, ""},
		{"fifo does not hang", fifo, "not a regular file (a named pipe)"},
		{"endless device", "/dev/zero", "not a regular file (a character device)"},
		{"directory", dir, "not a regular file (a directory)"},
		{"over the limit", big, "larger than the 10 bytes limit"},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Read(tc.path, 10)
			if tc.want == "" {
				if err != nil || string(data) != "hello" {
					t.Fatalf("Read = %q, %v", data, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("Read error = %v, want one naming %s and saying %q", err, tc.path, tc.want)
			}
			if !strings.Contains(errors.Unwrap(err).Error(), tc.want) {
				t.Fatalf("errors.Unwrap = %v, want the bare reason", errors.Unwrap(err))
			}
		})
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{4 << 20: "4 MiB", 8 << 30: "8 GiB", 3 << 10: "3 KiB", 1536: "1536 bytes", 100: "100 bytes"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
