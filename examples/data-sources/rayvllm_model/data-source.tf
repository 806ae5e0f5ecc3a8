data "rayvllm_model" "qwen3_moe" {
  model = "Qwen/Qwen3-30B-A3B"
}

output "params" {
  value = {
    total  = data.rayvllm_model.qwen3_moe.params
    active = data.rayvllm_model.qwen3_moe.active_params
  }
}
