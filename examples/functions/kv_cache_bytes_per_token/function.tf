# 2 × 32 layers × 8 KV heads × 128 head_dim × 2 bytes = 131072 bytes per token.
output "llama31_8b_kv_bytes_per_token" {
  value = provider::rayvllm::kv_cache_bytes_per_token("meta-llama/Llama-3.1-8B-Instruct", "auto", 1)
}
