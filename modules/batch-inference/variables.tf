# ---------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------
variable "name" {
  description = "Name of the stack: the cluster name (unique in the account and region), the Serve application of the optional worker, the `stack` metadata of the Ray job and the `deployment` label of the monitoring rules."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$", var.name))
    error_message = "name must be 1 to 63 letters, digits and hyphens, starting with a letter or digit (it names the cluster and everything in it)."
  }
}

variable "tags" {
  description = "Tags on every EC2 object of the cluster, merged over the provider's `default_tags`."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Model and engine
# ---------------------------------------------------------------------------
variable "model" {
  description = "Hugging Face model id from the provider's catalog, e.g. `Qwen/Qwen2.5-0.5B-Instruct`: the architecture that the fit check and the sizing model."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$", var.model))
    error_message = "model must be a Hugging Face id such as \"Qwen/Qwen2.5-0.5B-Instruct\" (organisation/name)."
  }
}

variable "model_source" {
  description = "The checkpoint the engine loads: a Hugging Face id, a path on the nodes or an S3 URI, e.g. the 4-bit `Qwen/Qwen2.5-0.5B-Instruct-AWQ` for `quantization = \"int4\"`. Default: `model`."
  type        = string
  default     = null

  validation {
    condition     = var.model_source == null ? true : length(trimspace(var.model_source)) > 0
    error_message = "model_source must not be empty; leave it null to load model."
  }
}

variable "quantization" {
  description = "Weight quantization that the fit check and the sizing assume: `none` (the checkpoint's dtype), `fp32`, `fp16`, `bf16`, `fp8`, `int8`, `int4`, `awq`, `gptq` or `bitsandbytes`. `int4` and `int8` need a quantized `model_source` or a `vllm_quantization`."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "fp32", "fp16", "bf16", "fp8", "int8", "int4", "awq", "gptq", "bitsandbytes"], var.quantization)
    error_message = "quantization must be one of none, fp32, fp16, bf16, fp8, int8, int4, awq, gptq, bitsandbytes."
  }
}

variable "vllm_quantization" {
  description = "vLLM's `quantization` argument for the job and the worker, e.g. `awq`, `gptq`, `fp8`, `bitsandbytes`. Default: `quantization` when it is a vLLM method (`fp8`, `awq`, `gptq`, `bitsandbytes`), else none: vLLM reads a quantized checkpoint's own `quantization_config`."
  type        = string
  default     = null

  validation {
    condition     = var.vllm_quantization == null ? true : can(regex("^[a-z0-9_-]+$", var.vllm_quantization))
    error_message = "vllm_quantization must be a vLLM quantization method name such as awq, awq_marlin, gptq, fp8 or bitsandbytes."
  }
}

variable "kv_cache_dtype" {
  description = "KV cache dtype: `auto` (the model's dtype) or `fp8`."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "fp8"], var.kv_cache_dtype)
    error_message = "kv_cache_dtype must be \"auto\" or \"fp8\"."
  }
}

variable "tensor_parallel_size" {
  description = "GPUs per engine replica (vLLM `tensor_parallel_size`). It must divide the model's attention heads, and one replica must fit on one worker node."
  type        = number
  default     = 1

  validation {
    condition     = var.tensor_parallel_size >= 1 && var.tensor_parallel_size <= 64 && floor(var.tensor_parallel_size) == var.tensor_parallel_size
    error_message = "tensor_parallel_size must be a whole number from 1 to 64."
  }
}

variable "max_model_len" {
  description = "vLLM `max_model_len`: the longest prompt plus output in tokens. Default: the model's context length. A batch of short prompts fits more sequences in the KV cache with a smaller value."
  type        = number
  default     = null

  validation {
    condition     = var.max_model_len == null ? true : (var.max_model_len >= 16 && floor(var.max_model_len) == var.max_model_len)
    error_message = "max_model_len must be a whole number of at least 16 tokens, or null for the model's context length."
  }
}

variable "gpu_memory_utilization" {
  description = "vLLM `gpu_memory_utilization`: the share of each GPU's memory the engine may use, in (0, 1]."
  type        = number
  default     = 0.9

  validation {
    condition     = var.gpu_memory_utilization > 0 && var.gpu_memory_utilization <= 1
    error_message = "gpu_memory_utilization must be in (0, 1]."
  }
}

variable "max_num_batched_tokens" {
  description = "The prefill chunk: vLLM `max_num_batched_tokens`, tokens per scheduler step. It sets the activation peak (fit) and the prefill rate (sizing). Default: the value `rayvllm_batch_sizing` recommends for `objective`."
  type        = number
  default     = null

  validation {
    condition     = var.max_num_batched_tokens == null ? true : (var.max_num_batched_tokens >= 16 && floor(var.max_num_batched_tokens) == var.max_num_batched_tokens)
    error_message = "max_num_batched_tokens must be a whole number of at least 16 tokens, or null for the recommended value."
  }
}

variable "max_num_seqs" {
  description = "vLLM `max_num_seqs`: sequences per scheduler step. Default: the value `rayvllm_batch_sizing` recommends (as many as the KV cache holds, for `objective = \"throughput\"`)."
  type        = number
  default     = null

  validation {
    condition     = var.max_num_seqs == null ? true : (var.max_num_seqs >= 1 && floor(var.max_num_seqs) == var.max_num_seqs)
    error_message = "max_num_seqs must be a whole number of at least 1, or null for the recommended value."
  }
}

variable "objective" {
  description = "What `rayvllm_batch_sizing` recommends unset engine settings for: `throughput` (large prefill chunks, as many sequences as the KV cache allows) or `latency`."
  type        = string
  default     = "throughput"

  validation {
    condition     = contains(["throughput", "latency"], var.objective)
    error_message = "objective must be \"throughput\" or \"latency\"."
  }
}

# ---------------------------------------------------------------------------
# Hardware and cost
# ---------------------------------------------------------------------------
variable "instance_type" {
  description = "EC2 GPU instance type of the worker nodes, from the provider's catalog (`rayvllm_gpus`), e.g. `g5.xlarge` (1 × A10G 24 GB)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be an EC2 instance type such as \"g5.xlarge\" or \"p5.48xlarge\"."
  }
}

variable "worker_count" {
  description = "GPU worker nodes. Default: just enough GPUs for `concurrency` × `tensor_parallel_size` (plus the worker's replicas with `enable_worker`)."
  type        = number
  default     = null

  validation {
    condition     = var.worker_count == null ? true : (var.worker_count >= 1 && var.worker_count <= 1000 && floor(var.worker_count) == var.worker_count)
    error_message = "worker_count must be a whole number from 1 to 1000, or null to derive it from concurrency."
  }
}

variable "job_scoped_workers" {
  description = "Job-scoped GPU workers: the worker group is autoscaled by Ray's autoscaler with `min_workers = 0` and `max_workers = worker_count`. No GPU runs until the job asks for one; the workers terminate `idle_timeout_minutes` after the job's last task. The head stays on."
  type        = bool
  default     = false
}

variable "idle_timeout_minutes" {
  description = "With `job_scoped_workers`: minutes a worker may idle before Ray's autoscaler terminates it (the idle tail billed after the job), 1-1440."
  type        = number
  default     = 5

  validation {
    condition     = var.idle_timeout_minutes >= 1 && var.idle_timeout_minutes <= 1440 && floor(var.idle_timeout_minutes) == var.idle_timeout_minutes
    error_message = "idle_timeout_minutes must be a whole number of minutes from 1 to 1440."
  }
}

variable "worker_startup_minutes" {
  description = "With `job_scoped_workers`: your estimate of the minutes from the autoscaler's launch until a worker runs the job (EC2 boot, the bootstrap's pip install, model download and load), billed before the work. It only enters the cost timeline; measure it on your AMI (the bootstrap log has the times)."
  type        = number
  default     = 10

  validation {
    condition     = var.worker_startup_minutes >= 0 && var.worker_startup_minutes <= 240
    error_message = "worker_startup_minutes must be between 0 and 240."
  }
}

variable "head_instance_type" {
  description = "EC2 instance type of the head node (Ray GCS, dashboard, Jobs API and the job's driver; no GPU work)."
  type        = string
  default     = "m5.xlarge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.head_instance_type))
    error_message = "head_instance_type must be an EC2 instance type such as \"m5.xlarge\"."
  }
}

variable "price_per_gpu_hour_usd" {
  description = "Price of one GPU-hour in USD for the cost outputs and the sizing. Default: the on-demand list price of `instance_type` ÷ its GPUs, from the provider's dated catalog."
  type        = number
  default     = null

  validation {
    condition     = var.price_per_gpu_hour_usd == null ? true : var.price_per_gpu_hour_usd > 0
    error_message = "price_per_gpu_hour_usd must be greater than 0, or null for the catalog price."
  }
}

variable "batch_runs_per_year" {
  description = "How many times a year the batch runs, for `cost.per_year_usd`: the batch GPUs are paid for the predicted batch window of each run, not all year."
  type        = number
  default     = 1

  validation {
    condition     = var.batch_runs_per_year >= 0 && var.batch_runs_per_year <= 8760
    error_message = "batch_runs_per_year must be between 0 and 8760."
  }
}

variable "head_price_per_hour_usd" {
  description = "Price of the head node per hour in USD, counted in `cost` as always on. The provider's catalog holds GPU instance types only; null leaves the head out of the cost."
  type        = number
  default     = null

  validation {
    condition     = var.head_price_per_hour_usd == null ? true : var.head_price_per_hour_usd >= 0
    error_message = "head_price_per_hour_usd must be >= 0, or null to leave the head out of the cost."
  }
}

# ---------------------------------------------------------------------------
# Ray Data and the workload
# ---------------------------------------------------------------------------
variable "batch_size" {
  description = "Ray Data `batch_size`: rows handed to an engine replica per call. Default: the value `rayvllm_batch_sizing` recommends."
  type        = number
  default     = null

  validation {
    condition     = var.batch_size == null ? true : (var.batch_size >= 1 && floor(var.batch_size) == var.batch_size)
    error_message = "batch_size must be a whole number of at least 1, or null for the recommended value."
  }
}

variable "concurrency" {
  description = "Ray Data `concurrency`: engine replicas of the batch job, each on `tensor_parallel_size` GPUs of its own."
  type        = number
  default     = 1

  validation {
    condition     = var.concurrency >= 1 && floor(var.concurrency) == var.concurrency
    error_message = "concurrency must be a whole number of at least 1."
  }
}

variable "num_requests" {
  description = "Prompts in the batch (rows of the input dataset)."
  type        = number

  validation {
    condition     = var.num_requests >= 1 && floor(var.num_requests) == var.num_requests
    error_message = "num_requests must be a whole number of at least 1."
  }
}

variable "mean_input_tokens" {
  description = "Mean prompt length in tokens."
  type        = number

  validation {
    condition     = var.mean_input_tokens >= 1
    error_message = "mean_input_tokens must be at least 1."
  }
}

variable "mean_output_tokens" {
  description = "Mean generated tokens per prompt."
  type        = number

  validation {
    condition     = var.mean_output_tokens >= 1
    error_message = "mean_output_tokens must be at least 1."
  }
}

variable "sla_hours" {
  description = "The SLA window: hours within which the whole batch must finish. The plan fails when the sizing predicts longer (see `require_sla`), the job's create timeout defaults to it, and the SLA alerts measure against it."
  type        = number
  default     = 24

  validation {
    condition     = var.sla_hours > 0
    error_message = "sla_hours must be greater than 0."
  }
}

variable "require_sla" {
  description = "Fail the plan when the predicted time to finish exceeds `sla_hours`. With false the stack is planned anyway and `predicted.meets_sla` reports it."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# Dataset and sampling
# ---------------------------------------------------------------------------
variable "input_uri" {
  description = "The prompts: a file or directory as an absolute path on the nodes or a URI (`s3://`, `gs://`, ...)."
  type        = string

  validation {
    condition     = can(regex("^(/|[a-z][a-z0-9+.-]*://).+", var.input_uri))
    error_message = "input_uri must be an absolute path (/data/prompts.jsonl) or a URI (s3://bucket/prompts/)."
  }
}

variable "input_format" {
  description = "Format of the input: `jsonl`, `parquet` or `csv`. Default: from the extension of `input_uri`."
  type        = string
  default     = null

  validation {
    condition     = var.input_format == null ? true : contains(["jsonl", "parquet", "csv"], var.input_format)
    error_message = "input_format must be jsonl, parquet or csv, or null to take it from the extension."
  }
}

variable "input_id_column" {
  description = "The input column that identifies a row; copied to its output row."
  type        = string
  default     = "id"

  validation {
    condition     = length(var.input_id_column) > 0
    error_message = "input_id_column must not be empty."
  }
}

variable "input_prompt_column" {
  description = "The input column of prompt strings, sent through the model's chat template. Ignored when `input_messages_column` is set."
  type        = string
  default     = "prompt"

  validation {
    condition     = length(var.input_prompt_column) > 0
    error_message = "input_prompt_column must not be empty."
  }
}

variable "input_messages_column" {
  description = "An input column of OpenAI-style chat messages (a list of `{role, content}`), used instead of `input_prompt_column`."
  type        = string
  default     = null

  validation {
    condition     = var.input_messages_column == null ? true : length(var.input_messages_column) > 0
    error_message = "input_messages_column must not be empty; leave it null to use input_prompt_column."
  }
}

variable "output_uri" {
  description = "Where the results go: a directory as an absolute path on the nodes or a URI. The job writes one row per input row and `<output_uri>.metrics.json`."
  type        = string

  validation {
    condition     = can(regex("^(/|[a-z][a-z0-9+.-]*://).+", var.output_uri))
    error_message = "output_uri must be an absolute path (/data/out) or a URI (s3://bucket/out/run-1)."
  }
}

variable "output_format" {
  description = "Format of the output: `jsonl`, `parquet` or `csv`."
  type        = string
  default     = "jsonl"

  validation {
    condition     = contains(["jsonl", "parquet", "csv"], var.output_format)
    error_message = "output_format must be jsonl, parquet or csv."
  }
}

variable "max_output_tokens" {
  description = "vLLM `max_tokens`: the most tokens generated per row, a cap, not the expected length. Default: what `max_model_len` leaves after a mean prompt (`max_model_len` − `mean_input_tokens`). The sizing's time and cost use `mean_output_tokens`; a cap at the mean would cut every answer longer than the mean (vLLM stops it with finish_reason `length`), and vLLM's own default is 16."
  type        = number
  default     = null

  validation {
    condition     = var.max_output_tokens == null ? true : (var.max_output_tokens >= 1 && floor(var.max_output_tokens) == var.max_output_tokens)
    error_message = "max_output_tokens must be a whole number of at least 1, or null for what max_model_len leaves after a mean prompt."
  }
}

variable "temperature" {
  description = "vLLM sampling `temperature`; 0 is greedy."
  type        = number
  default     = 0

  validation {
    condition     = var.temperature >= 0
    error_message = "temperature must be at least 0."
  }
}

variable "resume" {
  description = "Process only the input rows whose id is not in a committed output (or errors) shard, and add their shards beside the others: a rerun after a crash, a stop or a lost node. Without it the output is overwritten."
  type        = bool
  default     = false
}

variable "on_row_error" {
  description = "What a row the engine rejects (e.g. a prompt longer than `max_model_len`) does to the job: `fail` it, or `skip` the row into `<output_uri>.errors` with the reason, counted in `job_metrics.failed_rows`."
  type        = string
  default     = "fail"

  validation {
    condition     = contains(["fail", "skip"], var.on_row_error)
    error_message = "on_row_error must be \"fail\" or \"skip\"."
  }
}

# ---------------------------------------------------------------------------
# Network and nodes
# ---------------------------------------------------------------------------
variable "subnet_id" {
  description = "Subnet of every node; the cluster's security group is created in its VPC. The nodes need outbound internet (or a proxy or VPC endpoints) for pip, Hugging Face and SSM."
  type        = string

  validation {
    condition     = can(regex("^subnet-[0-9a-f]{8,17}$", var.subnet_id))
    error_message = "subnet_id must be a subnet ID such as \"subnet-0123456789abcdef0\"."
  }
}

variable "ami_id" {
  description = "AMI of the nodes, e.g. an AWS Deep Learning AMI with the NVIDIA driver. It needs bash, curl, systemd and python3 with venv."
  type        = string

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be an AMI ID such as \"ami-0123456789abcdef0\"."
  }
}

variable "dashboard_ingress_cidrs" {
  description = "CIDR blocks (IPv4 or IPv6) allowed to reach the Ray dashboard and Jobs API on port 8265, e.g. your office or VPN. Terraform needs to reach it too, to submit the job. `0.0.0.0/0` and `::/0` are refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.dashboard_ingress_cidrs : can(cidrhost(c, 0)) && !contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "dashboard_ingress_cidrs must be CIDR blocks such as \"198.51.100.7/32\"; 0.0.0.0/0 and ::/0 would expose the Ray dashboard to the internet."
  }
}

variable "iam_instance_profile" {
  description = "Instance profile name or ARN of every node. Its role must allow `ssm:GetParameter` (and `kms:Decrypt`) on the cluster's Ray token parameter and on `hf_token_ssm_parameter`."
  type        = string

  validation {
    condition     = length(var.iam_instance_profile) > 0
    error_message = "iam_instance_profile must not be empty."
  }
}

variable "key_name" {
  description = "EC2 key pair for SSH. No SSH ingress is opened."
  type        = string
  default     = null
}

variable "hf_token_ssm_parameter" {
  description = "Name of an SSM SecureString holding a Hugging Face token (for gated models), read by the nodes at boot. The token never enters Terraform state."
  type        = string
  default     = null

  validation {
    condition     = var.hf_token_ssm_parameter == null ? true : startswith(var.hf_token_ssm_parameter, "/")
    error_message = "hf_token_ssm_parameter must be an SSM parameter name starting with \"/\", e.g. \"/hf/token\"."
  }
}

variable "ray_version" {
  description = "Ray version installed on the nodes (`ray[default,serve]==<version>`); 2.54.0 or newer. The default is the provider's tested version set (internal/versions/versions.json)."
  type        = string
  default     = "2.60.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.ray_version))
    error_message = "ray_version must be a version such as \"2.60.0\"."
  }
}

variable "vllm_version" {
  description = "vLLM version installed on the nodes (`vllm==<version>`). The default is the provider's tested version set: the vLLM release that the default Ray's `llm` extra pins."
  type        = string
  default     = "0.29.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+([.-]?[a-z0-9]+)*$", var.vllm_version))
    error_message = "vllm_version must be a version such as \"0.29.0\"."
  }
}

variable "python_packages" {
  description = "Extra pinned pip requirements installed on the nodes, e.g. `[\"pandas==2.2.3\"]`."
  type        = list(string)
  default     = []
}

variable "wait_for_ray" {
  description = "Wait after creating the cluster until its Ray dashboard answers (needs `dashboard_ingress_cidrs` to include this machine). Turn off only when the job targets another Ray (`ray_dashboard_url`)."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# Connection overrides
# ---------------------------------------------------------------------------
variable "ray_dashboard_url" {
  description = "Ray dashboard the job and the worker are sent to instead of the cluster's own, e.g. through an SSH tunnel or a proxy (`http://127.0.0.1:8265`), or a local Ray in tests. Default: the cluster's `dashboard_url`."
  type        = string
  default     = null

  validation {
    condition     = var.ray_dashboard_url == null ? true : can(regex("^https?://[^/]+", var.ray_dashboard_url))
    error_message = "ray_dashboard_url must be an http:// or https:// URL such as \"http://127.0.0.1:8265\"."
  }
}

variable "ray_auth_token" {
  description = "Ray auth token for `ray_dashboard_url`. Default: the cluster's token when the job targets the cluster; with `ray_dashboard_url` the provider's `auth_token`, then `RAY_AUTH_TOKEN` (the cluster's token is never sent elsewhere)."
  type        = string
  default     = null
  sensitive   = true
}

# ---------------------------------------------------------------------------
# The batch job
# ---------------------------------------------------------------------------
variable "job_entrypoint" {
  description = "Custom mode: a shell command to run as the Ray job instead of the built-in Ray Data + vLLM run, e.g. `python batch.py`. It gets the plan in its environment: `RAYVLLM_INPUT_URI`, `RAYVLLM_OUTPUT_URI`, `RAYVLLM_MODEL_SOURCE`, `RAYVLLM_BATCH_SIZE`, `RAYVLLM_CONCURRENCY`, `RAYVLLM_MAX_NUM_SEQS`, `RAYVLLM_MAX_NUM_BATCHED_TOKENS`, `RAYVLLM_MAX_MODEL_LEN`. A `rayvllm-metrics: {json}` line in its log fills `job.metrics`."
  type        = string
  default     = null

  validation {
    condition     = var.job_entrypoint == null ? true : length(trimspace(var.job_entrypoint)) > 0
    error_message = "job_entrypoint must not be empty; leave it null for the built-in vLLM run."
  }
}

variable "job_working_dir" {
  description = "Local directory uploaded as the job's `runtime_env.working_dir` (for `job_entrypoint`'s code), relative to where Terraform runs; prefer `$${path.root}/...`."
  type        = string
  default     = null
}

variable "job_env_vars" {
  description = "Extra environment variables of the job and its workers, e.g. `{ HF_TOKEN = var.hf_token }`. Sensitive."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "job_max_retries" {
  description = "How many times a job that ends FAILED is submitted again (with `resume`, a retry skips the rows already written)."
  type        = number
  default     = 0

  validation {
    condition     = var.job_max_retries >= 0 && var.job_max_retries <= 10 && floor(var.job_max_retries) == var.job_max_retries
    error_message = "job_max_retries must be a whole number from 0 to 10."
  }
}

variable "job_wait_for_completion" {
  description = "Wait in apply until the job ends, and fail when it ends FAILED or STOPPED. With false apply returns once the job is submitted (and releases the state lock); refreshes report its status and metrics. Default: false for long runs (predicted over `long_run_hours`), true otherwise."
  type        = bool
  default     = null
}

variable "long_run_hours" {
  description = "A run predicted longer than this many hours is long: `job_wait_for_completion` defaults to false for it."
  type        = number
  default     = 1

  validation {
    condition     = var.long_run_hours > 0
    error_message = "long_run_hours must be above 0."
  }
}

variable "job_create_timeout" {
  description = "How long apply waits for the job, a Go duration such as `6h` or `90m`. Default: `sla_hours`."
  type        = string
  default     = null

  validation {
    condition     = var.job_create_timeout == null ? true : can(regex("^([0-9]+(\\.[0-9]+)?(h|m|s))+$", var.job_create_timeout))
    error_message = "job_create_timeout must be a Go duration such as \"6h\", \"90m\" or \"1h30m\"."
  }
}

# ---------------------------------------------------------------------------
# Optional online worker
# ---------------------------------------------------------------------------
variable "enable_worker" {
  description = "Also serve the model online: a `rayvllm_vllm_worker` (Ray Serve LLM, OpenAI-compatible) on the same cluster with the same engine settings. Its replicas take GPUs beside the job's."
  type        = bool
  default     = false
}

variable "worker_model_id" {
  description = "Model name that clients of the worker send (`model` in OpenAI requests). Default: `name`."
  type        = string
  default     = null
}

variable "worker_num_replicas" {
  description = "Engine replicas of the worker, each on `tensor_parallel_size` GPUs."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_num_replicas >= 1 && floor(var.worker_num_replicas) == var.worker_num_replicas
    error_message = "worker_num_replicas must be a whole number of at least 1."
  }
}

# ---------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------
variable "ttft_p99_threshold_seconds" {
  description = "p99 time to first token above which VLLMHighPrefillLatency fires. Default null, no alert: vLLM's TTFT includes the time a request waits in the engine queue, and an offline batch queues its whole input, so the report's 0.1 s online target would always fire."
  type        = number
  default     = null

  validation {
    condition     = var.ttft_p99_threshold_seconds == null ? true : var.ttft_p99_threshold_seconds > 0
    error_message = "ttft_p99_threshold_seconds must be greater than 0, or null for no prefill-latency alert."
  }
}

variable "alert_labels" {
  description = "Extra labels on every alert, e.g. `{ team = \"ml-infra\" }` for Alertmanager routing."
  type        = map(string)
  default     = {}
}

variable "grafana_datasource_uid" {
  description = "UID of the Grafana Prometheus data source the dashboard queries. Null: the dashboard gets a `datasource` variable."
  type        = string
  default     = null
}
