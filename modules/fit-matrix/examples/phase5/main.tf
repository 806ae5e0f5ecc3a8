# The reference report's Phase 5 matrix: 3 models (0.5B, 7B, 13B) × 5 GPUs
# (RTX 3090, A100, H100, RTX 4090, L40S) × 4 quantizations (FP32, FP16,
# INT8, INT4) = 60 configurations, each checked at plan time with vLLM's
# memory accounting, and the cheapest fitting GPU per model.
#
#   terraform init && terraform apply
#   terraform output -raw markdown_table

terraform {
  required_version = ">= 1.8"
  required_providers {
    rayvllm = {
      source = "rayvllm/rayvllm"
    }
  }
}

variable "gpu_prices_per_hour_usd" {
  description = "Prices of GPUs that AWS does not rent. The RTX 3090's 0.50 USD/hour is the report's own cost figure, 4,380 USD/year ÷ 8,760 hours; the RTX 4090 has none, so it never counts as cheapest."
  type        = map(number)
  default     = { "RTX-3090" = 0.5 }
}

module "fit_matrix" {
  source = "../.."

  models = [
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "meta-llama/Llama-2-13b-hf",
  ]
  gpus                    = ["RTX-3090", "A100-80GB", "H100-80GB-SXM", "RTX-4090", "L40S"]
  quantizations           = ["fp32", "fp16", "int8", "int4"]
  max_model_len           = 4096
  gpu_prices_per_hour_usd = var.gpu_prices_per_hour_usd
}

output "summary" {
  description = "How many of the 60 configurations fit."
  value       = module.fit_matrix.summary
}

output "markdown_table" {
  description = "The matrix as a markdown table."
  value       = module.fit_matrix.markdown_table
}

output "cheapest" {
  description = "Cheapest fitting GPU per model."
  value = { for m, r in module.fit_matrix.cheapest : m => r == null ? null : {
    gpu                    = r.gpu
    quantization           = r.quantization
    price_per_gpu_hour_usd = r.price_per_gpu_hour_usd
    price_source           = r.price_source
    max_concurrency        = r.max_concurrency
  } }
}
