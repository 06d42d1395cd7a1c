package packaging

import (
	"crypto"
	"strings"

	"github.com/pkgctl/pkgctl/cloudfront"
	"github.com/pkgctl/pkgctl/update"
)

// openUpdateClient opens the TUF client a build fetches the agent with. With
// --cloudfront-url it fetches through the distribution, signing each request, and retries
// a failed one from the origin (--cloudfront-origin-url, default --update-url).
func openUpdateClient(o *Options, env BuildEnv) (*update.Client, error) {
	opts := update.Options{
		URL:            o.UpdateURL,
		RootJSON:       []byte(o.UpdateRoots),
		ServerCAFile:   o.UpdateTLSServerCertificate,
		ClientCertFile: o.UpdateTLSClientCertificate,
		ClientKeyFile:  o.UpdateTLSClientKey,
		CacheDir:       o.CacheDir,
		Progress:       env.Progress,
		Logf:           env.Logf,
		Warnf:          env.Warnf,
		Version:        env.ToolVersion,
	}
	if o.CloudFrontURL != "" {
		if o.CloudFrontOriginURL != "" {
			opts.URL = o.CloudFrontOriginURL
		}
		signer, err := cloudFrontSigner(o)
		if err != nil {
			return nil, err
		}
		opts.CDN = &update.CDNOptions{URL: o.CloudFrontURL, Signer: signer, TTL: o.CloudFrontURLTTL}
	}
	return update.New(opts)
}

// cloudFrontSigner loads --cloudfront-private-key. The cloudfront package signs canned
// SHA-1 URLs with github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign and SHA-256 ones
// itself (the SDK has no Hash-Algorithm). Its errors never quote the key.
func cloudFrontSigner(o *Options) (*cloudfront.Signer, error) {
	key, err := cloudfront.LoadPrivateKey(o.CloudFrontPrivateKey)
	if err != nil {
		return nil, &FlagError{Flag: "cloudfront-private-key", Msg: "--cloudfront-private-key", Err: err}
	}
	h, err := cloudFrontHash(o.CloudFrontHashAlgorithm)
	if err != nil {
		return nil, err
	}
	return &cloudfront.Signer{KeyPairID: o.CloudFrontKeyPairID, Key: key, Hash: h}, nil
}

func cloudFrontHash(name string) (crypto.Hash, error) {
	switch strings.ToLower(name) {
	case "", "sha1", "sha-1":
		return crypto.SHA1, nil
	case "sha256", "sha-256":
		return crypto.SHA256, nil
	}
	return 0, flagErr("cloudfront-hash-algorithm", "--cloudfront-hash-algorithm %q is not supported: use sha1 (CloudFront's default) or sha256", name)
}
