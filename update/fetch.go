package update

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// metadataFetcher is the go-tuf Fetcher for metadata files. It uses the client's own
// *http.Client (never http.DefaultClient) and the context of the current operation.
type metadataFetcher struct {
	c    *Client
	ctx  context.Context
	last string // URL of the last metadata request, to say what failed verification
}

var _ fetcher.Fetcher = (*metadataFetcher)(nil)

// DownloadFile downloads urlPath, reading at most maxLength bytes. The timeout argument is
// unused by go-tuf (always 0); metadataTimeout applies instead.
func (f *metadataFetcher) DownloadFile(urlPath string, maxLength int64, _ time.Duration) ([]byte, error) {
	f.last = urlPath
	ctx, cancel := context.WithTimeout(f.ctx, metadataTimeout)
	defer cancel()
	f.c.logf("TUF: GET %s", urlPath)
	resp, err := f.c.get(ctx, urlPath)
	if err != nil {
		return nil, f.c.transportError(ctx, urlPath, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: urlPath}
	}
	if resp.ContentLength > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is %d bytes, more than the %d allowed", urlPath, resp.ContentLength, maxLength)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLength+1))
	if err != nil {
		return nil, f.c.transportError(ctx, urlPath, err)
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is more than the %d bytes allowed", urlPath, maxLength)}
	}
	return data, nil
}

// get sends a GET request with pkgctl's User-Agent.
func (c *Client) get(ctx context.Context, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	return c.httpClient.Do(req)
}
