package packaging

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/pkgctl/pkgctl/cloudfront"
	"github.com/pkgctl/pkgctl/internal/certvalid"
	"github.com/pkgctl/pkgctl/internal/flagfile"
	"github.com/pkgctl/pkgctl/internal/safetext"
	"github.com/pkgctl/pkgctl/timestamp"
)

// ExpiryWarningWindow is how close to expiry a certificate gets a warning.
const ExpiryWarningWindow = 30 * 24 * time.Hour

// FlagError is a validation error about one flag. Its message follows fleetctl's
// wording where fleetctl has one, so scripts that match on it keep working.
type FlagError struct {
	Flag string // flag name without dashes, e.g. "fleet-certificate"
	Msg  string
	Err  error
}

func (e *FlagError) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *FlagError) Unwrap() error { return e.Err }

func flagErr(flag, format string, args ...any) *FlagError {
	return &FlagError{Flag: flag, Msg: fmt.Sprintf(format, args...)}
}

// validTypes and validArchs are what --type and --arch accept.
var validTypes = []string{TypePkg, TypeDeb, TypeRPM, TypeMSI, TypeArchZst}

// Validate checks o (after WithDefaults) the way fleetctl does, in fleetctl's order,
// plus pkgctl's own checks of certificate files and TUF roots. It returns warnings
// (things that work but deserve attention, or flags without effect for the type)
// and the first error. It reads the files the flags name but changes nothing.
func (o *Options) Validate() (warnings []string, err error) {
	warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }

	if o.Type == "" {
		return nil, flagErr("type", `Required flag "type" not set`)
	}
	if !contains(validTypes, o.Type) {
		return nil, flagErr("type", "type must be one of ('pkg', 'deb', 'rpm', 'msi', 'pkg.tar.zst')")
	}
	if (o.EnrollSecret == "") != (o.FleetURL == "") {
		return nil, flagErr("enroll-secret", "--enroll-secret and --fleet-url must be provided together")
	}
	if o.FleetURL != "" && !hasControl(o.FleetURL) { // control characters get their own message below
		if u, err := parseURL(o.FleetURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, flagErr("fleet-url", "--fleet-url %q is not a URL orbit can use: give https://host[:port] (e.g. https://fleet.example.com:8080)", o.FleetURL)
		}
	}
	if o.Insecure && o.FleetCertificate != "" {
		return nil, flagErr("insecure", "--insecure and --fleet-certificate may not be provided together")
	}
	if o.Insecure && o.UpdateTLSServerCertificate != "" {
		return nil, flagErr("insecure", "--insecure and --update-tls-certificate may not be provided together")
	}
	if o.HostIdentifier != "uuid" && o.HostIdentifier != "instance" {
		return nil, flagErr("host-identifier", "--host-identifier=%s is not supported, currently supported values are 'uuid' and 'instance'", o.HostIdentifier)
	}

	// Fleet mTLS client pair.
	if (o.FleetTLSClientCertificate == "") != (o.FleetTLSClientKey == "") {
		return nil, flagErr("fleet-tls-client-certificate", "must specify both fleet-tls-client-certificate and fleet-tls-client-key")
	}
	if o.FleetTLSClientCertificate != "" {
		w, err := o.checkClientPair("fleet", "fleet-tls-client-certificate", "fleet-tls-client-key", o.FleetTLSClientCertificate, o.FleetTLSClientKey)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, w...)
	}
	if o.FleetManagedHostIdentityCertificate {
		if o.Type != TypeDeb && o.Type != TypeRPM && o.Type != TypeArchZst {
			return nil, flagErr("fleet-managed-host-identity-certificate", "--fleet-managed-host-identity-certificate is only supported for deb/rpm/pkg.tar.zst packages")
		}
		if o.FleetTLSClientCertificate != "" {
			return nil, flagErr("fleet-managed-host-identity-certificate", "--fleet-managed-host-identity-certificate and --fleet-tls-client-certificate may not be provided together")
		}
	}

	// Update server mTLS client pair.
	if (o.UpdateTLSClientCertificate == "") != (o.UpdateTLSClientKey == "") {
		return nil, flagErr("update-tls-client-certificate", "must specify both update-tls-client-certificate and update-tls-client-key")
	}
	if o.UpdateTLSClientCertificate != "" {
		w, err := o.checkClientPair("update", "update-tls-client-certificate", "update-tls-client-key", o.UpdateTLSClientCertificate, o.UpdateTLSClientKey)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, w...)
	}

	if o.OsqueryDB != "" {
		if o.Type == TypeMSI {
			if !isWindowsAbs(o.OsqueryDB) {
				return nil, flagErr("osquery-db", "--osquery-db must be an absolute path: %q", o.OsqueryDB)
			}
		} else if !strings.HasPrefix(o.OsqueryDB, "/") {
			return nil, flagErr("osquery-db", "--osquery-db must be an absolute path: %q", o.OsqueryDB)
		}
	}

	// fleetctl's host checks (#9-#11) exist because it shells out to native tools;
	// pkgctl builds every format in Go on any OS, so they become notices.
	// --native-tooling keeps its one visible effect: the output goes under build/.
	if o.LocalWixDir != "" {
		warn("--local-wix-dir has no effect: pkgctl builds MSI packages without WiX")
	}

	if o.EndUserEmail != "" {
		if !isLooseEmail(o.EndUserEmail) {
			return nil, flagErr("end-user-email", "Invalid email address specified for --end-user-email.")
		}
		if o.Type == TypePkg {
			return nil, flagErr("end-user-email", "Can only set --end-user-email when building an msi, deb, rpm, or pkg.tar.zst package.")
		}
	}

	if o.FleetCertificate != "" {
		w, err := o.checkCAFile("fleet-certificate", "failed to read fleet server certificate", o.FleetCertificate)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, w...)
	}
	if o.UpdateTLSServerCertificate != "" {
		w, err := o.checkCAFile("update-tls-certificate", "failed to read update server certificate", o.UpdateTLSServerCertificate)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, w...)
	}

	if o.UseSystemConfiguration && o.Type != TypePkg {
		return nil, flagErr("use-system-configuration", "--use-system-configuration is only available for pkg installers")
	}

	if o.CustomOutfile != "" {
		if !strings.HasSuffix(o.CustomOutfile, "."+o.Type) {
			return nil, flagErr("outfile", "output file must end with .%s for %s packages", o.Type, o.Type)
		}
		if st, err := os.Stat(o.CustomOutfile); err == nil && st.IsDir() {
			return nil, flagErr("outfile", "--outfile %s is a directory", o.CustomOutfile)
		}
		// With --native-tooling the file goes under build/, created by the build.
		if st, err := os.Stat(filepath.Dir(o.CustomOutfile)); !o.NativeTooling && (err != nil || !st.IsDir()) {
			return nil, flagErr("outfile", "--outfile %s: directory %s does not exist", o.CustomOutfile, filepath.Dir(o.CustomOutfile))
		}
		for _, in := range o.InputFiles() {
			if SamePath(o.Outfile(), in.Path) {
				return nil, flagErr("outfile", "--outfile %s is also --%s %s: the installer would replace an input", o.CustomOutfile, in.Flag, in.Path)
			}
		}
	}

	// fleetctl refuses any --arch but its default for pkg (the pkg is
	// universal), so --arch=amd64 passes, as it does in scripts looping over types.
	if o.Type == TypePkg && o.Arch != ArchAMD64 {
		return nil, flagErr("arch", "can't use '--arch' with '--type %s'", o.Type)
	}
	if o.Arch != ArchAMD64 && o.Arch != ArchARM64 {
		return nil, flagErr("arch", "arch must be one of ('amd64', 'arm64')")
	}

	// macOS signing. fleetctl refuses a sign identity with a Dev ID PEM; pkgctl
	// signs only from PEM (relic, any OS) and cannot notarize.
	if o.MacOSDevIDCertificateContent != "" && o.MacOSDevIDPEM != "" {
		return nil, flagErr("macos-devid-pem", "--macos-devid-pem and --macos-devid-pem-content may not be provided together")
	}
	if o.SignIdentity != "" && (o.MacOSDevIDCertificateContent != "" || o.MacOSDevIDPEM != "") {
		return nil, flagErr("sign-identity", "providing a sign identity and a Dev ID certificate is not supported")
	}
	if o.Type == TypePkg && o.SignIdentity != "" {
		where := "it needs a macOS keychain, which this " + o.HostOS + " host does not have"
		if o.HostOS == "darwin" {
			where = "signing from a keychain (productsign) is not supported yet by pkgctl"
		}
		return nil, flagErr("sign-identity", "--sign-identity: %s; give the Developer ID Installer certificate and key as PEM with --macos-devid-pem or --macos-devid-pem-content", where)
	}
	if err := o.checkNotarize(); err != nil {
		return nil, err
	}
	if _, set := os.LookupEnv("SOURCE_DATE_EPOCH"); set && o.Type == TypePkg && o.MacOSSignTimestampURL != "none" && (o.MacOSDevIDPEM != "" || o.MacOSDevIDCertificateContent != "") {
		warn("SOURCE_DATE_EPOCH is set, but the signed pkg gets a time stamp from %s, which differs on every build: pass --macos-sign-timestamp-url=none for byte-identical packages", o.MacOSSignTimestampURL)
	}
	if o.Type == TypePkg && o.Notarize && o.MacOSSignTimestampURL == "none" {
		warn("--notarize with --macos-sign-timestamp-url=none: Apple's notary service expects a secure time stamp on the signature and may judge the package Invalid")
	}
	if o.Type == TypePkg && o.MacOSDevIDPEM != "" {
		if _, err := os.Stat(o.MacOSDevIDPEM); err != nil {
			return nil, &FlagError{Flag: "macos-devid-pem", Msg: fmt.Sprintf("read --macos-devid-pem %s", o.MacOSDevIDPEM), Err: errors.Unwrap(err)}
		}
	}
	if o.Type == TypePkg && (o.MacOSDevIDPEM != "" || o.MacOSDevIDCertificateContent != "") {
		// Load now: a key that does not match its certificate fails before any download.
		if _, err := signingIdentityFor(o); err != nil {
			var fe *FlagError
			if errors.As(err, &fe) {
				return nil, err
			}
			flag := "macos-devid-pem"
			if o.MacOSDevIDCertificateContent != "" {
				flag = "macos-devid-pem-content"
			}
			return nil, &FlagError{Flag: flag, Msg: err.Error()}
		}
	}

	if _, err := o.CPUQuotaPercent(); err != nil {
		return nil, err
	}

	// pkgctl's own checks.
	if o.OrbitUpdateInterval <= 0 {
		return nil, flagErr("update-interval", "--update-interval must be positive, got %s", o.OrbitUpdateInterval)
	}
	if o.UpdateRoots != "" {
		if err := checkRoots(o.UpdateRoots); err != nil {
			if st, serr := os.Stat(o.UpdateRoots); serr == nil && st.Mode().IsRegular() {
				return nil, flagErr("update-roots", "--update-roots takes the root metadata JSON itself, and %s is a file: pass --update-roots @%s, or --update-roots \"$(cat %s)\"", o.UpdateRoots, o.UpdateRoots, o.UpdateRoots)
			}
			return nil, &FlagError{Flag: "update-roots", Msg: "--update-roots is not valid TUF root metadata (the output of `pkgctl updates roots` or `fleetctl updates roots`)", Err: err}
		}
	}
	if err := checkUpdateURL(o.UpdateURL); err != nil {
		return nil, err
	}
	w, err := o.checkCloudFront()
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, w...)
	if o.UpdateRoots == "" && strings.TrimRight(o.UpdateURL, "/") != FleetUpdateURL {
		warn("--update-url %s is not Fleet's update server but --update-roots is empty: Fleet's root will be trusted, which a custom TUF server's metadata will not match (pass --update-roots \"$(pkgctl updates roots --path REPO)\")", o.UpdateURL)
	}
	if o.OsqueryFlagfile != "" {
		if _, err := flagfile.Read(o.OsqueryFlagfile, flagfile.MaxSize); err != nil {
			return nil, &FlagError{Flag: "osquery-flagfile", Msg: fmt.Sprintf("read --osquery-flagfile %s", o.OsqueryFlagfile), Err: errors.Unwrap(err)}
		}
	}
	for _, s := range o.textSettings() {
		if hasControl(s.value) {
			return nil, flagErr(s.flag, "--%s must not contain control characters such as newlines", s.flag)
		}
	}
	if hasControl(o.EnrollSecret) {
		// The value itself is never echoed: it is a secret.
		return nil, flagErr("enroll-secret", "--enroll-secret must not contain control characters such as newlines")
	}
	if o.Type == TypePkg {
		// Checked here too, so that bad input is refused before any download.
		if err := checkMacOSValues(o); err != nil {
			return nil, err
		}
	}
	for _, ch := range []struct{ flag, value string }{
		{"orbit-channel", o.OrbitChannel}, {"osqueryd-channel", o.OsquerydChannel}, {"desktop-channel", o.DesktopChannel},
	} {
		if strings.ContainsAny(ch.value, `/\ `) || ch.value == "." || ch.value == ".." {
			return nil, flagErr(ch.flag, "--%s %q is not a valid channel name (e.g. stable, edge, 4.6)", ch.flag, ch.value)
		}
	}

	for _, f := range []flagValue{{"windows-sign-timestamp-url", o.WindowsSignTimestampURL}, {"macos-sign-timestamp-url", o.MacOSSignTimestampURL}} {
		if _, err := timestamp.New(f.flag, f.value); err != nil {
			return nil, flagErr(f.flag, "%v", err)
		}
	}
	if o.LinuxSignKey != "" && isLinuxType(o.Type) {
		// Unlock now: a wrong passphrase or key type fails before any download.
		at, err := SourceDate()
		if err != nil {
			return nil, err
		}
		if _, err := pgpSignerFor(o, at); err != nil {
			return nil, err
		}
	}
	if o.WindowsSignKey != "" && o.WindowsSignCertificate == "" {
		return nil, flagErr("windows-sign-key", "--windows-sign-key needs --windows-sign-certificate")
	}
	if o.Type == TypeMSI && o.WindowsSignCertificate != "" {
		// Load now: a wrong password or a key that does not match fails before any download.
		if _, err := windowsIdentity(o); err != nil {
			return nil, err
		}
	}

	warnings = append(warnings, o.noEffectWarnings()...)
	return warnings, nil
}

// noEffectWarnings names the flags that fleetctl quietly ignores for o.Type: they
// are accepted so that scripts keep working, and said to have no effect.
func (o *Options) noEffectWarnings() []string {
	var out []string
	add := func(set bool, flag, formats string) {
		if set {
			out = append(out, fmt.Sprintf("--%s has no effect for --type=%s (it applies to %s)", flag, o.Type, formats))
		}
	}
	isPkg := o.Type == TypePkg
	add(!isPkg && o.Identifier != DefaultIdentifier, "identifier", "pkg")
	add(!isPkg && o.SignIdentity != "", "sign-identity", "pkg")
	add(!isPkg && o.Notarize, "notarize", "pkg")
	add(!isPkg && o.MacOSDevIDCertificateContent != "", "macos-devid-pem-content", "pkg")
	add(!isPkg && o.MacOSDevIDPEM != "", "macos-devid-pem", "pkg")
	add(!isPkg && o.AppStoreConnectAPIKeyID != "", "app-store-connect-api-key-id", "pkg")
	add(!isPkg && o.AppStoreConnectAPIKeyIssuer != "", "app-store-connect-api-key-issuer", "pkg")
	add(!isPkg && o.AppStoreConnectAPIKeyContent != "", "app-store-connect-api-key-content", "pkg")
	isLinux := o.Type == TypeDeb || o.Type == TypeRPM || o.Type == TypeArchZst
	add(isLinux && o.DisableKeystore, "disable-keystore", "pkg and msi")
	add(isPkg && o.DisableSetupExperience, "disable-setup-experience", "deb, rpm, pkg.tar.zst and msi")
	add(o.Type == TypeMSI && !o.StartService, "service=false", "pkg, deb, rpm and pkg.tar.zst")
	add(o.Type != TypeMSI && o.WindowsSignCertificate != "", "windows-sign-certificate", "msi")
	add(o.Type != TypeMSI && o.WindowsSignTimestampURL != "", "windows-sign-timestamp-url", "signed msi")
	add(!isLinux && o.LinuxSignKey != "", "linux-sign-key", "deb, rpm and pkg.tar.zst")
	if o.Type == TypeMSI && o.WindowsSignCertificate == "" && o.WindowsSignTimestampURL != "" {
		out = append(out, "--windows-sign-timestamp-url has no effect without --windows-sign-certificate (the msi is not signed)")
	}
	q, _ := o.CPUQuotaPercent()
	add(!isLinux && q != defaultCPUQuotaPercent, "cpu-quota", "deb, rpm and pkg.tar.zst: the systemd unit")
	return out
}

const defaultCPUQuotaPercent = 20

// CPUQuotaPercent is --cpu-quota as a whole percentage of one CPU: "20" or
// "20%", positive (systemd's CPUQuota takes more than 100% for several CPUs).
func (o *Options) CPUQuotaPercent() (int, error) {
	s := strings.TrimSuffix(o.CPUQuota, "%")
	if s == "" {
		s = DefaultCPUQuota
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n <= 0 {
		return 0, flagErr("cpu-quota", "--cpu-quota %q must be a positive whole percentage of one CPU, such as 20 or 20%% (more than 100 for several CPUs)", o.CPUQuota)
	}
	return int(n), nil
}

// checkClientPair loads a TLS client certificate and key the way fleetctl does and
// checks that the certificate is PEM, matches the key and is within its validity.
func (o *Options) checkClientPair(what, certFlag, keyFlag, certPath, keyPath string) ([]string, error) {
	certPEM, err := flagfile.Read(certPath, flagfile.MaxSize)
	if err != nil {
		return nil, &FlagError{Flag: certFlag, Msg: fmt.Sprintf("read --%s %s", certFlag, certPath), Err: errors.Unwrap(err)}
	}
	keyPEM, err := flagfile.Read(keyPath, flagfile.MaxSize)
	if err != nil {
		return nil, &FlagError{Flag: keyFlag, Msg: fmt.Sprintf("read --%s %s", keyFlag, keyPath), Err: errors.Unwrap(err)}
	}
	certs, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, &FlagError{Flag: certFlag, Msg: fmt.Sprintf("--%s %s", certFlag, certPath), Err: err}
	}
	if !hasPEMBlock(keyPEM, "PRIVATE KEY") {
		// Never include the key's bytes in the error.
		return nil, flagErr(keyFlag, "--%s %s: no PEM private key found", keyFlag, keyPath)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, flagErr(certFlag, "error loading %s client certificate and key: --%s %s does not match --%s %s (%s)", what, keyFlag, keyPath, certFlag, certPath, sanitizeKeyErr(err))
	}
	return o.checkValidity(certFlag, certPath, certs[:1], true)
}

// checkCAFile checks a CA bundle: readable, PEM, and not wholly expired.
func (o *Options) checkCAFile(flag, fleetMsg, path string) ([]string, error) {
	data, err := flagfile.Read(path, flagfile.MaxSize)
	if err != nil {
		return nil, &FlagError{Flag: flag, Msg: fmt.Sprintf("%s %q", fleetMsg, path), Err: errors.Unwrap(err)}
	}
	certs, err := parseCertsPEM(data)
	if err != nil {
		return nil, &FlagError{Flag: flag, Msg: fmt.Sprintf("%s %q (--%s)", fleetMsg, path, flag), Err: err}
	}
	return o.checkValidity(flag, path, certs, false)
}

// checkValidity errors when a client certificate is expired or not yet valid,
// or when a CA bundle has no valid certificate (certvalid's rule, which verify
// shares); it warns on the other entries of a bundle that are not valid and on
// a certificate that expires within ExpiryWarningWindow.
func (o *Options) checkValidity(flag, path string, certs []*x509.Certificate, leaf bool) ([]string, error) {
	now := o.now()
	dates := make([]certvalid.Dates, len(certs))
	for i, c := range certs {
		dates[i] = certvalid.Dates{NotBefore: c.NotBefore, NotAfter: c.NotAfter}
	}
	if !leaf && !certvalid.BundleUsable(dates, now) {
		if allExpired(dates, now) {
			return nil, flagErr(flag, "--%s %s: every certificate in the file has expired", flag, path)
		}
		return nil, flagErr(flag, "--%s %s: no certificate in the file is valid now", flag, path)
	}
	var warnings []string
	for i, c := range certs {
		name := c.Subject.CommonName
		var msg string
		switch dates[i].At(now) {
		case certvalid.Expired:
			msg = fmt.Sprintf("--%s %s: certificate %q expired on %s", flag, path, name, c.NotAfter.UTC().Format(time.RFC3339))
		case certvalid.NotYetValid:
			msg = fmt.Sprintf("--%s %s: certificate %q is not valid before %s", flag, path, name, c.NotBefore.UTC().Format(time.RFC3339))
		default:
			if dates[i].ExpiresWithin(now, ExpiryWarningWindow) {
				warnings = append(warnings, fmt.Sprintf("--%s %s: certificate %q expires soon, on %s", flag, path, name, c.NotAfter.UTC().Format(time.RFC3339)))
			}
			continue
		}
		if leaf {
			return nil, flagErr(flag, "%s", msg)
		}
		warnings = append(warnings, msg)
	}
	return warnings, nil
}

func allExpired(dates []certvalid.Dates, now time.Time) bool {
	for _, d := range dates {
		if d.At(now) != certvalid.Expired {
			return false
		}
	}
	return true
}

// parseCertsPEM returns every certificate in a PEM bundle; the error is
// fleetctl's "invalid PEM file" when there is none. Certificate files are
// installed world-readable, so any other PEM block is an error: a private key
// there would be published to every local user.
func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if strings.Contains(block.Type, "PRIVATE KEY") {
			return nil, errors.New("the file also holds a private key, and certificate files are installed readable by every user: give the certificates alone (the key goes in its own --*-key flag)")
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %s: only CERTIFICATE blocks are allowed", safetext.Quote(block.Type))
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("invalid PEM file: no CERTIFICATE block found")
	}
	return certs, nil
}

func hasPEMBlock(data []byte, suffix string) bool {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return false
		}
		if strings.HasSuffix(block.Type, suffix) {
			return true
		}
	}
}

// sanitizeKeyErr keeps tls's error text but never anything that could be key material.
func sanitizeKeyErr(err error) string {
	s := err.Error()
	if strings.Contains(s, "PRIVATE KEY") && strings.Contains(s, "-----") {
		return "the key could not be parsed"
	}
	return s
}

func checkRoots(rootsJSON string) error {
	root, err := metadata.Root().FromBytes([]byte(rootsJSON))
	if err != nil {
		return err
	}
	if len(root.Signatures) == 0 {
		return errors.New("root metadata has no signatures")
	}
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if _, ok := root.Signed.Roles[role]; !ok {
			return fmt.Errorf("root metadata has no %q role", role)
		}
	}
	return nil
}

func checkUpdateURL(raw string) error {
	u, err := parseURL(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return flagErr("update-url", "--update-url %q must be an http or https URL", raw)
	}
	return nil
}

// isLooseEmail accepts what fleet.IsLooseEmail accepts: local@domain with no
// spaces and exactly one @.
func isLooseEmail(s string) bool {
	i := strings.Index(s, "@")
	return i > 0 && i < len(s)-1 && strings.Count(s, "@") == 1 && !strings.ContainsAny(s, " \t<>")
}

func isWindowsAbs(p string) bool {
	if strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, `//`) {
		return true
	}
	return len(p) >= 3 && ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')) && p[1] == ':' && (p[2] == '\\' || p[2] == '/')
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkCloudFront checks the --cloudfront-* flags. The private key is parsed but never
// quoted: errors say what is wrong with it, not what it is.
func (o *Options) checkCloudFront() (warnings []string, err error) {
	if o.CloudFrontURL == "" {
		for _, f := range []struct{ flag, value string }{
			{"cloudfront-key-pair-id", o.CloudFrontKeyPairID},
			{"cloudfront-private-key", o.CloudFrontPrivateKey},
			{"cloudfront-origin-url", o.CloudFrontOriginURL},
		} {
			if f.value != "" {
				return nil, flagErr(f.flag, "--%s needs --cloudfront-url (the distribution to fetch the agent through)", f.flag)
			}
		}
		return nil, nil
	}
	cdn, err := parseURL(o.CloudFrontURL)
	if err != nil || cdn.Scheme != "https" || cdn.Host == "" || hasControl(o.CloudFrontURL) {
		// http would send each signed URL, a bearer credential, in clear text.
		return nil, flagErr("cloudfront-url", "--cloudfront-url %q must be an https URL such as https://d111111abcdef8.cloudfront.net", o.CloudFrontURL)
	}
	if cdn.RawQuery != "" || cdn.Fragment != "" || cdn.User != nil {
		return nil, flagErr("cloudfront-url", "--cloudfront-url %q must not have a query, fragment or user name", o.CloudFrontURL)
	}
	switch {
	case o.CloudFrontKeyPairID == "" && o.CloudFrontPrivateKey == "":
		return nil, flagErr("cloudfront-key-pair-id", "--cloudfront-url needs --cloudfront-key-pair-id and --cloudfront-private-key")
	case o.CloudFrontKeyPairID == "":
		return nil, flagErr("cloudfront-key-pair-id", "--cloudfront-private-key needs --cloudfront-key-pair-id (the ID of its public key in the distribution's key group)")
	case o.CloudFrontPrivateKey == "":
		return nil, flagErr("cloudfront-private-key", "--cloudfront-key-pair-id needs --cloudfront-private-key (a PEM file, or the PEM itself; also read from $PKGCTL_CLOUDFRONT_PRIVATE_KEY)")
	}
	for _, c := range o.CloudFrontKeyPairID {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, flagErr("cloudfront-key-pair-id", "--cloudfront-key-pair-id %q is not a CloudFront public key ID (letters, digits, - and _, such as K2JCJMDEHXQW5F)", o.CloudFrontKeyPairID)
		}
	}
	signer, err := cloudFrontSigner(o)
	if err != nil {
		return nil, err
	}
	ttl := o.CloudFrontURLTTL
	if ttl < time.Second {
		return nil, flagErr("cloudfront-url-ttl", "--cloudfront-url-ttl must be at least 1s (CloudFront expiry is in whole seconds), got %s", ttl)
	}
	if exp := o.now().Add(ttl); exp.After(cloudfront.MaxTime) || exp.Before(o.now()) {
		return nil, flagErr("cloudfront-url-ttl", "--cloudfront-url-ttl %s puts the expiry after 2038-01-19T03:14:07Z, the latest CloudFront accepts", ttl)
	}
	origin := o.UpdateURL
	if o.CloudFrontOriginURL != "" {
		if u, err := parseURL(o.CloudFrontOriginURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || hasControl(o.CloudFrontOriginURL) {
			return nil, flagErr("cloudfront-origin-url", "--cloudfront-origin-url %q must be an http or https URL without query (the TUF repository behind the distribution)", o.CloudFrontOriginURL)
		}
		origin = o.CloudFrontOriginURL
	}
	same := func(a, b string) bool { return strings.TrimRight(a, "/") == strings.TrimRight(b, "/") }
	if same(origin, o.CloudFrontURL) {
		return nil, flagErr("cloudfront-origin-url", "--cloudfront-url %s is also the origin to fall back to: point --update-url at the origin (the URL the agents use) or set --cloudfront-origin-url", o.CloudFrontURL)
	}
	if same(o.UpdateURL, o.CloudFrontURL) {
		warnings = append(warnings, fmt.Sprintf("--update-url is the CloudFront distribution %s: the installed agent has no CloudFront key, so its updates will fail unless the distribution also serves unsigned requests", o.CloudFrontURL))
	}
	// Sign once now: whatever the signer refuses (a URL CloudFront cannot take) fails here.
	if _, err := signer.SignURL(strings.TrimRight(o.CloudFrontURL, "/")+"/timestamp.json", o.now().Add(ttl)); err != nil {
		return nil, &FlagError{Flag: "cloudfront-url", Msg: "--cloudfront-url " + o.CloudFrontURL, Err: err}
	}
	return warnings, nil
}

// flagValue is a flag's name and its value.
type flagValue struct{ flag, value string }

// textSettings are the free-text settings that land in the agent's service
// configuration (env file, plist, registry), checked for what each can hold.
func (o *Options) textSettings() []flagValue {
	return []flagValue{
		{"fleet-url", o.FleetURL},
		{"update-url", o.UpdateURL},
		{"orbit-channel", o.OrbitChannel},
		{"osqueryd-channel", o.OsquerydChannel},
		{"desktop-channel", o.DesktopChannel},
		{"fleet-desktop-alternative-browser-host", o.FleetDesktopAlternativeBrowserHost},
		{"osquery-db", o.OsqueryDB},
		{"end-user-email", o.EndUserEmail},
		{"identifier", o.Identifier},
		{"cloudfront-key-pair-id", o.CloudFrontKeyPairID},
	}
}
