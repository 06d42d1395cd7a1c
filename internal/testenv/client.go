package testenv

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

// SampleFile returns the file SampleComponents publishes for c on channel with version: a
// small script (or text on Windows), or a tarball holding it. Tests that publish through
// `pkgctl updates add` write it to disk first.
func SampleFile(c Component, channel, version string) ([]byte, error) {
	return sampleFile(c, channel, version, nil)
}

// HTTPFetcher is a go-tuf v2 Fetcher that uses Client (for example one from NewHTTPClient,
// with a client certificate) instead of http.DefaultClient.
type HTTPFetcher struct{ Client *http.Client }

// DownloadFile implements fetcher.Fetcher.
func (f HTTPFetcher) DownloadFile(url string, maxLength int64, _ time.Duration) ([]byte, error) {
	resp, err := f.Client.Get(url)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: url}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLength+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than %d bytes", url, maxLength)}
	}
	return data, nil
}

// NewUpdater returns a plain go-tuf v2 updater for the repository at baseURL that trusts
// rootJSON, fetches with client and keeps its metadata and targets under dir (reuse dir to
// continue from what an earlier updater trusted).
func NewUpdater(baseURL string, rootJSON []byte, client *http.Client, dir string) (*updater.Updater, error) {
	cfg, err := config.New(baseURL, rootJSON)
	if err != nil {
		return nil, fmt.Errorf("new updater: %w", err)
	}
	cfg.LocalMetadataDir = filepath.Join(dir, "metadata")
	cfg.LocalTargetsDir = filepath.Join(dir, "targets")
	cfg.Fetcher = HTTPFetcher{Client: client}
	up, err := updater.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("new updater: %w", err)
	}
	return up, nil
}
