variable "models" {
  description = "Hugging Face model ids from the provider's catalog, e.g. `Qwen/Qwen2.5-7B-Instruct`. One matrix row per model × GPU or instance type × quantization."
  type        = list(string)

  validation {
    condition     = length(var.models) > 0 && length(distinct(var.models)) == length(var.models) && alltrue([for m in var.models : length(trimspace(m)) > 0])
    error_message = "models must be a non-empty list of distinct, non-blank model ids."
  }
}

variable "gpus" {
  description = "GPU catalog names to check, e.g. `RTX-3090`, `A100-80GB`, `H100-80GB-SXM`, `RTX-4090`, `L40S` (aliases such as `h100` work). At least one of `gpus` and `instance_types` must be non-empty."
  type        = list(string)
  default     = []

  validation {
    condition     = length(distinct(var.gpus)) == length(var.gpus) && alltrue([for g in var.gpus : length(trimspace(g)) > 0])
    error_message = "gpus must hold distinct, non-blank GPU names."
  }
}

variable "instance_types" {
  description = "AWS EC2 GPU instance types to check, e.g. `g5.xlarge`, `g6e.xlarge`, `p5.4xlarge`. Each sets the GPU and the price per GPU-hour (the catalog's on-demand list price)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(distinct(var.instance_types)) == length(var.instance_types) && alltrue([for i in var.instance_types : can(regex("^[a-z0-9-]+\\.[a-z0-9-]+$", i))])
    error_message = "instance_types must hold distinct EC2 instance type names such as g5.xlarge."
  }
}

variable "quantizations" {
  description = "Weight quantizations to check: `none` (the checkpoint's own dtype), `fp32`, `fp16`, `bf16`, `fp8`, `int8`, `int4`, `awq`, `gptq`, `bitsandbytes`."
  type        = list(string)
  default     = ["none"]

  validation {
    condition     = length(var.quantizations) > 0 && length(distinct(var.quantizations)) == length(var.quantizations) && alltrue([for q in var.quantizations : contains(["none", "fp32", "fp16", "bf16", "fp8", "int8", "int4", "awq", "gptq", "bitsandbytes"], q)])
    error_message = "quantizations must be a non-empty list of distinct values from: none, fp32, fp16, bf16, fp8, int8, int4, awq, gptq, bitsandbytes."
  }
}

variable "max_model_len" {
  description = "vLLM `max_model_len` in tokens for every configuration: the KV cache must hold at least one sequence this long. Null: each model's own maximum (`max_position_embeddings`), as vLLM does."
  type        = number
  default     = null

  validation {
    condition     = var.max_model_len == null ? true : var.max_model_len >= 1 && floor(var.max_model_len) == var.max_model_len
    error_message = "max_model_len must be a whole number >= 1."
  }
}

variable "gpu_memory_utilization" {
  description = "vLLM `gpu_memory_utilization`, the share of GPU memory the engine may use, in (0, 1]. Null: vLLM's default 0.9."
  type        = number
  default     = null

  validation {
    condition     = var.gpu_memory_utilization == null ? true : var.gpu_memory_utilization > 0 && var.gpu_memory_utilization <= 1
    error_message = "gpu_memory_utilization must be in (0, 1]."
  }
}

variable "kv_cache_dtype" {
  description = "vLLM `kv_cache_dtype`: `auto` (the model dtype) or `fp8`. Null: `auto`."
  type        = string
  default     = null

  validation {
    condition     = var.kv_cache_dtype == null ? true : contains(["auto", "fp8"], var.kv_cache_dtype)
    error_message = "kv_cache_dtype must be \"auto\" or \"fp8\"."
  }
}

variable "max_num_batched_tokens" {
  description = "vLLM `max_num_batched_tokens` (the chunked-prefill chunk), which sets the activation peak. Null: vLLM's default for the offline `LLM` class."
  type        = number
  default     = null

  validation {
    condition     = var.max_num_batched_tokens == null ? true : var.max_num_batched_tokens >= 1 && floor(var.max_num_batched_tokens) == var.max_num_batched_tokens
    error_message = "max_num_batched_tokens must be a whole number >= 1."
  }
}

variable "max_num_seqs" {
  description = "vLLM `max_num_seqs`. Null: vLLM's default 256."
  type        = number
  default     = null

  validation {
    condition     = var.max_num_seqs == null ? true : var.max_num_seqs >= 1 && floor(var.max_num_seqs) == var.max_num_seqs
    error_message = "max_num_seqs must be a whole number >= 1."
  }
}

variable "tensor_parallel_size" {
  description = "GPUs per engine replica. It must divide each model's attention heads. Null: 1."
  type        = number
  default     = null

  validation {
    condition     = var.tensor_parallel_size == null ? true : var.tensor_parallel_size >= 1 && var.tensor_parallel_size <= 64 && floor(var.tensor_parallel_size) == var.tensor_parallel_size
    error_message = "tensor_parallel_size must be a whole number from 1 to 64."
  }
}

variable "gpu_prices_per_hour_usd" {
  description = "Price of one GPU-hour in USD for entries of `gpus`, keyed by the name used in `gpus` or the catalog name (e.g. `{ \"RTX-3090\" = 0.5 }`). A GPU without an entry takes the cheapest on-demand price per GPU-hour of an EC2 instance type with that GPU, or has no price when AWS has none (consumer cards)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.gpu_prices_per_hour_usd) : v >= 0])
    error_message = "gpu_prices_per_hour_usd values must be >= 0."
  }
}

variable "min_concurrency" {
  description = "Fewest full-length (`max_model_len`) sequences the KV cache must hold at once (`max_concurrency`) for a fitting option to be a candidate in `cheapest`."
  type        = number
  default     = 1

  validation {
    condition     = var.min_concurrency > 0
    error_message = "min_concurrency must be > 0."
  }
}
