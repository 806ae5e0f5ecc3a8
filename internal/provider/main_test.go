package provider

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// TestMain keeps the tests off the real Hugging Face Hub: a model id outside
// the catalog is looked up on a local server that has nothing (tests that
// need a Hub start their own and point hf_endpoint at it), with a cache of
// their own.
func TestMain(m *testing.M) {
	hub := httptest.NewServer(http.NotFoundHandler())
	cache, err := os.MkdirTemp("", "rayvllm-hf-cache-")
	if err != nil {
		panic(err)
	}
	for k, v := range map[string]string{"HF_ENDPOINT": hub.URL, "HF_HUB_OFFLINE": "", "XDG_CACHE_HOME": cache} {
		if err := os.Setenv(k, v); err != nil {
			panic(err)
		}
	}
	code := m.Run()
	hub.Close()
	_ = os.RemoveAll(cache)
	os.Exit(code)
}
