# Rules and a dashboard for the reference report's production deployment
# (Qwen2.5-0.5B, 24-hour window), with the report's alert thresholds set
# explicitly. No provider and no cloud account: the module only renders text.
#
#   terraform init && terraform apply
#   terraform output -raw rules_yaml > vllm-rules.yml && promtool check rules vllm-rules.yml
#   terraform output -raw dashboard_json > vllm-dashboard.json

terraform {
  required_version = ">= 1.8"
}

module "monitoring" {
  source = "../.."

  name           = "qwen05b-batch"
  metric_source  = "vllm"
  label_selector = "model_name=\"Qwen/Qwen2.5-0.5B-Instruct\""

  # The report's alert set: HighPrefillLatency (p99 > 100 ms) and
  # LowThroughput (< 150 requests/s).
  ttft_p99_threshold_seconds         = 0.1
  low_throughput_requests_per_second = 150

  # The batch: 10 M prompts of 128 generated tokens within 24 hours of the start.
  num_requests       = 10000000
  mean_output_tokens = 128
  sla_hours          = 24
  job_start_time     = "2025-11-25T00:00:00Z"

  alert_labels = { team = "ml-infra" }
}

output "rules_yaml" {
  description = "Prometheus rule file."
  value       = module.monitoring.rules_yaml
}

output "dashboard_json" {
  description = "Grafana dashboard."
  value       = module.monitoring.dashboard_json
}

output "alert_names" {
  description = "Alerts in the rule file."
  value       = module.monitoring.alert_names
}

output "sla" {
  description = "How the SLA alerts judge the batch."
  value       = module.monitoring.sla
}
