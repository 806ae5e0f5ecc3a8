# Fixture for the promtool unit tests (*_test.yml beside it), run by
# .ci/modules-check.sh: it renders the rules with the fixed inputs that the
# tests' synthetic series are built around. promtool starts its clock at Unix
# time 0, hence a job that started at 1970-01-01T00:00:00Z with a 1-hour SLA:
# 900 requests × 100 tokens = 90000 tokens by t = 3600 s.

terraform {
  required_version = ">= 1.8"
}

locals {
  inputs = {
    label_selector                   = "model_name=\"m\""
    low_throughput_tokens_per_second = 15
    num_requests                     = 900
    mean_output_tokens               = 100
    sla_hours                        = 1
    job_start_time                   = "1970-01-01T00:00:00Z"
  }
}

module "vllm" {
  source = "../.."

  name                             = "t"
  metric_source                    = "vllm"
  label_selector                   = local.inputs.label_selector
  low_throughput_tokens_per_second = local.inputs.low_throughput_tokens_per_second
  num_requests                     = local.inputs.num_requests
  mean_output_tokens               = local.inputs.mean_output_tokens
  sla_hours                        = local.inputs.sla_hours
  job_start_time                   = local.inputs.job_start_time
}

module "ray" {
  source = "../.."

  name                             = "t"
  metric_source                    = "ray"
  label_selector                   = local.inputs.label_selector
  low_throughput_tokens_per_second = local.inputs.low_throughput_tokens_per_second
  num_requests                     = local.inputs.num_requests
  mean_output_tokens               = local.inputs.mean_output_tokens
  sla_hours                        = local.inputs.sla_hours
  job_start_time                   = local.inputs.job_start_time
}

output "rules_vllm" {
  description = "Rules on vLLM's own metric names, for vllm_test.yml."
  value       = module.vllm.rules_yaml
}

output "rules_ray" {
  description = "Rules on Ray's export of the same metrics, for ray_test.yml."
  value       = module.ray.rules_yaml
}

output "dashboard_vllm" {
  description = "Dashboard on vLLM's own metric names, for the metric-name check."
  value       = module.vllm.dashboard_json
}

output "dashboard_ray" {
  description = "Dashboard on Ray's names, for the metric-name check."
  value       = module.ray.dashboard_json
}
