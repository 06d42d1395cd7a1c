package main

import (
	"github.com/spf13/cobra"

	"github.com/pkgctl/pkgctl/packaging/inspect"
)

// DiffOptions is `pkgctl diff A B`.
type DiffOptions struct {
	Streams Streams

	A, B        string
	JSON        bool
	ShowSecrets bool
}

// NewCmdDiff builds `pkgctl diff`; runF replaces diffRun in tests.
func NewCmdDiff(s Streams, runF func(*DiffOptions) error) *cobra.Command {
	o := &DiffOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two installers: settings, files, components, certificates, signatures",
		Long: "Compare two installers of one format, or of several formats of one build: identity, settings,\n" +
			"component versions and hashes, files (added, removed, changed with sizes and hashes), certificates,\n" +
			"signatures and scripts. Exit 0 either way; --json is documented in docs/inspect-json.md.",
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			o.A, o.B = args[0], args[1]
			if runF != nil {
				return runF(o)
			}
			return diffRun(o)
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{err} })
	cmd.Flags().BoolVar(&o.JSON, "json", false, "Print the differences as JSON (schema: docs/inspect-json.md)")
	cmd.Flags().BoolVar(&o.ShowSecrets, "show-secrets", false, "Compare and show secrets in clear (masked values compare equal)")
	return cmd
}

func diffRun(o *DiffOptions) error {
	opt := inspect.Options{ShowSecrets: o.ShowSecrets}
	a, err := inspect.Open(o.A, opt)
	if err != nil {
		return err
	}
	b, err := inspect.Open(o.B, opt)
	if err != nil {
		return err
	}
	d := inspect.Compare(a, b)
	if o.JSON {
		return writeJSON(o.Streams.Out, d)
	}
	return inspect.WriteDiff(o.Streams.Out, d)
}
