# A Ray cluster on an existing Kubernetes cluster (EKS, GKE, AKS, on-prem)
# with the KubeRay operator installed: a CPU head, a fixed L4 group and an
# autoscaled A100 group, checked at plan time against the model.
provider "rayvllm" {
  kubernetes {
    config_path    = "~/.kube/config"
    config_context = "gpu-cluster"
  }
}

resource "rayvllm_kuberay_cluster" "this" {
  namespace = "ml"
  name      = "batch-llm"

  head {
    cpu        = 8
    memory_gib = 32
  }

  # Nodes labelled by NVIDIA GPU feature discovery (the GPU operator).
  worker_group {
    name        = "l4"
    gpu_product = "NVIDIA-L4"
    count       = 2
    cpu         = 8
    memory_gib  = 32
    tolerations = [{ key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" }]
  }

  # Scaled by Ray's in-tree autoscaler: no pod while there is no work.
  worker_group {
    name          = "a100"
    gpu_product   = "NVIDIA-A100-SXM4-80GB"
    gpus_per_node = 8
    min_workers   = 0
    max_workers   = 2
    cpu           = 64
    memory_gib    = 512
  }
  idle_timeout_minutes = 10

  fit_check {
    model         = "Qwen/Qwen2.5-7B-Instruct"
    max_model_len = 8192
  }
}

# The batch job reaches the head through the API server (port-forward).
resource "rayvllm_batch_job" "summaries" {
  dashboard_url = rayvllm_kuberay_cluster.this.dashboard_url
  auth_token    = rayvllm_kuberay_cluster.this.auth_token
  vllm = {
    model_source = "Qwen/Qwen2.5-7B-Instruct"
    input        = { path = "s3://my-bucket/prompts/", format = "parquet", prompt_column = "prompt", id_column = "id" }
    output       = { path = "s3://my-bucket/summaries/" }
    sampling     = { max_tokens = 256 }
    resume       = true
  }
}
