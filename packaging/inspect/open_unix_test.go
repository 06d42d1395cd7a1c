//go:build unix

package inspect

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pkgctl/pkgctl/internal/flagfile"
)

// TestOpenRefusesSpecialFiles: a FIFO or a device given to inspect, verify or
// diff is refused at once (os.Open of a FIFO would wait for a writer forever).
func TestOpenRefusesSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fleet-osquery.pkg")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero", t.TempDir()} {
		done := make(chan error, 1)
		go func() {
			_, err := Open(path, Options{})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, flagfile.ErrNotRegular) {
				t.Errorf("Open(%s) = %v, want ErrNotRegular", path, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("Open(%s) blocked", path)
		}
	}
}
