package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/pkgctl/pkgctl/packaging"
)

// flagGroupKey is the pflag annotation naming a flag's group in --help.
const flagGroupKey = "pkgctl_group"

// Flag groups of `pkgctl package --help`, in display order.
var flagGroupTitles = []string{
	"Flags of fleetctl package",
	"pkgctl additions",
	"Signing",
	"Release (config file, matrix, manifest, publishing)",
}

const packageExamples = `  # The fleetctl command line, unchanged:
  pkgctl package --type=deb --fleet-url=https://fleet.example.com --enroll-secret="$SECRET"

  # An msi for arm64 from your own TUF server (roots from ` + "`pkgctl updates roots`" + `):
  pkgctl package --type=msi --arch=arm64 --fleet-url=https://fleet.example.com --enroll-secret="$SECRET" \
    --update-url=https://tuf.example.com --update-roots=@roots.json

  # Every build of a config file, one fetch, with a JSON manifest:
  pkgctl package --config=pkgctl.yaml --manifest=dist/manifest.json`

// decorateCommands adds what the commands' definitions leave out: examples,
// grouped flags in --help, and the flags' groups as annotations.
func decorateCommands(root *cobra.Command) {
	root.Example = `  pkgctl package --type=pkg --fleet-url=https://fleet.example.com --enroll-secret="$SECRET"
  pkgctl updates init --path=tuf && pkgctl updates roots --path=tuf
  pkgctl completion bash > /etc/bash_completion.d/pkgctl`
	if c, _, err := root.Find([]string{"package"}); err == nil && c.Name() == "package" {
		c.Example = packageExamples
		annotateFlagGroups(c)
		c.SetUsageTemplate(groupedUsageTemplate)
	}
	examples := map[string]string{
		"init":      "  pkgctl updates init --path=tuf",
		"roots":     "  pkgctl package --type=deb --update-url=https://tuf.example.com --update-roots=\"$(pkgctl updates roots --path=tuf)\"",
		"add":       "  pkgctl updates add --path=tuf --target=./orbit --name=orbit --platform=linux --version=1.40.0 -t 1.40 -t 1 -t stable",
		"timestamp": "  FLEET_TIMESTAMP_PASSPHRASE=... pkgctl updates timestamp --path=tuf",
		"rotate":    "  pkgctl updates rotate targets --path=tuf",
	}
	if u, _, err := root.Find([]string{"updates"}); err == nil {
		for _, sub := range u.Commands() {
			if ex, ok := examples[sub.Name()]; ok && sub.Example == "" {
				sub.Example = ex
			}
		}
	}
}

// annotateFlagGroups puts each flag of `package` in a group: fleetctl's flags
// (those before --cache-dir in packageFlags), signing flags, release flags
// (addReleaseFlags), and pkgctl's other additions.
func annotateFlagGroups(c *cobra.Command) {
	fleetctl := map[string]bool{}
	for _, d := range packageFlags(&packaging.Options{}) {
		if d.Name == "cache-dir" {
			break
		}
		fleetctl[d.Name] = true
	}
	release := map[string]bool{}
	rfs := pflag.NewFlagSet("", pflag.ContinueOnError)
	addReleaseFlags(rfs, &ReleaseOptions{})
	rfs.VisitAll(func(f *pflag.Flag) { release[f.Name] = true })
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		g := flagGroupTitles[1]
		switch {
		case release[f.Name]:
			g = flagGroupTitles[3]
		case isSigningFlag(f.Name):
			g = flagGroupTitles[2]
		case fleetctl[f.Name]:
			g = flagGroupTitles[0]
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[flagGroupKey] = []string{g}
	})
}

func isSigningFlag(name string) bool {
	for _, s := range []string{"sign", "notar", "devid", "app-store-connect", "timestamp"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

type flagGroup struct {
	Title  string
	Usages string
}

// flagGroups renders c's local flags group by group (unannotated flags last,
// as "Other flags").
func flagGroups(c *cobra.Command) []flagGroup {
	sets := map[string]*pflag.FlagSet{}
	order := append(append([]string(nil), flagGroupTitles...), "Other flags")
	for _, t := range order {
		sets[t] = pflag.NewFlagSet(t, pflag.ContinueOnError)
		sets[t].SortFlags = false
	}
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		g := "Other flags"
		if v := f.Annotations[flagGroupKey]; len(v) == 1 && sets[v[0]] != nil {
			g = v[0]
		}
		sets[g].AddFlag(f)
	})
	// Wrap to the terminal's width when stdout is one (cobra renders usage into a
	// buffer, so c's own writer does not tell).
	width := 0
	if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w >= 60 {
		width = w
	}
	var out []flagGroup
	for _, t := range order {
		if sets[t].HasFlags() {
			out = append(out, flagGroup{t, strings.TrimRight(sets[t].FlagUsagesWrapped(width), " \n")})
		}
	}
	return out
}

func init() { cobra.AddTemplateFunc("pkgctlFlagGroups", flagGroups) }

const groupedUsageTemplate = `Usage:
  {{.UseLine}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{range pkgctlFlagGroups .}}

{{.Title}}:
{{.Usages}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}
`

// NewCmdMan writes the man pages of every command (`make man`).
func NewCmdMan(s Streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "man --dir DIR",
		Short:  "Write man pages (section 1) for pkgctl and its commands",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return &usageError{fmt.Errorf("--dir is required")}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create --dir %s: %w", dir, err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // no date: the pages are reproducible
			header := &doc.GenManHeader{Title: "PKGCTL", Section: "1", Source: "pkgctl " + versionString(), Manual: "pkgctl manual"}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("write man pages to %s: %w", dir, err)
			}
			fmt.Fprintf(s.Msg(s.ErrOut), "Wrote man pages to %s\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "Directory to write the pages to (created if missing)")
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}
