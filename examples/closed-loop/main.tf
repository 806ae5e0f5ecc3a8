# Closed loop: run a pilot slice of the batch, then size the full run from
# what the pilot measured instead of from the calibrated model alone.
#
#   terraform apply -target=rayvllm_batch_job.pilot   # measure
#   terraform apply                                   # size from the metrics
#
# The sizing rescales its prediction by measured ÷ predicted for the
# pilot's own lengths and replicas (same model, GPU and engine settings),
# and says so in `notes`.
terraform {
  required_providers {
    rayvllm = { source = "rayvllm/rayvllm" }
  }
}

variable "model" {
  type    = string
  default = "meta-llama/Llama-3.1-8B-Instruct"
}

resource "rayvllm_batch_job" "pilot" {
  vllm = {
    model_source     = var.model
    accelerator_type = "L40S"
    max_model_len    = 8192
    concurrency      = 1
    input = {
      path            = "s3://my-bucket/prompts/pilot/" # e.g. 20k rows of the real prompts
      format          = "parquet"
      messages_column = "messages"
    }
    output = {
      path   = "s3://my-bucket/pilot-out/"
      format = "parquet"
    }
    sampling = { max_tokens = 1024 }
  }
}

locals {
  pilot = rayvllm_batch_job.pilot.metrics
}

data "rayvllm_batch_sizing" "full" {
  model              = var.model
  instance_type      = "g6e.xlarge"
  max_model_len      = 8192
  num_requests       = 50000000
  mean_input_tokens  = floor(local.pilot.input_tokens / local.pilot.rows)
  mean_output_tokens = floor(local.pilot.output_tokens / local.pilot.rows)
  sla_hours          = 12

  measured_run = {
    engine_output_tokens_per_second = local.pilot.engine_output_tokens_per_second
    mean_input_tokens               = floor(local.pilot.input_tokens / local.pilot.rows)
    mean_output_tokens              = floor(local.pilot.output_tokens / local.pilot.rows)
    replicas                        = 1
    requests                        = local.pilot.rows
  }
}

output "full_run" {
  value = {
    instances_required  = data.rayvllm_batch_sizing.full.instances_required
    hours               = data.rayvllm_batch_sizing.full.hours_to_complete
    cost_usd            = data.rayvllm_batch_sizing.full.cost_usd
    requests_per_second = data.rayvllm_batch_sizing.full.requests_per_second
    notes               = data.rayvllm_batch_sizing.full.notes
  }
}
