package packaging

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pkgctl/pkgctl/notary"
)

// DefaultNotarizeTimeout is how long --notarize waits for Apple's decision.
const DefaultNotarizeTimeout = 30 * time.Minute

// checkNotarize validates the --notarize settings of a pkg build, loading
// the .p8 key, before anything is downloaded.
func (o *Options) checkNotarize() error {
	if !o.Notarize || o.Type != TypePkg {
		return nil
	}
	if o.MacOSDevIDCertificateContent == "" && o.MacOSDevIDPEM == "" {
		return flagErr("notarize", "--notarize needs a signed package: give the Developer ID Installer certificate and key with --macos-devid-pem or --macos-devid-pem-content")
	}
	if o.AppStoreConnectAPIKeyID == "" || o.AppStoreConnectAPIKeyIssuer == "" {
		return flagErr("app-store-connect-api-key-id", "both an App Store Connect API key and issuer must be set for native notarization (--app-store-connect-api-key-id, --app-store-connect-api-key-issuer)")
	}
	for _, s := range []flagValue{{"app-store-connect-api-key-id", o.AppStoreConnectAPIKeyID}, {"app-store-connect-api-key-issuer", o.AppStoreConnectAPIKeyIssuer}} {
		if hasControl(s.value) || len(s.value) > 100 {
			return flagErr(s.flag, "--%s is not an App Store Connect key ID or issuer", s.flag)
		}
	}
	if o.NotarizeTimeout < 0 {
		return flagErr("notarize-timeout", "--notarize-timeout must be positive, got %s", o.NotarizeTimeout)
	}
	for _, u := range []flagValue{{"notary-api-url", o.NotaryAPIURL}, {"notary-s3-endpoint", o.NotaryS3Endpoint}, {"notary-ticket-url", o.NotaryTicketURL}} {
		if err := notary.CheckURL(u.flag, u.value); err != nil {
			return flagErr(u.flag, "%v", err)
		}
	}
	_, err := o.notaryConfig()
	return err
}

// notaryConfig builds the notarization settings of o; the key comes from
// --app-store-connect-api-key-content or --app-store-connect-api-key-file.
func (o *Options) notaryConfig() (*notary.Config, error) {
	const contentFlag, fileFlag = "app-store-connect-api-key-content", "app-store-connect-api-key-file"
	var p8 []byte
	what := "--" + contentFlag
	switch {
	case o.AppStoreConnectAPIKeyContent != "" && o.AppStoreConnectAPIKeyFile != "":
		return nil, flagErr(fileFlag, "--%s and --%s may not be provided together", contentFlag, fileFlag)
	case o.AppStoreConnectAPIKeyContent != "":
		p8 = []byte(o.AppStoreConnectAPIKeyContent)
	case o.AppStoreConnectAPIKeyFile != "":
		what = "--" + fileFlag + " " + o.AppStoreConnectAPIKeyFile
		data, err := os.ReadFile(o.AppStoreConnectAPIKeyFile)
		if err != nil {
			return nil, &FlagError{Flag: fileFlag, Msg: "read " + what, Err: errors.Unwrap(err)}
		}
		p8 = data
	default:
		return nil, flagErr(contentFlag, "--notarize needs the App Store Connect API key (.p8): --%s or --%s", contentFlag, fileFlag)
	}
	key, err := notary.ParseKey(p8)
	if err != nil {
		flag := contentFlag
		if o.AppStoreConnectAPIKeyContent == "" {
			flag = fileFlag
		}
		return nil, flagErr(flag, "%s: %v", what, err)
	}
	return &notary.Config{
		KeyID: o.AppStoreConnectAPIKeyID, IssuerID: o.AppStoreConnectAPIKeyIssuer, Key: key,
		APIURL: o.NotaryAPIURL, S3Endpoint: o.NotaryS3Endpoint, TicketURL: o.NotaryTicketURL,
		Timeout: o.NotarizeTimeout,
	}, nil
}

// notarizeStep returns the step that notarizes and staples the signed pkg at
// its temporary path (name is what Apple shows), or nil without --notarize.
func notarizeStep(ctx context.Context, o *Options, env BuildEnv, name string) (func(tmp string) error, error) {
	if !o.Notarize || o.Type != TypePkg {
		return nil, nil
	}
	cfg, err := o.notaryConfig()
	if err != nil {
		return nil, err
	}
	cfg.Progress = env.Notef
	if cfg.Progress == nil {
		cfg.Progress = env.Logf
	}
	return func(tmp string) error {
		if err := notary.Notarize(ctx, *cfg, tmp, name); err != nil {
			return fmt.Errorf("%w (nothing was written)", err)
		}
		return nil
	}, nil
}
