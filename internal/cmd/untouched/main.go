// Command untouched runs a command (`make test` runs `go test ./...` through
// it) and fails when anything under /etc, /opt or /usr was created, removed or
// changed while it ran: tests must touch nothing outside their temp dirs.
//
//	go run ./internal/cmd/untouched go test ./...
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/pkgctl/pkgctl/internal/testenv"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: untouched COMMAND [ARG...]")
		return 2
	}
	before, err := testenv.TakeSnapshot(testenv.SystemDirs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "untouched:", err)
		return 1
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, "untouched:", err)
			return 1
		}
		code = ee.ExitCode()
	}
	after, err := testenv.TakeSnapshot(testenv.SystemDirs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "untouched:", err)
		return 1
	}
	if d := before.Diff(after); len(d) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %s changed %s while it ran:\n  %s\n", args[0], strings.Join(testenv.SystemDirs, ", "), strings.Join(d, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	return code
}
