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

// DownloadFile downloads urlPath, reading at most maxLength bytes: through CloudFront first
// when one is configured (see withFallback). The timeout argument is unused by go-tuf
// (always 0); metadataTimeout applies to each attempt instead.
func (f *metadataFetcher) DownloadFile(urlPath string, maxLength int64, _ time.Duration) ([]byte, error) {
	f.last = urlPath
	var data []byte
	err := f.c.withFallback(f.ctx, urlPath, func(a attempt) error {
		var err error
		data, err = f.c.fetchMetadata(f.ctx, a, maxLength)
		if err == nil {
			// Verification errors name the host that served the bytes.
			f.last = a.show
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// fetchMetadata is one attempt at a metadata file.
func (c *Client) fetchMetadata(ctx context.Context, a attempt, maxLength int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	c.logf("TUF: GET %s", a.show)
	resp, err := c.send(ctx, a)
	if err != nil {
		return nil, c.sendError(ctx, a, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if a.cdn {
			return nil, cdnStatus(a, resp)
		}
		return nil, &metadata.ErrDownloadHTTP{StatusCode: resp.StatusCode, URL: a.show}
	}
	if resp.ContentLength > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is %d bytes, more than the %d allowed", a.show, resp.ContentLength, maxLength)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxLength+1))
	if err != nil {
		return nil, c.sendError(ctx, a, err)
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is more than the %d bytes allowed", a.show, maxLength)}
	}
	return data, nil
}

// sendError explains a transport error of attempt a.
func (c *Client) sendError(ctx context.Context, a attempt, err error) error {
	if a.cdn {
		return c.cdnTransport(ctx, a, err)
	}
	return c.downloadError(ctx, a.show, err)
}

// get sends a GET request to the origin with pkgctl's User-Agent.
func (c *Client) get(ctx context.Context, u string) (*http.Response, error) {
	return c.send(ctx, c.originAttempt(u))
}
