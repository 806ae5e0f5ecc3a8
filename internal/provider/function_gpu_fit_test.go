package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestAccGPUFitFunction(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	// OpenTofu (1.12) turns an untyped null for a dynamic parameter into an
	// unknown, so the call yields null there: pass {} (docs say so).
	noOptions := "null"
	if cli, err := accCLI(); err == nil && cli.Name == "OpenTofu" {
		noOptions = "{}"
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `
output "fit" {
  value = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B-Instruct", "A100-80GB", { max_model_len = 8192 })
}
output "on_instance" {
  value = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B-Instruct", "g5.xlarge", ` + noOptions + `)
}
output "too_big" {
  value = provider::rayvllm::gpu_fit("meta-llama/Llama-2-70b-hf", "L4", { quantization = "fp16", max_model_len = 4096 }).fits
}
# Ray Data LLM's defaults fit a 34816-token request on an L4; the Serve
# worker's (128 more rows of logits in the sampler's profile) do not.
output "l4_batch_job" {
  value = provider::rayvllm::gpu_fit("meta-llama/Llama-3.1-8B-Instruct", "L4", { max_model_len = 34816 }).fits
}
output "l4_worker" {
  value = provider::rayvllm::gpu_fit("meta-llama/Llama-3.1-8B-Instruct", "L4", { max_model_len = 34816, engine_context = "worker", vllm_version = "0.29.0" }).fits
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValueAtPath("fit", tfjsonpath.New("fits"), knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValueAtPath("fit", tfjsonpath.New("kv_cache_bytes_per_token"), knownvalue.Int64Exact(57344)),
					statecheck.ExpectKnownOutputValueAtPath("fit", tfjsonpath.New("weights_gib"), between(14.0, 14.5)),
					statecheck.ExpectKnownOutputValueAtPath("on_instance", tfjsonpath.New("gpu_name"), knownvalue.StringExact("A10G")),
					statecheck.ExpectKnownOutputValue("too_big", knownvalue.Bool(false)),
					statecheck.ExpectKnownOutputValue("l4_batch_job", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("l4_worker", knownvalue.Bool(false)),
				},
			},
			{
				Config:      `output "x" { value = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B", "A100-80GB", { max_model_lenn = 8192 }) }`,
				ExpectError: regexp.MustCompile(`(?s)unknown setting\s+"max_model_lenn".*max_model_len`),
			},
			{
				// Every unknown key is named, not just the first.
				Config:      `output "x" { value = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B", "A100-80GB", { max_model_lenn = 8192, quantisation = "awq" }) }`,
				ExpectError: regexp.MustCompile(`(?s)unknown settings\s+"max_model_lenn",\s+"quantisation"`),
			},
			{
				Config:      `output "x" { value = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B", "A100-80GB", { tensor_parallel_size = 3 }) }`,
				ExpectError: regexp.MustCompile(`tensor_parallel_size`),
			},
			{
				Config:      `output "x" { value = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B", "A100-80GB", { vllm_version = "0.5.4" }) }`,
				ExpectError: regexp.MustCompile(`(?s)vllm_version.*V0`),
			},
			{
				Config:      `output "x" { value = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B", "not-a-gpu", {}) }`,
				ExpectError: regexp.MustCompile(`(?s)gpu.*not-a-gpu`),
			},
		},
	})
}

// 2 × 32 layers × 8 KV heads × 128 × 2 B = 131072 for Llama-3.1-8B; fp8 halves
// it; TP=2 splits the 8 KV heads 4 per GPU.
func TestAccKVCacheBytesPerTokenFunction(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `
output "auto" { value = provider::rayvllm::kv_cache_bytes_per_token("meta-llama/Llama-3.1-8B-Instruct", "auto", 1) }
output "fp8"  { value = provider::rayvllm::kv_cache_bytes_per_token("meta-llama/Llama-3.1-8B-Instruct", "fp8", 1) }
output "tp2"  { value = provider::rayvllm::kv_cache_bytes_per_token("meta-llama/Llama-3.1-8B-Instruct", "auto", 2) }
`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("auto", knownvalue.Int64Exact(131072)),
					statecheck.ExpectKnownOutputValue("fp8", knownvalue.Int64Exact(65536)),
					statecheck.ExpectKnownOutputValue("tp2", knownvalue.Int64Exact(65536)),
				},
			},
			{
				Config:      `output "x" { value = provider::rayvllm::kv_cache_bytes_per_token("meta-llama/Llama-3.1-8B-Instruct", "int2", 1) }`,
				ExpectError: regexp.MustCompile(`(?s)kv_cache_dtype.*fp8`),
			},
		},
	})
}
