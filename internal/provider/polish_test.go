package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// GPU names are case-insensitive (quantization takes vLLM's lowercase names), and a custom GPU
// and a config.json model can be named.
func TestAccFitInputs_namesAndCase(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
data "rayvllm_gpu_fit" "upper" {
  model        = "Qwen/Qwen2.5-7B-Instruct"
  gpu          = "l4"
  quantization = "int4"
}
data "rayvllm_gpu_fit" "lower" {
  model        = "Qwen/Qwen2.5-7B-Instruct"
  gpu          = "L4"
  quantization = "int4"
}
data "rayvllm_gpu_fit" "spark" {
  model_config_json = jsonencode({
    model_type          = "llama"
    hidden_size         = 2048
    intermediate_size   = 8192
    num_hidden_layers   = 16
    num_attention_heads = 32
    num_key_value_heads = 8
    vocab_size          = 128256
    tie_word_embeddings = true
  })
  model_name                = "my-llama-1b"
  gpu_memory_gib            = 119.6
  gpu_memory_bandwidth_gbps = 273
  gpu_bf16_tflops           = 62
  custom_gpu_name           = "DGX-Spark"
}
output "same" { value = data.rayvllm_gpu_fit.upper.weights_gib == data.rayvllm_gpu_fit.lower.weights_gib }`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("same", knownvalue.Bool(true)),
				statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.spark", tfjsonpath.New("gpu_name"), knownvalue.StringExact("DGX-Spark")),
				statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.spark", tfjsonpath.New("reasons").AtSliceIndex(0), knownvalue.StringRegexp(regexp.MustCompile(`^my-llama-1b on DGX-Spark fits`))),
				// llama's default max_position_embeddings (2048) as transformers fills it in.
				statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.spark", tfjsonpath.New("effective_max_model_len"), knownvalue.Int64Exact(2048)),
			},
		}},
	})
}
