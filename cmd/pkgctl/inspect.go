package main

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/pkgctl/pkgctl/internal/flagfile"
	"github.com/pkgctl/pkgctl/packaging/inspect"
)

// InspectOptions is `pkgctl inspect FILE`.
type InspectOptions struct {
	Streams Streams

	File        string
	JSON        bool
	ShowSecrets bool
	Files       bool
	Scripts     bool
	CAFile      string // --ca: signature chains are checked against it
	GPGKeyFile  string // --gpg-key: deb/rpm signatures are checked against it
}

// NewCmdInspect builds `pkgctl inspect`; runF replaces inspectRun in tests.
func NewCmdInspect(s Streams, runF func(*InspectOptions) error) *cobra.Command {
	o := &InspectOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show what an installer holds: identity, settings, certificates, TUF metadata, files, scripts, signatures",
		Long: "Show what a .deb, .rpm, .pkg.tar.zst, .pkg or .msi holds, whoever built it: product identity, the agent\n" +
			"settings as orbit reads them, certificates and key pairs, TUF metadata and components, installed files\n" +
			"with modes and owners (MSI: security descriptors), scripts or custom actions, and signatures.\n" +
			"Secrets are masked unless --show-secrets. --json is documented in docs/inspect-json.md.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.File = args[0]
			if runF != nil {
				return runF(o)
			}
			return inspectRun(o)
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{err} })
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "Print the report as JSON (schema: docs/inspect-json.md)")
	f.BoolVar(&o.ShowSecrets, "show-secrets", false, "Show enroll secrets, tokens and passwords in clear")
	f.BoolVar(&o.Files, "files", false, "List every installed file (default: the orbit root and service files)")
	f.BoolVar(&o.Scripts, "scripts", false, "Print the body of every script and custom action")
	f.StringVar(&o.CAFile, "ca", "", "PEM CA bundle that signature chains must lead to")
	f.StringVar(&o.GPGKeyFile, "gpg-key", "", "OpenPGP public key(s) that deb/rpm signatures must verify with")
	return cmd
}

// readOptions turns the shared flags into inspect.Options.
func readOptions(show bool, caFile, gpgFile string) (inspect.Options, error) {
	opt := inspect.Options{ShowSecrets: show}
	if caFile != "" {
		b, err := flagfile.Read(caFile, flagfile.MaxSize)
		if err != nil {
			return opt, &usageError{fmt.Errorf("read --ca %s: %w", caFile, err)}
		}
		opt.Roots = x509.NewCertPool()
		if !opt.Roots.AppendCertsFromPEM(b) {
			return opt, &usageError{fmt.Errorf("--ca %s holds no PEM certificate", caFile)}
		}
	}
	if gpgFile != "" {
		b, err := flagfile.Read(gpgFile, flagfile.MaxSize)
		if err != nil {
			return opt, &usageError{fmt.Errorf("read --gpg-key %s: %w", gpgFile, err)}
		}
		if opt.Keyring, err = inspect.ReadKeyring(b); err != nil || len(opt.Keyring) == 0 {
			return opt, &usageError{fmt.Errorf("--gpg-key %s is not an OpenPGP public key: %v", gpgFile, err)}
		}
	}
	return opt, nil
}

func inspectRun(o *InspectOptions) error {
	opt, err := readOptions(o.ShowSecrets, o.CAFile, o.GPGKeyFile)
	if err != nil {
		return err
	}
	r, err := inspect.Open(o.File, opt)
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(o.Streams.Out, r)
	}
	return inspect.WriteText(o.Streams.Out, r, inspect.TextOptions{Files: o.Files, Scripts: o.Scripts})
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
