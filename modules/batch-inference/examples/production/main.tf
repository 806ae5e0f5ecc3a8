# The reference report's production configuration as one module call:
# Qwen2.5-0.5B, INT4 weights, 512-token prefill chunks, Ray Data batch 256,
# concurrency 4, a 24-hour SLA window, running all year (duty cycle 1).
#
#   terraform init
#   terraform plan -var subnet_id=subnet-... -var ami_id=ami-... \
#     -var iam_instance_profile=rayvllm-node -var 'dashboard_ingress_cidrs=["198.51.100.7/32"]' \
#     -var input_uri=s3://my-bucket/prompts/ -var output_uri=s3://my-bucket/answers/run-1
#
# The plan checks the fit and the SLA before anything is created, and shows
# the predicted throughput, hours and cost.

terraform {
  required_version = ">= 1.8"
  required_providers {
    rayvllm = {
      source = "rayvllm/rayvllm"
    }
  }
}

provider "rayvllm" {
  aws {
    region = "us-east-1"
  }
}

variable "subnet_id" {
  description = "Subnet of the nodes, with outbound internet for pip and Hugging Face."
  type        = string
}

variable "ami_id" {
  description = "AMI of the nodes, e.g. an AWS Deep Learning AMI with the NVIDIA driver."
  type        = string
}

variable "iam_instance_profile" {
  description = "Instance profile of the nodes (ssm:GetParameter on the cluster's token parameter)."
  type        = string
}

variable "dashboard_ingress_cidrs" {
  description = "Who may reach the Ray dashboard: your address as a /32, and wherever Terraform runs."
  type        = list(string)
}

variable "input_uri" {
  description = "The prompts: jsonl files with `id` and `prompt` columns (a directory such as s3://my-bucket/prompts/ or one file)."
  type        = string
}

variable "output_uri" {
  description = "Where the answers go."
  type        = string
}

module "batch" {
  source = "../.."

  name = "qwen05b-batch"

  # The report's model and INT4 weights. The fit and the sizing model the
  # catalog architecture with 4-bit weights; the engine loads Qwen's own
  # 4-bit AWQ checkpoint of the same model (vLLM reads its quantization_config).
  model        = "Qwen/Qwen2.5-0.5B-Instruct"
  quantization = "int4"
  model_source = "Qwen/Qwen2.5-0.5B-Instruct-AWQ"

  # The report ran an RTX 3090, which EC2 does not rent. g5.xlarge has the
  # nearest GPU: an A10G is the same Ampere GA102 chip with the same 24 GB of
  # GDDR6, at 600 GB/s of memory bandwidth instead of 936 GB/s, so decode,
  # which is bound by bandwidth, is predicted about a third slower. Ray Data's
  # concurrency 4 in the report; here six engine replicas on a GPU each (six
  # workers), because four miss the 24-hour window at the safe end of the
  # sizing's range (see below). Job-scoped workers exist only while the
  # batch runs: fixed ones would bill all 8760 hours of the year.
  instance_type      = "g5.xlarge"
  worker_count       = 6
  job_scoped_workers = true

  max_model_len          = 4096
  max_num_batched_tokens = 512 # the report's prefill chunk
  batch_size             = 256
  concurrency            = 6

  # The workload: 10M prompts of 512 tokens answered in 128 tokens within the
  # report's 24-hour window. The sizing plans at the safe (low) end of its
  # range; with four replicas that is about 29 h and the plan fails with the
  # SLA precondition, so the example runs six.
  num_requests       = 10000000
  mean_input_tokens  = 512
  mean_output_tokens = 128
  sla_hours          = 24
  # One batch a day: the job-scoped GPUs are paid for each run's window
  # (plus start-up and idle tail), not all year.
  batch_runs_per_year = 365

  input_uri    = var.input_uri
  input_format = "jsonl"
  output_uri   = var.output_uri
  resume       = true

  subnet_id               = var.subnet_id
  ami_id                  = var.ami_id
  iam_instance_profile    = var.iam_instance_profile
  dashboard_ingress_cidrs = var.dashboard_ingress_cidrs

  alert_labels = { team = "ml-infra" }
}

output "dashboard_url" {
  description = "Ray dashboard of the cluster."
  value       = module.batch.dashboard_url
}

output "predicted" {
  description = "Predicted throughput and hours."
  value       = module.batch.predicted
}

output "cost" {
  description = "Cost per hour, per run and per year."
  value       = module.batch.cost
}

output "sizing_summary" {
  description = "The engine and Ray Data settings in effect, and the memory fit."
  value       = module.batch.sizing_summary
}

output "job_status" {
  description = "Status of the batch job."
  value       = module.batch.job_status
}

output "job_metrics" {
  description = "Measured throughput of the batch job."
  value       = module.batch.job_metrics
}

output "rules_yaml" {
  description = "Prometheus rules."
  value       = module.batch.rules_yaml
}

output "dashboard_json" {
  description = "Grafana dashboard."
  value       = module.batch.dashboard_json
}
