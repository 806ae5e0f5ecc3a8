variable "gpu" {
  type    = string
  default = "L4"

  validation {
    condition     = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B-Instruct", var.gpu, { quantization = "int4", max_model_len = 8192 }).fits
    error_message = "Qwen2.5-7B (4-bit weights, 8k context) does not fit this GPU under vLLM's memory accounting."
  }
}

output "kv_cache_tokens" {
  value = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B-Instruct", var.gpu, { quantization = "int4", max_model_len = 8192 }).kv_cache_tokens
}
