# Does Qwen2.5-7B in its AWQ 4-bit checkpoint fit one L4 with an 8k context?
data "rayvllm_gpu_fit" "qwen7b_l4" {
  model                  = "Qwen/Qwen2.5-7B-Instruct-AWQ"
  gpu                    = "L4"
  quantization           = "awq_marlin"
  max_model_len          = 8192
  gpu_memory_utilization = 0.9
  max_num_batched_tokens = 2048
}

output "kv_cache_tokens" {
  value = data.rayvllm_gpu_fit.qwen7b_l4.kv_cache_tokens
}

# A model outside the catalog, from its config.json, on an instance type.
# require_fit = false reports a misfit instead of failing the plan.
data "rayvllm_gpu_fit" "custom" {
  model_config_json = jsonencode({
    architectures           = ["LlamaForCausalLM"]
    hidden_size             = 2048
    intermediate_size       = 8192
    num_hidden_layers       = 16
    num_attention_heads     = 32
    num_key_value_heads     = 8
    vocab_size              = 128256
    max_position_embeddings = 131072
    tie_word_embeddings     = true
    torch_dtype             = "bfloat16"
  })
  instance_type = "g6.xlarge"
  max_model_len = 32768
  require_fit   = false
}

output "custom_fits" {
  value = data.rayvllm_gpu_fit.custom.fits
}
