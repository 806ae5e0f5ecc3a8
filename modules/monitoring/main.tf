locals {
  # ---------------------------------------------------------------------------
  # vLLM series as Prometheus scrapes them (names in vllm_metrics.txt).
  # prometheus_client and Ray both add _total to counters and _bucket to
  # histograms; Ray also turns ':' into '_' and adds its "ray_" namespace.
  # ---------------------------------------------------------------------------
  p   = var.metric_source == "vllm" ? "vllm:" : "ray_vllm_"
  sel = var.label_selector == "" ? "" : "{${trimspace(var.label_selector)}}"
  w   = var.rate_window
  s = {
    running        = "${local.p}num_requests_running${local.sel}"
    waiting        = "${local.p}num_requests_waiting${local.sel}"
    kv_cache       = "${local.p}kv_cache_usage_perc${local.sel}"
    generation     = "${local.p}generation_tokens_total${local.sel}"
    prompt         = "${local.p}prompt_tokens_total${local.sel}"
    success        = "${local.p}request_success_total${local.sel}"
    preemptions    = "${local.p}num_preemptions_total${local.sel}"
    ttft_bucket    = "${local.p}time_to_first_token_seconds_bucket${local.sel}"
    itl_bucket     = "${local.p}inter_token_latency_seconds_bucket${local.sel}"
    e2e_bucket     = "${local.p}e2e_request_latency_seconds_bucket${local.sel}"
    queue_bucket   = "${local.p}request_queue_time_seconds_bucket${local.sel}"
    prefill_bucket = "${local.p}request_prefill_time_seconds_bucket${local.sel}"
  }
  q = {
    for k, b in { ttft = "ttft_bucket", itl = "itl_bucket", e2e = "e2e_bucket", queue = "queue_bucket", prefill = "prefill_bucket" } :
    k => { for pct, v in { p50 = "0.5", p99 = "0.99" } : pct => "histogram_quantile(${v}, sum by (le) (rate(${local.s[b]}[${local.w}])))" }
  }
  rate = { for k in ["generation", "prompt", "success", "preemptions"] : k => "sum(rate(${local.s[k]}[${local.w}]))" }

  # Recorded series carry the deployment label; alerts select on it.
  dep = "{deployment=\"${var.name}\"}"

  # ---------------------------------------------------------------------------
  # Thresholds: explicit value, else derived from rayvllm_batch_sizing.
  # ---------------------------------------------------------------------------
  predicted_tps = try(var.sizing.output_tokens_per_second, null)
  predicted_rps = try(var.sizing.requests_per_second, null)
  # One decode step emits one token per running sequence, so a replica that
  # runs max_num_seqs sequences at R tokens/s takes max_num_seqs / R seconds
  # per step: the predicted inter-token latency.
  predicted_itl = try(var.sizing.max_num_seqs / var.sizing.per_replica_output_tokens_per_second, null)

  thresholds = {
    ttft_p99_seconds                   = var.ttft_p99_threshold_seconds
    itl_p99_seconds                    = var.itl_p99_threshold_seconds != null ? var.itl_p99_threshold_seconds : (local.predicted_itl == null ? null : tonumber(format("%.6g", var.itl_threshold_factor * local.predicted_itl)))
    kv_cache_usage                     = var.kv_cache_usage_threshold != null ? var.kv_cache_usage_threshold : min(0.99, coalesce(try(var.sizing.target_kv_cache_utilization, null), 0.9) + 0.05)
    preemptions_per_second             = var.preemptions_per_second_threshold
    low_throughput_tokens_per_second   = var.low_throughput_tokens_per_second != null ? var.low_throughput_tokens_per_second : (local.predicted_tps == null ? null : tonumber(format("%.6g", var.low_throughput_fraction * local.predicted_tps)))
    low_throughput_requests_per_second = var.low_throughput_requests_per_second != null ? var.low_throughput_requests_per_second : (local.predicted_rps == null ? null : tonumber(format("%.6g", var.low_throughput_fraction * local.predicted_rps)))
    sla_risk_margin                    = var.sla_risk_margin
  }

  # ---------------------------------------------------------------------------
  # SLA: progress = generated tokens; work = num_requests × mean_output_tokens.
  # ---------------------------------------------------------------------------
  num_requests       = var.num_requests != null ? var.num_requests : try(var.sizing.num_requests, null)
  mean_output_tokens = var.mean_output_tokens != null ? var.mean_output_tokens : try(var.sizing.mean_output_tokens, null)
  sla_hours          = var.sla_hours != null ? var.sla_hours : try(var.sizing.sla_hours, null)
  sla_enabled        = local.num_requests != null && local.mean_output_tokens != null && local.sla_hours != null
  total_tokens       = local.sla_enabled ? ceil(local.num_requests * local.mean_output_tokens) : null
  average_required   = local.sla_enabled ? tonumber(format("%.6g", local.total_tokens / (local.sla_hours * 3600))) : null

  # RFC 3339 → Unix seconds (days-from-civil, proleptic Gregorian calendar;
  # Terraform has no such function). formatdate keeps the timestamp's offset.
  t = var.job_start_time
  start = local.t == null ? null : {
    y   = tonumber(formatdate("YYYY", local.t))
    mo  = tonumber(formatdate("M", local.t))
    d   = tonumber(formatdate("D", local.t))
    sec = tonumber(formatdate("h", local.t)) * 3600 + tonumber(formatdate("m", local.t)) * 60 + tonumber(formatdate("s", local.t))
    off = formatdate("ZZZZ", local.t)
  }
  civil_y   = local.start == null ? null : (local.start.mo <= 2 ? local.start.y - 1 : local.start.y)
  civil_era = local.start == null ? null : floor(local.civil_y / 400)
  civil_yoe = local.start == null ? null : local.civil_y - local.civil_era * 400
  civil_doy = local.start == null ? null : floor((153 * (local.start.mo > 2 ? local.start.mo - 3 : local.start.mo + 9) + 2) / 5) + local.start.d - 1
  civil_doe = local.start == null ? null : local.civil_yoe * 365 + floor(local.civil_yoe / 4) - floor(local.civil_yoe / 100) + local.civil_doy
  offset_s  = local.start == null ? null : (substr(local.start.off, 0, 1) == "-" ? -1 : 1) * (tonumber(substr(local.start.off, 1, 2)) * 3600 + tonumber(substr(local.start.off, 3, 2)) * 60)
  start_unix = local.start == null ? null : (
    (local.civil_era * 146097 + local.civil_doe - 719468) * 86400 + local.start.sec - local.offset_s
  )
  deadline_unix = local.sla_enabled && local.start_unix != null ? local.start_unix + floor(local.sla_hours * 3600) : null

  # ---------------------------------------------------------------------------
  # Recording rules (evaluated in order, so later ones read earlier ones).
  # ---------------------------------------------------------------------------
  records = concat(
    [
      { record = "rayvllm:num_requests_running:sum", expr = "sum(${local.s.running})" },
      { record = "rayvllm:num_requests_waiting:sum", expr = "sum(${local.s.waiting})" },
      { record = "rayvllm:kv_cache_usage:max", expr = "max(${local.s.kv_cache})" },
      { record = "rayvllm:generation_tokens:rate", expr = local.rate.generation },
      { record = "rayvllm:prompt_tokens:rate", expr = local.rate.prompt },
      { record = "rayvllm:request_success:rate", expr = local.rate.success },
      { record = "rayvllm:preemptions:rate", expr = local.rate.preemptions },
      { record = "rayvllm:time_to_first_token_seconds:p50", expr = local.q.ttft.p50 },
      { record = "rayvllm:time_to_first_token_seconds:p99", expr = local.q.ttft.p99 },
      { record = "rayvllm:inter_token_latency_seconds:p50", expr = local.q.itl.p50 },
      { record = "rayvllm:inter_token_latency_seconds:p99", expr = local.q.itl.p99 },
      { record = "rayvllm:e2e_request_latency_seconds:p99", expr = local.q.e2e.p99 },
    ],
    local.sla_enabled ? [
      { record = "rayvllm:batch_generated_tokens:sum", expr = "sum(${local.s.generation})" },
      { record = "rayvllm:batch_remaining_tokens", expr = "clamp_min(${local.total_tokens} - rayvllm:batch_generated_tokens:sum${local.dep}, 0)" },
      {
        record = "rayvllm:batch_required_tokens_per_second"
        # With a deadline: what is left over the time that is left. Without:
        # the average pace the whole window needs.
        expr = local.deadline_unix != null ? "rayvllm:batch_remaining_tokens${local.dep} / scalar(clamp_min(vector(${local.deadline_unix} - time()), 1))" : "vector(${local.average_required})"
      },
      { record = "rayvllm:batch_projected_seconds_to_complete", expr = "rayvllm:batch_remaining_tokens${local.dep} / rayvllm:generation_tokens:rate${local.dep}" },
    ] : [],
    local.deadline_unix != null ? [
      { record = "rayvllm:batch_seconds_to_deadline", expr = "vector(${local.deadline_unix} - time())" },
    ] : [],
  )

  # ---------------------------------------------------------------------------
  # Alerts: the reference report's set (HighPrefillLatency, HighMemoryUsage,
  # LowThroughput, SLAViolation) on vLLM's own metrics, plus preemptions,
  # inter-token latency and missing metrics.
  # ---------------------------------------------------------------------------
  busy = "(rayvllm:num_requests_running:sum${local.dep} + rayvllm:num_requests_waiting:sum${local.dep}) > 0"
  alerts = [for a in [
    {
      enabled  = local.thresholds.ttft_p99_seconds != null
      alert    = "VLLMHighPrefillLatency"
      severity = "warning"
      expr     = "rayvllm:time_to_first_token_seconds:p99${local.dep} > ${coalesce(local.thresholds.ttft_p99_seconds, 0)}"
      summary  = "p99 time to first token of ${var.name} is above ${coalesce(local.thresholds.ttft_p99_seconds, 0)} s"
      action   = "Check the engine queue (${local.p}num_requests_waiting) and the prefill chunk (max_num_batched_tokens); TTFT includes queueing."
    },
    {
      enabled  = local.thresholds.itl_p99_seconds != null
      alert    = "VLLMHighInterTokenLatency"
      severity = "warning"
      expr     = "rayvllm:inter_token_latency_seconds:p99${local.dep} > ${coalesce(local.thresholds.itl_p99_seconds, 0)}"
      summary  = "p99 inter-token latency of ${var.name} is above ${coalesce(local.thresholds.itl_p99_seconds, 0)} s"
      action   = "Decode steps are slower than sized: check for large prefill chunks interleaved with decode, or more running sequences than max_num_seqs planned."
    },
    {
      enabled  = true
      alert    = "VLLMHighKVCacheUsage"
      severity = "warning"
      expr     = "rayvllm:kv_cache_usage:max${local.dep} > ${local.thresholds.kv_cache_usage}"
      summary  = "KV-cache usage of ${var.name} is above ${local.thresholds.kv_cache_usage * 100}%"
      action   = "Sequences are longer or more numerous than sized; vLLM preempts when the cache is full. Reduce max_num_seqs or batch_size, or use a larger GPU or fp8 KV cache."
    },
    {
      enabled  = true
      alert    = "VLLMKVCachePreemptions"
      severity = "critical"
      expr     = "rayvllm:preemptions:rate${local.dep} > ${local.thresholds.preemptions_per_second}"
      summary  = "vLLM engines of ${var.name} preempt requests (KV cache exhausted)"
      action   = "Preempted requests are recomputed, wasting GPU time. Reduce max_num_seqs or batch_size."
    },
    {
      enabled  = local.thresholds.low_throughput_tokens_per_second != null
      alert    = "VLLMLowThroughput"
      severity = "warning"
      expr     = "rayvllm:generation_tokens:rate${local.dep} < ${coalesce(local.thresholds.low_throughput_tokens_per_second, 0)} and on(deployment) ${local.busy}"
      summary  = "Generation throughput of ${var.name} is below ${coalesce(local.thresholds.low_throughput_tokens_per_second, 0)} tokens/s while requests are pending"
      action   = "Compare with the rayvllm_batch_sizing prediction; check preemptions, KV-cache usage and whether all engine replicas are up."
    },
    {
      enabled  = local.thresholds.low_throughput_requests_per_second != null
      alert    = "VLLMLowRequestThroughput"
      severity = "warning"
      expr     = "rayvllm:request_success:rate${local.dep} < ${coalesce(local.thresholds.low_throughput_requests_per_second, 0)} and on(deployment) ${local.busy}"
      summary  = "Finished requests of ${var.name} are below ${coalesce(local.thresholds.low_throughput_requests_per_second, 0)}/s while requests are pending"
      action   = "Compare with the rayvllm_batch_sizing prediction; check preemptions, KV-cache usage and whether all engine replicas are up."
    },
    {
      enabled  = local.sla_enabled
      alert    = "BatchSLAAtRisk"
      severity = "warning"
      expr = join(" and on(deployment) ", concat(
        ["rayvllm:generation_tokens:rate${local.dep} < rayvllm:batch_required_tokens_per_second${local.dep} * ${1 + var.sla_risk_margin}"],
        ["rayvllm:batch_remaining_tokens${local.dep} > 0"],
        local.deadline_unix != null ? ["rayvllm:batch_seconds_to_deadline${local.dep} > 0"] : [local.busy],
      ))
      summary = "Batch ${var.name} generates tokens slower than its ${coalesce(local.sla_hours, 0)} h SLA needs"
      action  = "Add engine replicas (concurrency) or GPUs, or fix what slows the engines; see rayvllm:batch_projected_seconds_to_complete."
    },
    {
      enabled  = local.deadline_unix != null
      alert    = "BatchSLAViolated"
      severity = "critical"
      expr     = "rayvllm:batch_seconds_to_deadline${local.dep} <= 0 and on(deployment) rayvllm:batch_remaining_tokens${local.dep} > 0"
      summary  = "Batch ${var.name} missed its deadline with tokens left to generate"
      action   = "Escalate: the SLA window has ended before the batch finished."
      for      = "0s"
    },
    {
      enabled  = var.metrics_absent_alert
      alert    = "VLLMMetricsAbsent"
      severity = "warning"
      expr     = "absent(${local.s.running})"
      summary  = "No vLLM engine of ${var.name} reports metrics"
      action   = "Check the scrape target (vLLM /metrics or Ray's metrics export) and that the engines are running; set metrics_absent_alert = false for a batch that is done."
    },
  ] : a if a.enabled]

  rules = {
    groups = [{
      name = "rayvllm-${var.name}"
      rules = concat(
        [for r in local.records : { record = r.record, expr = r.expr, labels = { deployment = var.name } }],
        [for a in local.alerts : {
          alert  = a.alert
          expr   = a.expr
          for    = try(a.for, var.alert_for)
          labels = merge(var.alert_labels, { severity = a.severity, deployment = var.name })
          annotations = {
            summary     = a.summary
            description = "${a.summary}. Value: {{ $value | humanize }}. ${a.action}"
          }
        }],
      )
    }]
  }
}
