package hfhub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// hub is a local server laid out like the Hub: /<org>/<name>/resolve/<rev>/config.json.
func hub(t *testing.T, token string, files map[string]string) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "gated", http.StatusUnauthorized)
			return
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func client(t *testing.T, endpoint, token string) *Client {
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	c := FromEnv(endpoint, token)
	c.HTTP.RetryMax = 0
	return c
}

func TestConfigJSON(t *testing.T) {
	srv, hits := hub(t, "tok", map[string]string{
		"/org/model/resolve/main/config.json":     `{"a":1}`,
		"/org/model/resolve/v1.0/config.json":     `{"a":2}`,
		"/org/model/resolve/feat%2Fx/config.json": `{"a":3}`,
	})
	c := client(t, srv.URL+"/", "tok")
	ctx := context.Background()
	for rev, want := range map[string]string{"": `{"a":1}`, "v1.0": `{"a":2}`} {
		b, src, err := c.ConfigJSON(ctx, "org/model", rev)
		if err != nil || string(b) != want || src != FromHub {
			t.Errorf("%q: %s %s %v", rev, b, src, err)
		}
	}
	// Unreachable: the cached copy answers.
	srv.Close()
	b, src, err := c.ConfigJSON(ctx, "org/model", "main")
	if err != nil || string(b) != `{"a":1}` || src != FromCache {
		t.Errorf("offline from cache: %s %s %v", b, src, err)
	}
	// Unreachable and not cached: the error says both.
	_, _, err = c.ConfigJSON(ctx, "org/other", "main")
	if err == nil || !strings.Contains(err.Error(), "cannot be reached") || !strings.Contains(err.Error(), "not in the cache") {
		t.Errorf("unreachable, uncached: %v", err)
	}
	if hits.Load() != 2 {
		t.Errorf("%d requests, want 2", hits.Load())
	}
}

func TestConfigJSONErrors(t *testing.T) {
	srv, _ := hub(t, "right", map[string]string{"/org/m/resolve/main/config.json": `{}`})
	ctx := context.Background()
	_, _, err := client(t, srv.URL, "").ConfigJSON(ctx, "org/m", "")
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Errorf("no token: %v", err)
	}
	_, _, err = client(t, srv.URL, "wrong").ConfigJSON(ctx, "org/m", "")
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong token (must not be echoed): %v", err)
	}
	_, _, err = client(t, srv.URL, "right").ConfigJSON(ctx, "org/none", "")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("404: %v", err)
	}
	for _, id := range []string{"no-slash", "../etc/passwd", "a/b/c", "org/..", ""} {
		if _, _, err := client(t, srv.URL, "").ConfigJSON(ctx, id, ""); err == nil || !strings.Contains(err.Error(), "model id") {
			t.Errorf("%q: %v", id, err)
		}
	}
	if _, _, err := client(t, srv.URL, "").ConfigJSON(ctx, "org/m", "../x"); err == nil {
		t.Error("a revision with .. must be refused")
	}
	// HF_HUB_OFFLINE without a cached copy.
	c := client(t, srv.URL, "right")
	c.Offline = true
	if _, _, err := c.ConfigJSON(ctx, "org/m", ""); err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("offline: %v", err)
	}
}

// A commit hash already cached is not fetched again.
func TestConfigJSONCommitFromCache(t *testing.T) {
	rev := strings.Repeat("ab", 20)
	srv, hits := hub(t, "", map[string]string{"/org/m/resolve/" + rev + "/config.json": `{"c":1}`})
	c := client(t, srv.URL, "")
	for i := 0; i < 3; i++ {
		if b, _, err := c.ConfigJSON(context.Background(), "org/m", rev); err != nil || string(b) != `{"c":1}` {
			t.Fatal(string(b), err)
		}
	}
	if hits.Load() != 1 {
		t.Errorf("%d requests for an immutable revision, want 1", hits.Load())
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("HF_ENDPOINT", "http://mirror.local/")
	t.Setenv("HF_TOKEN", "env-token")
	t.Setenv("HF_HUB_OFFLINE", "1")
	c := FromEnv("", "")
	if c.Endpoint != "http://mirror.local" || c.Token != "env-token" || !c.Offline {
		t.Errorf("%+v", c)
	}
	c = FromEnv("http://other", "block-token")
	if c.Endpoint != "http://other" || c.Token != "block-token" {
		t.Errorf("provider values must win: %+v", c)
	}
}
