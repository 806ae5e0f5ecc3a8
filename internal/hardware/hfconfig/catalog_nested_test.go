package hfconfig

// nestedCatalog writes the catalog's multimodal models whose config class
// keeps the language model in a text_config (Llama4Config, Glm4vMoeConfig)
// as that class saves them, with the published vision tower.
var nestedCatalog = map[string]func(c map[string]any, m Model) map[string]any{
	"llama4": func(c map[string]any, m Model) map[string]any {
		return nestCatalogConfig(c, m, map[string]any{"model_type": "llama4_text", "intermediate_size": m.ExpertIntermediateSize,
			"intermediate_size_mlp": m.IntermediateSize, "interleave_moe_layer_step": m.MoEStep, "attention_chunk_size": m.AttentionChunk},
			map[string]any{"model_type": "llama4_vision_model", "hidden_size": 1408, "intermediate_size": 5632,
				"num_hidden_layers": 34, "num_attention_heads": 16, "image_size": 336, "patch_size": 14, "vision_output_dim": 4096,
				"projector_input_dim": 4096, "projector_output_dim": 4096, "pixel_shuffle_ratio": 0.5})
	},
	"glm4v_moe": func(c map[string]any, m Model) map[string]any {
		return nestCatalogConfig(c, m, map[string]any{"model_type": "glm4v_moe_text", "n_routed_experts": m.NumExperts,
			"num_local_experts": nil, "n_shared_experts": m.NumSharedExperts, "first_k_dense_replace": m.FirstDenseLayers},
			map[string]any{"model_type": "glm4v_moe", "hidden_size": 1536, "depth": 24, "num_heads": 12, "intermediate_size": 10944,
				"out_hidden_size": 4096, "patch_size": 14, "image_size": 336, "spatial_merge_size": 2, "temporal_patch_size": 2})
	},
}

// nestCatalogConfig moves catalogConfigJSON's fields c into a text_config,
// over which text's fields win (a nil deletes one).
func nestCatalogConfig(c map[string]any, m Model, text, vision map[string]any) map[string]any {
	out := map[string]any{"vision_config": vision, "tie_word_embeddings": m.TiedEmbeddings}
	tc := map[string]any{}
	for k, v := range c {
		switch k {
		case "architectures", "model_type", "torch_dtype":
			out[k] = v
		case "tie_word_embeddings":
		default:
			tc[k] = v
		}
	}
	for k, v := range text {
		if v == nil {
			delete(tc, k)
		} else {
			tc[k] = v
		}
	}
	out["text_config"] = tc
	return out
}
