package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pkgctl/pkgctl/internal/orbitversion"
	"github.com/pkgctl/pkgctl/tufrepo"
	"github.com/pkgctl/pkgctl/update"
)

// UpdatesOptions is `pkgctl updates …`: streams, environment, terminal and clock, then
// the flag values. Passphrases come only from FLEET_<ROLE>_PASSPHRASE or the terminal.
type UpdatesOptions struct {
	Streams   Streams
	LookupEnv func(string) (string, bool)
	// ReadPassword reads one line from the terminal without echo. nil when stdin is not a
	// terminal: then a missing FLEET_<ROLE>_PASSPHRASE is an error.
	ReadPassword func() ([]byte, error)
	Now          func() time.Time
	// restoreTerm puts the terminal back as it was (echo on) when a prompt is
	// left with Ctrl-C; nil when stdin is not a terminal.
	restoreTerm func()
	ctx         context.Context // the command's: cancelled by Ctrl-C

	Path     string
	Target   string
	Name     string
	Platform string
	Version  string
	Tags     []string
	Force    bool // updates add: publish for a platform no agent fetches yet
	Role     string
}

// NewCmdUpdates builds `pkgctl updates`: fleetctl's commands to create and maintain a TUF
// repository for the agent. runF, when not nil, replaces each subcommand's run (tests).
func NewCmdUpdates(s Streams, runF func(sub string, o *UpdatesOptions) error) *cobra.Command {
	opts := &UpdatesOptions{Streams: s, LookupEnv: os.LookupEnv, Now: time.Now}
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		opts.ReadPassword = func() ([]byte, error) { return term.ReadPassword(fd) }
		if st, err := term.GetState(fd); err == nil {
			opts.restoreTerm = func() { term.Restore(fd, st) }
		}
	}
	return newCmdUpdates(opts, runF)
}

func newCmdUpdates(opts *UpdatesOptions, runF func(sub string, o *UpdatesOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "updates",
		Short: "Create and maintain a TUF repository for fleetd updates (as fleetctl updates)",
		Long: "Create and maintain a TUF repository that serves orbit, osqueryd and Fleet Desktop, with the folders,\n" +
			"key files and expiries of `fleetctl updates`. Passphrases come from FLEET_ROOT_PASSPHRASE,\n" +
			"FLEET_TARGETS_PASSPHRASE, FLEET_SNAPSHOT_PASSPHRASE and FLEET_TIMESTAMP_PASSPHRASE, or a terminal prompt.",
		Args: cobra.NoArgs,
	}
	cmd.SetFlagErrorFunc(flagError)
	run := func(sub string, f func(*UpdatesOptions) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			opts.ctx = c.Context()
			if runF != nil {
				return runF(sub, opts)
			}
			return f(opts)
		}
	}
	sub := func(use, short string, f func(*UpdatesOptions) error) *cobra.Command {
		name, _, _ := strings.Cut(use, " ")
		c := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: run(name, f)}
		c.Flags().SortFlags = false
		c.Flags().StringVar(&opts.Path, "path", ".", "Path to local repository")
		c.SetFlagErrorFunc(flagError)
		cmd.AddCommand(c)
		return c
	}
	sub("init", "Initialize update repository", updatesInitRun)
	sub("roots", "Get root metadata (the value for pkgctl package --update-roots)", updatesRootsRun)
	add := sub("add", "Add a new update artifact", updatesAddRun)
	fs := add.Flags()
	fs.StringVar(&opts.Target, "target", "", "Path to target (required)")
	fs.StringVar(&opts.Name, "name", "", "Name of target (required)")
	fs.StringVar(&opts.Platform, "platform", "", "Platform name of target (required)")
	fs.StringVar(&opts.Version, "version", "", "Version of target (required)")
	fs.StringSliceVarP(&opts.Tags, "tag", "t", nil, "Tags to apply to the target (multiple may be specified)")
	fs.BoolVar(&opts.Force, "force", false, "Accept a --platform that no fleetd agent fetches today (a new platform)")
	add.PreRunE = func(*cobra.Command, []string) error { return opts.checkAdd() }
	sub("timestamp", "Sign a new timestamp manifest", updatesTimestampRun)
	rotate := sub("rotate <role>", "Rotate signing keys", updatesRotateRun)
	rotate.Long = "Rotate the signing keys used for updates metadata signing. This should be used when keys are compromised or expiring.\n\n" +
		"role must be one of ['root', 'targets', 'timestamp', 'snapshot']"
	rotate.Args = func(c *cobra.Command, args []string) error {
		if len(args) != 1 {
			return &usageError{errors.New("role must be provided: pkgctl updates rotate root|targets|snapshot|timestamp")}
		}
		if !slices.Contains(tufrepo.Roles, args[0]) {
			return &usageError{fmt.Errorf("role must be one of root, targets, snapshot, timestamp, not %q", args[0])}
		}
		opts.Role = args[0]
		return nil
	}
	return cmd
}

// checkAdd rejects missing flags and a --target that is not a readable file.
func (o *UpdatesOptions) checkAdd() error {
	for _, f := range []struct{ name, v string }{
		{"target", o.Target}, {"name", o.Name}, {"platform", o.Platform}, {"version", o.Version},
	} {
		if f.v == "" {
			return &usageError{fmt.Errorf("--%s is required", f.name)}
		}
	}
	if !o.Force && !slices.Contains(update.Platforms, o.Platform) {
		msg := fmt.Sprintf("--platform %q is not a platform fleetd agents fetch updates for", o.Platform)
		if s := suggest(o.Platform, update.Platforms); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return &usageError{fmt.Errorf("%s; known platforms: %s; pass --force to publish for a new one", msg, strings.Join(update.Platforms, ", "))}
	}
	for _, tag := range o.Tags {
		// -target=x (fleetctl's single-dash style) parses as -t "arget=x": refuse it.
		if strings.Contains(tag, "=") {
			return &usageError{fmt.Errorf("--tag %q contains '=': write long flags with two dashes (--target=..., --tag=...)", tag)}
		}
	}
	st, err := os.Stat(o.Target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &usageError{fmt.Errorf("--target %s: no such file", o.Target)}
	case err != nil:
		return &usageError{fmt.Errorf("--target %s: %w", o.Target, err)}
	case !st.Mode().IsRegular():
		return &usageError{fmt.Errorf("--target %s is not a regular file", o.Target)}
	}
	if _, err := tufrepo.TargetPaths(o.Name, o.Platform, filepath.Base(o.Target), o.Version, o.Tags); err != nil {
		return &usageError{fmt.Errorf("--name, --platform, --version or --tag: %w", err)}
	}
	// pkgctl package refuses the same versions: they become package versions.
	if err := orbitversion.Check(o.Version); err != nil {
		return &usageError{fmt.Errorf("--version: %w", err)}
	}
	return nil
}

func (o *UpdatesOptions) repoOptions() tufrepo.Options {
	return tufrepo.Options{Passphrase: o.passphrase, Now: o.Now}
}

// passphraseEnv is the environment variable holding role's passphrase, as fleetctl names it.
func passphraseEnv(role string) string { return "FLEET_" + strings.ToUpper(role) + "_PASSPHRASE" }

// passphrase is the tufrepo.PassphraseFunc: FLEET_<ROLE>_PASSPHRASE, else the terminal
// (twice for a new key). A wrong passphrase from the environment is fatal; from the
// terminal it is asked again. Passphrases are never written anywhere.
func (o *UpdatesOptions) passphrase(role string, create, retry bool) ([]byte, error) {
	env := passphraseEnv(role)
	if v, ok := o.LookupEnv(env); ok {
		switch {
		case retry:
			return nil, fmt.Errorf("the %s key passphrase from %s is wrong: it does not decrypt keys/%s.json", role, env, role)
		case v == "":
			return nil, fmt.Errorf("%s is set but empty: the %s key passphrase must not be empty", env, role)
		}
		return []byte(v), nil
	}
	if o.ReadPassword == nil {
		return nil, fmt.Errorf("the %s key passphrase is needed: set %s (stdin is not a terminal, so pkgctl cannot prompt for it)", role, env)
	}
	w := o.Streams.ErrOut
	if retry {
		fmt.Fprintf(w, "Failed to decrypt %s key. Try again.\n", role)
	}
	for range 3 {
		fmt.Fprintf(w, "Enter %s key passphrase: ", role)
		pass, err := o.readPassword()
		fmt.Fprintln(w)
		if err != nil {
			return nil, fmt.Errorf("read %s key passphrase: %w", role, err)
		}
		if len(pass) == 0 {
			return nil, fmt.Errorf("the %s key passphrase must not be empty", role)
		}
		if !create {
			return pass, nil
		}
		fmt.Fprintf(w, "Repeat %s key passphrase: ", role)
		again, err := o.readPassword()
		fmt.Fprintln(w)
		if err != nil {
			return nil, fmt.Errorf("read %s key passphrase: %w", role, err)
		}
		if bytes.Equal(pass, again) {
			return pass, nil
		}
		fmt.Fprintln(w, "The entered passphrases do not match")
	}
	return nil, fmt.Errorf("the %s key passphrases entered did not match", role)
}

// readPassword is ReadPassword that Ctrl-C leaves: the read goes on in the
// background (a terminal read cannot be cancelled), the terminal gets its echo
// back, and the command returns errInterrupted.
func (o *UpdatesOptions) readPassword() ([]byte, error) {
	ctx := o.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	type result struct {
		pass []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		p, err := o.ReadPassword()
		ch <- result{p, err}
	}()
	select {
	case r := <-ch:
		return r.pass, r.err
	case <-ctx.Done():
		if o.restoreTerm != nil {
			o.restoreTerm()
		}
		return nil, errInterrupted
	}
}

func updatesInitRun(o *UpdatesOptions) error {
	r, err := tufrepo.Init(o.Path, o.repoOptions())
	if err != nil {
		return err
	}
	for _, role := range tufrepo.Roles {
		fmt.Fprintf(o.Streams.Out, "Generated %s key with ID: %s\n", role, strings.Join(r.KeyIDs(role), ", "))
	}
	fmt.Fprintf(o.Streams.Msg(o.Streams.ErrOut), "Initialized the repository: serve %s; keep %s offline (at least root.json).\n",
		filepath.Join(o.Path, "repository"), filepath.Join(o.Path, "keys"))
	return nil
}

func updatesRootsRun(o *UpdatesOptions) error {
	r, err := tufrepo.Open(o.Path, o.repoOptions())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(o.Streams.Out, string(r.RootJSON()))
	return err
}

func updatesAddRun(o *UpdatesOptions) error {
	r, err := tufrepo.Open(o.Path, o.repoOptions())
	if err != nil {
		return err
	}
	paths, err := r.Add(o.Target, o.Name, o.Platform, o.Version, o.Tags...)
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintf(o.Streams.Out, "Added %s (version %s)\n", p, o.Version)
	}
	return nil
}

func updatesTimestampRun(o *UpdatesOptions) error {
	r, err := tufrepo.Open(o.Path, o.repoOptions())
	if err != nil {
		return err
	}
	if err := r.Timestamp(); err != nil {
		return err
	}
	exp := r.Expires()
	fmt.Fprintf(o.Streams.Out, "Signed timestamp.json, expires %s\n", exp["timestamp"].Format(time.RFC3339))
	// The other roles expire in years, but say so well before they do.
	for _, role := range []string{"root", "targets", "snapshot"} {
		if left := exp[role].Sub(o.Now()); left < 90*24*time.Hour {
			o.Streams.Warnf("%s.json expires %s: run `pkgctl updates add` (targets, snapshot) or `pkgctl updates rotate %s` before then",
				role, exp[role].Format(time.RFC3339), role)
		}
	}
	return nil
}

func updatesRotateRun(o *UpdatesOptions) error {
	r, err := tufrepo.Open(o.Path, o.repoOptions())
	if err != nil {
		return err
	}
	id, err := r.Rotate(o.Role)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Streams.Out, "Generated %s key with ID: %s\n", o.Role, id)
	if o.Role == "root" {
		fmt.Fprintln(o.Streams.Msg(o.Streams.ErrOut), "Root rotated: agents that trust the old root follow the new one; "+
			"pass the new `pkgctl updates roots` to --update-roots for new installers.")
	}
	return nil
}
