# Plan-level tests of modules/kuberay-batch against the real provider (make
# install): the fit and sizing are offline, and the cluster and the job plan
# without an API server or Ray. The apply-level path (a RayCluster through
# the real KubeRay operator, a batch job through the port-forward) is
# internal/provider's TestAccBatchJob_onKubeRay.

variables {
  namespace          = "ml"
  name               = "kb-plan"
  model              = "Qwen/Qwen2.5-7B-Instruct"
  gpu_product        = "NVIDIA-L4"
  concurrency        = 4
  max_model_len      = 8192
  num_requests       = 1000000
  mean_input_tokens  = 600
  mean_output_tokens = 200
  input_uri          = "s3://bucket/prompts/"
  input_format       = "jsonl"
  output_uri         = "s3://bucket/answers/run-1"
}

run "fits" {
  command = plan

  assert {
    condition     = alltrue([for k, v in output.checks : v == null])
    error_message = "Every check must pass: ${jsonencode(output.checks)}."
  }
  assert {
    condition     = rayvllm_kuberay_cluster.this.worker_group[0].count == 4 && rayvllm_kuberay_cluster.this.total_gpus == 4
    error_message = "concurrency 4 on one-GPU pods must give 4 workers and 4 GPUs."
  }
  assert {
    condition     = rayvllm_kuberay_cluster.this.worker_group[0].gpu_model == "L4"
    error_message = "NVIDIA-L4 must resolve to the catalog's L4, got ${rayvllm_kuberay_cluster.this.worker_group[0].gpu_model}."
  }
  assert {
    condition     = output.hours_to_complete > 0
    error_message = "The sizing must predict the batch's hours."
  }
}

run "eight_gpu_pods" {
  command = plan
  variables {
    gpu_product            = "NVIDIA-A100-SXM4-80GB"
    gpus_per_node          = 8
    tensor_parallel_size   = 2
    concurrency            = 6
    price_per_gpu_hour_usd = 2.5
  }
  assert {
    condition     = output.worker_count == 2 && rayvllm_kuberay_cluster.this.total_gpus == 16
    error_message = "6 replicas × 2 GPUs on 8-GPU pods need 2 pods (16 GPUs), got ${output.worker_count}."
  }
  assert {
    condition     = output.cost_usd > 0
    error_message = "A price must give a cost."
  }
}

run "misfit" {
  command = plan
  variables {
    model = "meta-llama/Llama-3.1-70B-Instruct"
  }
  expect_failures = [rayvllm_kuberay_cluster.this]
}

run "missed_deadline" {
  command = plan
  variables {
    concurrency = 1
    sla_hours   = 1
  }
  expect_failures = [rayvllm_kuberay_cluster.this]
}

run "no_gpu" {
  command = plan
  variables {
    gpu_product = null
  }
  expect_failures = [rayvllm_kuberay_cluster.this]
}

run "bad_name" {
  command = plan
  variables {
    name = "Batch_1"
  }
  expect_failures = [var.name]
}
