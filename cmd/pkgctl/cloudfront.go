package main

import (
	"crypto"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pkgctl/pkgctl/cloudfront"
)

// NewCmdCloudFront builds `pkgctl cloudfront`: signed URLs, signed cookies and
// key pairs for a CloudFront distribution in front of the update server.
func NewCmdCloudFront(s Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cloudfront",
		Short: "Sign CloudFront URLs and cookies, generate CloudFront key pairs",
		Args:  cobra.NoArgs,
	}
	cmd.SetFlagErrorFunc(flagError)
	cmd.AddCommand(NewCmdCloudFrontSign(s, false, nil))
	cmd.AddCommand(NewCmdCloudFrontSign(s, true, nil))
	cmd.AddCommand(NewCmdCloudFrontKeygen(s, nil))
	return cmd
}

// CloudFrontSignOptions is `pkgctl cloudfront sign-url` and `sign-cookie`:
// streams and clock, then the flag values.
type CloudFrontSignOptions struct {
	Streams Streams
	Now     func() time.Time
	Cookie  bool // sign-cookie rather than sign-url

	URL            string
	KeyPairID      string
	PrivateKey     string // path or PEM; never echoed
	Expires        string // Unix seconds or RFC 3339
	TTL            time.Duration
	NotBefore      string
	IPRange        string
	PolicyResource string
	Hash           string
}

// NewCmdCloudFrontSign builds `sign-url` (cookie false) or `sign-cookie`.
// runF replaces the signing in tests.
func NewCmdCloudFrontSign(s Streams, cookie bool, runF func(*CloudFrontSignOptions) error) *cobra.Command {
	opts := &CloudFrontSignOptions{Streams: s, Now: time.Now, Cookie: cookie}
	cmd := &cobra.Command{
		Use:   "sign-url URL",
		Short: "Print a CloudFront signed URL",
		Long: "Print URL signed for CloudFront: a canned policy, or a custom policy when --not-before, --ip-range or\n" +
			"--policy-resource (a resource with * and ? wildcards) is given. Expiry is at most 2038-01-19T03:14:07Z.",
		Args: exactArgs(1, "URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			if err := opts.checkFlags(cmd); err != nil {
				return &usageError{err}
			}
			if runF != nil {
				return runF(opts)
			}
			return cloudFrontSignRun(opts)
		},
	}
	if cookie {
		cmd.Use = "sign-cookie URL"
		cmd.Short = "Print CloudFront signed cookies (Set-Cookie values)"
		cmd.Long = "Print the Set-Cookie values granting URL: CloudFront-Expires (canned policy) or CloudFront-Policy\n" +
			"(custom policy: --not-before, --ip-range, --policy-resource, or a * in URL), CloudFront-Signature and\n" +
			"CloudFront-Key-Pair-Id, plus CloudFront-Hash-Algorithm with --hash sha256."
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&opts.KeyPairID, "key-pair-id", "", "ID of the public key in the distribution's trusted key group (required)")
	fs.StringVar(&opts.PrivateKey, "private-key", "", "Private key: a PEM file path, or the PEM itself (literal \\n accepted) (required)")
	fs.StringVar(&opts.Expires, "expires", "", "Expiry: Unix seconds or RFC 3339 (this or --ttl)")
	fs.DurationVar(&opts.TTL, "ttl", 0, "Expiry as a duration from now, e.g. 1h (this or --expires)")
	fs.StringVar(&opts.NotBefore, "not-before", "", "Start of validity: Unix seconds or RFC 3339 (custom policy)")
	fs.StringVar(&opts.IPRange, "ip-range", "", "Client addresses allowed, IPv4 or IPv6 CIDR (custom policy)")
	fs.StringVar(&opts.PolicyResource, "policy-resource", "", "Resource the policy grants, with * and ? wildcards (custom policy)")
	fs.StringVar(&opts.Hash, "hash", "sha1", "Signature hash: sha1 or sha256 (sha256 adds Hash-Algorithm=SHA256)")
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}

// exactArgs is cobra.ExactArgs with a usage error that names the argument.
func exactArgs(n int, name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &usageError{fmt.Errorf("%s takes %d argument (%s), got %d", cmd.CommandPath(), n, name, len(args))}
		}
		return nil
	}
}

// checkFlags rejects missing flags and bad combinations.
func (o *CloudFrontSignOptions) checkFlags(cmd *cobra.Command) error {
	switch {
	case o.KeyPairID == "":
		return errors.New("--key-pair-id is required")
	case o.PrivateKey == "":
		return errors.New("--private-key is required")
	}
	expiresSet, ttlSet := cmd.Flags().Changed("expires"), cmd.Flags().Changed("ttl")
	if expiresSet == ttlSet {
		return errors.New("exactly one of --expires and --ttl is required")
	}
	if ttlSet && o.TTL <= 0 {
		return fmt.Errorf("--ttl: %s is not a positive duration", o.TTL)
	}
	if _, err := parseHashFlag(o.Hash); err != nil {
		return err
	}
	return nil
}

func parseHashFlag(v string) (crypto.Hash, error) {
	switch strings.ToLower(v) {
	case "sha1", "sha-1":
		return crypto.SHA1, nil
	case "sha256", "sha-256":
		return crypto.SHA256, nil
	}
	return 0, fmt.Errorf("--hash: %q is neither sha1 nor sha256", v)
}

// parseTimeFlag reads Unix seconds or an RFC 3339 time.
func parseTimeFlag(flag, v string) (time.Time, error) {
	if v != "" && strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %q is out of range", flag, v)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is neither Unix seconds nor RFC 3339 (2006-01-02T15:04:05Z)", flag, v)
	}
	return t, nil
}

// cloudFrontSignRun signs the URL or cookies and prints them.
func cloudFrontSignRun(o *CloudFrontSignOptions) error {
	now := o.Now()
	expiryFlag := "--expires"
	var expires time.Time
	if o.TTL > 0 {
		expiryFlag = "--ttl"
		expires = now.Add(o.TTL)
	} else {
		var err error
		if expires, err = parseTimeFlag("--expires", o.Expires); err != nil {
			return &usageError{err}
		}
	}
	if !expires.After(now) {
		return &usageError{fmt.Errorf("%s: %s is not in the future", expiryFlag, expires.UTC().Format(time.RFC3339))}
	}
	p := cloudfront.Policy{Expires: expires, IPRange: o.IPRange, Resource: o.PolicyResource}
	if o.NotBefore != "" {
		nb, err := parseTimeFlag("--not-before", o.NotBefore)
		if err != nil {
			return &usageError{err}
		}
		p.NotBefore = nb
	}
	h, err := parseHashFlag(o.Hash)
	if err != nil {
		return &usageError{err}
	}
	key, err := cloudfront.LoadPrivateKey(o.PrivateKey)
	if err != nil {
		return fmt.Errorf("--private-key: %w", err)
	}
	signer := &cloudfront.Signer{KeyPairID: o.KeyPairID, Key: key, Hash: h}
	custom := o.PolicyResource != "" || o.NotBefore != "" || o.IPRange != ""

	if o.Cookie {
		if p.Resource == "" {
			p.Resource = o.URL
		}
		p.Custom = custom
		cookies, err := signer.SignCookies(p)
		if err != nil {
			return o.flagError(err, expiryFlag)
		}
		var b strings.Builder
		for _, c := range cookies {
			b.WriteString(c.String() + "\n")
		}
		_, err = fmt.Fprint(o.Streams.Out, b.String())
		return err
	}
	var signed string
	if custom {
		signed, err = signer.SignURLWithPolicy(o.URL, p)
	} else {
		signed, err = signer.SignURL(o.URL, expires)
	}
	if err != nil {
		return o.flagError(err, expiryFlag)
	}
	_, err = fmt.Fprintln(o.Streams.Out, signed)
	return err
}

// flagError names the flag behind a cloudfront.FieldError.
func (o *CloudFrontSignOptions) flagError(err error, expiryFlag string) error {
	var fe *cloudfront.FieldError
	if !errors.As(err, &fe) {
		return fmt.Errorf("sign: %w", err)
	}
	flag := map[string]string{
		"URL":       "URL argument",
		"Resource":  "--policy-resource",
		"Expires":   expiryFlag,
		"NotBefore": "--not-before",
		"IPRange":   "--ip-range",
	}[fe.Field]
	if fe.Field == "Resource" && o.PolicyResource == "" {
		flag = "URL argument"
	}
	if flag == "" {
		flag = fe.Field
	}
	return &usageError{fmt.Errorf("%s: %w", flag, fe.Err)}
}

// CloudFrontKeygenOptions is `pkgctl cloudfront keygen`.
type CloudFrontKeygenOptions struct {
	Streams Streams
	Type    string // rsa or ecdsa
	Out     string // private key file, created 0600
}

// NewCmdCloudFrontKeygen builds `pkgctl cloudfront keygen`. runF replaces the
// generation in tests.
func NewCmdCloudFrontKeygen(s Streams, runF func(*CloudFrontKeygenOptions) error) *cobra.Command {
	opts := &CloudFrontKeygenOptions{Streams: s}
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Generate a CloudFront key pair",
		Long: "Write a new private key (PKCS#8 PEM, mode 0600) to --out, which must not exist, and print the public key\n" +
			"PEM to import into a CloudFront key group.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Out == "" {
				return &usageError{errors.New("--out is required")}
			}
			if t := strings.ToLower(opts.Type); t != "rsa" && t != "ecdsa" {
				return &usageError{fmt.Errorf("--type: %q is neither rsa nor ecdsa", opts.Type)}
			}
			if runF != nil {
				return runF(opts)
			}
			return cloudFrontKeygenRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Type, "type", "rsa", "Key type: rsa (2048 bits) or ecdsa (P-256)")
	cmd.Flags().StringVar(&opts.Out, "out", "", "File to create with the private key, mode 0600 (required; never overwritten)")
	cmd.SetFlagErrorFunc(flagError)
	return cmd
}

// cloudFrontKeygenRun writes the private key and prints the public key.
func cloudFrontKeygenRun(o *CloudFrontKeygenOptions) error {
	priv, pub, err := cloudfront.GenerateKey(o.Type)
	if err != nil {
		return err
	}
	// O_EXCL: never overwrite, never follow a symlink planted at the path.
	f, err := os.OpenFile(o.Out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return &usageError{fmt.Errorf("--out: %s already exists; refusing to overwrite it", o.Out)}
	}
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := writeKeyFile(f, priv); err != nil {
		os.Remove(o.Out)
		return fmt.Errorf("--out: write %s: %w", o.Out, err)
	}
	fmt.Fprintf(o.Streams.ErrOut, "Wrote the %s private key to %s (mode 0600). Import this public key into a CloudFront key group:\n", strings.ToLower(o.Type), o.Out)
	_, err = o.Streams.Out.Write(pub)
	return err
}

func writeKeyFile(f *os.File, data []byte) error {
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
