package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// completion sends one /v1/completions request and checks the answer:
// a non-empty text of exactly want tokens (min_tokens = max_tokens).
func completion(endpoint, model, prompt string, want int) error {
	body, _ := json.Marshal(map[string]any{"model": model, "prompt": prompt, "max_tokens": want, "min_tokens": want, "seed": 0})
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Post(endpoint+"/v1/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s/v1/completions: HTTP %d: %s", endpoint, resp.StatusCode, raw)
	}
	var out struct {
		Model   string `json:"model"`
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("completion answer is not JSON: %v: %s", err, raw)
	}
	if out.Model != model || len(out.Choices) != 1 || strings.TrimSpace(out.Choices[0].Text) == "" || out.Usage.CompletionTokens != want {
		return fmt.Errorf("want one non-empty choice of %d tokens from %s, got %s", want, model, raw)
	}
	return nil
}

// TestAccVLLMWorkerE2E_tinyModelOnCPU serves the tiny model with Ray Serve
// LLM on vLLM's CPU backend; the resource's smoke test and then this test
// send real /v1/completions requests.
func TestAccVLLMWorkerE2E_tinyModelOnCPU(t *testing.T) {
	py := e2ePreCheck(t)
	e := testAccServe(t)
	model := tinyModel(t, py)
	name := "tfacc-e2e-" + acctest.RandString(6)
	config := fmt.Sprintf(`
resource "rayvllm_vllm_worker" "e2e" {
  name               = %[1]q
  model_id           = "tiny"
  model_source       = %[2]q
  accelerator        = "cpu"
  max_model_len      = 512
  max_num_seqs       = 16
  engine_kwargs_json = jsonencode({ dtype = "float32", kv_cache_memory_bytes = 268435456, enforce_eager = true })
  runtime_env_json   = jsonencode({ env_vars = { HF_HUB_OFFLINE = "1" } })
  num_replicas       = 1
  http_options       = { host = "127.0.0.1", port = %[3]d }
  smoke_test = {
    path                 = "/v1/completions"
    body                 = jsonencode({ model = "tiny", prompt = "The miller listened to the river", max_tokens = 8, min_tokens = 1 })
    expect_body_contains = "\"object\":\"text_completion\""
    timeout_seconds      = 300
  }
  timeouts = { create = "15m" }
}
`, name, model, e.port)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return e.gone(name)() },
		Steps: []resource.TestStep{{
			Config: config,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("rayvllm_vllm_worker.e2e", "status", "RUNNING"),
				resource.TestCheckResourceAttr("rayvllm_vllm_worker.e2e", "accelerator", "cpu"),
				func(s *terraform.State) error {
					endpoint := s.RootModule().Resources["rayvllm_vllm_worker.e2e"].Primary.Attributes["endpoint_url"]
					return completion(endpoint, "tiny", "There was once a small mill", 12)
				},
			),
		}},
	})
}
