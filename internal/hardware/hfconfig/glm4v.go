package hfconfig

// GLM-4.1V (model_type glm4v, text glm4v_text) and GLM-4.5V (glm4v_moe, text
// glm4v_moe_text): a GLM-4 / GLM-4.5 language model and the GLM-4V vision
// tower. The tower is the sub-config class's whatever the nested
// vision_config's model_type says (published configs write "glm4v" or
// "glm4v_moe" there; Glm4vConfig.__post_init__ builds a Glm4vVisionConfig
// from the dict regardless).

// glm4vTowerParams counts Glm4vVisionModel (transformers
// glm4v/modeling_glm4v.py; glm4v_moe/modeling_glm4v_moe.py is the same; vLLM's
// glm4_1v.py Glm4vVisionTransformer loads the same tensors): learned
// positions of (image_size/patch_size)² patches, a biased Conv3d patch
// embedding, depth blocks of two RMSNorms, a fused qkv (biased when
// attention_bias) and a bias-free proj, and a bias-free gated MLP whose
// width is out_hidden_size (Glm4VisionMlp); then post_conv_layernorm, a
// biased Conv2d downsample of spatial_merge_size² patches to
// out_hidden_size, post_layernorm, and the patch merger (a bias-free square
// proj, a LayerNorm, a bias-free gated MLP of intermediate_size), which is
// the projector into the language model.
func glm4vTowerParams(v cfg) (int64, error) {
	r := &towerInts{v: v}
	geti := r.get
	// Glm4vVisionConfig defaults (glm4v/configuration_glm4v.py)
	h, depth, inter, out := geti(1536, "hidden_size"), geti(24, "depth"), geti(13696, "intermediate_size"), geti(4096, "out_hidden_size")
	ch, patch, tp, merge, img := geti(3, "in_channels"), geti(14, "patch_size"), geti(2, "temporal_patch_size"), geti(2, "spatial_merge_size"), geti(336, "image_size")
	if r.err != nil {
		return 0, r.err
	}
	bias, err := v.bool(false, "attention_bias")
	if err != nil {
		return 0, err
	}
	if patch < 1 {
		return 0, cfgErr(v.prefix+"patch_size", "must be a positive integer")
	}
	side := float64(int(img) / int(patch))
	block := 2*h + 3*h*h + h*h + 3*h*out
	if bias {
		block += 3 * h
	}
	p := side*side*h + (ch*tp*patch*patch*h + h) + depth*block + 2*h + (h*out*merge*merge + out) +
		(out*out + 2*out + 3*out*inter)
	return ClampInt64(p), nil
}

// glm45V is zai-org/GLM-4.5V (config.json: Glm4vMoeForConditionalGeneration,
// GLM-4.5-Air's language model with max_position_embeddings 65536, and the
// GLM-4V tower of depth 24, hidden 1536, intermediate 10944, out 4096).
// VisionParams is glm4vTowerParams of that vision config (transformers
// agrees: TestConfigDifferential).
func glm45V() Model {
	m := glm45Air()
	m.ID, m.Architecture, m.MaxPositionEmbeddings, m.VisionParams, m.PublishedParams = "zai-org/GLM-4.5V", "Glm4vMoeForConditionalGeneration", 65536, 858_681_856, 108e9
	return m
}
