package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// Hand-derived expectations. Qwen2.5-7B (28 layers, 4 KV heads, head_dim 128):
// KV bytes/token = 2 × 28 × 4 × 128 × 2 B = 57344. Its 7.62e9 bf16 params are
// 14.19 GiB. Qwen2.5-0.5B (24 layers, 2 KV heads, head_dim 64) in fp8 KV:
// 2 × 24 × 2 × 64 × 1 B = 6144.
func TestAccGPUFitDataSource(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `
data "rayvllm_gpu_fit" "q7" {
  model         = "Qwen/Qwen2.5-7B-Instruct"
  gpu           = "A100-80GB"
  max_model_len = 8192
}
data "rayvllm_gpu_fit" "small_fp8" {
  model          = "Qwen/Qwen2.5-0.5B"
  instance_type  = "g5.xlarge"
  kv_cache_dtype = "fp8"
  max_model_len  = 4096
}
# A DGX Spark: 128 GB of unified memory (119.2 GiB), 273 GB/s.
data "rayvllm_gpu_fit" "custom" {
  model                     = "meta-llama/Llama-3.1-70B-Instruct"
  gpu_memory_gib            = 119.2
  gpu_memory_bandwidth_gbps = 273
  gpu_bf16_tflops           = 100
  quantization              = "fp8"
  max_model_len             = 8192
}
data "rayvllm_gpu_fit" "misfit" {
  model         = "meta-llama/Llama-2-70b-hf"
  gpu           = "RTX-4090"
  require_fit   = false
  max_model_len = 4096
}
# 15 GiB of BF16 weights on a 16 GB T4: fits with 8 GiB of them in CPU memory.
data "rayvllm_gpu_fit" "offload" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  gpu                = "T4"
  max_model_len      = 4096
  engine_kwargs_json = jsonencode({ cpu_offload_gb = 8 })
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.q7", tfjsonpath.New("fits"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.q7", tfjsonpath.New("kv_cache_bytes_per_token"), knownvalue.Int64Exact(57344)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.q7", tfjsonpath.New("weights_gib"), between(14.0, 14.5)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.q7", tfjsonpath.New("effective_max_model_len"), knownvalue.Int64Exact(8192)),
					// 80 GiB-class × 0.9 minus ~14.2 GiB weights and a few GiB of overheads.
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.q7", tfjsonpath.New("kv_cache_gib"), between(50, 58)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.q7", tfjsonpath.New("kv_cache_tokens"), int64Between(50*(1<<30)/57344, 58*(1<<30)/57344)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.small_fp8", tfjsonpath.New("kv_cache_bytes_per_token"), knownvalue.Int64Exact(6144)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.small_fp8", tfjsonpath.New("gpu_name"), knownvalue.StringExact("A10G")),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.custom", tfjsonpath.New("gpu_total_memory_gib"), knownvalue.Float64Exact(119.2)),
					// 119.2 × 0.9
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.custom", tfjsonpath.New("budget_gib"), knownvalue.Float64Exact(107.28)),
					// 70.6e9 params in fp8, with embeddings and lm_head kept in bf16: 66–70 GiB.
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.custom", tfjsonpath.New("weights_gib"), between(66, 70)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.misfit", tfjsonpath.New("fits"), knownvalue.Bool(false)),
					// 69e9 params × 2 B = 128 GiB of weights against a 24 GiB card.
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.misfit", tfjsonpath.New("shortfall_gib"), between(100, 130)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.misfit", tfjsonpath.New("suggestions"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.offload", tfjsonpath.New("fits"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.offload", tfjsonpath.New("cpu_offload_gib"), knownvalue.Float64Exact(8)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.offload", tfjsonpath.New("weights_gib"), between(6.9, 7.1)),
					statecheck.ExpectKnownValue("data.rayvllm_gpu_fit.q7", tfjsonpath.New("cpu_offload_gib"), knownvalue.Float64Exact(0)),
				},
			},
		},
	})
}

func TestAccGPUFitDataSource_badInput(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	step := func(cfg, want string) resource.TestStep {
		return resource.TestStep{Config: cfg, ExpectError: regexp.MustCompile(want)}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			step(`data "rayvllm_gpu_fit" "x" {
  model = "meta-llama/Llama-2-70b-hf"
  gpu   = "RTX-4090"
}`, `(?s)does not fit.*GiB short.*Would fit`),
			step(`data "rayvllm_gpu_fit" "x" {
  model                = "Qwen/Qwen2.5-7B"
  gpu                  = "H100-80GB-SXM"
  tensor_parallel_size = 3
}`, `(?s)tensor_parallel_size.*28`),
			step(`data "rayvllm_gpu_fit" "x" {
  model                  = "Qwen/Qwen2.5-7B"
  gpu                    = "H100-80GB-SXM"
  gpu_memory_utilization = 1.5
}`, `(?s)gpu_memory_utilization.*between`),
			step(`data "rayvllm_gpu_fit" "x" {
  model         = "Qwen/Qwen2.5-7B"
  gpu           = "H100-80GB-SXM"
  max_model_len = 0
}`, `(?s)max_model_len.*at least 1`),
			step(`data "rayvllm_gpu_fit" "x" {
  model = "Qwen/Qwen2.5-7B-Instrukt"
  gpu   = "H100-80GB-SXM"
}`, `(?s)model.*Qwen/Qwen2.5-7B-Instruct`),
			step(`data "rayvllm_gpu_fit" "x" {
  model = "Qwen/Qwen2.5-7B"
  gpu   = "H1000"
}`, `(?s)gpu.*H100`),
			step(`data "rayvllm_gpu_fit" "x" {
  model_config_json = "{\"num_hidden_layers\": \"many\"}"
  gpu               = "L4"
}`, `model_config_json`),
			step(`data "rayvllm_gpu_fit" "x" {
  model = "Qwen/Qwen2.5-7B"
  gpu   = "L4"
  quantization = "int3"
}`, `(?s)quantization.*int4`),
			step(`data "rayvllm_gpu_fit" "x" {
  model = "Qwen/Qwen2.5-7B"
  gpu   = "L4"
  instance_type = "g6.xlarge"
}`, `(?s)Invalid Attribute Combination`),
		},
	})
}
