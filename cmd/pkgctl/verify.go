package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pkgctl/pkgctl/packaging/inspect"
	"github.com/pkgctl/pkgctl/update"
)

// VerifyOptions is `pkgctl verify FILE`.
type VerifyOptions struct {
	Streams Streams

	File       string
	JSON       bool
	WarnDays   int
	CAFile     string
	GPGKeyFile string
	Allow      []string // finding codes that do not fail the check
	Strict     bool     // warnings fail too

	// The live check against the update server (all optional).
	UpdateURL, UpdateRoots                         string
	UpdateTLSCertificate                           string
	UpdateTLSClientCertificate, UpdateTLSClientKey string
}

// errNotSound is returned when findings fail the check (exit code 1).
var errNotSound = errors.New("the installer is not sound")

// NewCmdVerify builds `pkgctl verify`; runF replaces verifyRun in tests.
func NewCmdVerify(s Streams, runF func(*VerifyOptions) error) *cobra.Command {
	o := &VerifyOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Check that an installer is sound; exit 1 with the list of findings if not",
		Long: "Check an installer's structure (deb ar/control/md5sums; rpm digests; pkg xar checksums, Bom against\n" +
			"Payload, PackageInfo; msi compound file, string pool, tables, _Validation, summary, cab entries and\n" +
			"MSZIP blocks), its components against the TUF metadata it carries, its settings, certificates and\n" +
			"key pairs, and its signatures. Each finding has a stable code (see docs/inspect-json.md); --allow\n" +
			"lets CI accept some. With --update-url/--update-roots the components are checked against the live\n" +
			"update server too.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.File = args[0]
			if o.WarnDays < 0 {
				return &usageError{fmt.Errorf("--warn-days must not be negative, got %d", o.WarnDays)}
			}
			if o.UpdateRoots != "" && o.UpdateURL == "" {
				return &usageError{errors.New("--update-roots needs --update-url (the server to check against)")}
			}
			if runF != nil {
				return runF(o)
			}
			return verifyRun(c, o)
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{err} })
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "Print the findings as JSON (schema: docs/inspect-json.md)")
	f.IntVar(&o.WarnDays, "warn-days", 30, "Warn about certificates that expire within this many days")
	f.StringVar(&o.CAFile, "ca", "", "PEM CA bundle that signature chains must lead to")
	f.StringVar(&o.GPGKeyFile, "gpg-key", "", "OpenPGP public key(s) that deb/rpm signatures must verify with")
	f.StringSliceVar(&o.Allow, "allow", nil, "Finding codes that do not fail the check (repeatable)")
	f.BoolVar(&o.Strict, "strict", false, "Fail on warnings too")
	f.StringVar(&o.UpdateURL, "update-url", "", "Also check the components against this live TUF server")
	f.StringVar(&o.UpdateRoots, "update-roots", "", "Root key JSON metadata of --update-url (default: the roots the installer carries)")
	f.StringVar(&o.UpdateTLSCertificate, "update-tls-certificate", "", "CA bundle for --update-url's TLS")
	f.StringVar(&o.UpdateTLSClientCertificate, "update-tls-client-certificate", "", "Client certificate for --update-url (mTLS)")
	f.StringVar(&o.UpdateTLSClientKey, "update-tls-client-key", "", "Client key for --update-url (mTLS)")
	return cmd
}

func verifyRun(c *cobra.Command, o *VerifyOptions) error {
	opt, err := readOptions(false, o.CAFile, o.GPGKeyFile)
	if err != nil {
		return err
	}
	var findings []inspect.Finding
	r, err := inspect.Open(o.File, opt)
	if err != nil {
		if _, statErr := os.Stat(o.File); statErr != nil {
			return err
		}
		r = &inspect.Report{File: o.File}
		findings = []inspect.Finding{{Code: "READ-FAILED", Severity: inspect.SevError, Subject: o.File, Message: err.Error()}}
	} else {
		if o.UpdateURL != "" {
			if err := verifyLive(c, o, r); err != nil {
				return err
			}
		}
		findings = inspect.Verify(r, inspect.VerifyOptions{WarnWithin: time.Duration(o.WarnDays) * 24 * time.Hour})
	}
	allow := map[string]bool{}
	for _, a := range o.Allow {
		allow[a] = true
	}
	failed := inspect.Failed(findings, allow, o.Strict)
	if o.JSON {
		if err := writeJSON(o.Streams.Out, inspect.VerifyResult{SchemaVersion: inspect.SchemaVersion, File: r.File, Format: r.Format, SHA256: r.SHA256, Sound: !failed, Findings: findings}); err != nil {
			return err
		}
	} else {
		inspect.WriteFindings(o.Streams.Out, findings)
		if !failed {
			fmt.Fprintf(o.Streams.Out, "%s: sound (%s, %d findings)\n", o.File, r.Format, len(findings))
		}
	}
	if failed {
		return fmt.Errorf("%s: %w", o.File, errNotSound)
	}
	return nil
}

// verifyLive checks the components against the live update server.
func verifyLive(c *cobra.Command, o *VerifyOptions, r *inspect.Report) error {
	roots := []byte(o.UpdateRoots)
	cl, err := update.New(update.Options{URL: o.UpdateURL, RootJSON: roots, ServerCAFile: o.UpdateTLSCertificate,
		ClientCertFile: o.UpdateTLSClientCertificate, ClientKeyFile: o.UpdateTLSClientKey, Version: version})
	if err != nil {
		return &usageError{err}
	}
	defer cl.Close()
	return inspect.CheckLive(c.Context(), r, cl)
}

// verifyOutput is what `pkgctl package --verify` runs on each installer
// before it is renamed into place; a variable so tests can watch it.
var verifyOutput = verifyInstaller

// verifyInstaller is `pkgctl package --verify`: the installer at tmp must have
// no error finding (warnings are printed by pkgctl verify, not here).
func verifyInstaller(tmp string) error {
	r, err := inspect.Open(tmp, inspect.Options{})
	if err != nil {
		return err
	}
	findings := inspect.Verify(r, inspect.VerifyOptions{WarnWithin: 30 * 24 * time.Hour})
	var errs []string
	for _, f := range findings {
		if f.Severity == inspect.SevError {
			errs = append(errs, f.Code+" "+f.Subject+": "+f.Message)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the installer is not sound:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}
