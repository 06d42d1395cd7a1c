package update

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// fetchError is a transport failure (network, TLS, HTTP status) already explained in terms
// of pkgctl's flags. It wraps the underlying error.
type fetchError struct {
	msg string
	err error
}

func (e *fetchError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// serverOf returns scheme://host of u for messages.
func serverOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return u
	}
	return p.Scheme + "://" + p.Host
}

// remoteAlert reports the TLS alert the peer sent, if err is one. crypto/tls returns a
// received alert as *net.OpError{Op: "remote error", Err: <unexported alert>}; the alert
// value formats exactly like tls.AlertError of the same code, which identifies it.
func remoteAlert(err error) (tls.AlertError, bool) {
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return ae, true
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	text := op.Err.Error()
	for code := 0; code < 256; code++ {
		if tls.AlertError(code).Error() == text {
			return tls.AlertError(code), true
		}
	}
	return 0, false
}

// TLS alert codes (RFC 8446 §6) that crypto/tls does not export.
const (
	alertHandshakeFailure       tls.AlertError = 40
	alertBadCertificate         tls.AlertError = 42
	alertUnsupportedCertificate tls.AlertError = 43
	alertCertificateRevoked     tls.AlertError = 44
	alertCertificateExpired     tls.AlertError = 45
	alertCertificateUnknown     tls.AlertError = 46
	alertUnknownCA              tls.AlertError = 48
	alertAccessDenied           tls.AlertError = 49
	alertCertificateRequired    tls.AlertError = 116
)

// transportError explains a failed request to u (network, proxy, TLS) naming the flag to fix.
func (c *Client) transportError(ctx context.Context, u string, err error) error {
	server := serverOf(u)
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostnameErr      x509.HostnameError
		invalidCert      x509.CertificateInvalidError
		recordHeader     tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return &fetchError{fmt.Sprintf("fetch %s: canceled", u), err}
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return &fetchError{fmt.Sprintf("fetch %s: timed out", u), err}
	case errors.As(err, &unknownAuthority):
		if c.serverCAFile != "" {
			return &fetchError{fmt.Sprintf("the TLS certificate of update server %s is not signed by a CA in --update-tls-certificate %s", server, c.serverCAFile), err}
		}
		return &fetchError{fmt.Sprintf("the TLS certificate of update server %s is not signed by a CA trusted by this system; pass the CA bundle with --update-tls-certificate", server), err}
	case errors.As(err, &hostnameErr):
		return &fetchError{fmt.Sprintf("the TLS certificate of update server %s is not valid for that host name; check --update-url and --update-tls-certificate", server), err}
	case errors.As(err, &invalidCert):
		return &fetchError{fmt.Sprintf("the TLS certificate of update server %s is not valid (expired or not a server certificate); check the server and --update-tls-certificate", server), err}
	case errors.As(err, &recordHeader):
		return &fetchError{fmt.Sprintf("update server %s did not answer with TLS; check the scheme in --update-url", server), err}
	}
	if code, ok := remoteAlert(err); ok {
		switch {
		case !c.hasClientCert && (code == alertCertificateRequired || code == alertHandshakeFailure || code == alertBadCertificate):
			return &fetchError{fmt.Sprintf("update server %s requires a TLS client certificate: pass --update-tls-client-certificate and --update-tls-client-key", server), err}
		case c.hasClientCert && (code == alertBadCertificate || code == alertUnknownCA || code == alertCertificateExpired ||
			code == alertCertificateUnknown || code == alertCertificateRevoked || code == alertUnsupportedCertificate ||
			code == alertAccessDenied || code == alertCertificateRequired):
			return &fetchError{fmt.Sprintf("update server %s rejected the certificate from --update-tls-client-certificate %s (it must be issued by a CA the server trusts for client authentication, and not be expired)", server, c.clientCert), err}
		default:
			return &fetchError{fmt.Sprintf("TLS handshake with update server %s failed", server), err}
		}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "proxyconnect" {
		return &fetchError{fmt.Sprintf("fetch %s: cannot reach the proxy from HTTPS_PROXY/HTTP_PROXY", u), err}
	}
	return &fetchError{fmt.Sprintf("fetch %s", u), err}
}

// httpStatusError explains a non-200 answer.
func (c *Client) httpStatusError(u string, status int) error {
	msg := fmt.Sprintf("update server answered HTTP %d %s for %s", status, http.StatusText(status), u)
	switch status {
	case http.StatusNotFound:
		msg += "; check --update-url (it must point at the TUF repository root holding root.json and timestamp.json)"
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, 495, 496:
		if c.hasClientCert {
			msg += fmt.Sprintf("; the server may have rejected the certificate from --update-tls-client-certificate %s", c.clientCert)
		} else {
			msg += "; if the server requires a TLS client certificate, pass --update-tls-client-certificate and --update-tls-client-key"
		}
	}
	return &fetchError{msg, &metadata.ErrDownloadHTTP{StatusCode: status, URL: u}}
}

// tufError reports a TUF verification failure of what (a metadata file or target) from u.
func (c *Client) tufError(what, u string, err error) error {
	hint := ""
	switch {
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		hint = " (is --update-roots the root metadata of this repository?)"
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		hint = " (the repository's metadata must be re-signed by its maintainers)"
	case errors.Is(err, &metadata.ErrBadVersionNumber{}):
		hint = " (the server offers older metadata than it claims: a rollback or a half-published repository)"
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}) || errors.Is(err, &metadata.ErrDownloadLengthMismatch{}):
		hint = " (the file on the server does not match its signed metadata)"
	}
	return fmt.Errorf("TUF verification of %s from %s failed: %w%s", what, u, err, hint)
}

// refreshError explains an error returned by the go-tuf updater's Refresh.
func (c *Client) refreshError(ctx context.Context, up *updater.Updater, err error) error {
	if explained(err) {
		return err
	}
	var he *metadata.ErrDownloadHTTP
	if errors.As(err, &he) {
		return c.httpStatusError(he.URL, he.StatusCode)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("TUF refresh from %s: %w", c.url, ctx.Err())
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("TUF refresh from %s: %w", c.url, err)
	}
	if c.rootsMissing {
		// Not the repository's fault: it was checked against the wrong keys.
		return &fetchError{fmt.Sprintf("--update-roots is missing: --update-url %s is not Fleet's update server, so its metadata was checked "+
			"against Fleet's root keys, which do not sign it; pass your repository's root metadata: "+
			"--update-roots \"$(pkgctl updates roots --path REPO)\" (REPO: the directory of `pkgctl updates init`)", c.url), err}
	}
	last := c.fetcher.last
	what := "metadata"
	if last != "" {
		if p, perr := url.Parse(last); perr == nil {
			what = path.Base(p.Path)
		}
	}
	if errors.Is(err, &metadata.ErrExpiredMetadata{}) {
		if ts := up.GetTrustedMetadataSet(); ts.Root != nil && ts.Timestamp == nil && ts.Root.Signed.IsExpired(ts.RefTime) {
			// go-tuf checks the final root's expiry while loading the timestamp.
			what = fmt.Sprintf("root.json (version %d, expired %s)", ts.Root.Signed.Version, ts.Root.Signed.Expires.Format("2006-01-02"))
		}
	}
	return c.tufError(what, last, err)
}
