// Package hfhub reads a model's config.json from the Hugging Face Hub (or a
// mirror laid out like it) the way huggingface_hub does, and keeps a copy on
// disk so that a plan works offline once the file has been read.
//
// URL: <endpoint>/<org>/<name>/resolve/<revision>/config.json, with
// "Authorization: Bearer <token>" when a token is set (huggingface_hub's
// hf_hub_url and build_hf_headers). The endpoint defaults to HF_ENDPOINT or
// https://huggingface.co, the token to HF_TOKEN, and HF_HUB_OFFLINE=1 reads
// the cache only, as in huggingface_hub.
package hfhub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// DefaultEndpoint is the public Hub.
const DefaultEndpoint = "https://huggingface.co"

// maxConfigBytes bounds a config.json (the largest published ones are a few
// hundred KiB: per-layer lists of big MoE models).
const maxConfigBytes = 8 << 20

// Client fetches and caches config.json files.
type Client struct {
	Endpoint string // without a trailing slash
	Token    string // sent as a Bearer token; never logged
	CacheDir string // <dir>/<org>/<name>/<revision>/config.json
	Offline  bool   // cache only
	HTTP     *retryablehttp.Client
}

// FromEnv is a client configured as huggingface_hub is: HF_ENDPOINT,
// HF_TOKEN, HF_HUB_OFFLINE, and the cache under the user's cache directory
// (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on Linux) in rayvllm/hf.
// endpoint and token, when not empty, override the environment (the
// provider block's hf_endpoint and hf_token).
func FromEnv(endpoint, token string) *Client {
	c := &Client{Endpoint: os.Getenv("HF_ENDPOINT"), Token: os.Getenv("HF_TOKEN")}
	if endpoint != "" {
		c.Endpoint = endpoint
	}
	if token != "" {
		c.Token = token
	}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	c.Endpoint = strings.TrimRight(c.Endpoint, "/")
	switch strings.ToLower(os.Getenv("HF_HUB_OFFLINE")) {
	case "1", "true", "yes", "on":
		c.Offline = true
	}
	if dir, err := os.UserCacheDir(); err == nil {
		c.CacheDir = filepath.Join(dir, "rayvllm", "hf")
	}
	h := retryablehttp.NewClient()
	h.RetryMax = 2
	h.RetryWaitMin = 200 * time.Millisecond
	h.RetryWaitMax = 2 * time.Second
	h.HTTPClient.Timeout = 15 * time.Second
	h.Logger = nil // the request carries the token
	c.HTTP = h
	return c
}

// Source says where a config.json came from.
type Source string

// Sources of a config.json.
const (
	FromHub   Source = "hub"
	FromCache Source = "cache"
)

// RevisionPattern is what a revision (branch, tag or commit) may look like.
const RevisionPattern = `^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$`

var (
	idRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)
	revRE = regexp.MustCompile(RevisionPattern)
)

// ValidID reports whether id has the Hub's <org>/<name> form.
func ValidID(id string) bool { return idRE.MatchString(id) && !strings.Contains(id, "..") }

// ErrNotFound is a Hub answer of 404: no such repository, revision or file.
var ErrNotFound = errors.New("not found on the Hub")

// ErrUnauthorized is a 401/403: a gated or private repository.
var ErrUnauthorized = errors.New("not authorized")

// ConfigJSON returns the config.json of id at revision ("" means main).
// A commit hash in the cache is read without asking the Hub (it cannot
// change); a branch or tag is fetched and the cache refreshed, and the
// cached copy answers when the Hub cannot be reached (not when it answers
// 404 or 401/403).
func (c *Client) ConfigJSON(ctx context.Context, id, revision string) ([]byte, Source, error) {
	if revision == "" {
		revision = "main"
	}
	if !ValidID(id) {
		return nil, "", fmt.Errorf("%q is not a Hugging Face model id of the form <org>/<name>", id)
	}
	if !revRE.MatchString(revision) || strings.Contains(revision, "..") {
		return nil, "", fmt.Errorf("%q is not a valid revision (a branch, tag or commit hash)", revision)
	}
	path := c.cachePath(id, revision)
	cached, cerr := os.ReadFile(path) // #nosec G304 -- id and revision are validated above
	immutable := regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(revision)
	if cerr == nil && (immutable || c.Offline) {
		return cached, FromCache, nil
	}
	if c.Offline {
		return nil, "", fmt.Errorf("HF_HUB_OFFLINE is set and %s@%s is not in the cache %s; run once with the Hub reachable, or unset HF_HUB_OFFLINE", id, revision, c.CacheDir)
	}
	body, err := c.fetch(ctx, id, revision)
	if err == nil {
		c.store(path, body)
		return body, FromHub, nil
	}
	// Only an unreachable Hub falls back on the cache: a definite answer
	// (no such file, no access) is the user's to fix.
	if cerr == nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnauthorized) {
		return cached, FromCache, nil
	}
	return nil, "", err
}

func (c *Client) url(id, revision string) string {
	return c.Endpoint + "/" + id + "/resolve/" + url.PathEscape(revision) + "/config.json"
}

func (c *Client) fetch(ctx context.Context, id, revision string) ([]byte, error) {
	u := c.url(id, revision)
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	req.Header.Set("User-Agent", "terraform-provider-rayvllm")
	h := c.HTTP
	if h == nil {
		h = retryablehttp.NewClient()
		h.Logger = nil
	}
	resp, err := h.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the Hub at %s cannot be reached (%v) and %s@%s is not in the cache %s; check the network or HF_ENDPOINT (provider hf_endpoint), or pass the file as model_config_json",
			c.Endpoint, unwrapURL(err), id, revision, c.CacheDir)
	}
	defer func() { _ = resp.Body.Close() }()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("%w: %s has no config.json at revision %q (%s); check the id and revision", ErrNotFound, id, revision, u)
	case http.StatusUnauthorized, http.StatusForbidden:
		hint := "set HF_TOKEN (or the provider's hf_token) to a token that has accepted the model's license"
		if c.Token != "" {
			hint = "the token was sent; accept the model's license on the Hub with that account, or use a token with read access"
		}
		return nil, fmt.Errorf("%w: %s answered %s for %s: the model is gated or private; %s", ErrUnauthorized, c.Endpoint, resp.Status, id, hint)
	default:
		return nil, fmt.Errorf("%s answered %s for %s@%s and it is not in the cache %s", c.Endpoint, resp.Status, id, revision, c.CacheDir)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	if len(body) > maxConfigBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a config.json", u, maxConfigBytes)
	}
	return body, nil
}

// unwrapURL drops the URL from a transport error (it is already named).
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) cachePath(id, revision string) string {
	return filepath.Join(c.CacheDir, filepath.FromSlash(id), url.PathEscape(revision), "config.json")
}

// store writes the cache atomically; a failure only costs the offline copy.
func (c *Client) store(path string, body []byte) {
	if c.CacheDir == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return
	}
	_, werr := tmp.Write(body)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		_ = os.Remove(tmp.Name())
	}
}
