variable "namespace" {
  description = "Kubernetes namespace of the RayCluster (it must exist, with KubeRay installed in the cluster)."
  type        = string
}

variable "name" {
  description = "RayCluster name: 1-40 lower-case letters, digits and hyphens."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$", var.name))
    error_message = "name must be 1-40 lower-case letters, digits and hyphens, starting and ending with a letter or digit (a DNS label KubeRay derives pod names from)."
  }
}

variable "model" {
  description = "Catalog model ID the fit and the sizing are computed for, e.g. `Qwen/Qwen2.5-7B-Instruct`."
  type        = string
}

variable "model_source" {
  description = "What vLLM loads (a Hugging Face ID or an s3:// path); default `model`."
  type        = string
  default     = null
}

variable "quantization" {
  description = "Weight quantization the fit sizes (`fp8`, `awq`, `gptq`, `int8`, `int4`, ...); default the checkpoint's own."
  type        = string
  default     = null
}

variable "gpu_product" {
  description = "The GPU nodes' `nvidia.com/gpu.product` label value (NVIDIA GPU feature discovery), e.g. `NVIDIA-L4`. The pods select on it, and the fit reads the GPU from it unless `gpu` is set."
  type        = string
  default     = null
}

variable "gpu" {
  description = "GPU catalog name (see `rayvllm_gpus`), e.g. `L4`, for nodes chosen by `node_selector` instead of `gpu_product` (GKE's `cloud.google.com/gke-accelerator`)."
  type        = string
  default     = null
}

variable "node_selector" {
  description = "Extra node labels the GPU pods must match."
  type        = map(string)
  default     = {}
}

variable "tolerations" {
  description = "Tolerations of the GPU pods, e.g. `[{ key = \"nvidia.com/gpu\", operator = \"Exists\", effect = \"NoSchedule\" }]`."
  type = list(object({
    key      = optional(string)
    operator = optional(string)
    value    = optional(string)
    effect   = optional(string)
  }))
  default = []
}

variable "gpus_per_node" {
  description = "GPUs per worker pod, 1-16."
  type        = number
  default     = 1
  validation {
    condition     = var.gpus_per_node >= 1 && var.gpus_per_node <= 16 && floor(var.gpus_per_node) == var.gpus_per_node
    error_message = "gpus_per_node must be a whole number from 1 to 16."
  }
}

variable "tensor_parallel_size" {
  description = "GPUs per engine replica; at most `gpus_per_node`."
  type        = number
  default     = 1
}

variable "concurrency" {
  description = "Engine replicas of the batch job, each `tensor_parallel_size` GPUs."
  type        = number
  default     = 1
  validation {
    condition     = var.concurrency >= 1 && floor(var.concurrency) == var.concurrency
    error_message = "concurrency must be a whole number of at least 1."
  }
}

variable "max_model_len" {
  description = "vLLM's max_model_len; default the model's context length."
  type        = number
  default     = null
}

variable "worker_cpu" {
  description = "CPU cores of each GPU pod."
  type        = number
  default     = 8
}

variable "worker_memory_gib" {
  description = "Memory of each GPU pod in GiB."
  type        = number
  default     = 32
}

variable "head_cpu" {
  description = "CPU cores of the head pod (dashboard, GCS, the batch driver)."
  type        = number
  default     = 4
}

variable "head_memory_gib" {
  description = "Memory of the head pod in GiB."
  type        = number
  default     = 16
}

variable "num_requests" {
  description = "Prompts in the batch, for the sizing."
  type        = number
}

variable "mean_input_tokens" {
  description = "Mean prompt length in tokens, for the sizing."
  type        = number
}

variable "mean_output_tokens" {
  description = "Mean generated tokens per prompt, for the sizing."
  type        = number
}

variable "sla_hours" {
  description = "Deadline of the whole batch in hours: a plan whose predicted run is longer fails, naming the concurrency that would meet it. Null: no deadline."
  type        = number
  default     = null
}

variable "price_per_gpu_hour_usd" {
  description = "What one GPU of the node pool costs per hour in USD (your cloud's or contract's price), for `cost_usd`. Null: no cost."
  type        = number
  default     = null
}

variable "input_uri" {
  description = "The prompts: a file or directory (local, s3://, gs://), one row per prompt."
  type        = string
}

variable "input_format" {
  description = "jsonl, parquet, csv or openai_batch; needed when `input_uri` has no extension (a directory)."
  type        = string
  default     = null
}

variable "prompt_column" {
  description = "Column of the prompt text."
  type        = string
  default     = "prompt"
}

variable "id_column" {
  description = "Column of the row's unique ID (resume and exactly-once output key on it)."
  type        = string
  default     = "id"
}

variable "output_uri" {
  description = "Where the answers go (a directory)."
  type        = string
}

variable "max_output_tokens" {
  description = "vLLM's max_tokens per answer."
  type        = number
  default     = 256
}
