// Command winsvc is a minimal Windows service for the msi start/stop test:
// Wine 8 runs only Windows executables built with Go ≤ 1.20, so it is its own
// module built with GOTOOLCHAIN=go1.20.14. On start it writes the service's
// environment to <dir of exe>\winsvc-env.txt, then waits for a stop request
// and writes winsvc-stopped.txt.
package main

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows/svc"
)

type handler struct{ dir string }

func (h handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	os.WriteFile(filepath.Join(h.dir, "winsvc-env.txt"), []byte(strings.Join(os.Environ(), "\n")+"\n"), 0o600)
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for c := range req {
		switch c.Cmd {
		case svc.Interrogate:
			status <- c.CurrentStatus
		case svc.Stop, svc.Shutdown:
			os.WriteFile(filepath.Join(h.dir, "winsvc-stopped.txt"), []byte("stopped\n"), 0o600)
			status <- svc.Status{State: svc.StopPending}
			return false, 0
		}
	}
	return false, 0
}

func main() {
	exe, err := os.Executable()
	if err != nil {
		os.Exit(2)
	}
	if err := svc.Run("Fleet osquery", handler{dir: filepath.Dir(exe)}); err != nil {
		os.Exit(1)
	}
}
