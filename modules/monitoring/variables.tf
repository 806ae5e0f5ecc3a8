variable "name" {
  description = "Name of the deployment. It becomes the `deployment` label of every recorded series and alert, and names the rule group and the dashboard."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$", var.name))
    error_message = "name must be 1 to 63 characters of letters, digits, '_', '.' or '-', starting with a letter or digit."
  }
}

variable "metric_source" {
  description = "How the vLLM metrics reach Prometheus: `vllm` for the engine's own `/metrics` endpoint (`vllm:kv_cache_usage_perc`), `ray` for Ray's metrics export of an engine running under Ray Serve or Ray Data with vLLM's Ray stat logger (`ray_vllm_kv_cache_usage_perc`)."
  type        = string
  default     = "vllm"

  validation {
    condition     = contains(["vllm", "ray"], var.metric_source)
    error_message = "metric_source must be \"vllm\" or \"ray\"."
  }
}

variable "label_selector" {
  description = "Extra PromQL label matchers applied to every vLLM series, without braces, e.g. `model_name=\"Qwen/Qwen2.5-0.5B-Instruct\", job=\"vllm\"`. Empty selects every vLLM engine the Prometheus scrapes."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^\\s*([a-zA-Z_][a-zA-Z0-9_]*\\s*(=|!=|=~|!~)\\s*\"([^\"\\\\]|\\\\.)*\"\\s*(,\\s*|$))*$", var.label_selector))
    error_message = "label_selector must be comma-separated PromQL matchers like job=\"vllm\" or model_name=~\"Qwen.*\", without braces."
  }
}

variable "rate_window" {
  description = "Range of the rate() and histogram windows in the rules and the dashboard, a Prometheus duration such as `5m`. Use at least four scrape intervals."
  type        = string
  default     = "5m"

  validation {
    condition     = can(regex("^[1-9][0-9]*(s|m|h)$", var.rate_window))
    error_message = "rate_window must be a Prometheus duration in whole seconds, minutes or hours, e.g. 30s, 5m or 1h."
  }
}

variable "alert_for" {
  description = "How long a condition must hold before an alert fires (the rules' `for`), a Prometheus duration such as `5m`."
  type        = string
  default     = "5m"

  validation {
    condition     = can(regex("^[0-9]+(s|m|h)$", var.alert_for))
    error_message = "alert_for must be a Prometheus duration in whole seconds, minutes or hours, e.g. 0s, 5m or 1h."
  }
}

variable "sizing" {
  description = "Predictions of `rayvllm_batch_sizing` that the thresholds default from. Pass the data source itself (`sizing = data.rayvllm_batch_sizing.run`; extra attributes are dropped) or an object with the same attribute names. Null: only thresholds set explicitly are used."
  type = object({
    output_tokens_per_second             = number
    requests_per_second                  = optional(number)
    per_replica_output_tokens_per_second = optional(number)
    max_num_seqs                         = optional(number)
    target_kv_cache_utilization          = optional(number)
    num_requests                         = optional(number)
    mean_output_tokens                   = optional(number)
    sla_hours                            = optional(number)
  })
  default = null

  validation {
    condition = var.sizing == null ? true : alltrue([
      var.sizing.output_tokens_per_second > 0,
      try(var.sizing.requests_per_second, null) == null ? true : var.sizing.requests_per_second > 0,
      try(var.sizing.per_replica_output_tokens_per_second, null) == null ? true : var.sizing.per_replica_output_tokens_per_second > 0,
      try(var.sizing.max_num_seqs, null) == null ? true : var.sizing.max_num_seqs >= 1,
      try(var.sizing.target_kv_cache_utilization, null) == null ? true : (var.sizing.target_kv_cache_utilization > 0 && var.sizing.target_kv_cache_utilization <= 1),
    ])
    error_message = "sizing: output_tokens_per_second, requests_per_second and per_replica_output_tokens_per_second must be > 0, max_num_seqs >= 1, target_kv_cache_utilization in (0, 1]."
  }
}

variable "num_requests" {
  description = "Prompts in the batch job, for the SLA alerts. Default: `sizing.num_requests`. Null in both: no SLA alerts."
  type        = number
  default     = null

  validation {
    condition     = var.num_requests == null ? true : var.num_requests >= 1 && floor(var.num_requests) == var.num_requests
    error_message = "num_requests must be a whole number >= 1."
  }
}

variable "mean_output_tokens" {
  description = "Mean generated tokens per prompt, for the SLA alerts. Default: `sizing.mean_output_tokens`."
  type        = number
  default     = null

  validation {
    condition     = var.mean_output_tokens == null ? true : var.mean_output_tokens > 0
    error_message = "mean_output_tokens must be > 0."
  }
}

variable "sla_hours" {
  description = "Deadline of the whole batch in hours after `job_start_time`. Default: `sizing.sla_hours`."
  type        = number
  default     = null

  validation {
    condition     = var.sla_hours == null ? true : var.sla_hours > 0
    error_message = "sla_hours must be > 0."
  }
}

variable "job_start_time" {
  description = "When the batch job started, RFC 3339 (e.g. `2025-11-25T08:00:00Z`). With it the SLA rules compare the generation rate with the rate still needed to finish by start + `sla_hours`, and alert once the deadline has passed with work left; without it they compare with the average pace the whole window needs."
  type        = string
  default     = null

  validation {
    condition     = var.job_start_time == null ? true : can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$", var.job_start_time)) && can(formatdate("YYYY", var.job_start_time))
    error_message = "job_start_time must be an RFC 3339 timestamp such as 2025-11-25T08:00:00Z or 2025-11-25T10:00:00+02:00."
  }
}

variable "sla_risk_margin" {
  description = "Safety margin of the SLA-risk alert: it fires when the generation rate is below the required rate × (1 + margin)."
  type        = number
  default     = 0.1

  validation {
    condition     = var.sla_risk_margin >= 0 && var.sla_risk_margin <= 10
    error_message = "sla_risk_margin must be between 0 and 10."
  }
}

variable "low_throughput_fraction" {
  description = "Low-throughput alerts fire below this share of the predicted rate (`sizing.output_tokens_per_second`, `sizing.requests_per_second`) while requests are running or waiting."
  type        = number
  default     = 0.5

  validation {
    condition     = var.low_throughput_fraction > 0 && var.low_throughput_fraction <= 1
    error_message = "low_throughput_fraction must be in (0, 1]."
  }
}

variable "low_throughput_tokens_per_second" {
  description = "Generated tokens per second (all engines matched) below which the LowThroughput alert fires. Default: `low_throughput_fraction` × `sizing.output_tokens_per_second`; null in both: no alert."
  type        = number
  default     = null

  validation {
    condition     = var.low_throughput_tokens_per_second == null ? true : var.low_throughput_tokens_per_second > 0
    error_message = "low_throughput_tokens_per_second must be > 0."
  }
}

variable "low_throughput_requests_per_second" {
  description = "Finished requests per second below which the LowRequestThroughput alert fires. Default: `low_throughput_fraction` × `sizing.requests_per_second`; null in both: no alert."
  type        = number
  default     = null

  validation {
    condition     = var.low_throughput_requests_per_second == null ? true : var.low_throughput_requests_per_second > 0
    error_message = "low_throughput_requests_per_second must be > 0."
  }
}

variable "ttft_p99_threshold_seconds" {
  description = "p99 time to first token above which HighPrefillLatency fires. The default is the reference report's 100 ms prefill target; vLLM's TTFT includes the time a request waits in the engine queue, so an offline batch that queues its whole input needs a larger value. Null: no alert."
  type        = number
  default     = 0.1

  validation {
    condition     = var.ttft_p99_threshold_seconds == null ? true : var.ttft_p99_threshold_seconds > 0
    error_message = "ttft_p99_threshold_seconds must be > 0."
  }
}

variable "itl_p99_threshold_seconds" {
  description = "p99 inter-token latency above which HighInterTokenLatency fires. Default: `itl_threshold_factor` × the predicted decode step time, `sizing.max_num_seqs` ÷ `sizing.per_replica_output_tokens_per_second` (one token per running sequence per step); null when that is unknown: no alert."
  type        = number
  default     = null

  validation {
    condition     = var.itl_p99_threshold_seconds == null ? true : var.itl_p99_threshold_seconds > 0
    error_message = "itl_p99_threshold_seconds must be > 0."
  }
}

variable "itl_threshold_factor" {
  description = "Multiple of the predicted decode step time that the default `itl_p99_threshold_seconds` allows."
  type        = number
  default     = 2

  validation {
    condition     = var.itl_threshold_factor >= 1
    error_message = "itl_threshold_factor must be >= 1."
  }
}

variable "kv_cache_usage_threshold" {
  description = "KV-cache usage (0 to 1, `vllm:kv_cache_usage_perc`) above which HighKVCacheUsage fires. Default: the share `max_num_seqs` was sized to fill (`sizing.target_kv_cache_utilization`, else the data source's default 0.9) + 0.05, at most 0.99."
  type        = number
  default     = null

  validation {
    condition     = var.kv_cache_usage_threshold == null ? true : var.kv_cache_usage_threshold > 0 && var.kv_cache_usage_threshold <= 1
    error_message = "kv_cache_usage_threshold must be in (0, 1]."
  }
}

variable "preemptions_per_second_threshold" {
  description = "Preemptions per second above which KVCachePreemptions fires. vLLM preempts (and later recomputes) a request when the KV cache runs out, so the default 0 alerts on any preemption."
  type        = number
  default     = 0

  validation {
    condition     = var.preemptions_per_second_threshold >= 0
    error_message = "preemptions_per_second_threshold must be >= 0."
  }
}

variable "alert_labels" {
  description = "Extra labels on every alert, e.g. `{ team = \"ml-infra\" }` for Alertmanager routing."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.alert_labels) : can(regex("^[a-zA-Z_][a-zA-Z0-9_]*$", k)) && !contains(["alertname", "severity", "deployment"], k)])
    error_message = "alert_labels keys must be Prometheus label names ([a-zA-Z_][a-zA-Z0-9_]*) other than alertname, severity and deployment."
  }
}

variable "grafana_datasource_uid" {
  description = "UID of the Grafana Prometheus data source the dashboard queries. Null: the dashboard gets a `datasource` template variable to pick one."
  type        = string
  default     = null

  validation {
    condition     = var.grafana_datasource_uid == null ? true : length(var.grafana_datasource_uid) > 0
    error_message = "grafana_datasource_uid must not be empty; use null for a template variable."
  }
}

variable "dashboard_title" {
  description = "Title of the Grafana dashboard. Default: `vLLM: <name>`."
  type        = string
  default     = null

  validation {
    condition     = var.dashboard_title == null ? true : length(trimspace(var.dashboard_title)) > 0
    error_message = "dashboard_title must not be blank."
  }
}

variable "metrics_absent_alert" {
  description = "Add VLLMMetricsAbsent, which fires when no vLLM engine matching `label_selector` reports `num_requests_running`. Turn it off once a batch is done and its engines are gone."
  type        = bool
  default     = true
}
