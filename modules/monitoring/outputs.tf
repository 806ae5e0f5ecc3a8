output "rules_yaml" {
  description = "Prometheus rule file (recording and alerting rules, one group) as YAML text: write it to a file that Prometheus' `rule_files` loads, or into a PrometheusRule's `spec`."
  value       = yamlencode(local.rules)
}

output "dashboard_json" {
  description = "Grafana dashboard as JSON text, for the dashboard import API, a provisioning file or `grafana_dashboard.config_json`."
  value       = jsonencode(local.dashboard)
}

output "alert_names" {
  description = "Names of the alerts in `rules_yaml`; an alert whose threshold is unknown is left out."
  value       = [for a in local.alerts : a.alert]
}

output "recording_rule_names" {
  description = "Names of the series that `rules_yaml` records, each labelled `deployment = name`."
  value       = [for r in local.records : r.record]
}

output "thresholds" {
  description = "The thresholds in effect, after defaults from `sizing`; null where an alert is left out."
  value       = local.thresholds
}

output "sla" {
  description = "How the SLA alerts judge the batch: planned output tokens, the deadline in Unix seconds (null without `job_start_time`) and the average generation rate the window needs. Without `num_requests`, `mean_output_tokens` and `sla_hours` (or `sizing`), `enabled` is false and the SLA numbers are null."
  value = {
    enabled                            = local.sla_enabled
    total_output_tokens                = local.total_tokens
    job_start_unix_seconds             = local.start_unix
    deadline_unix_seconds              = local.deadline_unix
    average_required_tokens_per_second = local.average_required
  }
}
