package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pkgctl/pkgctl/packaging"
)

// Streams are the command's standard streams, injected so tests need no shell.
type Streams struct {
	In            io.Reader
	Out, ErrOut   io.Writer
	ErrIsTerminal bool // progress bars on a terminal, plain lines otherwise

	ui *ui // shared by the commands of one run (output.go); nil in unit tests
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// NewCmdRoot builds the pkgctl command tree.
func NewCmdRoot(s Streams) *cobra.Command {
	if s.ui == nil {
		s.ui = &ui{}
	}
	root := &cobra.Command{
		Use:           "pkgctl",
		Short:         "Build Fleet agent (fleetd) installers in pure Go",
		Long:          "pkgctl builds fleetd installers (.pkg, .msi, .deb, .rpm, .pkg.tar.zst) that bundle orbit, osqueryd and\nFleet Desktop fetched from a TUF server. `pkgctl package` takes the flags of `fleetctl package`.",
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("pkgctl version {{.Version}}\n")
	root.PersistentFlags().BoolVarP(&s.ui.quiet, "quiet", "q", false, "Print errors only: no progress, messages or warnings")
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.AddCommand(NewCmdPackage(s, nil))
	root.AddCommand(NewCmdVersion(s))
	root.AddCommand(NewCmdDocs(s))
	root.AddCommand(NewCmdCloudFront(s))
	root.AddCommand(NewCmdPublish(s, nil))
	root.AddCommand(NewCmdProfile(s, nil))
	root.AddCommand(NewCmdUpdates(s, nil))
	root.AddCommand(NewCmdInspect(s, nil), NewCmdVerify(s, nil), NewCmdDiff(s, nil))
	root.AddCommand(NewCmdMan(s))
	decorateCommands(root)
	addCompletions(root)
	root.SetFlagErrorFunc(flagError)
	return root
}

// Execute runs pkgctl with args and returns the process exit code. SIGINT and
// SIGTERM cancel the command's context.
func Execute(args []string, s Streams) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, a second one kills at once (default action).
		<-ctx.Done()
		stop()
	}()
	return execute(ctx, args, s)
}

// interruptGrace is how long a cancelled command gets to clean up and return.
// A command blocked where no context reaches (a file copy, a terminal read) is
// abandoned after it, and the process exits anyway.
const interruptGrace = 3 * time.Second

// errInterrupted is returned for a run stopped by SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted")

func execute(ctx context.Context, args []string, s Streams) int {
	root := NewCmdRoot(s)
	root.SetArgs(normalizeArgs(root, args))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var err error
	finished := true
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done:
		case <-time.After(interruptGrace):
			finished = false
		}
	}
	if ctx.Err() != nil && (err != nil || !finished) {
		// Whatever the command says, it failed because it was stopped.
		err = errInterrupted
	}
	if err != nil {
		// "Error: interrupted" after Ctrl-C; a URL's password or signature, or a
		// server's escape sequence, never reaches the terminal.
		fmt.Fprintf(s.ErrOut, "Error: %s\n", inert(err.Error()))
	}
	return exitCode(err)
}

// Exit codes: 0 success, 1 failure, 2 wrong usage (bad flag, invalid value,
// refused before any work), 130 interrupted (128 + SIGINT, as shells report it).
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// exitCode maps an error to the process exit code; the one place that does.
func exitCode(err error) int {
	var ue *usageError
	var fe *packaging.FlagError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errInterrupted): // execute turns any error of a signalled run into it
		return exitInterrupted
	case errors.As(err, &ue), errors.As(err, &fe):
		return exitUsage
	}
	return exitFailure
}

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }
