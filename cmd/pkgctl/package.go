package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pkgctl/pkgctl/packaging"
)

// PackageOptions is `pkgctl package`: its streams, then the build options.
type PackageOptions struct {
	Streams Streams
	Options packaging.Options
	// Getenv reads environment variables (FLEETCTL_*); tests inject it.
	Getenv func(string) (string, bool)
	// Release: config file, matrix, manifest, publishing (matrix.go).
	Release ReleaseOptions
	// Verify runs `pkgctl verify`'s checks on each output before it is
	// renamed into place (--verify; on by default with --config).
	Verify bool
}

// flagDef is one flag of `pkgctl package`: the same name, type, default and
// environment variable as `fleetctl package`.
type flagDef struct {
	Name   string
	Env    string // FLEETCTL_* variable read when the flag is not given
	Usage  string
	Str    *string
	Bool   *bool
	Dur    *time.Duration
	Def    any  // default: string, bool or time.Duration
	Secret bool // never echo the value
}

// packageFlags lists every flag of `fleetctl package` (fleetd-compat.md §1), then pkgctl's own.
func packageFlags(o *packaging.Options) []flagDef {
	s := func(name, env string, p *string, def, usage string) flagDef {
		return flagDef{Name: name, Env: env, Usage: usage, Str: p, Def: def}
	}
	b := func(name, env string, p *bool, def bool, usage string) flagDef {
		return flagDef{Name: name, Env: env, Usage: usage, Bool: p, Def: def}
	}
	secret := func(f flagDef) flagDef { f.Secret = true; return f }
	cacheDir := ""
	if d, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(d, "pkgctl")
	}
	return []flagDef{
		s("type", "", &o.Type, "", "Type of package to build (pkg, deb, rpm, msi, pkg.tar.zst) (required); mobileconfig writes the configuration profile instead (as pkgctl profile)"),
		s("arch", "", &o.Arch, "amd64", "Target CPU Architecture for the installer package (Only supported with '--type' deb, rpm, msi, or pkg.tar.zst)"),
		secret(s("enroll-secret", "", &o.EnrollSecret, "", "Enroll secret for authenticating to Fleet server")),
		s("fleet-url", "", &o.FleetURL, "", "URL (host:port) of Fleet server"),
		s("fleet-certificate", "", &o.FleetCertificate, "", "Path to the Fleet server certificate chain"),
		s("fleet-tls-client-certificate", "", &o.FleetTLSClientCertificate, "", "Path to a TLS client certificate to use when connecting to the Fleet server. This functionality is licensed under the Fleet EE License. Usage requires a current Fleet EE subscription."),
		s("fleet-tls-client-key", "", &o.FleetTLSClientKey, "", "Path to a TLS client private key to use when connecting to the Fleet server. This functionality is licensed under the Fleet EE License. Usage requires a current Fleet EE subscription."),
		s("fleet-desktop-alternative-browser-host", "", &o.FleetDesktopAlternativeBrowserHost, "", "Alternative host:port to use for Fleet Desktop in the browser (this may be required when using TLS client authentication in the Fleet server)"),
		s("identifier", "", &o.Identifier, packaging.DefaultIdentifier, "Identifier for package product"),
		b("insecure", "", &o.Insecure, false, "Disable TLS certificate verification"),
		b("service", "", &o.StartService, true, "Install orbit/osquery with a persistence service (launchd, systemd, etc.)"),
		s("sign-identity", "", &o.SignIdentity, "", "Identity to use for macOS codesigning"),
		b("notarize", "", &o.Notarize, false, "Whether to notarize macOS packages"),
		s("osqueryd-channel", "", &o.OsquerydChannel, packaging.DefaultChannel, "Update channel of osqueryd to use"),
		s("desktop-channel", "", &o.DesktopChannel, packaging.DefaultChannel, "Update channel of desktop to use"),
		s("orbit-channel", "", &o.OrbitChannel, packaging.DefaultChannel, "Update channel of Orbit to use"),
		b("disable-updates", "", &o.DisableUpdates, false, "Disable auto updates on the generated package"),
		b("disable-setup-experience", "", &o.DisableSetupExperience, false, "Disable setup experience for Linux or Windows hosts"),
		b("bypass-end-user-auth", "", &o.BypassEndUserAuth, false, "Skip the end-user authentication prompt during enrollment (Linux and Windows; macOS does it in MDM)"),
		s("update-url", "", &o.UpdateURL, packaging.FleetUpdateURL, "URL for update server"),
		s("update-roots", "", &o.UpdateRoots, "", "Root key JSON metadata for update server (from pkgctl or fleetctl updates roots); @FILE reads it from FILE"),
		s("update-tls-certificate", "", &o.UpdateTLSServerCertificate, "", "Path to the update server TLS certificate chain"),
		s("update-tls-client-certificate", "", &o.UpdateTLSClientCertificate, "", "Path to a TLS client certificate to use when connecting to the update server. This functionality is licensed under the Fleet EE License. Usage requires a current Fleet EE subscription."),
		s("update-tls-client-key", "", &o.UpdateTLSClientKey, "", "Path to a TLS client private key to use when connecting to the update server. This functionality is licensed under the Fleet EE License. Usage requires a current Fleet EE subscription."),
		s("osquery-flagfile", "", &o.OsqueryFlagfile, "", "Flagfile to package and provide to osquery"),
		b("debug", "", &o.Debug, false, "Enable debug logging in orbit"),
		b("verbose", "", &o.Verbose, false, "Log detailed information when building the package"),
		b("fleet-desktop", "", &o.Desktop, false, "Include the Fleet Desktop Application in the package"),
		{Name: "update-interval", Usage: "Interval that Orbit will use to check for new updates (10s, 1h, etc.)", Dur: &o.OrbitUpdateInterval, Def: packaging.DefaultUpdateInterval},
		b("disable-open-folder", "", &o.DisableOpenFolder, false, "Disable opening the folder at the end (pkgctl never opens it)"),
		b("native-tooling", "FLEETCTL_NATIVE_TOOLING", &o.NativeTooling, false, "Build the package using native tooling (pkgctl always does)"),
		s("local-wix-dir", "", &o.LocalWixDir, "", "Use local installation of WiX (pkgctl needs none; no effect)"),
		secret(s("macos-devid-pem-content", "FLEETCTL_MACOS_DEVID_PEM_CONTENT", &o.MacOSDevIDCertificateContent, "", "Dev ID certificate keypair content in PEM format")),
		s("app-store-connect-api-key-id", "FLEETCTL_APP_STORE_CONNECT_API_KEY_ID", &o.AppStoreConnectAPIKeyID, "", "App Store Connect API key used for notarization"),
		s("app-store-connect-api-key-issuer", "FLEETCTL_APP_STORE_CONNECT_API_KEY_ISSUER", &o.AppStoreConnectAPIKeyIssuer, "", "Issuer of the App Store Connect API key"),
		secret(s("app-store-connect-api-key-content", "FLEETCTL_APP_STORE_CONNECT_API_KEY_CONTENT", &o.AppStoreConnectAPIKeyContent, "", "Contents of the .p8 App Store Connect API key")),
		b("use-system-configuration", "FLEETCTL_USE_SYSTEM_CONFIGURATION", &o.UseSystemConfiguration, false, "Try to read --fleet-url and --enroll-secret using a configuration profile (macOS only)"),
		b("enable-scripts", "FLEETCTL_ENABLE_SCRIPTS", &o.EnableScripts, false, "Enable script execution"),
		s("host-identifier", "FLEETCTL_HOST_IDENTIFIER", &o.HostIdentifier, packaging.DefaultHostIdentifier, "Sets the host identifier that orbit and osquery will use: 'uuid' or 'instance' (Fleet ≥ 4.42.0)"),
		s("end-user-email", "FLEETCTL_END_USER_EMAIL", &o.EndUserEmail, "", "End user's email that populates human to host mapping"),
		b("disable-keystore", "FLEETCTL_DISABLE_KEYSTORE", &o.DisableKeystore, false, "Disables the use of the keychain on macOS and Credentials Manager on Windows"),
		s("osquery-db", "FLEETCTL_OSQUERY_DB", &o.OsqueryDB, "", "Sets a custom osquery database directory, it must be an absolute path (requires orbit >= v1.22.0)"),
		s("outfile", "", &o.CustomOutfile, "", "Output file for the generated package"),
		b("fleet-managed-host-identity-certificate", "FLEETCTL_FLEET_MANAGED_HOST_IDENTITY_CERTIFICATE", &o.FleetManagedHostIdentityCertificate, false, "Use a TPM-backed key to sign HTTP requests to Fleet (deb, rpm, pkg.tar.zst). Fleet EE."),
		s("cpu-quota", "FLEETCTL_CPU_QUOTA", &o.CPUQuota, packaging.DefaultCPUQuota, "CPU limit of the fleetd systemd service (CPUQuota), in percent of one CPU: 20 or 20% (deb, rpm, pkg.tar.zst)"),
		// pkgctl's own.
		s("cache-dir", "", &o.CacheDir, cacheDir, "Cache of verified TUF targets, re-verified on every use (\"\" disables it)"),
		s("cloudfront-url", "", &o.CloudFrontURL, "", "Base URL of a CloudFront distribution serving the TUF repository of --update-url, restricted to signed URLs: the build fetches the agent through it, signing each request (the installer keeps --update-url)"),
		s("cloudfront-key-pair-id", "", &o.CloudFrontKeyPairID, "", "ID of the public key in the distribution's trusted key group (Key-Pair-Id)"),
		secret(s("cloudfront-private-key", "PKGCTL_CLOUDFRONT_PRIVATE_KEY", &o.CloudFrontPrivateKey, "", "CloudFront private key (RSA 2048 or ECDSA P-256): a PEM file, or the PEM itself with literal \\n; used only to sign build-time requests")),
		{Name: "cloudfront-url-ttl", Usage: "Lifetime of each signed CloudFront URL, counted from when the request is sent", Dur: &o.CloudFrontURLTTL, Def: packaging.DefaultCloudFrontURLTTL},
		s("cloudfront-hash-algorithm", "", &o.CloudFrontHashAlgorithm, "sha1", "Hash of the CloudFront signature: sha1 (CloudFront's default) or sha256 (adds Hash-Algorithm=SHA256)"),
		s("cloudfront-origin-url", "", &o.CloudFrontOriginURL, "", "Origin to retry a request from when CloudFront answers 403 or 5xx or cannot be reached (default: --update-url)"),
		s("macos-devid-pem", "PKGCTL_MACOS_DEVID_PEM", &o.MacOSDevIDPEM, "", "Path to a PEM file holding the Developer ID Installer certificate chain and its RSA key; signs the pkg on any OS (the file form of --macos-devid-pem-content)"),
		s("windows-sign-certificate", "", &o.WindowsSignCertificate, "", "Authenticode-sign the msi with this certificate: a PEM chain (with --windows-sign-key) or a PKCS#12 .p12/.pfx file (password in PKGCTL_WINDOWS_SIGN_PASSWORD)"),
		s("windows-sign-key", "", &o.WindowsSignKey, "", "PEM private key of --windows-sign-certificate"),
		s("linux-sign-key", "PKGCTL_LINUX_SIGN_KEY", &o.LinuxSignKey, "", "Sign the deb, rpm or pkg.tar.zst with this ASCII-armored OpenPGP private key file (RSA 2048+ or Ed25519; passphrase in PKGCTL_LINUX_SIGN_PASSPHRASE); Arch packages get a detached <package>.sig"),
		s("app-store-connect-api-key-file", "PKGCTL_APP_STORE_CONNECT_API_KEY_FILE", &o.AppStoreConnectAPIKeyFile, "", "Path to the App Store Connect API key (.p8) used for notarization (the file form of --app-store-connect-api-key-content)"),
		{Name: "notarize-timeout", Usage: "How long --notarize waits for Apple's decision before failing (the submission may still finish)", Dur: &o.NotarizeTimeout, Def: packaging.DefaultNotarizeTimeout},
		s("notary-api-url", "PKGCTL_NOTARY_API_URL", &o.NotaryAPIURL, "", "Base URL of Apple's Notary API (default https://appstoreconnect.apple.com; for proxies and tests)"),
		s("notary-s3-endpoint", "PKGCTL_NOTARY_S3_ENDPOINT", &o.NotaryS3Endpoint, "", "S3 endpoint that receives the notarization upload (default AWS's us-west-2; path-style when set)"),
		s("notary-ticket-url", "PKGCTL_NOTARY_TICKET_URL", &o.NotaryTicketURL, "", "CloudKit ticket lookup URL used to staple (default Apple's com.apple.gk.ticket-delivery)"),
		s("windows-sign-timestamp-url", "PKGCTL_WINDOWS_SIGN_TIMESTAMP_URL", &o.WindowsSignTimestampURL, "", "RFC 3161 time-stamping server that countersigns the msi's Authenticode signature, so it stays valid after the certificate expires (e.g. http://timestamp.digicert.com); default: none"),
		s("macos-sign-timestamp-url", "PKGCTL_MACOS_SIGN_TIMESTAMP_URL", &o.MacOSSignTimestampURL, packaging.DefaultMacOSSignTimestampURL, "RFC 3161 time-stamping server for the pkg's signature, as productsign does by default; \"none\" signs without a time stamp (offline or reproducible builds)"),
	}
}

// NewCmdPackage builds `pkgctl package`. runF replaces the build in tests.
func NewCmdPackage(s Streams, runF func(*PackageOptions) error) *cobra.Command {
	return newCmdPackage(&PackageOptions{Streams: s, Getenv: os.LookupEnv}, runF)
}

func newCmdPackage(opts *PackageOptions, runF func(*PackageOptions) error) *cobra.Command {
	defs := packageFlags(&opts.Options)
	cmd := &cobra.Command{
		Use:   "package",
		Short: "Create a fleetd agent",
		Long:  "An easy way to create fully boot-strapped installer packages for Windows, macOS, or Linux",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags(), defs, opts.Getenv); err != nil {
				return &usageError{err}
			}
			opts.Options.ArchSet = cmd.Flags().Changed("arch")
			opts.Options.HostOS = runtime.GOOS
			if runF != nil {
				return runF(opts)
			}
			return packageRun(cmd, opts)
		},
	}
	fs := cmd.Flags()
	bindFlags(fs, defs)
	addReleaseFlags(fs, &opts.Release)
	fs.BoolVar(&opts.Verify, "verify", false, "Check each installer as `pkgctl verify` does before renaming it into place (default true with --config)")
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}

// bindFlags adds defs to fs in their order, each usage naming its variable.
func bindFlags(fs *pflag.FlagSet, defs []flagDef) {
	fs.SortFlags = false
	for _, d := range defs {
		switch {
		case d.Str != nil:
			fs.StringVar(d.Str, d.Name, d.Def.(string), d.Usage)
		case d.Bool != nil:
			fs.BoolVar(d.Bool, d.Name, d.Def.(bool), d.Usage)
		case d.Dur != nil:
			fs.DurationVar(d.Dur, d.Name, d.Def.(time.Duration), d.Usage)
		}
		if d.Env != "" {
			fs.Lookup(d.Name).Usage += fmt.Sprintf(" [$%s]", d.Env)
		}
	}
}

// applyEnv sets each flag that was not given from its FLEETCTL_* variable, as
// urfave/cli does for fleetctl.
func applyEnv(fs *pflag.FlagSet, defs []flagDef, getenv func(string) (string, bool)) error {
	for _, d := range defs {
		if d.Env == "" || fs.Changed(d.Name) {
			continue
		}
		v, ok := getenv(d.Env)
		if !ok {
			continue
		}
		if err := fs.Set(d.Name, v); err != nil {
			if d.Secret {
				return fmt.Errorf("invalid value in $%s for --%s", d.Env, d.Name)
			}
			return fmt.Errorf("invalid value %q in $%s for --%s: %w", v, d.Env, d.Name, err)
		}
	}
	return nil
}

// normalizeArgs accepts the single-dash long flags that fleetctl's flag parser
// takes (-type=deb, -fleet-url x, updates add -target f) by rewriting them to
// --type=deb. Only the flags of the command the arguments name are rewritten.
func normalizeArgs(root *cobra.Command, args []string) []string {
	known := map[string]bool{}
	if cmd, _, err := root.Find(args); err == nil {
		record := func(f *pflag.Flag) { known[f.Name] = true }
		cmd.Flags().VisitAll(record)
		cmd.InheritedFlags().VisitAll(record)
	}
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 2 {
			name, _, _ := strings.Cut(a[1:], "=")
			if known[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// packageRun validates the options and builds the installer.
func packageRun(cmd *cobra.Command, opts *PackageOptions) error {
	cfg, err := findConfig(opts.Release.Config, cmd.Flags().Changed("type"))
	if err != nil {
		return err
	}
	if opts.Release.active(cfg) {
		return releaseRun(cmd, opts, cfg)
	}
	o := &opts.Options
	if o.Type == TypeMobileconfig {
		// The same as `pkgctl profile`: no agent is fetched.
		return profileRun(&ProfileOptions{Streams: opts.Streams, Options: *o})
	}
	warnings, err := o.Prepare()
	if err == nil {
		var more []string
		more, err = o.WithDefaults().Validate()
		warnings = append(warnings, more...)
	}
	if err != nil {
		var fe *packaging.FlagError
		if errors.As(err, &fe) {
			return &usageError{err}
		}
		return err
	}
	for _, w := range warnings {
		opts.Streams.Warnf("%s", w)
	}
	prog := opts.Streams.progress()
	s := opts.Streams.above(prog)
	env := packaging.BuildEnv{ToolVersion: versionString(), Warnf: s.Warnf}
	if opts.Verify {
		env.Verify = verifyOutput
	}
	if prog != nil {
		env.Progress = prog
		defer prog.Stop()
	}
	if o.Verbose {
		env.Logf = func(format string, args ...any) {
			fmt.Fprintln(s.ErrOut, inert(fmt.Sprintf(format, args...)))
		}
	}
	env.Notef = func(format string, args ...any) {
		fmt.Fprintf(s.Msg(s.ErrOut), format+"\n", args...) // nothing under --quiet
	}
	msg := s.Msg(s.Out)
	fmt.Fprintln(msg, "Generating your fleetd agent...")
	res, err := buildWithProgress(cmd.Context(), o, env, prog)
	if prog != nil {
		prog.Stop() // the last frame before the lines below
	}
	if err != nil {
		return err
	}
	// fleetctl's closing lines, blank lines included.
	fmt.Fprintf(msg, "\nSuccess! You generated fleetd at %s\n\n", res.Path)
	fmt.Fprintln(msg, "To add hosts to Fleet, install fleetd.")
	fmt.Fprintln(msg, "Learn how: https://fleetdm.com/learn-more-about/enrolling-hosts")
	return nil
}
