package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pkgctl/pkgctl/tufrepo"
	"github.com/pkgctl/pkgctl/update"
)

// Values offered by shell completion (`pkgctl completion bash|zsh|fish|powershell`).
var (
	completeTypes    = []string{"pkg", "deb", "rpm", "msi", "pkg.tar.zst"}
	completeArchs    = []string{"amd64", "arm64"}
	completeChannels = []string{"stable", "edge"}
	completeTargets  = []string{update.TargetOrbit, update.TargetOsqueryd, update.TargetDesktop}
)

// addCompletions registers value completion for the flags of every command
// under root: fixed values for enumerations, file names for file flags,
// directories for directory flags, nothing (no file names) for other strings.
func addCompletions(root *cobra.Command) {
	values := map[string][]string{
		"type":                      completeTypes,
		"arch":                      completeArchs,
		"orbit-channel":             completeChannels,
		"osqueryd-channel":          completeChannels,
		"desktop-channel":           completeChannels,
		"host-identifier":           {"uuid", "instance"},
		"cloudfront-hash-algorithm": {"sha1", "sha256"},
		"platform":                  update.Platforms,
		"name":                      completeTargets,
		"hash":                      {"sha1", "sha256"},
	}
	files := map[string][]string{ // flag → extensions ("" for any file)
		"fleet-certificate":              {"pem", "crt", "cer"},
		"fleet-tls-client-certificate":   {"pem", "crt", "cer"},
		"fleet-tls-client-key":           {"pem", "key"},
		"update-tls-certificate":         {"pem", "crt", "cer"},
		"update-tls-client-certificate":  {"pem", "crt", "cer"},
		"update-tls-client-key":          {"pem", "key"},
		"osquery-flagfile":               nil,
		"outfile":                        nil,
		"macos-devid-pem":                {"pem"},
		"windows-sign-certificate":       {"pem", "crt", "p12", "pfx"},
		"windows-sign-key":               {"pem", "key"},
		"linux-sign-key":                 {"asc", "gpg", "pgp", "key"},
		"app-store-connect-api-key-file": {"p8"},
		"cloudfront-private-key":         {"pem"},
		"private-key":                    {"pem"},
		"config":                         {"yaml", "yml"},
		"manifest":                       {"json"},
		"target":                         nil,
		"out":                            nil,
	}
	dirs := map[string]bool{"cache-dir": true, "local-wix-dir": true, "path": true}

	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			name := f.Name
			switch {
			case values[name] != nil && !(name == "type" && c.Name() == "keygen"):
				vals := values[name]
				_ = c.RegisterFlagCompletionFunc(name, fixed(vals))
			case name == "type" && c.Name() == "keygen":
				_ = c.RegisterFlagCompletionFunc(name, fixed([]string{"rsa", "ecdsa"}))
			case dirs[name]:
				_ = c.MarkFlagDirname(name)
			default:
				if exts, ok := files[name]; ok {
					_ = c.MarkFlagFilename(name, exts...)
				} else if strings.HasSuffix(name, "-file") {
					_ = c.MarkFlagFilename(name)
				} else if f.Value.Type() == "string" {
					_ = c.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
				}
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	// `pkgctl updates rotate <role>`.
	if updates, _, err := root.Find([]string{"updates", "rotate"}); err == nil && updates.Name() == "rotate" {
		updates.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return fixedMatch(tufrepo.Roles, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	}
}

func fixed(vals []string) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return fixedMatch(vals, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func fixedMatch(vals []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, v := range vals {
		if strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}
