# One night's summaries on an EKS node pool of L4 GPUs with KubeRay installed.
provider "rayvllm" {
  kubernetes {
    config_path = "~/.kube/config"
  }
}

module "summaries" {
  source = "../.."

  namespace          = "ml"
  name               = "nightly-summaries"
  model              = "Qwen/Qwen2.5-7B-Instruct"
  gpu_product        = "NVIDIA-L4"
  concurrency        = 32
  max_model_len      = 8192
  num_requests       = 2000000
  mean_input_tokens  = 600
  mean_output_tokens = 200
  sla_hours          = 12

  input_uri    = "s3://my-bucket/prompts/"
  input_format = "jsonl"
  output_uri   = "s3://my-bucket/summaries/run-1"

  tolerations = [{ key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" }]
}

output "hours_to_complete" {
  value = module.summaries.hours_to_complete
}
