package provider

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// TestAccBatchJob_unknownsValidated: every known field of vllm is checked at
// plan even while others come from resources not created yet (here
// terraform_data's id, unknown until apply, as a module's cluster outputs
// are). Before, one unknown value skipped the whole block, and a directory
// input without a format failed only after the GPUs were up.
func TestAccBatchJob_unknownsValidated(t *testing.T) {
	config := func(input, extra string) string {
		return `
resource "terraform_data" "cluster" {}

resource "rayvllm_batch_job" "x" {
  dashboard_url = "http://${terraform_data.cluster.id}:8265"
  vllm = {
    model_source     = "Qwen/Qwen2.5-0.5B-Instruct"
    accelerator_type = terraform_data.cluster.id
    input            = ` + input + `
    output           = { path = "s3://bucket/answers/run-1" }
    sampling         = { max_tokens = 64 }
    ` + extra + `
  }
}
`
	}
	for name, tc := range map[string]struct{ input, extra, err string }{
		"directory without format": {`{ path = "s3://bucket/prompts/", prompt_column = "prompt" }`, "", `(?s)Invalid vllm\.input\.format.*` + phrase(`cannot tell the format of "s3://bucket/prompts/"`)},
		"relative path":            {`{ path = "prompts.jsonl", prompt_column = "prompt" }`, "", `(?s)vllm\.input\.path.*must be an absolute path`},
		"two prompt columns":       {`{ path = "/in.jsonl", prompt_column = "p", messages_column = "m" }`, "", `(?s)set exactly one of prompt_column and messages_column`},
		"gpus per replica with unknown accelerator_type": {`{ path = "/in.jsonl", prompt_column = "p" }`, `tensor_parallel_size = 2
    num_gpus_per_replica = 1`, `(?s)vllm\.num_gpus_per_replica.*exactly 2 GPUs`},
		"unknown path, known format error elsewhere": {`{ path = "/in/${terraform_data.cluster.id}", prompt_column = "p", messages_column = "m" }`, "", `(?s)set exactly one of prompt_column and messages_column`},
	} {
		t.Run(name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps:                    []resource.TestStep{{Config: config(tc.input, tc.extra), PlanOnly: true, ExpectError: regexp.MustCompile(tc.err)}},
			})
		})
	}
	// What is unknown is not guessed at: an unknown path may still name a
	// file with an extension, and it plans.
	t.Run("unknown path plans", func(t *testing.T) {
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config:   config(`{ path = "/in/${terraform_data.cluster.id}", prompt_column = "p" }`, `on_row_error = "skip"`),
				PlanOnly: true, ExpectNonEmptyPlan: true,
			}},
		})
	})
}

// An unset ray_version / vllm_version plans as the tested set on create and
// keeps the cluster's version afterwards (no replacement on a provider
// release that moves the set).
func TestTestedVersionDefault(t *testing.T) {
	m := testedVersion(versions.Tested.Ray)
	for name, tc := range map[string]struct{ config, state, want types.String }{
		"create":   {types.StringNull(), types.StringNull(), types.StringValue(versions.Tested.Ray)},
		"existing": {types.StringNull(), types.StringValue("2.54.0"), types.StringValue("2.54.0")},
		"pinned":   {types.StringValue("2.55.1"), types.StringValue("2.54.0"), types.StringValue("2.55.1")},
	} {
		resp := &planmodifier.StringResponse{PlanValue: tc.config}
		if tc.config.IsNull() {
			resp.PlanValue = types.StringUnknown()
		}
		m.PlanModifyString(context.Background(), planmodifier.StringRequest{ConfigValue: tc.config, StateValue: tc.state, PlanValue: resp.PlanValue}, resp)
		if !resp.PlanValue.Equal(tc.want) {
			t.Errorf("%s: planned %s, want %s", name, resp.PlanValue, tc.want)
		}
	}
}
