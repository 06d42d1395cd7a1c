// Package update fetches Fleet agent components (orbit, osqueryd, Fleet Desktop) from a TUF
// repository, verified by go-tuf v2, over HTTPS with optional mutual TLS.
package update

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed" // fleet-root.json
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
	"golang.org/x/net/http/httpproxy"

	"github.com/pkgctl/pkgctl/internal/flagfile"
	"github.com/pkgctl/pkgctl/internal/scratch"
)

// DefaultURL is fleetctl's default update server.
const DefaultURL = "https://updates.fleetdm.com"

// DefaultRootJSON is the root metadata fleetctl ships for DefaultURL (Fleet's
// `defaultRootMetadata` in orbit/pkg/update/update.go): public keys only.
//
//go:embed fleet-root.json
var DefaultRootJSON []byte

// Timeouts. Variables so that tests can shorten them.
var (
	// metadataTimeout bounds one metadata download (root, timestamp, snapshot, targets).
	metadataTimeout = 2 * time.Minute
	// targetTimeout bounds one target download from request to last byte.
	targetTimeout = time.Hour
	// stallTimeout aborts a target download that receives no data for this long.
	stallTimeout = 60 * time.Second
)

// dialContext opens the TCP connections of the default transport (to the server or the
// proxy). A variable so that tests can resolve test host names.
var dialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext

// Options configure a Client. The field comments name the pkgctl flags they come from.
type Options struct {
	// URL is --update-url: the metadata base; targets are at URL + "/targets/". "" = DefaultURL.
	URL string
	// RootJSON is the content of --update-roots; empty means DefaultRootJSON.
	RootJSON []byte
	// ServerCAFile is --update-tls-certificate: a PEM bundle that REPLACES the system roots.
	ServerCAFile string
	// ClientCertFile is --update-tls-client-certificate.
	ClientCertFile string
	// ClientKeyFile is --update-tls-client-key.
	ClientKeyFile string
	// CacheDir holds verified targets across runs; "" = no cache.
	CacheDir string
	// Progress is told about each target download, for display; nil = none.
	Progress Progress
	// Logf receives verbose logging; may be nil.
	Logf func(format string, args ...any)
	// Warnf receives warnings (a request CloudFront failed and the origin served); nil
	// means Logf.
	Warnf func(format string, args ...any)
	// CDN, when not nil, fetches through a CloudFront distribution with signed URLs,
	// falling back to URL request by request.
	CDN *CDNOptions
	// Transport replaces the HTTP transport built from the TLS fields above (tests only).
	Transport http.RoundTripper
	// Version is pkgctl's version, sent as User-Agent "pkgctl/<Version>" ("dev" when empty).
	Version string
}

// Client fetches and verifies TUF metadata and targets from one repository.
// Its methods may be called from several goroutines; metadata work is serialised,
// target downloads run concurrently.
type Client struct {
	url        string // metadata base URL, no trailing slash
	targetsURL string // targets base URL, no trailing slash
	root       []byte
	userAgent  string

	httpClient    *http.Client
	ownTransport  *http.Transport // closed by Close; nil when Options.Transport was given
	hasClientCert bool
	serverCAFile  string
	clientCert    string

	rootsMissing bool // a custom server without --update-roots: Fleet's root is trusted

	cacheDir string // "" = no cache
	tmpDir   string // private, removed by Close
	progress Progress
	logf     func(format string, args ...any)
	warnf    func(format string, args ...any)
	cdn      *cdnClient // nil = origin only

	mu      sync.Mutex // guards up, fetcher, closed
	up      *updater.Updater
	fetcher *metadataFetcher
	closed  bool
}

// Progress is told about target downloads, for display (a progress bar on a
// terminal, a line now and then in a log). Its methods are called from several
// goroutines at once.
type Progress interface {
	// Cached reports a target taken from the verified cache: no download.
	Cached(name string, size int64)
	// Download reports that a download of total bytes starts; the Task is fed
	// as bytes arrive. A retry (CloudFront, then the origin) starts another.
	Download(name string, total int64) Task
}

// Task is one download in progress.
type Task interface {
	Add(n int64)
	// Done ends the task: err is nil when the file arrived complete.
	Done(err error)
}

// Target is a verified target file.
type Target struct {
	Path    string            // repository target path, e.g. "orbit/linux/stable/orbit"
	File    string            // local path of the verified file (read-only use; do not modify)
	Length  int64             // length from the targets metadata
	Hashes  map[string]string // alg → hex, from the targets metadata
	Version string            // custom metadata "version" ("" if absent)
}

// New validates opts and builds the HTTP client. It does not use the network.
func New(opts Options) (*Client, error) {
	c, err := buildClient(opts)
	return c, redactErr(err)
}

func buildClient(opts Options) (*Client, error) {
	c := &Client{progress: opts.Progress}
	// Every message about a URL passes through Redact: --update-url may hold
	// a password, CloudFront URLs a signature.
	c.logf = func(string, ...any) {}
	if logf := opts.Logf; logf != nil {
		c.logf = func(format string, args ...any) { logf("%s", Redact(fmt.Sprintf(format, args...))) }
	}
	c.warnf = c.logf
	if warnf := opts.Warnf; warnf != nil {
		c.warnf = func(format string, args ...any) { warnf("%s", Redact(fmt.Sprintf(format, args...))) }
	}
	v := opts.Version
	if v == "" {
		v = "dev"
	}
	c.userAgent = "pkgctl/" + v

	// --update-url
	raw := strings.TrimSpace(opts.URL)
	if raw == "" {
		raw = DefaultURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("invalid --update-url %q: must be an absolute http(s) URL such as %s", opts.URL, DefaultURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid --update-url %q: must not have a query or fragment", opts.URL)
	}
	c.url = strings.TrimRight(u.String(), "/")
	c.targetsURL = c.url + "/targets"

	// --update-roots
	c.root = opts.RootJSON
	if len(bytes.TrimSpace(c.root)) == 0 {
		c.root = DefaultRootJSON
		c.rootsMissing = c.url != DefaultURL
	}
	if _, err := trustedmetadata.New(c.root); err != nil {
		return nil, fmt.Errorf("invalid --update-roots: not a self-signed TUF root metadata document: %w", err)
	}

	// TLS
	var caPEM []byte
	if opts.Transport != nil {
		c.httpClient = &http.Client{Transport: opts.Transport}
	} else {
		var tlsCfg *tls.Config
		tlsCfg, caPEM, err = c.tlsConfig(opts)
		if err != nil {
			return nil, err
		}
		proxyFunc := httpproxy.FromEnvironment().ProxyFunc()
		c.ownTransport = &http.Transport{
			Proxy: func(r *http.Request) (*url.URL, error) { return proxyFunc(r.URL) },
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialContext(ctx, network, addr)
			},
			TLSClientConfig:       tlsCfg,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
		}
		c.httpClient = &http.Client{Transport: c.ownTransport}
	}
	if opts.CDN != nil {
		if c.cdn, err = newCDN(opts.CDN, c.ownTransport, opts.Transport, caPEM); err != nil {
			return nil, err
		}
	}

	if opts.CacheDir != "" {
		// A new cache directory is private; an existing one keeps its mode (entries are
		// re-verified before use and their subdirectories are 0700).
		if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("create TUF cache directory: %w", err)
		}
		c.cacheDir = opts.CacheDir
	}
	c.tmpDir, err = scratch.MkdirTemp("update")
	if err != nil {
		return nil, fmt.Errorf("create temporary directory: %w", err)
	}
	return c, nil
}

// tlsConfig builds the origin's TLS settings and returns the --update-tls-certificate PEM.
func (c *Client) tlsConfig(opts Options) (*tls.Config, []byte, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var pemData []byte
	if opts.ServerCAFile != "" {
		var err error
		pemData, err = flagfile.Read(opts.ServerCAFile, flagfile.MaxSize)
		if err != nil {
			return nil, nil, fmt.Errorf("read --update-tls-certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, nil, fmt.Errorf("--update-tls-certificate %s: no PEM certificate found (expected the CA bundle that signed the update server's certificate)", opts.ServerCAFile)
		}
		cfg.RootCAs = pool
		c.serverCAFile = opts.ServerCAFile
	}
	switch {
	case opts.ClientCertFile == "" && opts.ClientKeyFile == "":
	case opts.ClientCertFile == "" || opts.ClientKeyFile == "":
		return nil, nil, errors.New("--update-tls-client-certificate and --update-tls-client-key must be given together")
	default:
		// tls.LoadX509KeyPair's errors describe the problem without quoting key material.
		pair, err := tls.LoadX509KeyPair(opts.ClientCertFile, opts.ClientKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("load --update-tls-client-certificate %s and --update-tls-client-key %s: %w",
				opts.ClientCertFile, opts.ClientKeyFile, err)
		}
		// Always present the certificate, even when a TLS 1.2 server's list of acceptable CAs
		// does not name its issuer: the server then says why it rejects it, which gives a
		// precise error, instead of a bare handshake failure for a missing certificate.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
		c.hasClientCert = true
		c.clientCert = opts.ClientCertFile
	}
	return cfg, pemData, nil
}

// Refresh runs the TUF client workflow against the repository: root (with rotation),
// timestamp, snapshot and targets. Each call starts again from the trusted root in Options.
func (c *Client) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return redactErr(c.refreshLocked(ctx))
}

func (c *Client) metadataDir() string { return filepath.Join(c.tmpDir, "metadata") }

func (c *Client) refreshLocked(ctx context.Context) error {
	if c.closed {
		return errors.New("update client is closed")
	}
	c.up = nil
	if err := os.RemoveAll(c.metadataDir()); err != nil {
		return err
	}
	cfg, err := config.New(c.url, c.root)
	if err != nil {
		return fmt.Errorf("invalid --update-url %q: %w", c.url, err)
	}
	c.fetcher = &metadataFetcher{c: c, ctx: ctx}
	cfg.Fetcher = c.fetcher
	cfg.LocalMetadataDir = c.metadataDir()
	cfg.LocalTargetsDir = filepath.Join(c.tmpDir, "tuf-targets") // unused: targets are streamed by Fetch
	cfg.RemoteTargetsURL = c.targetsURL
	up, err := updater.New(cfg)
	if err != nil {
		return fmt.Errorf("invalid --update-roots: %w", err)
	}
	c.logf("TUF: refreshing metadata from %s", c.url)
	if err := up.Refresh(); err != nil {
		return c.refreshError(ctx, up, err)
	}
	ts := up.GetTrustedMetadataSet()
	c.logf("TUF: trusted root v%d, timestamp v%d, snapshot v%d, targets v%d",
		ts.Root.Signed.Version, ts.Timestamp.Signed.Version, ts.Snapshot.Signed.Version,
		ts.Targets[metadata.TARGETS].Signed.Version)
	c.up = up
	return nil
}

// Fetch resolves the target path <target>/<platform>/<channel>/<file> in the verified
// targets metadata and returns a local verified copy: from the cache if its length and
// all listed hashes match the current metadata, else downloaded and verified while streaming.
// Fetch refreshes the metadata first if Refresh has not succeeded yet.
func (c *Client) Fetch(ctx context.Context, target, platform, channel, file string) (*Target, error) {
	t, err := c.fetch(ctx, target, platform, channel, file)
	return t, redactErr(err)
}

func (c *Client) fetch(ctx context.Context, target, platform, channel, file string) (*Target, error) {
	repoPath, ti, err := c.info(ctx, target, platform, channel, file)
	if err != nil {
		return nil, err
	}
	t := &Target{Path: repoPath, Length: ti.Length, Hashes: map[string]string{}, Version: customVersion(ti)}
	for alg, h := range ti.Hashes {
		t.Hashes[alg] = hex.EncodeToString(h)
	}
	alg, err := strongestHash(ti)
	if err != nil {
		return nil, c.tufError("target "+repoPath, c.targetURL(repoPath), err)
	}
	t.File, err = c.getTarget(ctx, ti, alg)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Version returns a target's custom metadata "version" ("" if absent) from the
// verified metadata, without downloading the target: a build checks it before
// anything is fetched or written.
func (c *Client) Version(ctx context.Context, target, platform, channel, file string) (string, error) {
	_, ti, err := c.info(ctx, target, platform, channel, file)
	if err != nil {
		return "", err
	}
	return customVersion(ti), nil
}

// info checks the path elements and returns the verified target info.
func (c *Client) info(ctx context.Context, target, platform, channel, file string) (string, *metadata.TargetFiles, error) {
	for _, p := range []string{target, platform, channel, file} {
		if p == "" || strings.ContainsAny(p, `/\`) || p == "." || p == ".." {
			return "", nil, fmt.Errorf("invalid target path element %q in %q", p, target+"/"+platform+"/"+channel+"/"+file)
		}
	}
	repoPath := path.Join(target, platform, channel, file)
	ti, err := c.lookup(ctx, repoPath)
	return repoPath, ti, err
}

// customVersion is the string "version" of a target's custom metadata, or "".
func customVersion(ti *metadata.TargetFiles) string {
	if ti.Custom == nil {
		return ""
	}
	var custom struct {
		Version any `json:"version"`
	}
	if err := json.Unmarshal(*ti.Custom, &custom); err != nil {
		return ""
	}
	s, _ := custom.Version.(string)
	return s
}

// lookup returns the verified target info for repoPath, refreshing first if needed.
func (c *Client) lookup(ctx context.Context, repoPath string) (*metadata.TargetFiles, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("update client is closed")
	}
	if c.up == nil {
		if err := c.refreshLocked(ctx); err != nil {
			return nil, err
		}
	}
	c.fetcher.ctx = ctx
	top := c.up.GetTopLevelTargets()
	if _, ok := top[repoPath]; !ok && c.up.GetTrustedMetadataSet().Targets[metadata.TARGETS].Signed.Delegations == nil {
		return nil, c.notFound(repoPath, top)
	}
	ti, err := c.up.GetTargetInfo(repoPath)
	if err != nil {
		if explained(err) {
			return nil, err
		}
		return nil, c.tufError("targets for "+repoPath, c.fetcher.last, err)
	}
	return ti, nil
}

// notFound explains a missing target and lists the channels that do exist for it.
func (c *Client) notFound(repoPath string, top map[string]*metadata.TargetFiles) error {
	parts := strings.Split(repoPath, "/")
	var channels []string
	for p := range top {
		q := strings.Split(p, "/")
		if len(q) == 4 && q[0] == parts[0] && q[1] == parts[1] && q[3] == parts[3] {
			channels = append(channels, q[2])
		}
	}
	sort.Strings(channels)
	// The channel names come from the repository: quoted (%q), so that no
	// terminal escape sequence in one reaches the terminal.
	for i, ch := range channels {
		channels[i] = strconv.Quote(ch)
	}
	msg := fmt.Sprintf("target %s is not in the TUF repository at %s", repoPath, c.url)
	if len(channels) > 0 {
		msg += fmt.Sprintf("; channels available for %s on %s: %s (check --%s-channel)",
			parts[0], parts[1], strings.Join(channels, ", "), channelFlag(parts[0]))
	} else {
		msg += fmt.Sprintf("; the repository has no %s for platform %s", parts[3], parts[1])
	}
	return errors.New(msg)
}

func channelFlag(target string) string {
	switch target {
	case "osqueryd", "desktop":
		return target
	default:
		return "orbit"
	}
}

// Metadata returns the verified metadata as orbit's filestore stores it: a JSON object
// {"root.json":…, "snapshot.json":…, "targets.json":…, "timestamp.json":…} holding the
// signed bytes of the trusted metadata (compacted by encoding/json), with sorted keys and a
// trailing newline. This is the content of tuf-metadata.json and updates-metadata.json.
func (c *Client) Metadata() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up == nil {
		return nil, errors.New("TUF metadata is not available: Refresh has not succeeded")
	}
	ts := c.up.GetTrustedMetadataSet()
	versions := map[string]int64{
		metadata.ROOT:      ts.Root.Signed.Version,
		metadata.TIMESTAMP: ts.Timestamp.Signed.Version,
		metadata.SNAPSHOT:  ts.Snapshot.Signed.Version,
		metadata.TARGETS:   ts.Targets[metadata.TARGETS].Signed.Version,
	}
	m := map[string]json.RawMessage{}
	for role, want := range versions {
		data, err := os.ReadFile(filepath.Join(c.metadataDir(), role+".json"))
		if err != nil {
			return nil, fmt.Errorf("read trusted %s metadata: %w", role, err)
		}
		// The updater persists each role after verifying it; make sure the file on disk is
		// the version the trusted set holds.
		var probe struct {
			Signed struct {
				Type    string `json:"_type"`
				Version int64  `json:"version"`
			} `json:"signed"`
		}
		if err := json.Unmarshal(data, &probe); err != nil || probe.Signed.Type != role || probe.Signed.Version != want {
			return nil, fmt.Errorf("stored %s metadata does not match the trusted version %d", role, want)
		}
		m[role+".json"] = data
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Close releases idle connections and removes the client's temporary files (not the cache).
// Target files returned without a cache directory are removed too.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.up = nil
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
	if c.cdn != nil && c.cdn.ownTransport != nil {
		c.cdn.ownTransport.CloseIdleConnections()
	}
	return os.RemoveAll(c.tmpDir)
}
