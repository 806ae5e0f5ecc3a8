# Plan-level tests of modules/batch-inference against the real provider (built
# by `make install` into the local mirror). Planning needs no backend: the fit
# and sizing data sources are offline, the cluster plans without AWS, and the
# job and the worker plan without Ray. So no mock_provider. The apply-level
# tests against moto and the local Ray are in tests/services/.

variables {
  name                    = "bi-plan"
  model                   = "Qwen/Qwen2.5-0.5B-Instruct"
  quantization            = "int4"
  model_source            = "Qwen/Qwen2.5-0.5B-Instruct-AWQ"
  instance_type           = "g5.xlarge"
  max_model_len           = 4096
  max_num_batched_tokens  = 512
  batch_size              = 256
  concurrency             = 4
  num_requests            = 10000000
  mean_input_tokens       = 512
  mean_output_tokens      = 128
  sla_hours               = 36
  input_uri               = "s3://bucket/prompts/"
  input_format            = "jsonl"
  output_uri              = "s3://bucket/answers/run-1"
  subnet_id               = "subnet-0123456789abcdef0"
  ami_id                  = "ami-0123456789abcdef0"
  iam_instance_profile    = "rayvllm-node"
  dashboard_ingress_cidrs = ["198.51.100.7/32"]
}

run "production_configuration" {
  command = plan

  assert {
    condition     = rayvllm_inference_cluster.this.worker_group[0].count == 4 && rayvllm_inference_cluster.this.worker_group[0].instance_type == "g5.xlarge"
    error_message = "worker_count null with concurrency 4 on 1-GPU g5.xlarge nodes must give 4 workers."
  }
  assert {
    condition     = length(output.checks) == 6 && alltrue([for k, v in output.checks : v == null])
    error_message = "Every check must pass: ${jsonencode(output.checks)}."
  }
  assert {
    # The prediction is the sizing data source's, planned at the safe end:
    # hours = requests ÷ (low end of requests/s × 3600) + one start-up.
    condition = (
      output.predicted.requests_per_second == data.rayvllm_batch_sizing.this[0].requests_per_second &&
      abs(output.predicted.hours_to_complete - var.num_requests / output.predicted.requests_per_second_low / 3600 - output.predicted.startup_hours) < 0.01 * output.predicted.hours_to_complete &&
      output.predicted.meets_sla && output.predicted.hours_to_complete < var.sla_hours && output.predicted.gpus_used == 4
    )
    error_message = "The prediction must be the sizing's and consistent with it: ${jsonencode(output.predicted)}."
  }
  assert {
    # Cost = catalog price per GPU-hour × GPUs. Fixed workers bill all day:
    # per year = 4 GPUs × price × 8760 h, whatever the runs.
    condition = (
      output.cost.price_per_gpu_hour_usd == one([for it in data.rayvllm_gpus.catalog.instance_types : it.price_per_gpu_hour_usd if it.instance_type == "g5.xlarge"]) &&
      output.cost.gpus == 4 && output.cost.batch_gpus == 4 && output.cost.always_on_gpus == 0 &&
      abs(output.cost.per_hour_usd - 4 * output.cost.price_per_gpu_hour_usd) < 0.01 &&
      abs(output.cost.per_run_usd - 4 * output.cost.price_per_gpu_hour_usd * output.predicted.run_hours) < 0.01 &&
      output.cost.always_on_per_hour_usd == 0 &&
      abs(output.cost.per_year_usd - 4 * output.cost.price_per_gpu_hour_usd * 8760) < 0.01
    )
    error_message = "Cost must be price × GPUs for the batch window: ${jsonencode(output.cost)}."
  }
  assert {
    # The job runs what was sized: the report's chunk, batch and concurrency,
    # the recommended max_num_seqs, and the 4-bit checkpoint.
    condition = (
      rayvllm_batch_job.this.vllm.max_num_batched_tokens == 512 &&
      rayvllm_batch_job.this.vllm.batch_size == 256 &&
      rayvllm_batch_job.this.vllm.concurrency == 4 &&
      rayvllm_batch_job.this.vllm.max_num_seqs == data.rayvllm_batch_sizing.this[0].max_num_seqs &&
      rayvllm_batch_job.this.vllm.max_model_len == 4096 &&
      rayvllm_batch_job.this.vllm.model_source == "Qwen/Qwen2.5-0.5B-Instruct-AWQ" &&
      rayvllm_batch_job.this.vllm.quantization == null &&
      rayvllm_batch_job.this.vllm.sampling.max_tokens == 4096 - 512 &&
      rayvllm_batch_job.this.vllm.on_row_error == "fail" &&
      rayvllm_batch_job.this.vllm.input.path == "s3://bucket/prompts/" &&
      rayvllm_batch_job.this.vllm.input.prompt_column == "prompt" &&
      rayvllm_batch_job.this.vllm.output.path == "s3://bucket/answers/run-1" &&
      rayvllm_batch_job.this.entrypoint == null
    )
    error_message = "The built-in job must get the sized engine and Ray Data settings and the dataset URIs."
  }
  assert {
    condition     = rayvllm_batch_job.this.timeouts.create == "2160m" && rayvllm_batch_job.this.metadata.stack == "bi-plan"
    error_message = "The job's create timeout defaults to the SLA window (36 h = 2160m) and its metadata names the stack."
  }
  assert {
    condition     = output.sizing_summary.max_num_batched_tokens == 512 && output.sizing_summary.fits && output.sizing_summary.gpu == "A10G" && output.sizing_summary.kv_cache_tokens > 0
    error_message = "The sizing summary must carry the settings in effect and the fit: ${jsonencode(output.sizing_summary)}."
  }
  assert {
    # Monitoring thresholds come from the same sizing (modules/monitoring:
    # low throughput = half the predicted rate), and TTFT is off for a batch.
    condition = (
      # the monitoring module keeps 6 significant digits
      abs(output.monitoring.thresholds.low_throughput_tokens_per_second - 0.5 * output.predicted.output_tokens_per_second) < 1e-5 * output.predicted.output_tokens_per_second &&
      output.monitoring.thresholds.ttft_p99_seconds == null
    )
    error_message = "Monitoring thresholds must derive from the sizing: ${jsonencode(output.monitoring.thresholds)}."
  }
  assert {
    condition     = length(rayvllm_vllm_worker.this) == 0 && output.worker == null
    error_message = "No worker without enable_worker."
  }
}

run "worker_always_on_batch_per_run" {
  command = plan

  variables {
    enable_worker           = true
    worker_num_replicas     = 2
    concurrency             = 2
    batch_runs_per_year     = 12
    head_price_per_hour_usd = 0.2
    sla_hours               = 72
    max_output_tokens       = 300
  }

  assert {
    # 2 job replicas + 2 worker replicas on 1-GPU nodes.
    condition     = rayvllm_inference_cluster.this.worker_group[0].count == 4 && output.cost.gpus == 4
    error_message = "The worker's replicas must get GPUs of their own."
  }
  assert {
    condition = (
      rayvllm_vllm_worker.this[0].name == "bi-plan" && rayvllm_vllm_worker.this[0].model_id == "bi-plan" &&
      rayvllm_vllm_worker.this[0].model_source == "Qwen/Qwen2.5-0.5B-Instruct-AWQ" &&
      rayvllm_vllm_worker.this[0].num_replicas == 2 &&
      rayvllm_vllm_worker.this[0].max_num_batched_tokens == 512 &&
      rayvllm_vllm_worker.this[0].max_num_seqs == data.rayvllm_batch_sizing.this[0].max_num_seqs
    )
    error_message = "The worker must serve the same checkpoint with the sized engine settings."
  }
  assert {
    # The Serve worker's 2 GPUs and the head are always on, and so are the
    # job's 2 fixed workers: the whole year, not 12 batch windows.
    condition = (
      output.cost.batch_gpus == 2 && output.cost.always_on_gpus == 2 &&
      abs(output.cost.always_on_per_hour_usd - (2 * output.cost.price_per_gpu_hour_usd + 0.2)) < 0.01 &&
      abs(output.cost.per_run_usd - 2 * output.cost.price_per_gpu_hour_usd * output.predicted.run_hours) < 0.01 &&
      abs(output.cost.per_year_usd - (2 * output.cost.price_per_gpu_hour_usd * 8760 + (2 * output.cost.price_per_gpu_hour_usd + 0.2) * 8760)) < 0.05
    )
    error_message = "Always-on parts are costed all year, the batch per run: ${jsonencode(output.cost)}."
  }
  assert {
    condition     = rayvllm_batch_job.this.vllm.sampling.max_tokens == 300
    error_message = "max_output_tokens is passed as vLLM max_tokens."
  }
}

run "custom_entrypoint_on_another_ray" {
  command = plan

  variables {
    job_entrypoint         = "python batch.py"
    ray_dashboard_url      = "http://127.0.0.1:8265"
    job_create_timeout     = "10m"
    batch_size             = null
    max_num_seqs           = null
    price_per_gpu_hour_usd = 0.5
  }

  assert {
    condition     = rayvllm_batch_job.this.vllm == null && rayvllm_batch_job.this.entrypoint == "python batch.py"
    error_message = "job_entrypoint must switch the job to custom mode."
  }
  assert {
    # The cluster's token is never sent to another Ray: null lets the
    # provider fall back to its auth_token, then RAY_AUTH_TOKEN.
    condition     = rayvllm_batch_job.this.dashboard_url == "http://127.0.0.1:8265" && rayvllm_batch_job.this.auth_token == null
    error_message = "ray_dashboard_url must redirect the job without the cluster's token."
  }
  assert {
    condition = (
      nonsensitive(rayvllm_batch_job.this.runtime_env.env_vars["RAYVLLM_INPUT_URI"]) == "s3://bucket/prompts/" &&
      nonsensitive(rayvllm_batch_job.this.runtime_env.env_vars["RAYVLLM_BATCH_SIZE"]) == tostring(data.rayvllm_batch_sizing.this[0].batch_size) &&
      nonsensitive(rayvllm_batch_job.this.runtime_env.env_vars["RAYVLLM_MAX_NUM_BATCHED_TOKENS"]) == "512"
    )
    error_message = "A custom entrypoint gets the dataset and the sized settings (recommended ones where unset) in its environment."
  }
  assert {
    condition     = rayvllm_batch_job.this.timeouts.create == "10m"
    error_message = "job_create_timeout must set the job's create timeout."
  }
  assert {
    # The report's own price: 0.50 USD per GPU-hour.
    condition     = output.cost.price_per_gpu_hour_usd == 0.5 && output.cost.per_hour_usd == 2 && output.cost.price_source == "price_per_gpu_hour_usd"
    error_message = "price_per_gpu_hour_usd must override the catalog price: ${jsonencode(output.cost)}."
  }
}

# The report's 24-hour capacity claim, 17.4M requests: the sizing predicts
# about 31 h on four A10Gs, so the plan fails before anything is created.
run "sla_miss_fails_the_plan" {
  command = plan

  variables {
    num_requests = 17400000
  }

  expect_failures = [rayvllm_inference_cluster.this]
}

run "sla_miss_reported_with_require_sla_false" {
  command = plan

  variables {
    num_requests = 17400000
    require_sla  = false
  }

  assert {
    condition     = !output.predicted.meets_sla && output.predicted.hours_to_complete > 36
    error_message = "17.4M requests must miss 36 h on four A10Gs: ${jsonencode(output.predicted)}."
  }
  assert {
    # The advice names the concurrency and workers for gpus_required.
    condition = (
      strcontains(output.checks.sla, "The batch would miss its SLA") &&
      strcontains(output.checks.sla, "set concurrency = ${data.rayvllm_batch_sizing.this[0].gpus_required}") &&
      strcontains(output.checks.sla, "worker_count ${data.rayvllm_batch_sizing.this[0].gpus_required} × g5.xlarge") &&
      strcontains(output.checks.sla, format("take %.1f h", output.predicted.hours_to_complete))
    )
    error_message = "The SLA check must say what to change: ${coalesce(output.checks.sla, "null")}."
  }
}

# Llama-2-13B in fp16 (24 GiB of weights) does not fit a 24 GB A10G.
run "misfit_fails_the_plan" {
  command = plan

  variables {
    model        = "meta-llama/Llama-2-13b-hf"
    model_source = null
    quantization = "fp16"
  }

  expect_failures = [rayvllm_inference_cluster.this]
}

run "too_few_gpus_fails_the_plan" {
  command = plan

  variables {
    worker_count = 2
  }

  expect_failures = [rayvllm_inference_cluster.this]
}

run "tensor_parallel_wider_than_a_node_fails_the_plan" {
  command = plan

  variables {
    tensor_parallel_size = 2
    concurrency          = 1
  }

  expect_failures = [rayvllm_inference_cluster.this]
}

run "prompts_longer_than_the_context_fail_the_plan" {
  command = plan

  variables {
    mean_input_tokens = 4000
  }

  expect_failures = [rayvllm_inference_cluster.this]
}

run "int4_without_a_quantized_checkpoint_fails_the_plan" {
  command = plan

  variables {
    model_source = null
  }

  expect_failures = [rayvllm_inference_cluster.this]
}

run "bitsandbytes_quantizes_at_load_time" {
  command = plan

  variables {
    model_source      = null
    vllm_quantization = "bitsandbytes"
  }

  assert {
    condition     = output.checks.quantization == null && rayvllm_batch_job.this.vllm.quantization == "bitsandbytes" && rayvllm_batch_job.this.vllm.model_source == var.model
    error_message = "vllm_quantization must satisfy the int4 check and reach the engine."
  }
}

run "rejected_inputs" {
  command = plan

  variables {
    name                    = "Bad_Name"
    quantization            = "int3"
    instance_type           = "G5"
    input_uri               = "prompts.jsonl"
    dashboard_ingress_cidrs = ["0.0.0.0/0"]
    batch_runs_per_year     = -1
    on_row_error            = "ignore"
    subnet_id               = "sn-1"
    ray_dashboard_url       = "127.0.0.1:8265"
  }

  expect_failures = [
    var.name, var.quantization, var.instance_type, var.input_uri,
    var.dashboard_ingress_cidrs, var.batch_runs_per_year, var.on_row_error, var.subnet_id, var.ray_dashboard_url,
  ]
}

run "job_scoped_workers" {
  command = plan

  variables {
    job_scoped_workers      = true
    idle_timeout_minutes    = 3
    worker_startup_minutes  = 12
    head_price_per_hour_usd = 0.192
  }

  assert {
    condition = (
      rayvllm_inference_cluster.this.worker_group[0].count == null &&
      rayvllm_inference_cluster.this.worker_group[0].min_workers == 0 &&
      rayvllm_inference_cluster.this.worker_group[0].max_workers == 4 &&
      rayvllm_inference_cluster.this.idle_timeout_minutes == 3
    )
    error_message = "Job-scoped workers are an autoscaled group from 0 to worker_count (4) with the idle timeout."
  }
  assert {
    # Workers bill start-up + predicted run + idle tail; the head the run.
    condition = (
      abs(output.cost.timeline.worker_instance_hours - 4 * (output.predicted.run_hours + (12 + 3) / 60)) < 1e-6 &&
      abs(output.cost.timeline.worker_usd - output.cost.price_per_gpu_hour_usd * 4 * (output.predicted.run_hours + 15 / 60)) < 0.01 &&
      abs(output.cost.timeline.head_usd - 0.192 * (output.predicted.run_hours + 15 / 60)) < 0.01 &&
      output.cost.timeline.workers_when_idle == 0 && output.cost.timeline.idle_worker_usd_per_hour == 0
    )
    error_message = "The cost timeline must be start-up + run + idle tail: ${jsonencode(output.cost.timeline)}."
  }
  assert {
    # The yearly sum by hand for one case: one run a year (the default) of
    # 4 job-scoped g5.xlarge workers at $1.006/h each for the run + 12 min
    # start-up + 3 min idle tail, the head at $0.192/h all 8760 h.
    condition     = abs(output.cost.per_year_usd - (1.006 * 4 * (output.predicted.run_hours + 0.25) + 0.192 * 8760)) < 0.01
    error_message = "per_year_usd must be the job-scoped runs plus the always-on head: ${jsonencode(output.cost)}."
  }
  assert {
    # The 10M-request run is predicted to take hours: apply does not wait.
    condition     = output.predicted.hours_to_complete > 1 && rayvllm_batch_job.this.wait_for_completion == false
    error_message = "A long run must default to wait_for_completion = false (${output.predicted.hours_to_complete} h)."
  }
}

# The README's first example had a directory input_uri and no input_format;
# the cluster's outputs (the accelerator type, the dashboard URL) are unknown
# at plan, which used to make the provider skip the whole vllm block. The
# format error must still fire at plan, before anything is created.
run "directory_input_without_format_fails_at_plan_with_unknown_cluster_outputs" {
  command = plan

  variables {
    input_uri    = "s3://my-bucket/prompts/"
    input_format = null
  }

  expect_failures = [rayvllm_batch_job.this]
}

# The README's figures come from plans: these two runs are the README's
# module example and examples/production, and fail when the numbers the
# README quotes no longer come out (update the README with the new plan).
run "readme_example_meets_its_sla" {
  command = plan

  variables {
    name                   = "nightly-summaries"
    model                  = "Qwen/Qwen2.5-7B-Instruct"
    quantization           = "int4"
    model_source           = "Qwen/Qwen2.5-7B-Instruct-AWQ"
    instance_type          = "g6e.xlarge"
    concurrency            = 6
    max_num_batched_tokens = 2048
    batch_size             = null
    max_model_len          = null
    num_requests           = 2000000
    mean_input_tokens      = 600
    mean_output_tokens     = 200
    sla_hours              = 16
  }

  assert {
    condition     = output.predicted.meets_sla && output.predicted.gpus_used == 6 && abs(output.predicted.hours_to_complete - 11.75) < 0.1
    error_message = "The README example must meet its 16 h SLA in about 11.75 h on 6 GPUs: ${jsonencode(output.predicted)}."
  }
}

run "production_example_figures" {
  command = plan

  variables {
    name                = "qwen05b-batch"
    worker_count        = 6
    job_scoped_workers  = true
    concurrency         = 6
    num_requests        = 10000000
    sla_hours           = 24
    batch_runs_per_year = 365
  }

  assert {
    # README: 249 req/s predicted, 144 at the safe end, 19.4 h planned, 6.5–19.4 h,
    # $118.03 a run, $43,080 a year.
    condition = (
      abs(output.predicted.requests_per_second - 249) < 2.5 && abs(output.predicted.requests_per_second_low - 144) < 1.5 &&
      abs(output.predicted.hours_to_complete - 19.4) < 0.1 && abs(output.predicted.hours_to_complete_range[0] - 6.5) < 0.1 &&
      abs(output.cost.per_run_usd - 118.03) < 1.2 && abs(output.cost.per_year_usd - 43080) < 430
    )
    error_message = "examples/production's README figures no longer come out: ${jsonencode(output.predicted)} ${jsonencode(output.cost)}."
  }
}
