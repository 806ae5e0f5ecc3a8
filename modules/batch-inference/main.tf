# The batch-inference stack: plan-time fit and sizing as preconditions, then
# a Ray cluster on EC2, an optional online vLLM worker, the batch job, and the
# monitoring rules and dashboard sized from the same prediction.

# ---------------------------------------------------------------------------
# Plan-time checks (data sources only: no cloud account, no Ray)
# ---------------------------------------------------------------------------
data "rayvllm_gpus" "catalog" {}

# require_fit = false: a misfit is reported by the cluster's precondition,
# which names the module inputs to change, instead of a data source error.
data "rayvllm_gpu_fit" "this" {
  model                  = var.model
  instance_type          = var.instance_type
  quantization           = var.quantization
  kv_cache_dtype         = var.kv_cache_dtype
  tensor_parallel_size   = var.tensor_parallel_size
  max_model_len          = var.max_model_len
  gpu_memory_utilization = var.gpu_memory_utilization
  max_num_batched_tokens = var.max_num_batched_tokens
  max_num_seqs           = var.max_num_seqs
  require_fit            = false
}

# rayvllm_batch_sizing fails the plan by itself when a replica does not fit,
# a mean request is longer than max_model_len or tensor_parallel_size is
# wider than one instance; it is read only once all pass, so the cluster's
# preconditions say what to change.
data "rayvllm_batch_sizing" "this" {
  count = data.rayvllm_gpu_fit.this.fits && local.context_fits && var.tensor_parallel_size <= local.gpus_per_node ? 1 : 0

  model                  = var.model
  instance_type          = var.instance_type
  quantization           = var.quantization
  kv_cache_dtype         = var.kv_cache_dtype
  tensor_parallel_size   = var.tensor_parallel_size
  max_model_len          = var.max_model_len
  gpu_memory_utilization = var.gpu_memory_utilization
  max_num_batched_tokens = var.max_num_batched_tokens
  max_num_seqs           = var.max_num_seqs
  objective              = var.objective
  batch_size             = var.batch_size
  concurrency            = var.concurrency
  num_requests           = var.num_requests
  mean_input_tokens      = var.mean_input_tokens
  mean_output_tokens     = var.mean_output_tokens
  sla_hours              = var.sla_hours
  price_per_gpu_hour_usd = var.price_per_gpu_hour_usd
}

locals {
  fit          = data.rayvllm_gpu_fit.this
  context_fits = var.mean_input_tokens + var.mean_output_tokens <= data.rayvllm_gpu_fit.this.effective_max_model_len
  sizing       = one(data.rayvllm_batch_sizing.this)

  instance      = one([for it in data.rayvllm_gpus.catalog.instance_types : it if it.instance_type == var.instance_type])
  gpus_per_node = try(local.instance.gpu_count, 0)
  gpu           = try(local.instance.gpu, var.instance_type)

  # GPUs: the job's replicas plus the worker's, each tensor_parallel_size wide.
  job_gpus     = var.concurrency * var.tensor_parallel_size
  worker_gpus  = var.enable_worker ? var.worker_num_replicas * var.tensor_parallel_size : 0
  gpus_needed  = local.job_gpus + local.worker_gpus
  nodes_needed = local.gpus_per_node == 0 ? 1 : ceil(local.gpus_needed / local.gpus_per_node)
  worker_count = var.worker_count != null ? var.worker_count : local.nodes_needed
  total_gpus   = local.worker_count * local.gpus_per_node

  # Instance types whose nodes hold one replica (tensor_parallel_size GPUs),
  # cheapest per GPU-GiB-hour first (the catalog's order).
  tp_candidates     = [for it in data.rayvllm_gpus.catalog.instance_types : it.instance_type if it.gpu == local.gpu && it.gpu_count >= var.tensor_parallel_size]
  tp_instance_types = slice(local.tp_candidates, 0, min(3, length(local.tp_candidates)))

  # The fit's GPU suggestions (`gpu = "A100-40GB" (...)`) with the instance
  # types that have that GPU, since the module takes an instance type.
  gpu_re         = "^gpu = \"([^\"]+)\""
  suggested_gpus = distinct(flatten([for s in local.fit.suggestions : [for m in regexall(local.gpu_re, s) : m[0]]]))
  gpu_instance_types = {
    for g in local.suggested_gpus : g => [for it in data.rayvllm_gpus.catalog.instance_types : it.instance_type if it.gpu == g]
  }
  gpu_hint = {
    for g, l in local.gpu_instance_types : g => length(l) == 0 ? "no EC2 instance type has it" : "instance_type ${join(" or ", slice(l, 0, min(3, length(l))))}"
  }
  fit_suggestions = [for s in local.fit.suggestions : length(regexall(local.gpu_re, s)) == 0 ? s : "${s}: ${local.gpu_hint[regex(local.gpu_re, s)[0]]}"]

  # What the engine loads and how vLLM is told about its quantization.
  model_source      = coalesce(var.model_source, var.model)
  vllm_quantization = var.vllm_quantization != null ? var.vllm_quantization : (contains(["fp8", "awq", "gptq", "bitsandbytes"], var.quantization) ? var.quantization : null)
  quantized_bits    = { int4 = 4, int8 = 8 }

  # Settings after the sizing's recommendations (null while it is not read).
  batch_size             = try(local.sizing.batch_size, var.batch_size)
  max_num_seqs           = try(local.sizing.max_num_seqs, var.max_num_seqs)
  max_num_batched_tokens = try(local.sizing.max_num_batched_tokens, var.max_num_batched_tokens)
  max_model_len          = local.fit.effective_max_model_len
  # A cap, not the mean: see the variable's description.
  max_output_tokens = var.max_output_tokens != null ? var.max_output_tokens : max(1, local.fit.effective_max_model_len - ceil(var.mean_input_tokens))

  # Cost. The batch GPUs (every worker-node GPU the Serve worker does not
  # hold) are paid for the predicted batch window of each run; the Serve
  # worker's GPUs and the head are always on.
  price_per_gpu_hour = var.price_per_gpu_hour_usd != null ? var.price_per_gpu_hour_usd : try(local.instance.price_per_gpu_hour_usd, null)
  hourly_cost        = local.price_per_gpu_hour == null ? null : local.price_per_gpu_hour * local.total_gpus
  batch_gpus         = max(0, local.total_gpus - local.worker_gpus)
  always_on_hourly   = local.price_per_gpu_hour == null ? null : local.price_per_gpu_hour * local.worker_gpus + coalesce(var.head_price_per_hour_usd, 0)
  hours_per_year     = 8760

  # The built-in job's format inference (batchjob.InferFormat in the provider).
  input_format_known = var.input_format != null || can(regex("\\.(jsonl|json|ndjson|parquet|pq|csv)(\\.gz)?/?$", lower(var.input_uri)))

  # SLA advice: enough replicas for gpus_required, and the nodes for them.
  long_run            = try(local.sizing.hours_to_complete, 0) > var.long_run_hours
  wait_for_completion = var.job_wait_for_completion != null ? var.job_wait_for_completion : !local.long_run

  sla_concurrency  = try(ceil(local.sizing.gpus_required / var.tensor_parallel_size), null)
  sla_worker_count = try(ceil((local.sla_concurrency * var.tensor_parallel_size + local.worker_gpus) / local.gpus_per_node), null)

  # Where the job and the worker go: the cluster, unless overridden. The
  # cluster's token is never sent to another Ray; null falls back to the
  # provider's auth_token, then RAY_AUTH_TOKEN.
  dashboard_url = var.ray_dashboard_url != null ? var.ray_dashboard_url : rayvllm_inference_cluster.this.dashboard_url
  auth_token    = var.ray_auth_token != null ? var.ray_auth_token : (var.ray_dashboard_url == null ? rayvllm_inference_cluster.this.auth_token : null)
  accelerator   = rayvllm_inference_cluster.this.worker_group[0].accelerator_type
}

# ---------------------------------------------------------------------------
# The plan-time checks: null when a check passes, else what to change.
# ---------------------------------------------------------------------------
locals {
  checks = {
    fit = local.fit.fits ? null : format(
      "%s (quantization %s, tensor_parallel_size %d, max_model_len %d) does not fit one %s GPU of %s: vLLM would need %.2f GiB more per GPU. %s To fit, change one of: %s. The module inputs are quantization, tensor_parallel_size, instance_type, max_model_len, max_num_batched_tokens, max_num_seqs and gpu_memory_utilization.",
      var.model, var.quantization, var.tensor_parallel_size, local.fit.effective_max_model_len, local.fit.gpu_name, var.instance_type,
      local.fit.shortfall_gib, join(" ", [for r in local.fit.reasons : "${r}."]),
      length(local.fit_suggestions) == 0 ? "a smaller max_model_len or a GPU with more memory" : join("; ", local.fit_suggestions)
    )

    tensor_parallel = local.gpus_per_node >= var.tensor_parallel_size ? null : format(
      "tensor_parallel_size = %d needs %d GPUs in one node, but %s has %d. Choose an instance_type with at least %d %s GPUs%s, or lower tensor_parallel_size.",
      var.tensor_parallel_size, var.tensor_parallel_size, var.instance_type, local.gpus_per_node, var.tensor_parallel_size, local.gpu,
      length(local.tp_instance_types) == 0 ? "" : format(" (%s)", join(", ", local.tp_instance_types))
    )

    gpus = local.total_gpus >= local.gpus_needed ? null : format(
      "The cluster has too few GPUs: concurrency %d × tensor_parallel_size %d%s needs %d GPUs, but worker_count %d × %d GPU(s) of %s gives %d. Set worker_count to at least %d (or leave it null to derive it), or lower concurrency.",
      var.concurrency, var.tensor_parallel_size,
      var.enable_worker ? format(" plus the worker's %d replica(s)", var.worker_num_replicas) : "",
      local.gpus_needed, local.worker_count, local.gpus_per_node, var.instance_type, local.total_gpus, local.nodes_needed
    )

    context = local.context_fits ? null : format(
      "A mean request (%g input + %g output tokens = %g) is longer than max_model_len %d: vLLM rejects requests that do not fit. %s",
      var.mean_input_tokens, var.mean_output_tokens, var.mean_input_tokens + var.mean_output_tokens, local.fit.effective_max_model_len,
      var.max_model_len == null ? "That is already the model's context length: shorten the prompts or the outputs, or choose a model with a longer context." : "Raise max_model_len (up to the model's context length) or shorten the prompts or the outputs."
    )

    quantization = !(contains(keys(local.quantized_bits), var.quantization) && local.model_source == var.model && local.vllm_quantization == null) ? null : format(
      "quantization = \"%s\" sizes %d-bit weights, but vLLM would load %s unquantized. Set model_source to a %d-bit checkpoint of it (e.g. its AWQ or GPTQ release, such as %s-AWQ) or vllm_quantization to a method that quantizes at load time (e.g. \"bitsandbytes\").",
      var.quantization, lookup(local.quantized_bits, var.quantization, 0), var.model, lookup(local.quantized_bits, var.quantization, 0), var.model
    )

    sla = local.sizing == null ? null : (local.sizing.meets_sla ? null : format(
      "The batch would miss its SLA: %d requests (%g input + %g output tokens each) take %.1f h at the predicted %.1f requests/s (%.0f output tokens/s) on %d × %s (concurrency %d × tensor_parallel_size %d), past sla_hours = %g. To finish in time: set concurrency = %d (%d GPUs; worker_count %d × %s, or leave worker_count null), or raise sla_hours to at least %.1f, or choose a faster instance_type. require_sla = false plans anyway.",
      var.num_requests, var.mean_input_tokens, var.mean_output_tokens, local.sizing.hours_to_complete,
      local.sizing.requests_per_second, local.sizing.output_tokens_per_second, local.sizing.gpus_used, local.gpu,
      var.concurrency, var.tensor_parallel_size, var.sla_hours,
      local.sla_concurrency, local.sizing.gpus_required, local.sla_worker_count, var.instance_type,
      ceil(local.sizing.hours_to_complete * 10) / 10
    ))
  }
}

# ---------------------------------------------------------------------------
# The Ray cluster. Its preconditions are the plan-time checks: nothing is
# created when the model does not fit, the GPUs are too few or the batch
# would miss its SLA.
# ---------------------------------------------------------------------------
resource "rayvllm_inference_cluster" "this" {
  name                    = var.name
  ami_id                  = var.ami_id
  subnet_id               = var.subnet_id
  iam_instance_profile    = var.iam_instance_profile
  key_name                = var.key_name
  hf_token_ssm_parameter  = var.hf_token_ssm_parameter
  ray_version             = var.ray_version
  vllm_version            = var.vllm_version
  python_packages         = length(var.python_packages) > 0 ? var.python_packages : null
  dashboard_ingress_cidrs = length(var.dashboard_ingress_cidrs) > 0 ? toset(var.dashboard_ingress_cidrs) : null
  wait_for_ray            = var.wait_for_ray
  tags                    = length(var.tags) > 0 ? var.tags : null

  head {
    instance_type = var.head_instance_type
  }

  idle_timeout_minutes = var.job_scoped_workers ? var.idle_timeout_minutes : null

  worker_group {
    name          = "gpu"
    instance_type = var.instance_type
    count         = var.job_scoped_workers ? null : local.worker_count
    min_workers   = var.job_scoped_workers ? 0 : null
    max_workers   = var.job_scoped_workers ? local.worker_count : null
  }

  lifecycle {
    precondition {
      condition     = local.checks.fit == null
      error_message = coalesce(local.checks.fit, "-")
    }
    precondition {
      condition     = local.checks.tensor_parallel == null
      error_message = coalesce(local.checks.tensor_parallel, "-")
    }
    precondition {
      condition     = local.checks.gpus == null
      error_message = coalesce(local.checks.gpus, "-")
    }
    precondition {
      condition     = local.checks.context == null
      error_message = coalesce(local.checks.context, "-")
    }
    precondition {
      condition     = local.checks.quantization == null
      error_message = coalesce(local.checks.quantization, "-")
    }
    precondition {
      condition     = !var.require_sla || local.checks.sla == null
      error_message = coalesce(local.checks.sla, "-")
    }
  }
}

# ---------------------------------------------------------------------------
# Optional online worker: the same engine behind Ray Serve's OpenAI API.
# ---------------------------------------------------------------------------
resource "rayvllm_vllm_worker" "this" {
  count = var.enable_worker ? 1 : 0

  dashboard_url = local.dashboard_url
  auth_token    = local.auth_token
  name          = var.name

  model_id               = coalesce(var.worker_model_id, var.name)
  model_source           = local.model_source
  accelerator_type       = local.accelerator
  quantization           = local.vllm_quantization
  tensor_parallel_size   = var.tensor_parallel_size
  max_model_len          = local.max_model_len
  max_num_seqs           = local.max_num_seqs
  max_num_batched_tokens = local.max_num_batched_tokens
  gpu_memory_utilization = var.gpu_memory_utilization
  kv_cache_dtype         = var.kv_cache_dtype == "auto" ? null : var.kv_cache_dtype
  num_replicas           = var.worker_num_replicas
}

# ---------------------------------------------------------------------------
# The batch job: the built-in Ray Data + vLLM run with the sized settings,
# or a custom entrypoint that gets them in its environment.
# ---------------------------------------------------------------------------
resource "rayvllm_batch_job" "this" {
  dashboard_url = local.dashboard_url
  auth_token    = local.auth_token

  vllm = var.job_entrypoint != null ? null : {
    model_source           = local.model_source
    accelerator_type       = local.accelerator
    quantization           = local.vllm_quantization
    tensor_parallel_size   = var.tensor_parallel_size
    max_model_len          = local.max_model_len
    max_num_seqs           = local.max_num_seqs
    max_num_batched_tokens = local.max_num_batched_tokens
    gpu_memory_utilization = var.gpu_memory_utilization
    kv_cache_dtype         = var.kv_cache_dtype == "auto" ? null : var.kv_cache_dtype
    batch_size             = local.batch_size
    concurrency            = var.concurrency
    resume                 = var.resume
    on_row_error           = var.on_row_error
    input = {
      path            = var.input_uri
      format          = var.input_format
      id_column       = var.input_id_column
      prompt_column   = var.input_messages_column == null ? var.input_prompt_column : null
      messages_column = var.input_messages_column
    }
    output = {
      path   = var.output_uri
      format = var.output_format
    }
    sampling = {
      temperature = var.temperature
      max_tokens  = local.max_output_tokens
    }
  }
  entrypoint = var.job_entrypoint

  runtime_env = {
    working_dir = var.job_working_dir
    env_vars = merge({
      RAYVLLM_STACK                  = var.name
      RAYVLLM_INPUT_URI              = var.input_uri
      RAYVLLM_OUTPUT_URI             = var.output_uri
      RAYVLLM_MODEL_SOURCE           = local.model_source
      RAYVLLM_BATCH_SIZE             = tostring(local.batch_size)
      RAYVLLM_CONCURRENCY            = tostring(var.concurrency)
      RAYVLLM_MAX_NUM_SEQS           = tostring(local.max_num_seqs)
      RAYVLLM_MAX_NUM_BATCHED_TOKENS = tostring(local.max_num_batched_tokens)
      RAYVLLM_MAX_MODEL_LEN          = tostring(local.max_model_len)
    }, var.job_env_vars)
  }

  metadata            = { stack = var.name, module = "rayvllm/batch-inference" }
  max_retries         = var.job_max_retries
  wait_for_completion = local.wait_for_completion

  timeouts = {
    create = var.job_create_timeout != null ? var.job_create_timeout : format("%dm", ceil(var.sla_hours * 60))
  }

  # The worker's replicas take their GPUs first when both are planned.
  depends_on = [rayvllm_vllm_worker.this]

  lifecycle {
    # Also the provider's check; here it names the module's inputs, and it
    # holds while the cluster's outputs are unknown.
    precondition {
      condition     = var.job_entrypoint != null || local.input_format_known
      error_message = "cannot tell the format of input_uri \"${var.input_uri}\" from its extension (a directory has none): set input_format to jsonl, parquet or csv."
    }
  }
}

# ---------------------------------------------------------------------------
# Monitoring: vLLM's metrics as Ray exports them, thresholds from the sizing,
# the SLA deadline from the job's start.
# ---------------------------------------------------------------------------
module "monitoring" {
  source = "../monitoring"

  name                       = var.name
  metric_source              = "ray"
  sizing                     = local.sizing
  job_start_time             = rayvllm_batch_job.this.start_time
  ttft_p99_threshold_seconds = var.ttft_p99_threshold_seconds
  alert_labels               = var.alert_labels
  grafana_datasource_uid     = var.grafana_datasource_uid
}
