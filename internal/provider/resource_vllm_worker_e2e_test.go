package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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
// send real /v1/completions requests. Then a rayvllm_batch_job sends its
// rows to the worker (vllm.endpoint): the output comes from the server's
// answers, a per-row max_tokens reaches it, and the prompt it refuses goes
// to the errors output.
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
	// Step 2: a batch job with the worker as its endpoint (Ray Data LLM's
	// HTTP processor): n prompts, the even ids with a per-row max_tokens,
	// and one prompt longer than max_model_len, which the server refuses.
	dir := t.TempDir()
	in, out := filepath.Join(dir, "prompts.jsonl"), filepath.Join(dir, "out")
	const n, maxTokens, rowMaxTokens = 30, 6, 3
	prompts := e2ePrompts(t, n)
	var lines bytes.Buffer
	for k, p := range append(prompts, strings.Repeat(prompts[0]+" ", 200)) {
		row := map[string]any{"id": k, "prompt": p, "sp": nil}
		if k%2 == 0 {
			row["sp"] = map[string]int{"max_tokens": rowMaxTokens, "min_tokens": rowMaxTokens}
		}
		b, _ := json.Marshal(row)
		lines.Write(append(b, '\n'))
	}
	if err := os.WriteFile(in, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	job := fmt.Sprintf(`
resource "rayvllm_batch_job" "via_worker" {
  vllm = {
    model_source = rayvllm_vllm_worker.e2e.model_id
    endpoint     = { url = "${rayvllm_vllm_worker.e2e.endpoint_url}/v1", max_retries = 1 }
    concurrency  = 2
    on_row_error = "skip"
    input        = { path = %q, id_column = "id", prompt_column = "prompt", apply_chat_template = false, sampling_params_column = "sp" }
    output       = { path = %q }
    sampling     = { max_tokens = %d, min_tokens = %d, temperature = 0 }
  }
  timeouts = { create = "10m" }
}
`, in, out, maxTokens, maxTokens)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if err := e.gone(name)(); err != nil {
				return err
			}
			return batchJobGone(t)(s)
		},
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
		}, {
			Config: config + job,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("rayvllm_batch_job.via_worker", "status", "SUCCEEDED"),
				resource.TestCheckResourceAttr("rayvllm_batch_job.via_worker", "metrics.rows", strconv.Itoa(n)),
				resource.TestCheckResourceAttr("rayvllm_batch_job.via_worker", "metrics.failed_rows", "1"),
				resource.TestCheckNoResourceAttr("rayvllm_batch_job.via_worker", "metrics.engine_seconds"),
				func(*terraform.State) error {
					rows, err := readOutput(out)
					if err != nil {
						return err
					}
					if len(rows) != n {
						return fmt.Errorf("%d output rows, want %d", len(rows), n)
					}
					seen := map[int]bool{}
					for _, r := range rows {
						want := maxTokens
						if r.ID%2 == 0 {
							want = rowMaxTokens
						}
						// min_tokens = max_tokens: the server generated exactly want tokens.
						if seen[r.ID] || r.ID >= n || r.NumGeneratedTokens != want || r.NumInputTokens < 2 ||
							r.FinishReason != "length" || strings.TrimSpace(r.GeneratedText) == "" {
							return fmt.Errorf("row %+v: want one row per id below %d, %d generated tokens, finish_reason length, a prompt and a text", r, n, want)
						}
						seen[r.ID] = true
					}
					return onlyErrorRow(out, n, `maximum context length is 512 tokens`)
				},
			),
		}},
	})
}
