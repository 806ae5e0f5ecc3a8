package hfconfig

import "sort"

// modelType is what the provider knows of one Hugging Face model_type: the
// defaults its transformers configuration class fills in for a field that a
// config.json leaves out, and the rules transformers and vLLM apply to it.
// A config.json is read as transformers reads it: its own fields over these
// defaults (PreTrainedConfig subclasses are dataclasses in transformers 5;
// each entry cites transformers/models/<dir>/configuration_<dir>.py, read at
// transformers 5.19.0, the version in .ci/requirements.lock). Only the fields
// the memory model reads are listed; TestConfigDifferential checks every entry
// against transformers' own default config and vLLM's ModelConfig.
type modelType struct {
	// defaults are the class defaults of the fields the memory model reads.
	// head_dim is absent where transformers computes it as
	// hidden_size // num_attention_heads.
	defaults map[string]any
	// text is the model_type of a multimodal model's text_config when the
	// text_config does not say.
	text string
	// useSliding: sliding_window only applies when use_sliding_window is true
	// (Qwen2 family); off is 0 rather than null for qwen2_moe.
	useSliding bool
	// layerTypes is transformers' default layer_types (__post_init__): true
	// for a sliding-window layer. nil: the window, when set, is on every
	// layer (Mistral, Mixtral, Phi-3).
	layerTypes func(c cfg, layers int) []bool
	// qkvBias: the q/k/v projections always carry a bias (Qwen2 family).
	qkvBias bool
	// expertSize is the key of an expert's MLP width: moe_intermediate_size,
	// or intermediate_size where experts are full-size MLPs (Mixtral).
	expertSize string
	// norms per layer of hidden size (Gemma 2/3: four); 0 means 2.
	norms int
	// arch is the architectures[0] the type's causal-LM class has.
	arch string
	// hybrid reads a hybrid model's layer kinds and state mixer (hybrid.go).
	hybrid func(c cfg, m *Model) error
	// extra reads the type's own fields after parseArch (llama4.go).
	extra func(c cfg, m *Model) error
}

func alternating(c cfg, n int) []bool { // sliding on even layers: (i+1) % 2 != 0
	out := make([]bool, n)
	for i := range out {
		out[i] = (i+1)%2 != 0
	}
	return out
}

// qwen2Layers: layers from max_window_layers on slide, when a window is set.
func qwen2Layers(c cfg, n int) []bool {
	mw, _ := c.int(0, "max_window_layers")
	out := make([]bool, n)
	for i := range out {
		out[i] = i >= mw
	}
	return out
}

// gemma3Layers: every sliding_window_pattern-th layer (default 6) is global.
func gemma3Layers(c cfg, n int) []bool {
	p, _ := c.int(6, "sliding_window_pattern")
	out := make([]bool, n)
	for i := range out {
		out[i] = p == 0 || (i+1)%p != 0
	}
	return out
}

func qwen2MoELayers(c cfg, n int) []bool {
	mw, _ := c.int(0, "max_window_layers")
	out := make([]bool, n)
	for i := range out {
		out[i] = (i+1)%2 != 0 && i < mw
	}
	return out
}

var llamaDefaults = map[string]any{ // llama/configuration_llama.py
	"vocab_size": 32000.0, "hidden_size": 4096.0, "intermediate_size": 11008.0, "num_hidden_layers": 32.0,
	"num_attention_heads": 32.0, "max_position_embeddings": 2048.0, "tie_word_embeddings": false,
	"attention_bias": false, "mlp_bias": false,
}

var modelTypes = map[string]modelType{
	"llama": {defaults: llamaDefaults, arch: "LlamaForCausalLM"},
	"mistral": {arch: "MistralForCausalLM", defaults: map[string]any{ // mistral/configuration_mistral.py
		"vocab_size": 32000.0, "hidden_size": 4096.0, "intermediate_size": 14336.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 8.0, "max_position_embeddings": 131072.0,
		"tie_word_embeddings": false, "sliding_window": 4096.0,
	}},
	"mixtral": {arch: "MixtralForCausalLM", expertSize: "intermediate_size", defaults: map[string]any{ // mixtral/configuration_mixtral.py
		"vocab_size": 32000.0, "hidden_size": 4096.0, "intermediate_size": 14336.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 8.0, "max_position_embeddings": 131072.0,
		"tie_word_embeddings": false, "num_local_experts": 8.0, "num_experts_per_tok": 2.0,
	}},
	"phi3": {arch: "Phi3ForCausalLM", defaults: map[string]any{ // phi3/configuration_phi3.py
		"vocab_size": 32064.0, "hidden_size": 3072.0, "intermediate_size": 8192.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "max_position_embeddings": 4096.0, "original_max_position_embeddings": 4096.0,
		"tie_word_embeddings": false,
	}},
	"phimoe": {arch: "PhimoeForCausalLM", expertSize: "intermediate_size", defaults: map[string]any{ // phimoe/configuration_phimoe.py
		"vocab_size": 32064.0, "hidden_size": 4096.0, "intermediate_size": 6400.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 8.0, "max_position_embeddings": 131072.0,
		"tie_word_embeddings": false, "attention_bias": false, "num_local_experts": 16.0, "num_experts_per_tok": 2.0,
	}},
	"gemma": {arch: "GemmaForCausalLM", defaults: map[string]any{ // gemma/configuration_gemma.py
		"vocab_size": 256000.0, "hidden_size": 3072.0, "intermediate_size": 24576.0, "num_hidden_layers": 28.0,
		"num_attention_heads": 16.0, "num_key_value_heads": 16.0, "head_dim": 256.0, "max_position_embeddings": 8192.0,
		"tie_word_embeddings": true, "attention_bias": false,
	}},
	"gemma2": {arch: "Gemma2ForCausalLM", norms: 4, layerTypes: alternating, defaults: map[string]any{ // gemma2/configuration_gemma2.py
		"vocab_size": 256000.0, "hidden_size": 2304.0, "intermediate_size": 9216.0, "num_hidden_layers": 26.0,
		"num_attention_heads": 8.0, "num_key_value_heads": 4.0, "head_dim": 256.0, "max_position_embeddings": 8192.0,
		"tie_word_embeddings": true, "attention_bias": false, "sliding_window": 4096.0,
	}},
	"gemma3_text": {arch: "Gemma3ForCausalLM", norms: 4, layerTypes: gemma3Layers, defaults: map[string]any{ // gemma3/configuration_gemma3.py
		"vocab_size": 262208.0, "hidden_size": 2304.0, "intermediate_size": 9216.0, "num_hidden_layers": 26.0,
		"num_attention_heads": 8.0, "num_key_value_heads": 4.0, "head_dim": 256.0, "max_position_embeddings": 131072.0,
		"tie_word_embeddings": true, "attention_bias": false, "sliding_window": 4096.0,
	}},
	// Gemma3Config: the text_config is a Gemma3TextConfig, the vision_config
	// a SiglipVisionConfig (gemma3/configuration_gemma3.py).
	"gemma3": {arch: "Gemma3ForConditionalGeneration", text: "gemma3_text", defaults: map[string]any{
		"tie_word_embeddings": true,
		"vision_config":       map[string]any{"model_type": "siglip_vision_model"},
	}},
	"qwen2": {arch: "Qwen2ForCausalLM", useSliding: true, qkvBias: true, layerTypes: qwen2Layers, defaults: map[string]any{ // qwen2/configuration_qwen2.py
		"vocab_size": 151936.0, "hidden_size": 4096.0, "intermediate_size": 22016.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 32.0, "max_position_embeddings": 32768.0,
		"tie_word_embeddings": false, "use_sliding_window": false, "sliding_window": 4096.0, "max_window_layers": 28.0,
	}},
	"qwen2_moe": {arch: "Qwen2MoeForCausalLM", useSliding: true, qkvBias: true, layerTypes: qwen2MoELayers, expertSize: "moe_intermediate_size", defaults: map[string]any{ // qwen2_moe/configuration_qwen2_moe.py
		"vocab_size": 151936.0, "hidden_size": 2048.0, "intermediate_size": 5632.0, "num_hidden_layers": 24.0,
		"num_attention_heads": 16.0, "num_key_value_heads": 16.0, "max_position_embeddings": 32768.0,
		"tie_word_embeddings": false, "use_sliding_window": false, "sliding_window": 4096.0, "max_window_layers": 28.0,
		"num_experts": 60.0, "num_experts_per_tok": 4.0, "moe_intermediate_size": 1408.0,
		"shared_expert_intermediate_size": 5632.0, "decoder_sparse_step": 1.0,
	}},
	"qwen3": {arch: "Qwen3ForCausalLM", useSliding: true, layerTypes: qwen2Layers, defaults: map[string]any{ // qwen3/configuration_qwen3.py
		"vocab_size": 151936.0, "hidden_size": 4096.0, "intermediate_size": 22016.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 32.0, "head_dim": 128.0, "max_position_embeddings": 32768.0,
		"tie_word_embeddings": false, "attention_bias": false, "use_sliding_window": false, "sliding_window": 4096.0,
		"max_window_layers": 28.0,
	}},
	"qwen3_moe": {arch: "Qwen3MoeForCausalLM", useSliding: true, expertSize: "moe_intermediate_size", defaults: map[string]any{ // qwen3_moe/configuration_qwen3_moe.py
		"vocab_size": 151936.0, "hidden_size": 2048.0, "intermediate_size": 6144.0, "num_hidden_layers": 24.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 4.0, "max_position_embeddings": 32768.0,
		"tie_word_embeddings": false, "attention_bias": false, "use_sliding_window": false, "sliding_window": 4096.0,
		"num_experts": 128.0, "num_experts_per_tok": 8.0, "moe_intermediate_size": 768.0, "decoder_sparse_step": 1.0,
	}},
	"qwen2_5_vl_text": {arch: "Qwen2_5_VLForConditionalGeneration", useSliding: true, qkvBias: true, layerTypes: qwen2Layers, defaults: map[string]any{ // qwen2_5_vl/configuration_qwen2_5_vl.py
		"vocab_size": 152064.0, "hidden_size": 8192.0, "intermediate_size": 29568.0, "num_hidden_layers": 80.0,
		"num_attention_heads": 64.0, "num_key_value_heads": 8.0, "max_position_embeddings": 32768.0,
		"tie_word_embeddings": false, "use_sliding_window": false, "sliding_window": 4096.0, "max_window_layers": 80.0,
	}},
	// Qwen2_5_VLConfig: older checkpoints keep the text fields at the top
	// level, which transformers moves into text_config.
	"qwen2_5_vl": {arch: "Qwen2_5_VLForConditionalGeneration", text: "qwen2_5_vl_text", defaults: map[string]any{
		"tie_word_embeddings": false, "vision_config": map[string]any{"model_type": "qwen2_5_vl_vision"},
	}},
	"deepseek_v2": {arch: "DeepseekV2ForCausalLM", expertSize: "moe_intermediate_size", defaults: map[string]any{ // deepseek_v2/configuration_deepseek_v2.py
		"vocab_size": 102400.0, "hidden_size": 4096.0, "intermediate_size": 11008.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 32.0, "max_position_embeddings": 2048.0,
		"tie_word_embeddings": false, "attention_bias": false, "n_routed_experts": 64.0, "num_experts_per_tok": nil,
		"moe_intermediate_size": 1407.0, "n_shared_experts": 2.0, "first_k_dense_replace": 0.0, "kv_lora_rank": 512.0,
		"q_lora_rank": 1536.0, "qk_rope_head_dim": 64.0, "qk_nope_head_dim": 128.0, "v_head_dim": 128.0,
	}},
	"deepseek_v3": {arch: "DeepseekV3ForCausalLM", expertSize: "moe_intermediate_size", defaults: map[string]any{ // deepseek_v3/configuration_deepseek_v3.py
		"vocab_size": 129280.0, "hidden_size": 7168.0, "intermediate_size": 18432.0, "num_hidden_layers": 61.0,
		"num_attention_heads": 128.0, "num_key_value_heads": 128.0, "max_position_embeddings": 4096.0,
		"tie_word_embeddings": false, "attention_bias": false, "n_routed_experts": 256.0, "num_experts_per_tok": 8.0,
		"moe_intermediate_size": 2048.0, "n_shared_experts": 1.0, "first_k_dense_replace": 3.0, "kv_lora_rank": 512.0,
		"q_lora_rank": 1536.0, "qk_rope_head_dim": 64.0, "qk_nope_head_dim": 128.0, "v_head_dim": 128.0,
	}},
	"glm4_moe": {arch: "Glm4MoeForCausalLM", expertSize: "moe_intermediate_size", defaults: map[string]any{ // glm4_moe/configuration_glm4_moe.py
		"vocab_size": 151552.0, "hidden_size": 4096.0, "intermediate_size": 10944.0, "num_hidden_layers": 46.0,
		"num_attention_heads": 96.0, "num_key_value_heads": 8.0, "max_position_embeddings": 131072.0,
		"tie_word_embeddings": false, "attention_bias": false, "partial_rotary_factor": 0.5, "n_routed_experts": 128.0,
		"num_experts_per_tok": 8.0, "moe_intermediate_size": 1408.0, "n_shared_experts": 1.0, "first_k_dense_replace": 1.0,
	}},
	"gpt_oss": {arch: "GptOssForCausalLM", expertSize: "intermediate_size", layerTypes: alternating, defaults: map[string]any{ // gpt_oss/configuration_gpt_oss.py
		"vocab_size": 201088.0, "hidden_size": 2880.0, "intermediate_size": 2880.0, "num_hidden_layers": 36.0,
		"num_attention_heads": 64.0, "num_key_value_heads": 8.0, "head_dim": 64.0, "max_position_embeddings": 131072.0,
		"tie_word_embeddings": false, "attention_bias": true, "sliding_window": 128.0, "num_local_experts": 128.0,
		"num_experts_per_tok": 4.0,
		"rope_parameters":     map[string]any{"rope_type": "yarn", "factor": 32.0, "original_max_position_embeddings": 4096.0, "rope_theta": 150000.0},
	}},
	"qwen3_vl_text": {arch: "Qwen3VLForConditionalGeneration", defaults: map[string]any{ // qwen3_vl/configuration_qwen3_vl.py (Qwen3VLTextConfig)
		"vocab_size": 151936.0, "hidden_size": 4096.0, "intermediate_size": 22016.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 32.0, "head_dim": 128.0, "max_position_embeddings": 128000.0,
		"tie_word_embeddings": false, "attention_bias": false,
	}},
	// Qwen3VLConfig: a Qwen3VLTextConfig and a Qwen3VLVisionConfig.
	"qwen3_vl": {arch: "Qwen3VLForConditionalGeneration", text: "qwen3_vl_text", defaults: map[string]any{
		"tie_word_embeddings": false, "vision_config": map[string]any{"model_type": "qwen3_vl_vision"},
	}},
	"qwen3_vl_moe_text": {arch: "Qwen3VLMoeForConditionalGeneration", expertSize: "moe_intermediate_size", defaults: map[string]any{ // qwen3_vl_moe/configuration_qwen3_vl_moe.py
		"vocab_size": 151936.0, "hidden_size": 2048.0, "intermediate_size": 5632.0, "num_hidden_layers": 24.0,
		"num_attention_heads": 16.0, "num_key_value_heads": 16.0, "max_position_embeddings": 128000.0,
		"tie_word_embeddings": true, "attention_bias": false, "decoder_sparse_step": 1.0, "moe_intermediate_size": 1408.0,
		"num_experts_per_tok": 4.0, "num_experts": 60.0,
	}},
	"qwen3_vl_moe": {arch: "Qwen3VLMoeForConditionalGeneration", text: "qwen3_vl_moe_text", defaults: map[string]any{
		"tie_word_embeddings": false, "vision_config": map[string]any{"model_type": "qwen3_vl_moe_vision"},
	}},
	// Mistral3Config: a mistral text_config and a Pixtral vision tower
	// (mistral3/configuration_mistral3.py).
	// Without sub-configs, __post_init__ builds Mistral-Small-3.1's.
	"mistral3": {arch: "Mistral3ForConditionalGeneration", text: "mistral", defaults: map[string]any{
		"tie_word_embeddings": true, "spatial_merge_size": 2.0, "multimodal_projector_bias": false, "vision_feature_layer": -1.0,
		"vision_config": map[string]any{"model_type": "pixtral", "intermediate_size": 4096.0, "hidden_size": 1024.0,
			"patch_size": 14.0, "image_size": 1540.0, "num_hidden_layers": 24.0, "num_attention_heads": 16.0},
		"text_config": map[string]any{"model_type": "mistral", "head_dim": 128.0, "hidden_size": 5120.0, "intermediate_size": 32768.0,
			"max_position_embeddings": 131072.0, "num_attention_heads": 32.0, "num_hidden_layers": 40.0, "num_key_value_heads": 8.0,
			"sliding_window": nil, "vocab_size": 131072.0},
	}},
	// Hybrid attention/state models (hybrid.go).
	"qwen3_next": {arch: "Qwen3NextForCausalLM", expertSize: "moe_intermediate_size", hybrid: parseQwen3Next, defaults: map[string]any{ // qwen3_next/configuration_qwen3_next.py
		"vocab_size": 151936.0, "hidden_size": 2048.0, "intermediate_size": 5632.0, "num_hidden_layers": 48.0,
		"num_attention_heads": 16.0, "num_key_value_heads": 2.0, "head_dim": 256.0, "max_position_embeddings": 32768.0,
		"tie_word_embeddings": false, "attention_bias": false, "partial_rotary_factor": 0.25, "decoder_sparse_step": 1.0,
		"num_experts": 512.0, "num_experts_per_tok": 10.0, "moe_intermediate_size": 512.0, "shared_expert_intermediate_size": 512.0,
		"linear_conv_kernel_dim": 4.0, "linear_key_head_dim": 128.0, "linear_value_head_dim": 128.0,
		"linear_num_key_heads": 16.0, "linear_num_value_heads": 32.0,
	}},
	"nemotron_h": {arch: "NemotronHForCausalLM", expertSize: "moe_intermediate_size", hybrid: parseNemotronH, defaults: map[string]any{ // nemotron_h/configuration_nemotron_h.py
		"vocab_size": 131072.0, "hidden_size": 4096.0, "intermediate_size": 21504.0, "layers_block_type": []any{"linear_attention", "moe", "full_attention", "mlp"},
		"num_attention_heads": 32.0, "num_key_value_heads": 8.0, "head_dim": 128.0, "max_position_embeddings": 4096.0,
		"tie_word_embeddings": false, "attention_bias": false, "ssm_state_size": 128.0, "mamba_num_heads": 128.0,
		"mamba_head_dim": 64.0, "n_groups": 8.0, "conv_kernel": 4.0, "use_conv_bias": true, "mamba_proj_bias": false,
		"mamba_ssm_cache_dtype": "float32", "n_routed_experts": 8.0, "num_experts_per_tok": 2.0, "moe_intermediate_size": 7688.0,
	}},
	"granitemoehybrid": {arch: "GraniteMoeHybridForCausalLM", expertSize: "intermediate_size", hybrid: parseGraniteHybrid, defaults: map[string]any{ // granitemoehybrid/configuration_granitemoehybrid.py
		"vocab_size": 32000.0, "hidden_size": 4096.0, "intermediate_size": 11008.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "max_position_embeddings": 2048.0, "tie_word_embeddings": false, "attention_bias": false,
		"num_local_experts": 8.0, "num_experts_per_tok": 2.0, "shared_intermediate_size": 1024.0, "mamba_n_heads": 128.0,
		"mamba_n_groups": 1.0, "mamba_d_state": 256.0, "mamba_d_head": "auto", "mamba_d_conv": 4.0, "mamba_expand": 2.0,
		"mamba_conv_bias": true, "mamba_proj_bias": false,
	}},
	"jamba": {arch: "JambaForCausalLM", expertSize: "intermediate_size", hybrid: parseJamba, defaults: map[string]any{ // jamba/configuration_jamba.py
		"vocab_size": 65536.0, "hidden_size": 4096.0, "intermediate_size": 14336.0, "num_hidden_layers": 32.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 8.0, "max_position_embeddings": 262144.0, "tie_word_embeddings": false,
		"num_experts": 16.0, "num_experts_per_tok": 2.0, "expert_layer_period": 2.0, "expert_layer_offset": 1.0,
		"attn_layer_period": 8.0, "attn_layer_offset": 4.0, "mamba_d_state": 16.0, "mamba_d_conv": 4.0, "mamba_expand": 2.0,
		"mamba_dt_rank": "auto", "mamba_conv_bias": true, "mamba_proj_bias": false,
	}},
	"llama4_text": {arch: "Llama4ForCausalLM", expertSize: "intermediate_size", extra: parseLlama4, defaults: map[string]any{ // llama4/configuration_llama4.py (Llama4TextConfig)
		"vocab_size": 202048.0, "hidden_size": 5120.0, "intermediate_size": 8192.0, "intermediate_size_mlp": 16384.0,
		"num_hidden_layers": 48.0, "num_attention_heads": 40.0, "num_key_value_heads": 8.0, "head_dim": 128.0,
		"max_position_embeddings": 131072.0, "tie_word_embeddings": false, "attention_bias": false, "num_experts_per_tok": 1.0,
		"num_local_experts": 16.0, "interleave_moe_layer_step": 1.0, "no_rope_layer_interval": 4.0, "attention_chunk_size": 8192.0,
	}},
	// Llama4Config: a Llama4TextConfig and a Llama4VisionConfig.
	"llama4": {arch: "Llama4ForConditionalGeneration", text: "llama4_text", defaults: map[string]any{
		"tie_word_embeddings": false, "vision_config": map[string]any{"model_type": "llama4_vision_model"},
	}},
	// GLM-4V (glm4v.go). vLLM's glm4.py defaults partial_rotary_factor to 0.5.
	"glm4v_text": {arch: "Glm4vForConditionalGeneration", qkvBias: true, norms: 4, defaults: map[string]any{ // glm4v/configuration_glm4v.py (Glm4vTextConfig)
		"vocab_size": 151552.0, "hidden_size": 4096.0, "intermediate_size": 13696.0, "num_hidden_layers": 40.0,
		"num_attention_heads": 32.0, "num_key_value_heads": 2.0, "max_position_embeddings": 32768.0,
		"tie_word_embeddings": false, "partial_rotary_factor": 0.5,
	}},
	"glm4v": {arch: "Glm4vForConditionalGeneration", text: "glm4v_text", defaults: map[string]any{
		"tie_word_embeddings": false, "vision_config": map[string]any{"model_type": "glm4v_vision"},
	}},
	"glm4v_moe_text": {arch: "Glm4vMoeForConditionalGeneration", expertSize: "moe_intermediate_size", defaults: map[string]any{ // glm4v_moe/configuration_glm4v_moe.py (Glm4vMoeTextConfig)
		"vocab_size": 151424.0, "hidden_size": 4096.0, "intermediate_size": 10944.0, "num_hidden_layers": 46.0,
		"num_attention_heads": 96.0, "num_key_value_heads": 8.0, "max_position_embeddings": 65536.0,
		"tie_word_embeddings": false, "attention_bias": true, "partial_rotary_factor": 0.5, "n_routed_experts": 128.0,
		"num_experts_per_tok": 8.0, "moe_intermediate_size": 1408.0, "n_shared_experts": 1.0, "first_k_dense_replace": 1.0,
	}},
	"glm4v_moe": {arch: "Glm4vMoeForConditionalGeneration", text: "glm4v_moe_text", defaults: map[string]any{
		"tie_word_embeddings": false, "vision_config": map[string]any{"model_type": "glm4v_moe_vision"},
	}},
	// LlavaConfig: a llama text_config and a CLIP vision tower by default
	// (llava/configuration_llava.py).
	"llava": {arch: "LlavaForConditionalGeneration", text: "llama", defaults: map[string]any{
		"tie_word_embeddings": false,
		"vision_config": map[string]any{"model_type": "clip_vision_model", "hidden_size": 1024.0, "intermediate_size": 4096.0,
			"num_hidden_layers": 24.0, "num_attention_heads": 16.0, "patch_size": 14.0, "image_size": 336.0},
		"multimodal_projector_bias": true, "vision_feature_layer": -2.0,
	}},
}

// archTypes maps architectures[0] to model_type for a config.json without
// model_type (transformers' AutoConfig needs one; a pasted subset may lack it).
var archTypes = func() map[string]string {
	m := map[string]string{"Qwen2_5_VLForConditionalGeneration": "qwen2_5_vl", "PhiMoEForCausalLM": "phimoe",
		"Qwen3VLForConditionalGeneration": "qwen3_vl", "Qwen3VLMoeForConditionalGeneration": "qwen3_vl_moe",
		"Mistral3ForConditionalGeneration": "mistral3", "Llama4ForConditionalGeneration": "llama4",
		"Glm4vForConditionalGeneration": "glm4v", "Glm4vMoeForConditionalGeneration": "glm4v_moe"}
	for t, info := range modelTypes {
		if info.arch != "" && (info.text == "" || t == "gemma3" || t == "llava") {
			if _, ok := m[info.arch]; !ok {
				m[info.arch] = t
			}
		}
	}
	return m
}()

// ModelTypes lists the model_type values whose transformers defaults the
// provider knows.
func ModelTypes() []string {
	out := make([]string, 0, len(modelTypes))
	for t := range modelTypes {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// withDefaults returns obj over the type's defaults (obj's fields win, an
// explicit null included, as in transformers).
func withDefaults(obj map[string]any, t string) map[string]any {
	info, ok := modelTypes[t]
	if !ok {
		return obj
	}
	out := make(map[string]any, len(obj)+len(info.defaults))
	for k, v := range info.defaults {
		out[k] = v
	}
	for k, v := range obj {
		out[k] = v
	}
	return out
}

// typeOf is the config's model_type, or the one its architectures imply.
func typeOf(c cfg) (string, error) {
	t, err := c.str("model_type")
	if err != nil || t != "" {
		return t, err
	}
	archs, err := c.strings("architectures")
	if err != nil || len(archs) == 0 {
		return "", err
	}
	return archTypes[archs[0]], nil // "" when unknown: every field must then be in the file
}
