# Thresholds from the sizing prediction: the reference report's production
# configuration (Qwen2.5-0.5B on RTX 3090s, INT4 weights, 512-token prefill
# chunks, Ray Data batch 256, concurrency 4, 24-hour window) sized by
# rayvllm_batch_sizing at plan time, and the monitoring module fed with it.
# Low throughput = half the predicted tokens/s, inter-token latency = twice
# the predicted decode step, KV-cache usage = the sized share + 5 points.

terraform {
  required_version = ">= 1.8"
  required_providers {
    rayvllm = {
      source = "rayvllm/rayvllm"
    }
  }
}

variable "job_start_time" {
  description = "When the batch job started (RFC 3339); null before it runs."
  type        = string
  default     = null
}

data "rayvllm_batch_sizing" "prod" {
  model                  = "Qwen/Qwen2.5-0.5B-Instruct"
  gpu                    = "RTX-3090"
  quantization           = "int4"
  max_model_len          = 4096
  max_num_batched_tokens = 512
  batch_size             = 256
  concurrency            = 4
  num_requests           = 10000000
  mean_input_tokens      = 512
  mean_output_tokens     = 128
  sla_hours              = 24
}

module "monitoring" {
  source = "../.."

  name           = "qwen05b-batch"
  metric_source  = "ray"
  sizing         = data.rayvllm_batch_sizing.prod
  job_start_time = var.job_start_time
}

output "thresholds" {
  description = "Thresholds in effect, derived from the sizing."
  value       = module.monitoring.thresholds
}

output "rules_yaml" {
  description = "Prometheus rule file."
  value       = module.monitoring.rules_yaml
}

output "dashboard_json" {
  description = "Grafana dashboard."
  value       = module.monitoring.dashboard_json
}
