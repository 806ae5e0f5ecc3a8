package hfconfig

// Llama 4 (model_type llama4 / llama4_text), read as transformers 5.19.0's
// Llama4TextConfig.__post_init__ (llama4/configuration_llama4.py) and
// vLLM 0.32.0's llama4.py build it:
//   - layer i has experts when (i+1) % interleave_moe_layer_step == 0
//     (Llama4DecoderLayer, vllm/model_executor/models/llama4.py lines
//     340–353), each a Llama4MoE of num_local_experts experts of
//     intermediate_size plus one shared expert of intermediate_size; the
//     other layers a dense MLP of intermediate_size_mlp;
//   - layer i is NoPE (full attention, no rotary) when no_rope_layers[i] is
//     0, by default every no_rope_layer_interval-th (4th) layer; the others
//     use chunked local attention of attention_chunk_size tokens
//     (Llama4Attention, llama4.py lines 185 and 251–263: ChunkedLocalAttention
//     when "not nope and attention_chunk_size"); chunked.go has its KV;
//   - the q/k norm (use_qk_norm) is an L2 norm without weights.

// parseLlama4 reads the fields above into m after parseArch (which took
// intermediate_size as the experts' width).
func parseLlama4(c cfg, m *Model) error {
	step, err := c.int(1, "interleave_moe_layer_step")
	if err != nil {
		return err
	}
	if m.IntermediateSize, err = need(c, 0, "intermediate_size_mlp"); err != nil {
		return err
	}
	if step == 0 || m.NumExperts == 0 {
		m.NumExperts, m.NumActiveExperts, m.ExpertIntermediateSize = 0, 0, 0
	} else {
		m.MoEStep, m.NumSharedExperts = step, 1
		if l, ok := c.obj["moe_layers"].([]any); ok && len(l) != m.moeLayers() {
			return cfgErr(c.prefix+"moe_layers", "lists %d MoE layers, but interleave_moe_layer_step %d gives %d; vLLM places the experts by the step, so the two must agree", len(l), step, m.moeLayers())
		}
	}
	chunk, err := c.int(0, "attention_chunk_size")
	if err != nil || chunk == 0 {
		return err
	}
	rope := 0
	if l, ok := c.obj["no_rope_layers"].([]any); ok && len(l) > 0 {
		if len(l) != m.NumLayers {
			return cfgErr(c.prefix+"no_rope_layers", "has %d entries for %d layers", len(l), m.NumLayers)
		}
		for _, v := range l {
			if f, ok := v.(float64); ok && f != 0 {
				rope++
			}
		}
	} else {
		iv, err := need(c, 4, "no_rope_layer_interval")
		if err != nil {
			return err
		}
		rope = m.NumLayers - m.NumLayers/iv
	}
	m.AttentionChunk, m.ChunkedLayers = chunk, rope
	return nil
}

// llama4TowerParams counts Llama4VisionModel (transformers
// llama4/modeling_llama4.py; vLLM's mllama4.py has the same modules): a
// bias-free unfold-conv patch embedding, a class token, learned positions
// for every patch and the class token, pre and post LayerNorms, ViT layers
// with biased q/k/v/o and MLP, and the pixel-shuffle adapter's two bias-free
// linears (intermediate_size → projector_input_dim, projector_output_dim
// square); then Llama4MultiModalProjector's bias-free vision_output_dim →
// text hidden_size linear.
func llama4TowerParams(v cfg, textHidden int) (int64, error) {
	r := &towerInts{v: v}
	geti := r.get
	// Llama4VisionConfig defaults
	h, inter, layers := geti(768, "hidden_size"), geti(5632, "intermediate_size"), geti(34, "num_hidden_layers")
	ch, patch, img := geti(3, "num_channels"), geti(14, "patch_size"), geti(448, "image_size")
	pin, pout, vout := geti(4096, "projector_input_dim"), geti(4096, "projector_output_dim"), geti(7680, "vision_output_dim")
	if r.err != nil {
		return 0, r.err
	}
	if patch < 1 {
		return 0, cfgErr(v.prefix+"patch_size", "must be a positive integer")
	}
	side := float64(int(img) / int(patch))
	p := ch*patch*patch*h + h + (side*side+1)*h + 2*2*h + layers*vitLayer(h, inter) + inter*pin + pout*pout
	return ClampInt64(p + vout*float64(textHidden)), nil
}

// llama4Catalog is meta-llama's Llama 4 checkpoints (their config.json:
// Llama4ForConditionalGeneration, text hidden 5120, 48 layers of 40 heads of
// 128 with 8 KV heads, experts of intermediate_size 8192 with top-1 routing
// and a shared expert, dense MLPs of 16384, chunked attention of 8192 on
// three of every four layers, vocab 202048; the vision tower of 34 layers of
// 1408 at image_size 336, patch 14, projector 4096). Scout: 16 experts on
// every layer, max_position_embeddings 10485760; Maverick: 128 experts on
// every other layer, 1048576. VisionParams is llama4TowerParams of that
// vision config (transformers agrees: TestConfigDifferential).
func llama4Catalog() []Model {
	base := Model{Architecture: "Llama4ForConditionalGeneration", NumLayers: 48, HiddenSize: 5120, NumHeads: 40, NumKVHeads: 8,
		HeadDim: 128, IntermediateSize: 16384, VocabSize: 202048, NumActiveExperts: 1, ExpertIntermediateSize: 8192,
		NumSharedExperts: 1, TorchDType: "bfloat16", AttentionChunk: 8192, ChunkedLayers: 36, VisionParams: 871_932_416}
	scout, maverick := base, base
	scout.ID, scout.Aliases, scout.NumExperts, scout.MoEStep = "meta-llama/Llama-4-Scout-17B-16E-Instruct", []string{"meta-llama/Llama-4-Scout-17B-16E"}, 16, 1
	scout.MaxPositionEmbeddings, scout.PublishedParams = 10485760, 109e9
	maverick.ID, maverick.Aliases, maverick.NumExperts, maverick.MoEStep = "meta-llama/Llama-4-Maverick-17B-128E-Instruct", []string{"meta-llama/Llama-4-Maverick-17B-128E"}, 128, 2
	maverick.MaxPositionEmbeddings, maverick.PublishedParams = 1048576, 400e9
	return []Model{scout, maverick}
}
