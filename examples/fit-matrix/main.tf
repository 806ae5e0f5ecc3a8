# The reference report's Phase 5 matrix: 3 models × 5 GPUs × 4 quantizations
# = 60 configurations, each checked with vLLM's memory accounting at plan time.

terraform {
  required_version = ">= 1.8"
  required_providers {
    rayvllm = {
      source = "rayvllm/rayvllm"
    }
  }
}

variable "max_model_len" {
  description = "Context length every configuration must hold at least once in its KV cache."
  type        = number
  default     = 4096
}

locals {
  models = {
    "0.5B" = "Qwen/Qwen2.5-0.5B-Instruct"
    "7B"   = "Qwen/Qwen2.5-7B-Instruct"
    "13B"  = "meta-llama/Llama-2-13b-hf"
  }
  gpus          = ["RTX-3090", "A100-80GB", "H100-80GB-SXM", "RTX-4090", "L40S"]
  quantizations = ["fp32", "fp16", "int8", "int4"]
  matrix = {
    for c in setproduct(keys(local.models), local.gpus, local.quantizations) :
    "${c[0]}/${c[1]}/${c[2]}" => { size = c[0], model = local.models[c[0]], gpu = c[1], quantization = c[2] }
  }
}

data "rayvllm_gpu_fit" "m" {
  for_each      = local.matrix
  model         = each.value.model
  gpu           = each.value.gpu
  quantization  = each.value.quantization
  max_model_len = var.max_model_len
  require_fit   = false
}

output "fit_count" {
  description = "How many of the configurations fit."
  value       = "${length([for k, v in data.rayvllm_gpu_fit.m : k if v.fits])} of ${length(local.matrix)} fit"
}

output "table" {
  description = "The matrix as a markdown table."
  value = join("\n", concat(
    ["| model | GPU | quantization | fits | weights GiB | KV cache GiB | KV tokens | max concurrency |", "|---|---|---|---|---:|---:|---:|---:|"],
    [for k in sort(keys(local.matrix)) : format("| %s | %s | %s | %s | %.2f | %.2f | %d | %.1f |",
      local.matrix[k].size, local.matrix[k].gpu, local.matrix[k].quantization,
      data.rayvllm_gpu_fit.m[k].fits ? "yes" : "no",
      data.rayvllm_gpu_fit.m[k].weights_gib, data.rayvllm_gpu_fit.m[k].kv_cache_gib,
    data.rayvllm_gpu_fit.m[k].kv_cache_tokens, data.rayvllm_gpu_fit.m[k].max_concurrency)]
  ))
}
