# terraform test for modules/monitoring. The module has no provider, so every
# run applies for real and offline. promtool's checks of the rendered rules
# (syntax and alert behaviour on synthetic series) are in tests/promtool/,
# run by .ci/modules-check.sh.

variables {
  name = "qwen"
}

run "thresholds_default_from_sizing" {
  command = apply

  variables {
    sizing = {
      output_tokens_per_second             = 2000
      requests_per_second                  = 15
      per_replica_output_tokens_per_second = 500
      max_num_seqs                         = 64
      target_kv_cache_utilization          = 0.8
      num_requests                         = 1000
      mean_output_tokens                   = 100
      sla_hours                            = 2
    }
  }

  assert {
    condition     = output.thresholds.low_throughput_tokens_per_second == 1000
    error_message = "Low throughput should default to 0.5 × the predicted 2000 tokens/s, got ${jsonencode(output.thresholds.low_throughput_tokens_per_second)}."
  }
  assert {
    condition     = output.thresholds.low_throughput_requests_per_second == 7.5
    error_message = "Low request throughput should default to 0.5 × the predicted 15 requests/s."
  }
  assert {
    condition     = output.thresholds.itl_p99_seconds == 0.256
    error_message = "ITL should default to 2 × 64 sequences ÷ 500 tokens/s = 0.256 s, got ${jsonencode(output.thresholds.itl_p99_seconds)}."
  }
  assert {
    condition     = output.thresholds.kv_cache_usage == 0.85
    error_message = "KV-cache threshold should default to the sized 0.8 + 0.05, got ${jsonencode(output.thresholds.kv_cache_usage)}."
  }
  assert {
    condition     = length(setsubtract(["VLLMHighPrefillLatency", "VLLMHighInterTokenLatency", "VLLMHighKVCacheUsage", "VLLMKVCachePreemptions", "VLLMLowThroughput", "VLLMLowRequestThroughput", "BatchSLAAtRisk", "VLLMMetricsAbsent"], output.alert_names)) == 0
    error_message = "Missing alerts: ${jsonencode(output.alert_names)}."
  }
  assert {
    condition     = !contains(output.alert_names, "BatchSLAViolated")
    error_message = "Without job_start_time there is no deadline, so no BatchSLAViolated."
  }
  assert {
    condition     = one([for r in yamldecode(output.rules_yaml).groups[0].rules : r.expr if try(r.alert, "") == "VLLMLowThroughput"]) == "rayvllm:generation_tokens:rate{deployment=\"qwen\"} < 1000 and on(deployment) (rayvllm:num_requests_running:sum{deployment=\"qwen\"} + rayvllm:num_requests_waiting:sum{deployment=\"qwen\"}) > 0"
    error_message = "VLLMLowThroughput must compare the recorded generation rate with the derived 1000 tokens/s while requests are pending."
  }
  assert {
    # 1000 requests × 100 tokens over 2 h = 13.8889 tokens/s on average.
    condition     = one([for r in yamldecode(output.rules_yaml).groups[0].rules : r.expr if try(r.record, "") == "rayvllm:batch_required_tokens_per_second"]) == "vector(13.8889)"
    error_message = "Without a start time the required rate is the window's average pace, 100000 tokens / 7200 s."
  }
  assert {
    condition     = output.sla.total_output_tokens == 100000 && output.sla.deadline_unix_seconds == null
    error_message = "SLA summary wrong: ${jsonencode(output.sla)}."
  }
}

run "explicit_thresholds_override_sizing" {
  command = apply

  variables {
    sizing = {
      output_tokens_per_second             = 2000
      per_replica_output_tokens_per_second = 500
      max_num_seqs                         = 64
    }
    low_throughput_tokens_per_second = 123
    itl_p99_threshold_seconds        = 0.5
    kv_cache_usage_threshold         = 0.7
    ttft_p99_threshold_seconds       = 3
  }

  assert {
    condition     = output.thresholds.low_throughput_tokens_per_second == 123 && output.thresholds.itl_p99_seconds == 0.5 && output.thresholds.kv_cache_usage == 0.7 && output.thresholds.ttft_p99_seconds == 3
    error_message = "Explicit thresholds must win over derived ones: ${jsonencode(output.thresholds)}."
  }
  assert {
    condition     = strcontains(yamldecode(output.rules_yaml).groups[0].rules[index([for r in yamldecode(output.rules_yaml).groups[0].rules : try(r.alert, "")], "VLLMHighKVCacheUsage")].expr, "> 0.7")
    error_message = "VLLMHighKVCacheUsage must use the 0.7 override."
  }
  assert {
    condition     = !contains(output.alert_names, "VLLMLowRequestThroughput") && !contains(output.alert_names, "BatchSLAAtRisk")
    error_message = "Without a predicted request rate or SLA inputs those alerts must be left out: ${jsonencode(output.alert_names)}."
  }
}

run "nothing_to_derive_from" {
  command = apply

  assert {
    condition     = output.alert_names == ["VLLMHighPrefillLatency", "VLLMHighKVCacheUsage", "VLLMKVCachePreemptions", "VLLMMetricsAbsent"]
    error_message = "Only alerts with a known threshold may be rendered, got ${jsonencode(output.alert_names)}."
  }
  assert {
    condition     = output.thresholds.kv_cache_usage == 0.95 && output.thresholds.low_throughput_tokens_per_second == null
    error_message = "KV-cache default without sizing is 0.9 + 0.05; throughput has nothing to derive from."
  }
  assert {
    condition     = length([for n in output.recording_rule_names : n if startswith(n, "rayvllm:batch_")]) == 0 && !output.sla.enabled
    error_message = "No SLA series without num_requests, mean_output_tokens and sla_hours."
  }
  assert {
    condition     = length(jsondecode(output.dashboard_json).panels) == 10
    error_message = "Without SLA inputs the dashboard has the 10 engine panels."
  }
}

run "deadline_from_start_time" {
  command = apply

  variables {
    num_requests       = 10
    mean_output_tokens = 10
    sla_hours          = 24
    job_start_time     = "2025-11-25T10:00:00+02:00"
  }

  assert {
    condition     = output.sla.job_start_unix_seconds == 1764057600 && output.sla.deadline_unix_seconds == 1764057600 + 86400
    error_message = "2025-11-25T10:00:00+02:00 is 1764057600 Unix seconds; got ${jsonencode(output.sla)}."
  }
  assert {
    condition     = contains(output.alert_names, "BatchSLAViolated") && contains(output.recording_rule_names, "rayvllm:batch_seconds_to_deadline")
    error_message = "A start time gives a deadline, hence BatchSLAViolated and the time-to-deadline series."
  }
  assert {
    condition     = length(jsondecode(output.dashboard_json).panels) == 13
    error_message = "With SLA inputs the dashboard adds 3 batch panels."
  }
}

run "unix_time_leap_day" {
  command = apply

  variables {
    job_start_time = "2024-02-29T12:00:00Z"
  }

  assert {
    condition     = output.sla.job_start_unix_seconds == 1709208000
    error_message = "2024-02-29T12:00:00Z is 1709208000, got ${jsonencode(output.sla.job_start_unix_seconds)}."
  }
}

run "unix_time_negative_offset_year_end" {
  command = apply

  variables {
    job_start_time = "1999-12-31T23:59:59-05:00"
  }

  assert {
    condition     = output.sla.job_start_unix_seconds == 946702799
    error_message = "1999-12-31T23:59:59-05:00 is 946702799, got ${jsonencode(output.sla.job_start_unix_seconds)}."
  }
}

run "ray_metric_names_and_selector" {
  command = apply

  variables {
    metric_source  = "ray"
    label_selector = "job=\"ray\", model_name=~\"Qwen.*\""
  }

  assert {
    condition = alltrue([
      for e in concat(
        [for r in yamldecode(output.rules_yaml).groups[0].rules : r.expr],
        flatten([for p in jsondecode(output.dashboard_json).panels : [for t in p.targets : t.expr]]),
      ) : length(regexall("(^|[^a-z_])vllm:", e)) == 0
    ])
    error_message = "In Ray mode no query may read vLLM's own vllm: names."
  }
  assert {
    condition = alltrue([
      for e in [for r in yamldecode(output.rules_yaml).groups[0].rules : r.expr if strcontains(r.expr, "ray_vllm_")] :
      length(regexall("ray_vllm_[a-z0-9_]+\\{job=\"ray\", model_name=~\"Qwen\\.\\*\"\\}", e)) == length(regexall("ray_vllm_", e))
    ])
    error_message = "Every ray_vllm_ series must carry the label selector."
  }
  assert {
    condition     = length([for r in yamldecode(output.rules_yaml).groups[0].rules : r if strcontains(r.expr, "ray_vllm_")]) >= 12
    error_message = "The recording rules must read Ray's names."
  }
}

run "fixed_grafana_datasource" {
  command = apply

  variables {
    grafana_datasource_uid = "prom-main"
    dashboard_title        = "Batch fleet"
  }

  assert {
    condition     = jsondecode(output.dashboard_json).title == "Batch fleet" && length(jsondecode(output.dashboard_json).templating.list) == 0
    error_message = "A fixed data source needs no template variable."
  }
  assert {
    condition     = alltrue(flatten([for p in jsondecode(output.dashboard_json).panels : concat([p.datasource.uid == "prom-main"], [for t in p.targets : t.datasource.uid == "prom-main" && length(t.expr) > 0])]))
    error_message = "Every panel and query must use the fixed data source."
  }
}

run "alert_labels_and_severities" {
  command = apply

  variables {
    alert_labels = { team = "ml-infra" }
  }

  assert {
    condition     = alltrue([for r in yamldecode(output.rules_yaml).groups[0].rules : r.labels.team == "ml-infra" && contains(["warning", "critical"], r.labels.severity) && r.labels.deployment == "qwen" if can(r.alert)])
    error_message = "Every alert needs the extra labels, a severity and the deployment label."
  }
}

run "rejects_unknown_metric_source" {
  command = plan
  variables {
    metric_source = "prometheus"
  }
  expect_failures = [var.metric_source]
}

run "rejects_fraction_above_one" {
  command = plan
  variables {
    low_throughput_fraction = 1.5
  }
  expect_failures = [var.low_throughput_fraction]
}

run "rejects_non_rfc3339_start" {
  command = plan
  variables {
    job_start_time = "25/11/2025 08:00"
  }
  expect_failures = [var.job_start_time]
}

run "rejects_selector_with_braces" {
  command = plan
  variables {
    label_selector = "{job=\"vllm\"}"
  }
  expect_failures = [var.label_selector]
}

run "rejects_bad_rate_window" {
  command = plan
  variables {
    rate_window = "5 minutes"
  }
  expect_failures = [var.rate_window]
}

run "rejects_zero_predicted_rate" {
  command = plan
  variables {
    sizing = { output_tokens_per_second = 0 }
  }
  expect_failures = [var.sizing]
}

run "rejects_reserved_alert_label" {
  command = plan
  variables {
    alert_labels = { severity = "page" }
  }
  expect_failures = [var.alert_labels]
}
