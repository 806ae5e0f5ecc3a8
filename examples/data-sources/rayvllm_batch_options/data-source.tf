# Every way to run a 2M-prompt batch of Llama-3.1-8B within 24 hours and
# $400, cheapest first at the safe (low-throughput) end of the range.
data "rayvllm_batch_options" "nightly" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  max_model_len      = 4096
  num_requests       = 2000000
  mean_input_tokens  = 600
  mean_output_tokens = 200
  sla_hours          = 24
  budget_usd         = 400
  instance_types     = ["g4dn.xlarge", "g5.xlarge", "g6.xlarge", "g6e.xlarge", "g6e.12xlarge", "p4d.24xlarge", "p5.48xlarge"]
  quantizations      = ["none", "fp8"]
}

locals {
  feasible = [for o in data.rayvllm_batch_options.nightly.options : o if o.feasible]
  best     = length(local.feasible) > 0 ? local.feasible[0] : null
}

# The cheapest option's settings are what the cluster (instance_type,
# instances) and the job (quantization, tensor_parallel_size, max_num_seqs,
# max_num_batched_tokens, concurrency = instances × replicas_per_instance)
# take, e.g. as modules/batch-inference's variables of the same names.
output "cheapest" {
  value = local.best == null ? null : {
    instance_type          = local.best.instance_type
    worker_count           = local.best.instances
    quantization           = local.best.quantization
    tensor_parallel_size   = local.best.tensor_parallel_size
    concurrency            = local.best.instances * local.best.replicas_per_instance
    max_num_seqs           = local.best.max_num_seqs
    max_num_batched_tokens = local.best.max_num_batched_tokens
    hours                  = local.best.hours_to_complete
    cost_usd               = local.best.cost_usd
    cost_usd_range         = [local.best.cost_usd_low, local.best.cost_usd_high]
  }
}

output "ruled_out" {
  value = { for o in data.rayvllm_batch_options.nightly.options : "${o.instance_type}/${o.quantization}/tp${o.tensor_parallel_size}" => o.why if !o.feasible }
}
