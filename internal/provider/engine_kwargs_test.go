package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// engine_kwargs_json is checked at plan against the pinned vLLM's
// EngineArgs (internal/engineargs) in the worker and the batch job, also
// while other values are unknown; an unknown engine_kwargs_json plans.
func TestEngineKwargsJSONPlan(t *testing.T) {
	t.Parallel()
	batch := func(kw string) string {
		return `
resource "terraform_data" "cluster" {}

resource "rayvllm_batch_job" "x" {
  dashboard_url = "http://${terraform_data.cluster.id}:8265"
  vllm = {
    model_source       = "Qwen/Qwen2.5-0.5B-Instruct"
    engine_kwargs_json = ` + kw + `
    input              = { path = "/in.jsonl", prompt_column = "p" }
    output             = { path = "/out" }
    sampling           = { max_tokens = 16 }
  }
}
`
	}
	worker := func(kw string) string {
		return `
resource "terraform_data" "cluster" {}

resource "rayvllm_vllm_worker" "x" {
  dashboard_url      = "http://${terraform_data.cluster.id}:8265"
  name               = "x"
  model_id           = "Qwen/Qwen2.5-0.5B-Instruct"
  engine_kwargs_json = ` + kw + `
}
`
	}
	for name, tc := range map[string]struct {
		config func(string) string
		kw     string
		err    string // "" = plans
	}{
		"batch typo":              {batch, `jsonencode({ enforce_eagre = true })`, `"enforce_eagre" is not an engine argument of vLLM 0\.32\.0 \(did you mean "enforce_eager"\?\)`},
		"worker typo":             {worker, `jsonencode({ max_lora = 2 })`, `"max_lora" is not an engine argument of vLLM 0\.32\.0 \(did you mean "max_loras"\?\)`},
		"batch wrong type":        {batch, `jsonencode({ max_loras = "two" })`, `"max_loras" must be an integer, got a string`},
		"worker wrong type":       {worker, `jsonencode({ disable_log_stats = 1 })`, `"disable_log_stats" must be a boolean, got an integer`},
		"batch typed attribute":   {batch, `jsonencode({ enforce_eager = true })`, `"enforce_eager" has its own attribute: set the typed attribute enforce_eager instead`},
		"worker typed attribute":  {worker, `jsonencode({ enable_chunked_prefill = true })`, `set the typed attribute enable_chunked_prefill instead`},
		"fit check input":         {batch, `jsonencode({ pipeline_parallel_size = 2 })`, `set the typed attribute pipeline_parallel_size instead`},
		"not an object":           {worker, `jsonencode([1])`, `must be a JSON object of vLLM engine arguments`},
		"typed, as null":          {batch, `jsonencode({ max_logprobs = 5, compilation_config = { mode = 0 }, enable_prefix_caching = null })`, `set the typed attribute enable_prefix_caching`},
		"batch valid, plans":      {batch, `jsonencode({ max_logprobs = 5, compilation_config = { mode = 0 }, hf_token = false })`, ""},
		"worker unknown, plans":   {worker, `jsonencode({ seed = length(terraform_data.cluster.id) })`, ""},
		"batch unknown, plans":    {batch, `terraform_data.cluster.id == "" ? null : jsonencode({ seed = 1 })`, ""},
		"batch literal choice":    {batch, `jsonencode({ scheduling_policy = "lifo" })`, `"scheduling_policy" must be one of fcfs, priority, got "lifo"`},
		"batch several, each one": {batch, `jsonencode({ enforce_eagre = true, max_loras = "x" })`, `(?s)enforce_eagre.*max_loras`},
	} {
		t.Run(name, func(t *testing.T) {
			step := resource.TestStep{Config: tc.config(tc.kw), PlanOnly: true, ExpectNonEmptyPlan: true}
			if tc.err != "" {
				step.ExpectError = regexp.MustCompile(strings.ReplaceAll(tc.err, " ", `\s+`)) // the CLI wraps lines
			}
			resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: []resource.TestStep{step}})
		})
	}
}
