package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Streams are the command's standard streams, injected so tests need no shell.
type Streams struct {
	In            io.Reader
	Out, ErrOut   io.Writer
	ErrIsTerminal bool // progress is drawn only on a terminal
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// NewCmdRoot builds the pkgctl command tree.
func NewCmdRoot(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "pkgctl",
		Short:         "Build Fleet agent (fleetd) installers in pure Go",
		Long:          "pkgctl builds fleetd installers (.pkg, .msi, .deb, .rpm, .pkg.tar.zst) that bundle orbit, osqueryd and\nFleet Desktop fetched from a TUF server. `pkgctl package` takes the flags of `fleetctl package`.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.AddCommand(NewCmdPackage(s, nil))
	root.AddCommand(NewCmdVersion(s))
	root.AddCommand(NewCmdDocs(s))
	root.AddCommand(NewCmdCloudFront(s))
	root.AddCommand(NewCmdPublish(s, nil))
	root.AddCommand(NewCmdUpdates(s, nil))
	root.AddCommand(NewCmdInspect(s, nil), NewCmdVerify(s, nil), NewCmdDiff(s, nil))
	return root
}

// Execute runs pkgctl with args and returns the process exit code.
func Execute(args []string, s Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := NewCmdRoot(s)
	root.SetArgs(normalizeArgs(root, args))
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(s.ErrOut, "Error: %s\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }
