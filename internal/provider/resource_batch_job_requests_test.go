package provider

import (
	"regexp"
	"testing"
)

// TestBatchJob_requestsValidated: the OpenAI batch format, the
// sampling_params column and passthrough_columns are checked at plan, also
// while other values are unknown (terraform_data's id until apply).
func TestBatchJob_requestsValidated(t *testing.T) {
	t.Parallel()
	config := func(input, output string) string {
		sampling := "sampling = { max_tokens = 8 }"
		if regexp.MustCompile(`openai_batch" }$`).MatchString(input) {
			sampling = "" // an OpenAI file needs none
		}
		return `
resource "terraform_data" "cluster" {}

resource "rayvllm_batch_job" "x" {
  dashboard_url = "http://${terraform_data.cluster.id}:8265"
  vllm = {
    model_source = "m"
    accelerator  = "cpu"
    input        = ` + input + `
    output       = ` + output + `
    ` + sampling + `
  }
}
`
	}
	const out = `{ path = "/out" }`
	for name, tc := range map[string]struct{ input, output, err string }{
		"openai with prompt_column": {`{ path = "/in.jsonl", format = "openai_batch", prompt_column = "p" }`, out,
			`(?s)vllm\.input\.prompt_column.*` + phrase(`input.format = "openai_batch" takes each request, its custom_id and its sampling fields from the line: remove input.prompt_column`)},
		"openai with id_column": {`{ path = "/in.jsonl", format = "openai_batch", id_column = "id" }`, out, `(?s)vllm\.input\.id_column.*remove input\.id_column`},
		"openai with sampling column": {`{ path = "/in.jsonl", format = "openai_batch", sampling_params_column = "sp" }`, out,
			`(?s)vllm\.input\.sampling_params_column.*remove input\.sampling_params_column`},
		"openai with passthrough": {`{ path = "/in.jsonl", format = "openai_batch" }`, `{ path = "/out", passthrough_columns = ["lang"] }`,
			`(?s)vllm\.output\.passthrough_columns.*has no columns to pass through`},
		"openai output of columns": {`{ path = "/in.jsonl", prompt_column = "p" }`, `{ path = "/out", format = "openai_batch" }`,
			`(?s)vllm\.output\.format.*` + phrase(`it needs input.format = "openai_batch"`)},
		"passthrough clashes": {`{ path = "/in.jsonl", prompt_column = "p", id_column = "id" }`, `{ path = "/out", passthrough_columns = ["finish_reason"] }`,
			`(?s)vllm\.output\.passthrough_columns.*"finish_reason" is already an output column`},
		"passthrough the id": {`{ path = "/in.jsonl", prompt_column = "p", id_column = "id" }`, `{ path = "/out", passthrough_columns = ["id"] }`,
			`(?s)"id" is already an output column`},
		"passthrough twice": {`{ path = "/in.jsonl", prompt_column = "p" }`, `{ path = "/out", passthrough_columns = ["a", "a"] }`,
			`(?s)Duplicate List Value.*duplicate values of: "a"`},
		"passthrough not a column": {`{ path = "/in.jsonl", prompt_column = "p" }`, `{ path = "/out", passthrough_columns = [" a"] }`,
			`(?s)vllm\.output\.passthrough_columns.*must be a column name`},
		"sampling column not a column": {`{ path = "/in.jsonl", prompt_column = "p", sampling_params_column = "" }`, out,
			`(?s)vllm\.input\.sampling_params_column.*must be a column name`},
		"unknown format, known clash": {`{ path = "/in.jsonl", format = terraform_data.cluster.id, prompt_column = "p" }`, `{ path = "/out", passthrough_columns = ["generated_text"] }`,
			`(?s)"generated_text" is already an output column`},
	} {
		t.Run(name, func(t *testing.T) {
			planOnly(t, config(tc.input, tc.output), tc.err)
		})
	}
	// These plan: an OpenAI file needs no sampling.max_tokens (each line
	// has its own), and unknown values wait for apply.
	for name, tc := range map[string]struct{ input, output string }{
		"openai file":             {`{ path = "/in.jsonl", format = "openai_batch" }`, out},
		"unknown format":          {`{ path = "/in.jsonl", format = terraform_data.cluster.id }`, `{ path = "/out", format = "openai_batch" }`},
		"unknown passthrough":     {`{ path = "/in.jsonl", format = "openai_batch" }`, `{ path = "/out", passthrough_columns = [terraform_data.cluster.id] }`},
		"unknown sampling column": {`{ path = "/in.jsonl", format = "openai_batch", sampling_params_column = terraform_data.cluster.id }`, out},
	} {
		t.Run(name, func(t *testing.T) {
			planOnly(t, config(tc.input, tc.output), "")
		})
	}
}
