locals {
  # The sizing's hours include its own start-up estimate of one node launch
  # (startup_seconds); the module bills start-up by the worker groups'
  # life instead: job-scoped workers bill worker_startup_minutes + the run
  # + the idle tail each run; fixed workers bill every hour of the year
  # (they stay up between runs); the head is always on.
  run_hours = try(local.sizing.hours_to_complete - local.sizing.startup_seconds / 3600, null)
  worker_hours_per_node = local.run_hours == null ? null : (
    var.job_scoped_workers ? local.run_hours + (var.worker_startup_minutes + var.idle_timeout_minutes) / 60 : local.run_hours
  )
  timeline = {
    job_scoped               = var.job_scoped_workers
    head_hours               = local.worker_hours_per_node
    head_usd                 = var.head_price_per_hour_usd == null || local.worker_hours_per_node == null ? null : floor(var.head_price_per_hour_usd * local.worker_hours_per_node * 100 + 0.5) / 100
    worker_startup_hours     = var.job_scoped_workers ? var.worker_startup_minutes / 60 : 0
    worker_run_hours         = local.run_hours
    worker_idle_tail_hours   = var.job_scoped_workers ? var.idle_timeout_minutes / 60 : 0
    worker_nodes             = local.worker_count
    worker_instance_hours    = local.worker_hours_per_node == null ? null : local.worker_hours_per_node * local.worker_count
    worker_usd               = local.worker_hours_per_node == null || local.hourly_cost == null ? null : floor(local.hourly_cost * local.worker_hours_per_node * 100 + 0.5) / 100
    workers_when_idle        = var.job_scoped_workers ? 0 : local.worker_count
    idle_worker_usd_per_hour = var.job_scoped_workers ? 0 : local.cents.per_hour
  }
  # Per year: fixed workers bill all 8760 hours (batch and Serve GPUs
  # alike); job-scoped batch workers bill their hours per run × runs; the
  # Serve worker's GPUs and the head are always on.
  batch_gpu_hours_per_year = local.worker_hours_per_node == null ? null : (
    var.job_scoped_workers ? local.batch_gpus * local.worker_hours_per_node * var.batch_runs_per_year : local.batch_gpus * local.hours_per_year
  )
  cents = { for k, v in {
    per_hour  = local.hourly_cost
    per_run   = local.price_per_gpu_hour == null || local.worker_hours_per_node == null ? null : local.price_per_gpu_hour * local.batch_gpus * local.worker_hours_per_node
    always_on = local.always_on_hourly
    per_year  = local.price_per_gpu_hour == null || local.batch_gpu_hours_per_year == null ? null : local.price_per_gpu_hour * local.batch_gpu_hours_per_year + local.always_on_hourly * local.hours_per_year
  } : k => v == null ? null : floor(v * 100 + 0.5) / 100 }
}

output "dashboard_url" {
  description = "The cluster's Ray dashboard (and Jobs API): `http://<head IP>:8265`, reachable from `dashboard_ingress_cidrs`."
  value       = rayvllm_inference_cluster.this.dashboard_url
}

output "cluster" {
  description = "The Ray cluster: name, head instance, every instance ID, GPU workers and GPUs, security group, the SSM parameter holding its Ray token, and the on-demand cost of its workers per hour as the cluster reports it."
  value = {
    name                     = rayvllm_inference_cluster.this.name
    head_instance_id         = rayvllm_inference_cluster.this.head_instance_id
    instance_ids             = rayvllm_inference_cluster.this.instance_ids
    worker_count             = local.worker_count
    instance_type            = var.instance_type
    total_gpus               = rayvllm_inference_cluster.this.total_gpus
    security_group_id        = rayvllm_inference_cluster.this.security_group_id
    auth_token_ssm_parameter = rayvllm_inference_cluster.this.auth_token_ssm_parameter
    hourly_cost_usd          = rayvllm_inference_cluster.this.hourly_cost_usd
  }
}

output "worker" {
  description = "The online vLLM worker with `enable_worker`: Serve application name, status and its OpenAI-compatible base URL (`<endpoint_url>/v1`); null without it."
  value = var.enable_worker ? {
    name            = rayvllm_vllm_worker.this[0].name
    status          = rayvllm_vllm_worker.this[0].status
    endpoint_url    = rayvllm_vllm_worker.this[0].endpoint_url
    openai_base_url = "${rayvllm_vllm_worker.this[0].endpoint_url}/v1"
  } : null
}

output "job_status" {
  description = "Ray's status of the batch job's latest attempt: PENDING, RUNNING, SUCCEEDED, FAILED or STOPPED (as of the last apply or refresh)."
  value       = rayvllm_batch_job.this.status
}

output "job_metrics" {
  description = "The job's measured metrics (rows, failed and skipped rows, input and output tokens, wall seconds, output and total tokens per second), from its `rayvllm-metrics:` log line; null until a run prints it."
  value       = rayvllm_batch_job.this.metrics
}

output "job" {
  description = "The batch job: resource ID, Ray submission ID of the latest attempt, every attempt, status and message, start and end time, the dashboard it runs on, and its mode (`vllm` or `entrypoint`)."
  value = {
    id            = rayvllm_batch_job.this.id
    submission_id = rayvllm_batch_job.this.submission_id
    attempts      = rayvllm_batch_job.this.attempts
    status        = rayvllm_batch_job.this.status
    message       = rayvllm_batch_job.this.message
    start_time    = rayvllm_batch_job.this.start_time
    end_time      = rayvllm_batch_job.this.end_time
    dashboard_url = rayvllm_batch_job.this.dashboard_url
    mode          = var.job_entrypoint == null ? "vllm" : "entrypoint"
  }
}

output "predicted" {
  description = "The sizing's prediction for the job's replicas: requests and output tokens per second (all replicas and per replica, and the low end), hours to complete at the safe (low) end of the range with one node start-up, its range, the start-up and the run alone, the SLA window, whether it is met, and the GPUs used and required for it."
  value = local.sizing == null ? null : {
    requests_per_second                  = local.sizing.requests_per_second
    output_tokens_per_second             = local.sizing.output_tokens_per_second
    per_replica_requests_per_second      = local.sizing.per_replica_requests_per_second
    per_replica_output_tokens_per_second = local.sizing.per_replica_output_tokens_per_second
    hours_to_complete                    = local.sizing.hours_to_complete
    hours_to_complete_range              = [local.sizing.hours_to_complete_low, local.sizing.hours_to_complete_high]
    requests_per_second_low              = local.sizing.requests_per_second_low
    startup_hours                        = local.sizing.startup_seconds / 3600
    run_hours                            = local.run_hours
    sla_hours                            = var.sla_hours
    meets_sla                            = local.sizing.meets_sla
    gpus_used                            = local.sizing.gpus_used
    gpus_required                        = local.sizing.gpus_required
  }
}

output "cost" {
  description = "Cost in USD: price per GPU-hour and its source, GPUs (all, the batch's, the always-on Serve worker's), per hour with every GPU up, per run (batch GPUs × the predicted run, plus start-up and idle tail with `job_scoped_workers`), always on per hour (the Serve worker's GPUs, plus `head_price_per_hour_usd` when set), per year (job-scoped: per run × `batch_runs_per_year`; fixed workers: batch GPUs × 8760 h, since they bill all day; plus always on × 8760), and the sizing's cost of the GPUs the job uses for the run, and `timeline`: one run with the head always on and the workers for start-up + predicted hours + idle tail when `job_scoped_workers` (predicted hours otherwise), in hours and USD, and what idle workers cost per hour between runs."
  value = {
    price_per_gpu_hour_usd = local.price_per_gpu_hour
    price_source           = var.price_per_gpu_hour_usd != null ? "price_per_gpu_hour_usd" : (local.instance == null ? null : "ec2:${var.instance_type} on-demand list price of ${local.instance.price_date}")
    gpus                   = local.total_gpus
    batch_gpus             = local.batch_gpus
    always_on_gpus         = local.worker_gpus
    per_hour_usd           = local.cents.per_hour
    per_run_usd            = local.cents.per_run
    always_on_per_hour_usd = local.cents.always_on
    per_year_usd           = local.cents.per_year
    batch_runs_per_year    = var.batch_runs_per_year
    job_gpus_run_usd       = try(local.sizing.cost_usd, null)
    # One run on the timeline: the head is always on (priced with
    # head_price_per_hour_usd); job-scoped workers bill start-up + the
    # predicted hours + the idle tail, and nothing between runs.
    timeline = local.timeline
  }
}

output "sizing_summary" {
  description = "The plan in one object: model and checkpoint, instance type and GPU, quantization, the engine settings in effect (after the sizing's recommendations), Ray Data batch size and concurrency, the memory fit of one replica (weights, activation peak, KV cache and its tokens, full-length sequences it holds) and the sizing's notes."
  value = {
    model                  = var.model
    model_source           = local.model_source
    instance_type          = var.instance_type
    gpu                    = local.fit.gpu_name
    gpus_per_node          = local.gpus_per_node
    quantization           = var.quantization
    vllm_quantization      = local.vllm_quantization
    tensor_parallel_size   = var.tensor_parallel_size
    max_model_len          = local.max_model_len
    max_num_batched_tokens = local.max_num_batched_tokens
    max_num_seqs           = local.max_num_seqs
    batch_size             = local.batch_size
    concurrency            = var.concurrency
    num_requests           = var.num_requests
    mean_input_tokens      = var.mean_input_tokens
    mean_output_tokens     = var.mean_output_tokens
    max_output_tokens      = local.max_output_tokens
    fits                   = local.fit.fits
    weights_gib            = try(local.sizing.fit.weights_gib, local.fit.weights_gib)
    activation_peak_gib    = try(local.sizing.fit.activation_peak_gib, local.fit.activation_peak_gib)
    kv_cache_gib           = try(local.sizing.fit.kv_cache_gib, local.fit.kv_cache_gib)
    kv_cache_tokens        = try(local.sizing.fit.kv_cache_tokens, local.fit.kv_cache_tokens)
    max_concurrency        = try(local.sizing.fit.max_concurrency, local.fit.max_concurrency)
    notes                  = try(local.sizing.notes, [])
  }
}

output "rules_yaml" {
  description = "Prometheus recording and alerting rules for the stack (modules/monitoring, Ray's metric names, thresholds from the sizing, SLA deadline from the job's start) as YAML text."
  value       = module.monitoring.rules_yaml
}

output "dashboard_json" {
  description = "Grafana dashboard for the stack (modules/monitoring) as JSON text."
  value       = module.monitoring.dashboard_json
}

output "monitoring" {
  description = "What the monitoring rules check: alert names, recorded series, the thresholds in effect and the SLA they judge (planned output tokens, deadline, average rate needed)."
  value = {
    alert_names          = module.monitoring.alert_names
    recording_rule_names = module.monitoring.recording_rule_names
    thresholds           = module.monitoring.thresholds
    sla                  = module.monitoring.sla
  }
}

output "checks" {
  description = "The plan-time checks by name (`fit`, `tensor_parallel`, `gpus`, `context`, `quantization`, `sla`): null when a check passes, else what is wrong and what to change. Any of them fails the plan, except `sla` with `require_sla = false`."
  value       = local.checks
}
