package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// GitHub is a local HTTPS stub of the GitHub REST API parts that release
// publishing uses, laid out as GitHub Enterprise serves them: /api/v3/ for the
// API and /api/uploads/ for uploads. It checks the token on every request and
// the Content-Type and length of every upload, keeps releases and assets in
// memory, and can be told to fail the next requests.
type GitHub struct {
	*Server
	Token string // every request must carry "Authorization: Bearer Token" (or "token Token")

	mu       sync.Mutex
	nextID   int64
	releases []*GitHubRelease
	faults   []ghFault
	log      []GitHubRequest
}

// GitHubRelease is a release held by the stub.
type GitHubRelease struct {
	ID         int64
	Tag        string
	Draft      bool
	Prerelease bool
	Assets     []*GitHubAsset
}

// GitHubAsset is an uploaded asset.
type GitHubAsset struct {
	ID          int64
	Name        string
	ContentType string
	Size        int64
	SHA256      string
}

// GitHubRequest is one request the stub answered.
type GitHubRequest struct {
	Method, Path, Query string
	ContentType         string
	Auth                string // the Authorization header as received
	Status              int
}

type ghFault struct {
	method, pathContains string
	status               int
	header               http.Header
	body                 string
}

// NewGitHub starts the stub on 127.0.0.1 with a certificate from ca. Call Close.
func NewGitHub(ca *CA, token string) (*GitHub, error) {
	g := &GitHub{Token: token, nextID: 100}
	srv, err := NewServer(http.HandlerFunc(g.serve), ca, nil)
	if err != nil {
		return nil, err
	}
	g.Server = srv
	return g, nil
}

// AddRelease creates a release directly (a release that already exists).
func (g *GitHub) AddRelease(tag string, draft bool) *GitHubRelease {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.addRelease(tag, draft, false)
}

// AddAsset adds an asset to r directly.
func (g *GitHub) AddAsset(r *GitHubRelease, name string, data []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nextID++
	sum := sha256.Sum256(data)
	r.Assets = append(r.Assets, &GitHubAsset{ID: g.nextID, Name: name, ContentType: "application/octet-stream", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
}

// Fail makes the next request whose method is method and whose path contains
// pathContains answer status with header and body (once per call).
func (g *GitHub) Fail(method, pathContains string, status int, header http.Header, body string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.faults = append(g.faults, ghFault{method, pathContains, status, header, body})
}

// FailSecondaryRateLimit answers the next matching request as GitHub does when
// a secondary rate limit is hit: 403, Retry-After, the documentation URL.
func (g *GitHub) FailSecondaryRateLimit(method, pathContains string, retryAfterSeconds int) {
	g.Fail(method, pathContains, http.StatusForbidden,
		http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds)}},
		`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#secondary-rate-limits"}`)
}

// FailPrimaryRateLimit answers the next matching request as an exhausted
// primary rate limit that resets at the Unix time reset.
func (g *GitHub) FailPrimaryRateLimit(method, pathContains string, reset int64) {
	g.Fail(method, pathContains, http.StatusForbidden,
		http.Header{"X-Ratelimit-Limit": {"5000"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {strconv.FormatInt(reset, 10)}},
		`{"message":"API rate limit exceeded","documentation_url":"https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}`)
}

// Releases returns copies of the releases.
func (g *GitHub) Releases() []GitHubRelease {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []GitHubRelease
	for _, r := range g.releases {
		c := *r
		c.Assets = nil
		for _, a := range r.Assets {
			ac := *a
			c.Assets = append(c.Assets, &ac)
		}
		out = append(out, c)
	}
	return out
}

// Log returns the requests answered so far.
func (g *GitHub) Log() []GitHubRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]GitHubRequest(nil), g.log...)
}

func (g *GitHub) addRelease(tag string, draft, pre bool) *GitHubRelease {
	g.nextID++
	r := &GitHubRelease{ID: g.nextID, Tag: tag, Draft: draft, Prerelease: pre}
	g.releases = append(g.releases, r)
	return r
}

func (g *GitHub) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rec := GitHubRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type"), Auth: r.Header.Get("Authorization")}
	status := g.handle(w, r)
	rec.Status = status
	g.log = append(g.log, rec)
}

func (g *GitHub) handle(w http.ResponseWriter, r *http.Request) int {
	reply := func(status int, v any) int {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		if v != nil {
			_ = json.NewEncoder(w).Encode(v)
		}
		return status
	}
	msg := func(status int, m string) int { return reply(status, map[string]string{"message": m}) }

	auth := r.Header.Get("Authorization")
	if g.Token == "" || (auth != "Bearer "+g.Token && auth != "token "+g.Token) {
		return msg(http.StatusUnauthorized, "Bad credentials")
	}
	for i, f := range g.faults {
		if f.method == r.Method && strings.Contains(r.URL.Path, f.pathContains) {
			g.faults = append(g.faults[:i], g.faults[i+1:]...)
			_, _ = io.Copy(io.Discard, r.Body)
			for k, v := range f.header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(f.status)
			_, _ = io.WriteString(w, f.body)
			return f.status
		}
	}

	var upload bool
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/v3/repos/"):
		p = strings.TrimPrefix(p, "/api/v3/repos/")
	case strings.HasPrefix(p, "/api/uploads/repos/"):
		p, upload = strings.TrimPrefix(p, "/api/uploads/repos/"), true
	default:
		return msg(http.StatusNotFound, "Not Found")
	}
	seg := strings.Split(p, "/") // owner, repo, "releases", ...
	if len(seg) < 3 || seg[2] != "releases" {
		return msg(http.StatusNotFound, "Not Found")
	}
	seg = seg[3:]
	switch {
	case upload && r.Method == http.MethodPost && len(seg) == 2 && seg[1] == "assets":
		rel := g.byID(seg[0])
		if rel == nil {
			return msg(http.StatusNotFound, "Not Found")
		}
		name := r.URL.Query().Get("name")
		ct := r.Header.Get("Content-Type")
		if name == "" {
			return msg(http.StatusUnprocessableEntity, "name is required")
		}
		if ct == "" {
			return msg(http.StatusUnprocessableEntity, "Content-Type header is required")
		}
		for _, a := range rel.Assets {
			if a.Name == name {
				return reply(http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}}})
			}
		}
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil || r.ContentLength < 0 || n != r.ContentLength {
			return msg(http.StatusBadRequest, fmt.Sprintf("body is %d bytes, Content-Length %d", n, r.ContentLength))
		}
		g.nextID++
		a := &GitHubAsset{ID: g.nextID, Name: name, ContentType: ct, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		rel.Assets = append(rel.Assets, a)
		return reply(http.StatusCreated, assetJSON(a))
	case upload:
		return msg(http.StatusNotFound, "Not Found")
	case r.Method == http.MethodGet && len(seg) == 2 && seg[0] == "tags":
		for _, rel := range g.releases {
			if rel.Tag == seg[1] && !rel.Draft { // GitHub does not find drafts by tag
				return reply(http.StatusOK, releaseJSON(rel))
			}
		}
		return msg(http.StatusNotFound, "Not Found")
	case r.Method == http.MethodGet && len(seg) == 0:
		list := []any{}
		for _, rel := range g.releases {
			list = append(list, releaseJSON(rel))
		}
		return reply(http.StatusOK, list)
	case r.Method == http.MethodPost && len(seg) == 0:
		var req struct {
			TagName    string `json:"tag_name"`
			Draft      bool   `json:"draft"`
			Prerelease bool   `json:"prerelease"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.TagName == "" {
			return msg(http.StatusUnprocessableEntity, "tag_name is required")
		}
		for _, rel := range g.releases {
			if rel.Tag == req.TagName {
				return msg(http.StatusUnprocessableEntity, "Validation Failed: tag_name already_exists")
			}
		}
		return reply(http.StatusCreated, releaseJSON(g.addRelease(req.TagName, req.Draft, req.Prerelease)))
	case r.Method == http.MethodGet && len(seg) == 2 && seg[1] == "assets":
		rel := g.byID(seg[0])
		if rel == nil {
			return msg(http.StatusNotFound, "Not Found")
		}
		list := []any{}
		for _, a := range rel.Assets {
			list = append(list, assetJSON(a))
		}
		return reply(http.StatusOK, list)
	case r.Method == http.MethodDelete && len(seg) == 2 && seg[0] == "assets":
		id, _ := strconv.ParseInt(seg[1], 10, 64)
		for _, rel := range g.releases {
			for i, a := range rel.Assets {
				if a.ID == id {
					rel.Assets = append(rel.Assets[:i], rel.Assets[i+1:]...)
					w.WriteHeader(http.StatusNoContent)
					return http.StatusNoContent
				}
			}
		}
		return msg(http.StatusNotFound, "Not Found")
	}
	return msg(http.StatusNotFound, "Not Found")
}

func (g *GitHub) byID(s string) *GitHubRelease {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	for _, r := range g.releases {
		if r.ID == id {
			return r
		}
	}
	return nil
}

func releaseJSON(r *GitHubRelease) map[string]any {
	return map[string]any{"id": r.ID, "tag_name": r.Tag, "name": r.Tag, "draft": r.Draft, "prerelease": r.Prerelease,
		"html_url": "https://github.example/releases/tag/" + r.Tag}
}

func assetJSON(a *GitHubAsset) map[string]any {
	return map[string]any{"id": a.ID, "name": a.Name, "content_type": a.ContentType, "size": a.Size, "state": "uploaded"}
}

// AssetNames returns the sorted asset names of the release for tag.
func (g *GitHub) AssetNames(tag string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, r := range g.releases {
		if r.Tag == tag {
			for _, a := range r.Assets {
				out = append(out, a.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}
