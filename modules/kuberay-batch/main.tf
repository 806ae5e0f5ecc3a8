# A batch inference run on an existing Kubernetes cluster through KubeRay:
# the plan checks that the model fits the node pool's GPU and that the batch
# finishes within its deadline, then creates a RayCluster sized for the
# job's replicas and runs the job on it through the API server.

locals {
  gpu          = var.gpu != null ? var.gpu : var.gpu_product
  worker_count = ceil(var.concurrency * var.tensor_parallel_size / var.gpus_per_node)
  model_source = coalesce(var.model_source, var.model)
}

# require_fit = false: a misfit fails the cluster's precondition, which says
# what to change, instead of the data source.
data "rayvllm_gpu_fit" "this" {
  count = local.gpu == null ? 0 : 1

  model                = var.model
  gpu                  = local.gpu
  quantization         = var.quantization
  tensor_parallel_size = var.tensor_parallel_size
  max_model_len        = var.max_model_len
  require_fit          = false
}

data "rayvllm_batch_sizing" "this" {
  count = try(local.fit.fits, false) ? 1 : 0

  model                  = var.model
  gpu                    = local.gpu
  quantization           = var.quantization
  tensor_parallel_size   = var.tensor_parallel_size
  max_model_len          = var.max_model_len
  concurrency            = var.concurrency
  num_requests           = var.num_requests
  mean_input_tokens      = var.mean_input_tokens
  mean_output_tokens     = var.mean_output_tokens
  sla_hours              = var.sla_hours
  price_per_gpu_hour_usd = var.price_per_gpu_hour_usd
}

locals {
  fit    = one(data.rayvllm_gpu_fit.this)
  sizing = one(data.rayvllm_batch_sizing.this)
  checks = {
    gpu = var.gpu != null || var.gpu_product != null ? null : "Set gpu_product to the GPU nodes' nvidia.com/gpu.product label (e.g. NVIDIA-L4), or gpu to a catalog name with node_selector."
    fit = try(local.fit.fits, true) ? null : format("%s does not fit one %s GPU: %s To fit, change one of: %s.",
      var.model, local.fit.gpu_name, join(" ", local.fit.reasons),
    length(local.fit.suggestions) == 0 ? "a smaller max_model_len or a GPU with more memory" : join("; ", local.fit.suggestions))
    tensor_parallel = var.tensor_parallel_size <= var.gpus_per_node ? null : format(
    "tensor_parallel_size = %d needs %d GPUs in one pod; set gpus_per_node to at least %d.", var.tensor_parallel_size, var.tensor_parallel_size, var.tensor_parallel_size)
    sla = try(local.sizing.meets_sla, true) ? null : format(
      "The batch would miss its deadline: %d requests take %.1f h on %d GPUs (concurrency %d), past sla_hours = %g. Set concurrency to %d (%d GPUs), or raise sla_hours to %.1f.",
      var.num_requests, local.sizing.hours_to_complete, var.concurrency * var.tensor_parallel_size, var.concurrency, var.sla_hours,
    ceil(local.sizing.gpus_required / var.tensor_parallel_size), local.sizing.gpus_required, ceil(local.sizing.hours_to_complete * 10) / 10)
  }
}

resource "rayvllm_kuberay_cluster" "this" {
  namespace = var.namespace
  name      = var.name

  head {
    cpu        = var.head_cpu
    memory_gib = var.head_memory_gib
  }

  worker_group {
    name          = "gpu"
    count         = local.worker_count
    gpus_per_node = var.gpus_per_node
    gpu_product   = var.gpu_product
    gpu           = var.gpu
    node_selector = length(var.node_selector) > 0 ? var.node_selector : null
    tolerations   = length(var.tolerations) > 0 ? var.tolerations : null
    cpu           = var.worker_cpu
    memory_gib    = var.worker_memory_gib
  }

  lifecycle {
    precondition {
      condition     = local.checks.gpu == null
      error_message = coalesce(local.checks.gpu, "-")
    }
    precondition {
      condition     = local.checks.fit == null
      error_message = coalesce(local.checks.fit, "-")
    }
    precondition {
      condition     = local.checks.tensor_parallel == null
      error_message = coalesce(local.checks.tensor_parallel, "-")
    }
    precondition {
      condition     = local.checks.sla == null
      error_message = coalesce(local.checks.sla, "-")
    }
  }
}

resource "rayvllm_batch_job" "this" {
  dashboard_url = rayvllm_kuberay_cluster.this.dashboard_url
  auth_token    = rayvllm_kuberay_cluster.this.auth_token
  vllm = {
    model_source         = local.model_source
    tensor_parallel_size = var.tensor_parallel_size
    max_model_len        = var.max_model_len
    concurrency          = var.concurrency
    resume               = true
    input                = { path = var.input_uri, format = var.input_format, prompt_column = var.prompt_column, id_column = var.id_column }
    output               = { path = var.output_uri }
    sampling             = { max_tokens = var.max_output_tokens }
  }
}
