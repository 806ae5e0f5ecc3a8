data "rayvllm_model" "qwen3_moe" {
  model = "Qwen/Qwen3-30B-A3B"
}

output "params" {
  value = {
    total  = data.rayvllm_model.qwen3_moe.params
    active = data.rayvllm_model.qwen3_moe.active_params
  }
}

# Any Hugging Face id outside the catalog: its config.json is read from the
# Hub at plan time (HF_TOKEN or the provider's hf_token for gated models) and
# cached for offline plans. Pin a commit with model_revision.
data "rayvllm_model" "gemma3" {
  model = "google/gemma-3-12b-it"
}

output "gemma3" {
  value = {
    params        = data.rayvllm_model.gemma3.params        # 12.19B, SigLIP tower included
    vision_params = data.rayvllm_model.gemma3.vision_params # 421M
    head_dim      = data.rayvllm_model.gemma3.head_dim      # 256, transformers' default
    max_len       = data.rayvllm_model.gemma3.max_position_embeddings
    source        = data.rayvllm_model.gemma3.model_source # hub, or hub-cache offline
  }
}
