// Package packaging holds the options of `pkgctl package`, their validation, the
// per-OS Layout of the agent's files, and the build that turns them into an installer.
package packaging

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pkgctl/pkgctl/internal/flagfile"
)

// Package types, as `--type` takes them.
const (
	TypePkg     = "pkg"
	TypeDeb     = "deb"
	TypeRPM     = "rpm"
	TypeMSI     = "msi"
	TypeArchZst = "pkg.tar.zst"
)

// Architectures, as `--arch` takes them.
const (
	ArchAMD64 = "amd64"
	ArchARM64 = "arm64"
)

// Defaults that fleetctl uses.
const (
	DefaultIdentifier     = "com.fleetdm.orbit"
	DefaultChannel        = "stable"
	DefaultUpdateInterval = 15 * time.Minute
	DefaultHostIdentifier = "uuid"
	// DefaultMacOSSignTimestampURL is Apple's time-stamping server, which
	// productsign and rcodesign use by default.
	DefaultMacOSSignTimestampURL = "http://timestamp.apple.com/ts01"
	// DefaultCPUQuota is the systemd unit's CPUQuota, in percent of one CPU
	// (fleetctl ≥ 4.93.0 --cpu-quota; the fixed value before).
	DefaultCPUQuota = "20"
	// DefaultCloudFrontURLTTL is how long each signed CloudFront URL is valid after it is sent.
	DefaultCloudFrontURLTTL = time.Hour
)

// Options are the settings of one installer build. Field names follow fleetctl's
// packaging.Options; each is bound to the flag named in its comment.
type Options struct {
	Type string // --type
	Arch string // --arch

	EnrollSecret                        string        // --enroll-secret
	FleetURL                            string        // --fleet-url
	FleetCertificate                    string        // --fleet-certificate (path)
	FleetTLSClientCertificate           string        // --fleet-tls-client-certificate (path)
	FleetTLSClientKey                   string        // --fleet-tls-client-key (path)
	FleetDesktopAlternativeBrowserHost  string        // --fleet-desktop-alternative-browser-host
	Identifier                          string        // --identifier
	Insecure                            bool          // --insecure
	StartService                        bool          // --service
	SignIdentity                        string        // --sign-identity
	Notarize                            bool          // --notarize
	OsquerydChannel                     string        // --osqueryd-channel
	DesktopChannel                      string        // --desktop-channel
	OrbitChannel                        string        // --orbit-channel
	DisableUpdates                      bool          // --disable-updates
	DisableSetupExperience              bool          // --disable-setup-experience
	BypassEndUserAuth                   bool          // --bypass-end-user-auth
	UpdateURL                           string        // --update-url
	UpdateRoots                         string        // --update-roots (JSON content)
	UpdateTLSServerCertificate          string        // --update-tls-certificate (path)
	UpdateTLSClientCertificate          string        // --update-tls-client-certificate (path)
	UpdateTLSClientKey                  string        // --update-tls-client-key (path)
	OsqueryFlagfile                     string        // --osquery-flagfile (path)
	Debug                               bool          // --debug
	Verbose                             bool          // --verbose
	Desktop                             bool          // --fleet-desktop
	OrbitUpdateInterval                 time.Duration // --update-interval
	DisableOpenFolder                   bool          // --disable-open-folder
	NativeTooling                       bool          // --native-tooling
	LocalWixDir                         string        // --local-wix-dir
	MacOSDevIDCertificateContent        string        // --macos-devid-pem-content
	AppStoreConnectAPIKeyID             string        // --app-store-connect-api-key-id
	AppStoreConnectAPIKeyIssuer         string        // --app-store-connect-api-key-issuer
	AppStoreConnectAPIKeyContent        string        // --app-store-connect-api-key-content
	UseSystemConfiguration              bool          // --use-system-configuration
	EnableScripts                       bool          // --enable-scripts
	HostIdentifier                      string        // --host-identifier
	EndUserEmail                        string        // --end-user-email
	DisableKeystore                     bool          // --disable-keystore
	OsqueryDB                           string        // --osquery-db
	CustomOutfile                       string        // --outfile
	FleetManagedHostIdentityCertificate bool          // --fleet-managed-host-identity-certificate
	CPUQuota                            string        // --cpu-quota: percent of one CPU, "20" or "20%" (deb, rpm, pkg.tar.zst)

	// pkgctl additions.
	CacheDir      string // --cache-dir: verified TUF targets; "" disables the cache
	MacOSDevIDPEM string // --macos-devid-pem: file holding the Dev ID certificate(s) and key in PEM

	// Fetching through a CloudFront distribution with signed URLs (build time only: none
	// of these goes into the installer, which keeps UpdateURL).
	CloudFrontURL           string        // --cloudfront-url
	CloudFrontKeyPairID     string        // --cloudfront-key-pair-id
	CloudFrontPrivateKey    string        // --cloudfront-private-key (path or PEM; secret)
	CloudFrontURLTTL        time.Duration // --cloudfront-url-ttl
	CloudFrontHashAlgorithm string        // --cloudfront-hash-algorithm: sha1 or sha256
	CloudFrontOriginURL     string        // --cloudfront-origin-url; "" = UpdateURL

	// Authenticode signing of the msi: a PEM chain with a PEM key, or a PKCS#12
	// file (password in PKGCTL_WINDOWS_SIGN_PASSWORD).
	WindowsSignCertificate string // --windows-sign-certificate (path)
	WindowsSignKey         string // --windows-sign-key (path)

	// RFC 3161 time-stamping servers of the signatures; "none" (timestamp.None)
	// for no time stamp. The pkg's defaults to Apple's server, as productsign's.
	WindowsSignTimestampURL string // --windows-sign-timestamp-url
	MacOSSignTimestampURL   string // --macos-sign-timestamp-url

	// OpenPGP signing of deb, rpm and pkg.tar.zst: an armored private key
	// (passphrase in PKGCTL_LINUX_SIGN_PASSPHRASE).
	LinuxSignKey string // --linux-sign-key (path)

	// Notarization (--notarize): the .p8 key as a file (the content is
	// AppStoreConnectAPIKeyContent), the wait, and Apple's endpoints ("" = Apple's).
	AppStoreConnectAPIKeyFile string        // --app-store-connect-api-key-file
	NotarizeTimeout           time.Duration // --notarize-timeout
	NotaryAPIURL              string        // --notary-api-url
	NotaryS3Endpoint          string        // --notary-s3-endpoint
	NotaryTicketURL           string        // --notary-ticket-url

	// ArchSet records that --arch was given explicitly.
	ArchSet bool
	// HostOS is the OS the build runs on (runtime.GOOS); fleetctl's host checks use it.
	HostOS string
	// Now is the clock used for certificate expiry checks; zero means time.Now.
	Now time.Time
}

// WithDefaults fills every empty setting with fleetctl's default and returns o.
func (o *Options) WithDefaults() *Options {
	if o.Arch == "" {
		o.Arch = ArchAMD64
	}
	if o.Identifier == "" {
		o.Identifier = DefaultIdentifier
	}
	for _, ch := range []*string{&o.OrbitChannel, &o.OsquerydChannel, &o.DesktopChannel} {
		if *ch == "" {
			*ch = DefaultChannel
		}
	}
	if o.UpdateURL == "" {
		o.UpdateURL = "https://updates.fleetdm.com"
	}
	if o.OrbitUpdateInterval == 0 {
		o.OrbitUpdateInterval = DefaultUpdateInterval
	}
	if o.HostIdentifier == "" {
		o.HostIdentifier = DefaultHostIdentifier
	}
	if o.NotarizeTimeout == 0 {
		o.NotarizeTimeout = DefaultNotarizeTimeout
	}
	if o.MacOSSignTimestampURL == "" {
		o.MacOSSignTimestampURL = DefaultMacOSSignTimestampURL
	}
	if o.CPUQuota == "" {
		o.CPUQuota = DefaultCPUQuota
	}
	if o.CloudFrontHashAlgorithm == "" {
		o.CloudFrontHashAlgorithm = "sha1"
	}
	return o
}

// MaxUpdateRootsFile caps the file read for --update-roots @FILE.
const MaxUpdateRootsFile = 1 << 20

// Prepare completes what the user typed, before WithDefaults and Validate: it
// reads --update-roots @FILE, and gives a --fleet-url without a scheme
// (fleet.example.com:8080) the https:// that orbit itself adds to such a value
// (orbit/cmd/orbit: "https://" unless it starts with "http"), with a warning,
// so that every part of the agent gets a full URL.
func (o *Options) Prepare() (warnings []string, err error) {
	if err := o.readUpdateRootsFile(); err != nil {
		return nil, err
	}
	if o.FleetURL != "" && !strings.Contains(o.FleetURL, "://") {
		warnings = append(warnings, fmt.Sprintf("--fleet-url %s has no scheme: using https://%s, as orbit does", o.FleetURL, o.FleetURL))
		o.FleetURL = "https://" + o.FleetURL
	}
	return warnings, nil
}

// readUpdateRootsFile replaces an --update-roots value of the form @FILE with
// the content of FILE (root metadata JSON, as `pkgctl updates roots` prints it).
func (o *Options) readUpdateRootsFile() error {
	name, ok := strings.CutPrefix(o.UpdateRoots, "@")
	if !ok {
		return nil
	}
	data, err := flagfile.Read(name, MaxUpdateRootsFile) // no FIFO, no device, bounded
	if err != nil {
		return &FlagError{Flag: "update-roots", Msg: "read --update-roots @" + name, Err: errors.Unwrap(err)}
	}
	o.UpdateRoots = string(data)
	return nil
}

func (o *Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func parseURL(raw string) (*url.URL, error) { return url.Parse(raw) }
