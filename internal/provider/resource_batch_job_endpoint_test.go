package provider

import (
	"strings"
	"testing"
)

// TestBatchJob_endpointValidated: vllm.endpoint is checked at plan, also
// while other values are unknown (terraform_data's id until apply): engine
// settings of the job's own, the OpenAI batch format and logprobs are
// refused, and the rate limit must cover the requests in flight.
func TestBatchJob_endpointValidated(t *testing.T) {
	t.Parallel()
	const columns = `{ path = "/in.jsonl", prompt_column = "p" }`
	config := func(endpoint, input, more string) string {
		sampling := "sampling     = { max_tokens = 8 }"
		if strings.Contains(more, "sampling =") {
			sampling = ""
		}
		return `
resource "terraform_data" "cluster" {}

resource "rayvllm_batch_job" "x" {
  dashboard_url = "http://${terraform_data.cluster.id}:8265"
  vllm = {
    model_source = "tiny"
    endpoint     = ` + endpoint + `
    input        = ` + input + `
    output       = { path = "/out" }
    ` + sampling + `
    ` + more + `
  }
}
`
	}
	const ep = `{ url = "http://127.0.0.1:8000/v1" }`
	for name, tc := range map[string]struct{ endpoint, more, err string }{
		"not a URL":                {`{ url = "127.0.0.1:8000/v1" }`, "", `(?s)vllm\.endpoint\.url.*` + phrase(`must be an http:// or https:// URL`)},
		"key not a name":           {`{ url = "http://h/v1", api_key_env_var = "MY-KEY" }`, "", `(?s)vllm\.endpoint\.api_key_env_var.*` + phrase(`must be an environment variable name`)},
		"negative retry":           {`{ url = "http://h/v1", max_retries = -1 }`, "", `(?s)vllm\.endpoint\.max_retries.*` + phrase(`at least 0`)},
		"accelerator":              {ep, `accelerator = "cpu"`, `(?s)vllm\.accelerator.*` + phrase(`endpoint sends the rows to a running server, which has its own engine settings: remove accelerator or endpoint`)},
		"engine setting":           {ep, `max_model_len = 512`, `(?s)vllm\.max_model_len.*` + phrase(`remove max_model_len or endpoint`)},
		"engine kwargs":            {ep, `engine_kwargs_json = jsonencode({ max_logprobs = 5 })`, `(?s)vllm\.engine_kwargs_json.*` + phrase(`remove engine_kwargs_json or endpoint`)},
		"gpu type":                 {ep, `accelerator_type = "H100"`, `(?s)vllm\.accelerator_type.*` + phrase(`remove accelerator_type or endpoint`)},
		"logprobs":                 {ep, `sampling = { max_tokens = 8, logprobs = 2 }`, `(?s)vllm\.sampling\.logprobs.*` + phrase(`not supported with endpoint`)},
		"rate below 4×N":           {`{ url = "http://h/v1", max_requests_per_second = 7 }`, `concurrency = 2`, `(?s)vllm\.endpoint\.max_requests_per_second.*` + phrase(`7 is below the 8 requests in flight at concurrency = 2`)},
		"unknown url, known clash": {`{ url = "http://${terraform_data.cluster.id}/v1" }`, `dtype = "float32"`, `(?s)vllm\.dtype.*` + phrase(`remove dtype or endpoint`)},
	} {
		t.Run(name, func(t *testing.T) {
			planOnly(t, config(tc.endpoint, columns, tc.more), tc.err)
		})
	}
	t.Run("openai batch", func(t *testing.T) {
		planOnly(t, config(ep, `{ path = "/in.jsonl", format = "openai_batch" }`, ""),
			`(?s)vllm\.input\.format.*`+phrase(`"openai_batch" is not supported with endpoint`))
	})
	// These plan: no fit check and no engine settings with an endpoint,
	// and unknown values wait for apply.
	for name, tc := range map[string]struct{ endpoint, more string }{
		"plain":         {ep, ""},
		"rate and key":  {`{ url = "https://api.example.com/v1", api_key_env_var = "API_KEY", max_requests_per_second = 8, max_retries = 0 }`, `concurrency = 2`},
		"unknown url":   {`{ url = "http://${terraform_data.cluster.id}:8000/v1" }`, ""},
		"unknown rate":  {`{ url = "http://h/v1", max_requests_per_second = length(terraform_data.cluster.id) }`, `concurrency = 4`},
		"chat, batches": {ep, `batch_size = 16`},
	} {
		t.Run(name, func(t *testing.T) {
			planOnly(t, config(tc.endpoint, columns, tc.more), "")
		})
	}
}
