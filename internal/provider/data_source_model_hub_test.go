package provider

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// hubServer is a local HTTP server laid out like the Hugging Face Hub
// (/<org>/<name>/resolve/<revision>/config.json) serving the published
// Gemma-3-12B config.json, gated behind a Bearer token: the provider's real
// download and cache code runs against it.
func hubServer(t *testing.T, token string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	gemma, err := os.ReadFile(filepath.Join("..", "hardware", "hfconfig", "testdata", "configs", "hub", "google--gemma-3-12b-it.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"/google/gemma-3-12b-it/resolve/main/config.json": gemma,
		"/google/gemma-3-12b-it/resolve/v1.0/config.json": gemma,
		"/acme/llama-mini/resolve/main/config.json": []byte(`{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":2048,` +
			`"intermediate_size":8192,"num_hidden_layers":16,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256,` +
			`"max_position_embeddings":131072,"tie_word_embeddings":true}`),
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "Access to model google/gemma-3-12b-it is restricted", http.StatusUnauthorized)
			return
		}
		b, ok := files[r.URL.Path]
		if !ok {
			http.Error(w, "Entry not found", http.StatusNotFound)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func hubProvider(endpoint, token string) string {
	return fmt.Sprintf(`
provider "rayvllm" {
  hf_endpoint = %q
  hf_token    = %q
}
`, endpoint, token)
}

// An id outside the catalog is read from the Hub (token and endpoint from
// the provider block), as transformers and vLLM read it.
func TestAccModel_hubLookup(t *testing.T) {
	unitPreCheck(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HF_HUB_OFFLINE", "")
	srv, _ := hubServer(t, "hf_test_token")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: hubProvider(srv.URL, "hf_test_token") + `
data "rayvllm_model" "gemma" {
  model = "google/gemma-3-12b-it"
}
data "rayvllm_model" "pinned" {
  model          = "google/gemma-3-12b-it"
  model_revision = "v1.0"
  model_name     = "gemma-3-12b-v1"
}
data "rayvllm_model" "small" {
  model = "acme/llama-mini"
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("model_source"), knownvalue.StringExact("hub")),
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("id"), knownvalue.StringExact("google/gemma-3-12b-it")),
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("model_type"), knownvalue.StringExact("gemma3_text")),
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("head_dim"), knownvalue.Int64Exact(256)),
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("max_position_embeddings"), knownvalue.Int64Exact(131072)),
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("sliding_window_layers"), knownvalue.Int64Exact(40)),
					// transformers on the meta device: 12,187,325,040 (the
					// provider leaves out the 24,576 q/k-norm weights).
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("params"), int64Between(12_180_000_000, 12_190_000_000)),
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("vision_params"), int64Between(400_000_000, 450_000_000)),
					statecheck.ExpectKnownValue("data.rayvllm_model.pinned", tfjsonpath.New("id"), knownvalue.StringExact("gemma-3-12b-v1")),
					statecheck.ExpectKnownValue("data.rayvllm_model.pinned", tfjsonpath.New("head_dim"), knownvalue.Int64Exact(256)),
					statecheck.ExpectKnownValue("data.rayvllm_model.small", tfjsonpath.New("params"), knownvalue.Int64Exact(1235814400)),
				},
			},
			{
				// No token: the error says the model is gated and what to set.
				Config:      hubProvider(srv.URL, "") + `data "rayvllm_model" "gemma" { model = "acme/llama-mini" }`,
				ExpectError: regexp.MustCompile(`(?s)gated or private.*HF_TOKEN`),
			},
			{
				// A typo of a catalog id: not on the Hub, and the did-you-mean
				// searches the aliases.
				Config:      hubProvider(srv.URL, "hf_test_token") + `data "rayvllm_model" "typo" { model = "meta-llama/Llama-3.1-8B-Instuct" }`,
				ExpectError: regexp.MustCompile(`(?s)not in the built-in catalog.*Did you mean\s+"meta-llama/Llama-3.1-8B-Instruct"`),
			},
		},
	})
}

// Once read, the file is served from the disk cache when the Hub is gone.
func TestAccModel_hubOfflineCache(t *testing.T) {
	unitPreCheck(t)
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HF_HUB_OFFLINE", "")
	srv, hits := hubServer(t, "tok")
	cfg := hubProvider(srv.URL, "tok") + `data "rayvllm_model" "gemma" { model = "google/gemma-3-12b-it" }`
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("model_source"), knownvalue.StringExact("hub")),
				},
			},
			{
				PreConfig: func() {
					srv.Close()
					if _, err := os.Stat(filepath.Join(cache, "rayvllm", "hf", "google", "gemma-3-12b-it", "main", "config.json")); err != nil {
						t.Errorf("no cached copy: %v", err)
					}
					if hits.Load() == 0 {
						t.Error("the Hub was never asked")
					}
				},
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("model_source"), knownvalue.StringExact("hub-cache")),
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("head_dim"), knownvalue.Int64Exact(256)),
					statecheck.ExpectKnownValue("data.rayvllm_model.gemma", tfjsonpath.New("max_position_embeddings"), knownvalue.Int64Exact(131072)),
				},
			},
		},
	})
}

// Unreachable and not cached: the error says both, and what else to do.
func TestAccModel_hubUnreachable(t *testing.T) {
	unitPreCheck(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HF_HUB_OFFLINE", "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	_ = l.Close() // nothing listens there now
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      hubProvider(dead, "") + `data "rayvllm_model" "x" { model = "google/gemma-3-12b-it" }`,
				ExpectError: regexp.MustCompile(`(?s)cannot be\s+reached.*not in the\s+cache.*model_config_json`),
			},
		},
	})
}
