package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// plan_for, require_fit and the lowered engine batch, through the CLI.
// Data sources need no remote system, so this runs as a unit test. The
// steps that must fail come first: the framework destroys with the last
// step's configuration.
func TestAccBatchSizingDataSource_planForAndRequireFit(t *testing.T) {
	t.Parallel()
	unitTestCLI(t)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `
data "rayvllm_batch_sizing" "misfit" {
  model              = "meta-llama/Llama-3.1-70B-Instruct"
  instance_type      = "g5.xlarge"
  max_model_len      = 4096
  num_requests       = 100000
  mean_input_tokens  = 500
  mean_output_tokens = 200
}
`,
				ExpectError: regexp.MustCompile(`(?s)does not fit.*require_fit = false`),
			},
			{
				Config: `
data "rayvllm_batch_sizing" "bad" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "H100-80GB-SXM"
  num_requests       = 100
  mean_input_tokens  = 500
  mean_output_tokens = 200
  plan_for           = "optimistic"
}
`,
				ExpectError: regexp.MustCompile(`(?s)plan_for.*safe`),
			},
			{
				Config: `
data "rayvllm_batch_sizing" "typical" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "H100-80GB-SXM"
  max_model_len      = 4096
  num_requests       = 1000000
  mean_input_tokens  = 500
  mean_output_tokens = 200
  gpus               = 2
  price_per_gpu_hour_usd = 4
  plan_for           = "typical"
}
data "rayvllm_batch_sizing" "safe" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "H100-80GB-SXM"
  max_model_len      = 4096
  num_requests       = 1000000
  mean_input_tokens  = 500
  mean_output_tokens = 200
  gpus               = 2
  price_per_gpu_hour_usd = 4
  model_source       = "s3"
  prepared_image     = true
}
# Llama-3.1-8B on one 24 GB A10G under vLLM 0.18 (its sorting sampler
# holds 38.4 bytes per logit): max_num_seqs 1024 would not start.
data "rayvllm_batch_sizing" "g5" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  instance_type      = "g5.xlarge"
  vllm_version       = "0.18.0"
  max_model_len      = 8192
  num_requests       = 100000
  mean_input_tokens  = 500
  mean_output_tokens = 200
}
# Llama-3.1-70B in bf16 cannot fit one A10G at any batch.
data "rayvllm_batch_sizing" "misfit" {
  model              = "meta-llama/Llama-3.1-70B-Instruct"
  instance_type      = "g5.xlarge"
  max_model_len      = 4096
  num_requests       = 100000
  mean_input_tokens  = 500
  mean_output_tokens = 200
  require_fit        = false
}
locals {
  t = data.rayvllm_batch_sizing.typical
  s = data.rayvllm_batch_sizing.safe
}
output "typical_hours" {
  value = abs(local.t.hours_to_complete - 1000000 / local.t.requests_per_second / 3600 - local.t.startup_seconds / 3600) / local.t.hours_to_complete < 0.01
}
output "safe_hours" {
  value = abs(local.s.hours_to_complete - 1000000 / local.s.requests_per_second_low / 3600 - local.s.startup_seconds / 3600) / local.s.hours_to_complete < 0.01
}
output "safe_cost" {
  value = abs(local.s.cost_usd - 4 * 2 * local.s.hours_to_complete) < 0.05 && local.s.cost_usd == local.s.cost_usd_high
}
output "startup_s3_prepared_faster" {
  value = local.s.startup_seconds < local.t.startup_seconds
}
output "ends" {
  value = local.s.hours_to_complete_low < local.t.hours_to_complete && local.t.hours_to_complete < local.s.hours_to_complete_high && local.s.cost_usd_low < local.t.cost_usd
}
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("typical_hours", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("safe_hours", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("safe_cost", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("ends", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("startup_s3_prepared_faster", knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.rayvllm_batch_sizing.g5", tfjsonpath.New("fits"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.rayvllm_batch_sizing.g5", tfjsonpath.New("lowered_from_max_num_seqs"), knownvalue.Int64Exact(1024)),
					statecheck.ExpectKnownValue("data.rayvllm_batch_sizing.misfit", tfjsonpath.New("fits"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("data.rayvllm_batch_sizing.misfit", tfjsonpath.New("fit").AtMapKey("fits"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("data.rayvllm_batch_sizing.misfit", tfjsonpath.New("hours_to_complete"), knownvalue.Float64Exact(0)),
				},
			},
		},
	})
}
