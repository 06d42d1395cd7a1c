package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// hashAlgs lists the target hash algorithms go-tuf supports, strongest first.
var hashAlgs = []string{"sha512", "sha256"}

func newHash(alg string) hash.Hash {
	switch alg {
	case "sha512":
		return sha512.New()
	case "sha256":
		return sha256.New()
	}
	return nil
}

// strongestHash picks the algorithm that names the cache entry. Every listed hash must be
// one we can verify.
func strongestHash(ti *metadata.TargetFiles) (string, error) {
	if len(ti.Hashes) == 0 {
		return "", &metadata.ErrLengthOrHashMismatch{Msg: "the targets metadata lists no hashes for this target"}
	}
	for alg, sum := range ti.Hashes {
		h := newHash(alg)
		if h == nil {
			return "", &metadata.ErrLengthOrHashMismatch{Msg: fmt.Sprintf("unsupported hash algorithm %q in the targets metadata", alg)}
		}
		if len(sum) != h.Size() {
			return "", &metadata.ErrLengthOrHashMismatch{Msg: fmt.Sprintf("malformed %s hash in the targets metadata", alg)}
		}
	}
	for _, alg := range hashAlgs {
		if _, ok := ti.Hashes[alg]; ok {
			return alg, nil
		}
	}
	return "", errors.New("unreachable")
}

// verifier hashes a stream with every algorithm listed for a target.
type verifier struct {
	ti     *metadata.TargetFiles
	hashes map[string]hash.Hash
	n      int64
}

func newVerifier(ti *metadata.TargetFiles) *verifier {
	v := &verifier{ti: ti, hashes: map[string]hash.Hash{}}
	for alg := range ti.Hashes {
		v.hashes[alg] = newHash(alg)
	}
	return v
}

func (v *verifier) Write(p []byte) (int, error) {
	for _, h := range v.hashes {
		h.Write(p)
	}
	v.n += int64(len(p))
	return len(p), nil
}

// check compares what was written with the metadata.
func (v *verifier) check() error {
	switch {
	case v.n > v.ti.Length:
		return &metadata.ErrLengthOrHashMismatch{Msg: fmt.Sprintf("the file is longer than the %d bytes in the signed targets metadata", v.ti.Length)}
	case v.n < v.ti.Length:
		return &metadata.ErrLengthOrHashMismatch{Msg: fmt.Sprintf("the file has %d bytes, the signed targets metadata says %d", v.n, v.ti.Length)}
	}
	for _, alg := range hashAlgs {
		h, ok := v.hashes[alg]
		if !ok {
			continue
		}
		if !bytes.Equal(h.Sum(nil), v.ti.Hashes[alg]) {
			return &metadata.ErrLengthOrHashMismatch{Msg: fmt.Sprintf("%s hash mismatch", alg)}
		}
	}
	return nil
}

func (c *Client) targetURL(repoPath string) string {
	u, err := url.JoinPath(c.targetsURL, strings.Split(repoPath, "/")...)
	if err != nil {
		return c.targetsURL + "/" + repoPath
	}
	return u
}

// targetsDir is where verified targets are kept: the cache, or the client's temp dir.
func (c *Client) targetsDir() string {
	if c.cacheDir != "" {
		return c.cacheDir
	}
	return filepath.Join(c.tmpDir, "targets")
}

// getTarget returns the path of a verified copy of ti, content-addressed by the alg hash.
func (c *Client) getTarget(ctx context.Context, ti *metadata.TargetFiles, alg string) (string, error) {
	dir := filepath.Join(c.targetsDir(), alg)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create target cache directory: %w", err)
	}
	final := filepath.Join(dir, fmt.Sprintf("%x", []byte(ti.Hashes[alg])))

	if c.cacheDir != "" {
		switch err := verifyFile(final, ti); {
		case err == nil:
			c.logf("TUF: %s: using verified cache entry %s", ti.Path, final)
			if c.progress != nil {
				c.progress.Cached(ti.Path, ti.Length)
			}
			return final, nil
		case errors.Is(err, os.ErrNotExist):
		default:
			c.logf("TUF: %s: cache entry %s is invalid (%v); downloading again", ti.Path, final, err)
			if err := os.Remove(final); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("remove invalid cache entry: %w", err)
			}
		}
	}

	tmp, err := os.CreateTemp(dir, ".download-*") // 0600
	if err != nil {
		return "", fmt.Errorf("create download file: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := c.download(ctx, ti, tmp); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("store verified target: %w", err)
	}
	keep = true
	return final, nil
}

// verifyFile re-hashes a local file against the current metadata.
func verifyFile(name string, ti *metadata.TargetFiles) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	if st.Size() != ti.Length {
		return &metadata.ErrLengthOrHashMismatch{Msg: fmt.Sprintf("cached file has %d bytes, want %d", st.Size(), ti.Length)}
	}
	v := newVerifier(ti)
	if _, err := io.Copy(v, io.LimitReader(f, ti.Length+1)); err != nil {
		return err
	}
	return v.check()
}

var errStalled = errors.New("no data received")

// download streams the target into f, verifying length and hashes on the way: through
// CloudFront first when one is configured (see withFallback).
func (c *Client) download(ctx context.Context, ti *metadata.TargetFiles, f *os.File) error {
	return c.withFallback(ctx, c.targetURL(ti.Path), func(a attempt) error {
		// A second attempt starts from an empty file.
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("write %s: %w", f.Name(), err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("write %s: %w", f.Name(), err)
		}
		return c.downloadFrom(ctx, a, ti, f)
	})
}

// downloadFrom is one attempt at a target.
func (c *Client) downloadFrom(ctx context.Context, a attempt, ti *metadata.TargetFiles, w io.Writer) error {
	ctx, cancelTimeout := context.WithTimeout(ctx, targetTimeout)
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()

	c.logf("TUF: GET %s (%d bytes)", a.show, ti.Length)
	resp, err := c.send(ctx, a)
	if err != nil {
		return c.sendError(ctx, a, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if a.cdn {
			return cdnStatus(a, resp)
		}
		return c.httpStatusError(a.show, resp.StatusCode)
	}
	if resp.ContentLength > ti.Length {
		return c.tufError("target "+ti.Path, a.show, &metadata.ErrLengthOrHashMismatch{
			Msg: fmt.Sprintf("the server announces %d bytes, more than the %d bytes in the signed targets metadata", resp.ContentLength, ti.Length)})
	}

	v := newVerifier(ti)
	p := c.startProgress(ti.Path, ti.Length)
	body := &stallReader{r: resp.Body, timer: stall}
	// Read at most Length+1 bytes: one byte more proves the file is too long.
	if _, err := io.Copy(io.MultiWriter(w, v, p), io.LimitReader(body, ti.Length+1)); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("write downloaded %s: %w", ti.Path, err) // the local file, not the network
		} else {
			err = c.sendError(ctx, a, err)
		}
		p.task.Done(err)
		return err
	}
	if err := v.check(); err != nil {
		err = c.tufError("target "+ti.Path, a.show, err)
		p.task.Done(err)
		return err
	}
	p.task.Done(nil)
	return nil
}

func (c *Client) downloadError(ctx context.Context, u string, err error) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return &fetchError{fmt.Sprintf("download %s stalled: no data for %s", u, stallTimeout), err}
	}
	return c.transportError(ctx, u, err)
}

// stallReader restarts the stall timer whenever data arrives.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(stallTimeout)
	}
	return n, err
}

// progressWriter feeds a download's bytes to its progress Task.
type progressWriter struct{ task Task }

func (p progressWriter) Write(b []byte) (int, error) {
	p.task.Add(int64(len(b)))
	return len(b), nil
}

// startProgress starts a Task for a download; one that shows nothing without Progress.
func (c *Client) startProgress(name string, total int64) progressWriter {
	if c.progress == nil {
		return progressWriter{nopTask{}}
	}
	return progressWriter{c.progress.Download(name, total)}
}

type nopTask struct{}

func (nopTask) Add(int64)  {}
func (nopTask) Done(error) {}
