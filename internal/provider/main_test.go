package provider

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestMain keeps the tests off the real Hugging Face Hub: a model id outside
// the catalog is looked up on a local server that has nothing (tests that
// need a Hub start their own and point hf_endpoint at it), with a cache of
// their own. resource.TestMain runs the sweepers instead when -sweep is set.
func TestMain(m *testing.M) {
	resource.TestMain(offHub{m})
}

type offHub struct{ m *testing.M }

func (o offHub) Run() int {
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
	reportAccCLI()
	code := o.m.Run()
	hub.Close()
	_ = os.RemoveAll(cache)
	return code
}
