# The Grafana dashboard. vLLM panels query the raw series, so they work
# without the rules; the batch panels read the recorded SLA series.
locals {
  ds = { type = "prometheus", uid = var.grafana_datasource_uid != null ? var.grafana_datasource_uid : "$${datasource}" }

  panel_specs = concat(
    [
      {
        title = "Requests running and waiting", unit = "short", threshold = null
        targets = [
          { expr = "sum(${local.s.running})", legend = "running" },
          { expr = "sum(${local.s.waiting})", legend = "waiting" },
        ]
      },
      {
        title = "KV-cache usage", unit = "percentunit", threshold = local.thresholds.kv_cache_usage
        targets = [
          { expr = "max(${local.s.kv_cache})", legend = "max over engines" },
          { expr = "avg(${local.s.kv_cache})", legend = "mean over engines" },
        ]
      },
      {
        title = "Generation throughput (tokens/s)", unit = "short", threshold = local.thresholds.low_throughput_tokens_per_second
        targets = concat(
          [{ expr = local.rate.generation, legend = "generated tokens/s" }],
          local.predicted_tps == null ? [] : [{ expr = "vector(${local.predicted_tps})", legend = "predicted (rayvllm_batch_sizing)" }],
        )
      },
      {
        title   = "Prompt throughput (tokens/s)", unit = "short", threshold = null
        targets = [{ expr = local.rate.prompt, legend = "prompt tokens/s" }]
      },
      {
        title = "Finished requests/s", unit = "reqps", threshold = local.thresholds.low_throughput_requests_per_second
        targets = concat(
          [{ expr = local.rate.success, legend = "finished requests/s" }],
          local.predicted_rps == null ? [] : [{ expr = "vector(${local.predicted_rps})", legend = "predicted (rayvllm_batch_sizing)" }],
        )
      },
      {
        title = "Time to first token", unit = "s", threshold = local.thresholds.ttft_p99_seconds
        targets = [
          { expr = local.q.ttft.p50, legend = "p50" },
          { expr = local.q.ttft.p99, legend = "p99" },
        ]
      },
      {
        title = "Inter-token latency", unit = "s", threshold = local.thresholds.itl_p99_seconds
        targets = [
          { expr = local.q.itl.p50, legend = "p50" },
          { expr = local.q.itl.p99, legend = "p99" },
        ]
      },
      {
        title = "End-to-end request latency", unit = "s", threshold = null
        targets = [
          { expr = local.q.e2e.p50, legend = "p50" },
          { expr = local.q.e2e.p99, legend = "p99" },
        ]
      },
      {
        title = "Queue and prefill time (p99)", unit = "s", threshold = null
        targets = [
          { expr = local.q.queue.p99, legend = "waiting in the engine queue" },
          { expr = local.q.prefill.p99, legend = "prefill" },
        ]
      },
      {
        title   = "Preemptions/s", unit = "short", threshold = null
        targets = [{ expr = local.rate.preemptions, legend = "preemptions/s" }]
      },
    ],
    local.sla_enabled ? [
      {
        title   = "Batch progress", unit = "percentunit", threshold = null
        targets = [{ expr = "rayvllm:batch_generated_tokens:sum${local.dep} / ${local.total_tokens}", legend = "generated / planned tokens" }]
      },
      {
        title = "Generation rate vs rate the SLA needs (tokens/s)", unit = "short", threshold = null
        targets = [
          { expr = "rayvllm:generation_tokens:rate${local.dep}", legend = "generating" },
          { expr = "rayvllm:batch_required_tokens_per_second${local.dep}", legend = "needed" },
        ]
      },
      {
        title = "Time to complete vs time to deadline", unit = "s", threshold = null
        # Both branches are lists of one object type, so the panels keep a
        # type while job_start_time is unknown (a job created in the same
        # apply, as in modules/batch-inference).
        targets = local.deadline_unix == null ? [
          { expr = "rayvllm:batch_projected_seconds_to_complete${local.dep}", legend = "projected time to complete" },
          ] : [
          { expr = "rayvllm:batch_projected_seconds_to_complete${local.dep}", legend = "projected time to complete" },
          { expr = "rayvllm:batch_seconds_to_deadline${local.dep}", legend = "time to deadline" },
        ]
      },
    ] : [],
  )

  dashboard = {
    uid           = substr("rayvllm-${replace(var.name, ".", "-")}", 0, 40)
    title         = var.dashboard_title != null ? var.dashboard_title : "vLLM: ${var.name}"
    tags          = ["vllm", "rayvllm"]
    timezone      = "browser"
    schemaVersion = 39
    version       = 1
    editable      = true
    refresh       = "30s"
    time          = { from = "now-6h", to = "now" }
    templating = {
      list = var.grafana_datasource_uid != null ? [] : [{
        name = "datasource", label = "Prometheus", type = "datasource", query = "prometheus", hide = 0, current = {}
      }]
    }
    panels = [for i, p in local.panel_specs : {
      id         = i + 1
      type       = "timeseries"
      title      = p.title
      datasource = local.ds
      gridPos    = { h = 8, w = 12, x = (i % 2) * 12, y = floor(i / 2) * 8 }
      fieldConfig = {
        defaults = {
          unit   = p.unit
          custom = { thresholdsStyle = { mode = p.threshold == null ? "off" : "line" } }
          thresholds = {
            mode  = "absolute"
            steps = concat([{ color = "green", value = null }], p.threshold == null ? [] : [{ color = "red", value = p.threshold }])
          }
        }
        overrides = []
      }
      options = { legend = { displayMode = "list", placement = "bottom" }, tooltip = { mode = "multi" } }
      targets = [for j, t in p.targets : {
        refId        = substr("ABCDEFGHIJ", j, 1)
        datasource   = local.ds
        expr         = t.expr
        legendFormat = t.legend
      }]
    }]
  }
}
