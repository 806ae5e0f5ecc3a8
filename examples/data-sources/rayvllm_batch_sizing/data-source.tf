# Size a 2M-prompt batch of Llama-3.1-8B on g6e.xlarge (L40S) to finish in 12 hours.
data "rayvllm_batch_sizing" "nightly" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  instance_type      = "g6e.xlarge"
  max_model_len      = 4096
  num_requests       = 2000000
  mean_input_tokens  = 600
  mean_output_tokens = 200
  objective          = "throughput"
  sla_hours          = 12
}

output "plan" {
  value = {
    gpus_required          = data.rayvllm_batch_sizing.nightly.gpus_required
    max_num_seqs           = data.rayvllm_batch_sizing.nightly.max_num_seqs
    max_num_batched_tokens = data.rayvllm_batch_sizing.nightly.max_num_batched_tokens
    hours                  = data.rayvllm_batch_sizing.nightly.hours_to_complete
    cost_usd               = data.rayvllm_batch_sizing.nightly.cost_usd
  }
}

# The same run, rescaled by what a pilot rayvllm_batch_job measured (see
# examples/closed-loop for the wiring from its metrics).
data "rayvllm_batch_sizing" "from_pilot" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  instance_type      = "g6e.xlarge"
  max_model_len      = 4096
  num_requests       = 2000000
  mean_input_tokens  = 600
  mean_output_tokens = 200
  sla_hours          = 12
  measured_run = {
    engine_output_tokens_per_second = 1850 # the pilot's metrics.engine_output_tokens_per_second
    mean_input_tokens               = 590
    mean_output_tokens              = 210
    requests                        = 20000
  }
}
