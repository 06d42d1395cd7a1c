package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pkgctl/pkgctl/internal/flagfile"
	"github.com/pkgctl/pkgctl/internal/scratch"
	"github.com/pkgctl/pkgctl/packaging"
	"github.com/pkgctl/pkgctl/profile"
)

// ProfileOptions is `pkgctl profile`: the package flags it shares (same
// names, variables and meaning), and where to write.
type ProfileOptions struct {
	Streams Streams
	Options packaging.Options // FleetURL, EnrollSecret, EnableScripts, Dev ID PEM, CustomOutfile
	SignPEM string            // --sign-pem: another certificate and key than the Dev ID
	Getenv  func(string) (string, bool)
}

// profileFlagNames are the `package` flags `profile` takes.
var profileFlagNames = []string{"fleet-url", "enroll-secret", "enable-scripts", "macos-devid-pem", "macos-devid-pem-content", "outfile"}

// NewCmdProfile builds `pkgctl profile`. It is a command of its own, not a
// `package --type`: a profile is no installer (nothing is downloaded, none of
// the update settings applies), and `package --type` stays fleetctl's.
func NewCmdProfile(s Streams, runF func(*ProfileOptions) error) *cobra.Command {
	opts := &ProfileOptions{Streams: s, Getenv: os.LookupEnv}
	var defs []flagDef
	for _, d := range packageFlags(&opts.Options) {
		for _, n := range profileFlagNames {
			if d.Name == n {
				defs = append(defs, d)
			}
		}
	}
	cmd := &cobra.Command{
		Use:   "profile",
		Short: "Write the macOS configuration profile (.mobileconfig) of a --use-system-configuration pkg",
		Long: `Write the configuration profile from which orbit, installed from a pkg built with
--use-system-configuration, reads its Fleet URL and enroll secret (payload
com.fleetdm.fleetd.config, as Fleet's MDM delivers it). Deliver it with your MDM.
With --macos-devid-pem[-content] or --sign-pem the profile is CMS-signed.
Under SOURCE_DATE_EPOCH its UUIDs are derived from the inputs (but the secret).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags(), defs, opts.Getenv); err != nil {
				return &usageError{err}
			}
			if runF != nil {
				return runF(opts)
			}
			return profileRun(opts)
		},
	}
	fs := cmd.Flags()
	bindFlags(fs, defs)
	fs.StringVar(&opts.SignPEM, "sign-pem", "", "PEM file with another certificate chain and key to sign the profile with (instead of the Developer ID)")
	return cmd
}

// TypeMobileconfig is the build type of a profile in a config file (and
// `package --type=mobileconfig`, the same as `pkgctl profile`).
const TypeMobileconfig = "mobileconfig"

func profileRun(opts *ProfileOptions) error {
	if err := checkProfile(opts); err != nil {
		return err
	}
	out, signed, err := writeProfile(opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.Streams.Out, "Wrote the configuration profile %s%s\n", out, map[bool]string{true: " (signed)", false: ""}[signed])
	return nil
}

// checkProfile refuses bad settings before anything is written (or, in a
// config run, downloaded).
func checkProfile(opts *ProfileOptions) error {
	o := &opts.Options
	if o.FleetURL == "" || o.EnrollSecret == "" {
		return &usageError{errors.New("--fleet-url and --enroll-secret are both required")}
	}
	if u, err := url.Parse(o.FleetURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || hasCtl(o.FleetURL) {
		return &usageError{fmt.Errorf("--fleet-url %q must be an https URL such as https://fleet.example.com", o.FleetURL)}
	}
	if hasCtl(o.EnrollSecret) || strings.TrimSpace(o.EnrollSecret) != o.EnrollSecret {
		return &usageError{errors.New("--enroll-secret must not contain control characters or leading/trailing white space")}
	}
	_, err := profileSigner(opts)
	return err
}

// writeProfile writes the profile of opts (checked) and returns its path.
func writeProfile(opts *ProfileOptions) (string, bool, error) {
	o := &opts.Options
	id, err := profileSigner(opts)
	if err != nil {
		return "", false, err
	}
	out := o.CustomOutfile
	if out == "" {
		out = "fleetd-config.mobileconfig"
	}
	po := profile.Options{FleetURL: o.FleetURL, EnrollSecret: o.EnrollSecret, EnableScripts: o.EnableScripts}
	at := time.Now().UTC().Truncate(time.Second)
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && v != "" {
		if at, err = packaging.SourceDate(); err != nil {
			return "", false, err
		}
		po.Seed = v + "\x00" + filepath.Base(out)
	}
	data, err := profile.Build(po)
	if err != nil {
		return "", false, err
	}
	if id != nil {
		if data, err = profile.Sign(data, id.Certificates, id.Key, at); err != nil {
			return "", false, err
		}
	}
	if err := writePrivate(out, data); err != nil {
		return "", false, err
	}
	return out, id != nil, nil
}

// profileSigner loads the identity that signs the profile, or nil.
func profileSigner(opts *ProfileOptions) (*packaging.SigningIdentity, error) {
	o := &opts.Options
	n := 0
	for _, v := range []string{o.MacOSDevIDPEM, o.MacOSDevIDCertificateContent, opts.SignPEM} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return nil, &usageError{errors.New("give one of --macos-devid-pem, --macos-devid-pem-content and --sign-pem")}
	}
	switch {
	case o.MacOSDevIDCertificateContent != "":
		return packaging.ParsePEMIdentity("--macos-devid-pem-content", []byte(o.MacOSDevIDCertificateContent))
	case o.MacOSDevIDPEM != "" || opts.SignPEM != "":
		flag, path := "--macos-devid-pem", o.MacOSDevIDPEM
		if opts.SignPEM != "" {
			flag, path = "--sign-pem", opts.SignPEM
		}
		data, err := flagfile.Read(path, flagfile.MaxSize) // no FIFO, no device, bounded
		if err != nil {
			return nil, fmt.Errorf("read %s %s: %w", flag, path, errors.Unwrap(err))
		}
		return packaging.ParsePEMIdentity(flag+" "+path, data)
	}
	return nil, nil
}

// writePrivate writes path through a 0600 temporary file renamed into place:
// the profile holds the enroll secret.
func writePrivate(path string, data []byte) error {
	// Nameless until complete on Linux (a killed run leaves no copy of the
	// secret); elsewhere a pid-named temporary file the next build sweeps.
	out, err := scratch.CreateOutput(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = out.Write(data)
	if err == nil {
		err = out.Sync()
	}
	if err != nil {
		out.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := out.Commit(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func hasCtl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
