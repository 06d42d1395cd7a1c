// Package publish uploads installers and their manifest to a GitHub release,
// with go-github, retrying on server errors and rate limits within a time budget.
package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v50/github"

	"github.com/pkgctl/pkgctl/internal/safetext"
)

// DefaultMaxWait bounds the time spent waiting between retries of one run.
const DefaultMaxWait = 15 * time.Minute

// Options say what to publish where. Token is GITHUB_TOKEN's value: the caller
// reads it from the environment, it is never a flag and never printed.
type Options struct {
	Owner, Repo string
	Tag         string
	Draft       bool
	Prerelease  bool
	Replace     bool // replace assets of the same name; otherwise they are an error
	Files       []string
	Manifest    string // uploaded after Files; "" for none
	BaseURL     string // GitHub Enterprise URL; "" for github.com
	Token       string

	HTTPClient *http.Client                                     // nil: a client with timeouts and proxy support
	Sleep      func(ctx context.Context, d time.Duration) error // nil: a timer (tests inject)
	Now        func() time.Time                                 // nil: time.Now
	MaxWait    time.Duration                                    // total retry waits; 0 = DefaultMaxWait
	Logf       func(format string, args ...any)                 // progress lines; nil for none
}

var repoRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// ParseRepo splits OWNER/REPO.
func ParseRepo(s string) (owner, repo string, err error) {
	if !repoRE.MatchString(s) {
		return "", "", fmt.Errorf("%q is not OWNER/REPO", s)
	}
	owner, repo, _ = strings.Cut(s, "/")
	return owner, repo, nil
}

// Check refuses what would fail later, before any build or request: missing
// token, tag, files, and two files with one asset name.
func (o *Options) Check() error {
	if o.Token == "" {
		return errors.New("GITHUB_TOKEN is not set: publishing reads the token from the GITHUB_TOKEN environment variable only")
	}
	if o.Owner == "" || o.Repo == "" {
		return errors.New("no repository: give OWNER/REPO")
	}
	if strings.TrimSpace(o.Tag) == "" {
		return errors.New("no release tag")
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("GitHub URL %q is not an http(s) URL", o.BaseURL)
		}
	}
	names := map[string]string{}
	for _, f := range o.all() {
		st, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("file to publish: %w", err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("file to publish %s is not a regular file", f)
		}
		n := filepath.Base(f)
		if prev, ok := names[n]; ok {
			return fmt.Errorf("%s and %s would both be the release asset %s", prev, f, n)
		}
		names[n] = f
	}
	return nil
}

func (o *Options) all() []string {
	files := append([]string(nil), o.Files...)
	if o.Manifest != "" {
		files = append(files, o.Manifest)
	}
	return files
}

// Result is the published release.
type Result struct {
	URL    string   // the release's HTML page
	Assets []string // asset names uploaded, in order
}

type publisher struct {
	o        *Options
	gh       *github.Client
	deadline time.Time
}

// Publish creates the release for o.Tag or reuses it, checks that no asset
// would be overwritten (unless Replace), then uploads every file and the manifest last.
func Publish(ctx context.Context, o *Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxWait == 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	p := &publisher{o: o, deadline: o.Now().Add(o.MaxWait)}
	if err := p.newClient(); err != nil {
		return nil, err
	}
	rel, err := p.release(ctx)
	if err != nil {
		return nil, err
	}
	existing, err := p.assets(ctx, rel.GetID())
	if err != nil {
		return nil, err
	}
	var clash []string
	for _, f := range o.all() {
		if _, ok := existing[filepath.Base(f)]; ok {
			clash = append(clash, filepath.Base(f))
		}
	}
	if len(clash) > 0 && !o.Replace {
		return nil, fmt.Errorf("release %s already has asset(s) %s: pass --replace to replace them", o.Tag, strings.Join(clash, ", "))
	}
	res := &Result{URL: rel.GetHTMLURL()}
	for _, f := range o.all() {
		name := filepath.Base(f)
		if id, ok := existing[name]; ok {
			if err := p.deleteAsset(ctx, id, name); err != nil {
				return nil, err
			}
		}
		if err := p.upload(ctx, rel.GetID(), f); err != nil {
			return nil, err
		}
		res.Assets = append(res.Assets, name)
	}
	o.Logf("Published %d asset(s) to release %s of %s/%s", len(res.Assets), o.Tag, o.Owner, o.Repo)
	return res, nil
}

// newClient makes a fresh go-github client. A fresh one after a primary rate
// limit: go-github remembers the reset time and would refuse to send the retry.
func (p *publisher) newClient() error {
	hc := p.o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			TLSHandshakeTimeout:   30 * time.Second,
			ResponseHeaderTimeout: 5 * time.Minute,
		}}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	gh := github.NewClient(nil)
	if p.o.BaseURL != "" {
		var err error
		if gh, err = github.NewEnterpriseClient(p.o.BaseURL, p.o.BaseURL, nil); err != nil {
			return fmt.Errorf("GitHub URL %q: %w", p.o.BaseURL, err)
		}
	}
	auth := &tokenTransport{token: p.o.Token, base: base, hosts: map[string]bool{gh.BaseURL.Host: true, gh.UploadURL.Host: true}}
	c := *hc
	c.Transport = auth
	client := github.NewClient(&c)
	client.BaseURL, client.UploadURL = gh.BaseURL, gh.UploadURL
	client.UserAgent = "pkgctl"
	p.gh = client
	return nil
}

// tokenTransport adds the token to requests for the API and upload hosts only,
// so that a redirect elsewhere never carries it.
type tokenTransport struct {
	token string
	base  http.RoundTripper
	hosts map[string]bool
}

func (t *tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.hosts[r.URL.Host] {
		return t.base.RoundTrip(r)
	}
	r2 := r.Clone(r.Context())
	r2.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(r2)
}

func (p *publisher) release(ctx context.Context) (*github.RepositoryRelease, error) {
	var rel *github.RepositoryRelease
	notFound := false
	err := p.retry(ctx, "get release "+p.o.Tag, func() (*github.Response, error) {
		r, resp, err := p.gh.Repositories.GetReleaseByTag(ctx, p.o.Owner, p.o.Repo, p.o.Tag)
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			notFound = true
			return resp, nil
		}
		rel = r
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	if !notFound {
		p.o.Logf("Using release %s (%s)", p.o.Tag, safetext.Inert(rel.GetHTMLURL(), 0))
		return rel, nil
	}
	// A draft has no tag yet, so GitHub does not find it by tag: look in the list.
	opt := &github.ListOptions{PerPage: 100}
	for {
		var page []*github.RepositoryRelease
		var next int
		err := p.retry(ctx, "list releases", func() (*github.Response, error) {
			l, resp, err := p.gh.Repositories.ListReleases(ctx, p.o.Owner, p.o.Repo, opt)
			page = l
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			if r.GetTagName() == p.o.Tag && r.GetDraft() {
				p.o.Logf("Using draft release %s", p.o.Tag)
				return r, nil
			}
		}
		if next == 0 {
			break
		}
		opt.Page = next
	}
	err = p.retry(ctx, "create release "+p.o.Tag, func() (*github.Response, error) {
		r, resp, err := p.gh.Repositories.CreateRelease(ctx, p.o.Owner, p.o.Repo, &github.RepositoryRelease{
			TagName: github.String(p.o.Tag), Name: github.String(p.o.Tag),
			Draft: github.Bool(p.o.Draft), Prerelease: github.Bool(p.o.Prerelease),
		})
		rel = r
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	p.o.Logf("Created release %s (%s)", p.o.Tag, safetext.Inert(rel.GetHTMLURL(), 0))
	return rel, nil
}

// assets maps the release's asset names to their ids.
func (p *publisher) assets(ctx context.Context, id int64) (map[string]int64, error) {
	out := map[string]int64{}
	opt := &github.ListOptions{PerPage: 100}
	for {
		var page []*github.ReleaseAsset
		var next int
		err := p.retry(ctx, "list assets", func() (*github.Response, error) {
			l, resp, err := p.gh.Repositories.ListReleaseAssets(ctx, p.o.Owner, p.o.Repo, id, opt)
			page = l
			if resp != nil {
				next = resp.NextPage
			}
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, a := range page {
			out[a.GetName()] = a.GetID()
		}
		if next == 0 {
			return out, nil
		}
		opt.Page = next
	}
}

func (p *publisher) deleteAsset(ctx context.Context, id int64, name string) error {
	p.o.Logf("Replacing asset %s", name)
	return p.retry(ctx, "delete asset "+name, func() (*github.Response, error) {
		resp, err := p.gh.Repositories.DeleteReleaseAsset(ctx, p.o.Owner, p.o.Repo, id)
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return resp, nil // already gone
		}
		return resp, err
	})
}

func (p *publisher) upload(ctx context.Context, releaseID int64, path string) error {
	name := filepath.Base(path)
	mediaType := "application/octet-stream"
	if strings.HasSuffix(name, ".json") {
		mediaType = "application/json"
	}
	attempt := 0
	err := p.retry(ctx, "upload "+name, func() (*github.Response, error) {
		attempt++
		if attempt > 1 {
			// A failed upload can leave a broken asset of that name behind,
			// which would make the retry fail: remove it first.
			existing, err := p.assets(ctx, releaseID)
			if err != nil {
				return nil, err
			}
			if id, ok := existing[name]; ok {
				if err := p.deleteAsset(ctx, id, name); err != nil {
					return nil, err
				}
			}
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		defer f.Close()
		_, resp, err := p.gh.Repositories.UploadReleaseAsset(ctx, p.o.Owner, p.o.Repo, releaseID,
			&github.UploadOptions{Name: name, MediaType: mediaType}, f)
		return resp, err
	})
	if err == nil {
		p.o.Logf("Uploaded %s", name)
	}
	return err
}

// retry runs call until it succeeds, fails for good, or the next wait would
// pass the run's deadline. It retries 5xx and 429 responses and primary and
// secondary rate limits, waiting as GitHub says (Retry-After, X-RateLimit-Reset)
// or with exponential backoff.
func (p *publisher) retry(ctx context.Context, what string, call func() (*github.Response, error)) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		resp, err := call()
		if err == nil {
			return nil
		}
		wait, why, ok := p.retryAfter(resp, err, backoff)
		if !ok {
			return fmt.Errorf("GitHub: %s: %w", what, err)
		}
		if p.o.Now().Add(wait).After(p.deadline) {
			return fmt.Errorf("GitHub: %s: %s; giving up after %d attempt(s): waiting %s more would pass the %s retry budget: %w",
				what, why, attempt, wait.Round(time.Second), p.o.MaxWait, err)
		}
		p.o.Logf("GitHub: %s: %s; retrying in %s", what, why, wait.Round(time.Second))
		if err := p.o.Sleep(ctx, wait); err != nil {
			return err
		}
		backoff = min(backoff*2, time.Minute)
	}
}

func (p *publisher) retryAfter(resp *github.Response, err error, backoff time.Duration) (time.Duration, string, bool) {
	var rle *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rle):
		// The old client would refuse the retry until the reset: start afresh.
		if cerr := p.newClient(); cerr != nil {
			return 0, "", false
		}
		wait := rle.Rate.Reset.Time.Sub(p.o.Now()) + time.Second
		return max(wait, time.Second), "primary rate limit exceeded", true
	case errors.As(err, &abuse):
		// go-github remembers a secondary limit too and would not send the retry.
		if cerr := p.newClient(); cerr != nil {
			return 0, "", false
		}
		if abuse.RetryAfter != nil {
			return max(*abuse.RetryAfter, time.Second), "secondary rate limit", true
		}
		return max(backoff, time.Minute), "secondary rate limit", true
	case errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode >= 500 || er.Response.StatusCode == http.StatusTooManyRequests):
		if d, ok := retryAfterHeader(er.Response.Header, p.o.Now()); ok {
			return d, er.Response.Status, true
		}
		return backoff, er.Response.Status, true
	}
	return 0, "", false
}

// retryAfterHeader reads Retry-After (seconds or an HTTP date).
func retryAfterHeader(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
