package hfconfig

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// Architectures come from each model's config.json on the Hugging Face Hub;
// PublishedParams from its model card (or the Hub's safetensors total).

func qwen25(id string, layers, hidden, heads, kv, headDim, inter, vocab int, tied bool, maxPos int, published float64) Model {
	return Model{ID: id, Architecture: "Qwen2ForCausalLM", NumLayers: layers, HiddenSize: hidden, NumHeads: heads, NumKVHeads: kv,
		HeadDim: headDim, IntermediateSize: inter, VocabSize: vocab, TiedEmbeddings: tied, MaxPositionEmbeddings: maxPos,
		AttentionBias: true, TorchDType: "bfloat16", PublishedParams: int64(published)}
}

func llama(id string, layers, hidden, heads, kv, headDim, inter, vocab int, tied bool, maxPos int, dtype string, published float64) Model {
	return Model{ID: id, Architecture: "LlamaForCausalLM", NumLayers: layers, HiddenSize: hidden, NumHeads: heads, NumKVHeads: kv,
		HeadDim: headDim, IntermediateSize: inter, VocabSize: vocab, TiedEmbeddings: tied, MaxPositionEmbeddings: maxPos,
		TorchDType: dtype, PublishedParams: int64(published)}
}

func qwen3(id string, layers, hidden, heads, kv, inter int, tied bool, published float64) Model {
	return Model{ID: id, Architecture: "Qwen3ForCausalLM", NumLayers: layers, HiddenSize: hidden, NumHeads: heads, NumKVHeads: kv,
		HeadDim: 128, IntermediateSize: inter, VocabSize: 151936, TiedEmbeddings: tied, MaxPositionEmbeddings: 40960,
		TorchDType: "bfloat16", PublishedParams: int64(published)}
}

// qwen3moe: every Qwen3 MoE model has 4 KV heads and routes each token to
// 8 of 128 experts.
func qwen3moe(id string, layers, hidden, heads, expertInter int, published float64) Model {
	const kv, experts, active = 4, 128, 8
	m := qwen3(id, layers, hidden, heads, kv, 0, false, published)
	m.Architecture = "Qwen3MoeForCausalLM"
	m.NumExperts, m.NumActiveExperts, m.ExpertIntermediateSize = experts, active, expertInter
	return m
}

func withAliases(m Model, a ...string) Model { m.Aliases = append(m.Aliases, a...); return m }

func deepseekV3(id string) Model {
	return Model{ID: id, Architecture: "DeepseekV3ForCausalLM", NumLayers: 61, HiddenSize: 7168, NumHeads: 128, NumKVHeads: 128,
		HeadDim: 192, IntermediateSize: 18432, VocabSize: 129280, MaxPositionEmbeddings: 163840,
		NumExperts: 256, NumActiveExperts: 8, ExpertIntermediateSize: 2048, NumSharedExperts: 1, FirstDenseLayers: 3,
		KVLoraRank: 512, QLoraRank: 1536, QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128,
		TorchDType: "bfloat16", Quantization: &QuantConfig{Method: "fp8", Bits: 8, GroupSize: 128}, PublishedParams: 671e9}
}

// llama405FP8Skip lists what Meta's FBGEMM FP8 checkpoint leaves in bf16:
// every attention projection, and the MLPs of the first and last layer
// (its config.json modules_to_not_convert).
func llama405FP8Skip() []string {
	s := []string{"lm_head"}
	for i := 0; i < 126; i++ {
		s = append(s, fmt.Sprintf("model.layers.%d.self_attn", i))
	}
	return append(s, "model.layers.0.mlp", "model.layers.125.mlp")
}

// gptOSS is openai/gpt-oss-20b or -120b (config.json on the Hub:
// GptOssForCausalLM, hidden 2880, 64 heads of 64, 8 KV heads, experts of
// intermediate 2880 with top-4 routing, layer_types alternating
// sliding_attention (window 128) and full_attention, vocab 201088,
// attention bias, quantization_config mxfp4 with modules_to_not_convert
// self_attn, router, embed_tokens and lm_head).
func gptOSS(id string, layers, experts int, published float64) Model {
	return Model{ID: id, Architecture: "GptOssForCausalLM", NumLayers: layers, HiddenSize: 2880, NumHeads: 64, NumKVHeads: 8,
		HeadDim: 64, IntermediateSize: 2880, VocabSize: 201088, MaxPositionEmbeddings: 131072,
		SlidingWindow: 128, SlidingWindowLayers: layers / 2, AttentionBias: true,
		NumExperts: experts, NumActiveExperts: 4, ExpertIntermediateSize: 2880, TorchDType: "bfloat16",
		Quantization: &QuantConfig{Method: "mxfp4", Bits: 4, GroupSize: 32, Float: true,
			SkipModules: []string{"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"}},
		PublishedParams: int64(published)}
}

// glm45Air is zai-org/GLM-4.5-Air (config.json: Glm4MoeForCausalLM, 46
// layers of which first_k_dense_replace = 1 dense with intermediate 10944,
// hidden 4096, 96 heads of 128, 8 KV heads, 128 routed experts of 1408 with
// top-8 and 1 shared expert, partial_rotary_factor 0.5, attention_bias,
// vocab 151552, max_position_embeddings 131072; the MTP layer is not loaded
// without speculative decoding).
func glm45Air() Model {
	return Model{ID: "zai-org/GLM-4.5-Air", Architecture: "Glm4MoeForCausalLM", NumLayers: 46, HiddenSize: 4096, NumHeads: 96, NumKVHeads: 8,
		HeadDim: 128, IntermediateSize: 10944, VocabSize: 151552, MaxPositionEmbeddings: 131072, AttentionBias: true, RotaryDim: 64,
		NumExperts: 128, NumActiveExperts: 8, ExpertIntermediateSize: 1408, NumSharedExperts: 1, FirstDenseLayers: 1,
		TorchDType: "bfloat16", PublishedParams: 106e9}
}

// withQuant is a quantized checkpoint of m under another id.
func withQuant(m Model, id string, q QuantConfig) Model {
	m.ID, m.Aliases, m.Quantization = id, nil, &q
	return m
}

var modelCatalog = func() []Model {
	l31_8 := llama("meta-llama/Llama-3.1-8B", 32, 4096, 32, 8, 128, 14336, 128256, false, 131072, "bfloat16", 8.03e9)
	l31_70 := llama("meta-llama/Llama-3.1-70B", 80, 8192, 64, 8, 128, 28672, 128256, false, 131072, "bfloat16", 70.6e9)
	l31_405 := llama("meta-llama/Llama-3.1-405B", 126, 16384, 128, 8, 128, 53248, 128256, false, 131072, "bfloat16", 405e9)
	l405fp8 := l31_405
	l405fp8.ID, l405fp8.Aliases = "meta-llama/Llama-3.1-405B-Instruct-FP8", []string{"meta-llama/Meta-Llama-3.1-405B-Instruct-FP8"}
	l405fp8.Quantization = &QuantConfig{Method: "fp8", Bits: 8, GroupSize: -1, SkipModules: llama405FP8Skip()}

	mistral01 := llama("mistralai/Mistral-7B-v0.1", 32, 4096, 32, 8, 128, 14336, 32000, false, 32768, "bfloat16", 7.24e9)
	mistral01.Architecture, mistral01.SlidingWindow = "MistralForCausalLM", 4096
	mistral03 := llama("mistralai/Mistral-7B-Instruct-v0.3", 32, 4096, 32, 8, 128, 14336, 32768, false, 32768, "bfloat16", 7.25e9)
	mistral03.Architecture = "MistralForCausalLM"
	mistral03.Aliases = []string{"mistralai/Mistral-7B-v0.3"}
	mistral02 := llama("mistralai/Mistral-7B-Instruct-v0.2", 32, 4096, 32, 8, 128, 14336, 32000, false, 32768, "bfloat16", 7.24e9)
	mistral02.Architecture = "MistralForCausalLM"
	mixtral := llama("mistralai/Mixtral-8x7B-v0.1", 32, 4096, 32, 8, 128, 14336, 32000, false, 32768, "bfloat16", 46.7e9)
	mixtral.Architecture = "MixtralForCausalLM"
	mixtral.NumExperts, mixtral.NumActiveExperts, mixtral.ExpertIntermediateSize = 8, 2, 14336
	mixtral.Aliases = []string{"mistralai/Mixtral-8x7B-Instruct-v0.1"}

	phi3mini := llama("microsoft/Phi-3-mini-4k-instruct", 32, 3072, 32, 32, 96, 8192, 32064, false, 4096, "bfloat16", 3.82e9)
	phi3mini.Architecture = "Phi3ForCausalLM"
	phi3mini128 := phi3mini
	phi3mini128.ID, phi3mini128.MaxPositionEmbeddings, phi3mini128.Aliases = "microsoft/Phi-3-mini-128k-instruct", 131072, nil
	// LongRoPE keeps a short and a long cos/sin cache.
	phi3mini128.RopePositions = 131072 + 4096
	// vLLM defaults a LongRoPE model to original_max_position_embeddings.
	phi3mini128.DefaultMaxModelLen = 4096
	phi4 := llama("microsoft/phi-4", 40, 5120, 40, 10, 128, 17920, 100352, false, 16384, "bfloat16", 14.7e9)
	phi4.Architecture = "Phi3ForCausalLM"
	phi4.Aliases = []string{"microsoft/Phi-4", "unsloth/phi-4"}
	phi35moe := llama("microsoft/Phi-3.5-MoE-instruct", 32, 4096, 32, 8, 128, 6400, 32064, false, 131072, "bfloat16", 41.9e9)
	phi35moe.Architecture, phi35moe.AttentionBias = "PhiMoEForCausalLM", true
	phi35moe.NumExperts, phi35moe.NumActiveExperts, phi35moe.ExpertIntermediateSize = 16, 2, 6400
	phi35moe.RopePositions = 131072 + 4096
	phi35moe.DefaultMaxModelLen = 4096

	gemma9 := Model{ID: "google/gemma-2-9b", Architecture: "Gemma2ForCausalLM", NumLayers: 42, HiddenSize: 3584, NumHeads: 16, NumKVHeads: 8,
		HeadDim: 256, IntermediateSize: 14336, VocabSize: 256000, TiedEmbeddings: true, MaxPositionEmbeddings: 8192,
		SlidingWindow: 4096, SlidingWindowLayers: 21, NormsPerLayer: 4, TorchDType: "bfloat16", PublishedParams: 9.24e9,
		Aliases: []string{"google/gemma-2-9b-it"}}
	gemma27 := Model{ID: "google/gemma-2-27b", Architecture: "Gemma2ForCausalLM", NumLayers: 46, HiddenSize: 4608, NumHeads: 32, NumKVHeads: 16,
		HeadDim: 128, IntermediateSize: 36864, VocabSize: 256000, TiedEmbeddings: true, MaxPositionEmbeddings: 8192,
		SlidingWindow: 4096, SlidingWindowLayers: 23, NormsPerLayer: 4, TorchDType: "bfloat16", PublishedParams: 27.2e9,
		Aliases: []string{"google/gemma-2-27b-it"}}

	q7 := qwen25("Qwen/Qwen2.5-7B", 28, 3584, 28, 4, 128, 18944, 152064, false, 131072, 7.62e9)
	q7i := qwen25("Qwen/Qwen2.5-7B-Instruct", 28, 3584, 28, 4, 128, 18944, 152064, false, 32768, 7.62e9)
	q7awq := q7i
	q7awq.ID, q7awq.Quantization = "Qwen/Qwen2.5-7B-Instruct-AWQ", &QuantConfig{Method: "awq", Bits: 4, GroupSize: 128, ZeroPoint: true}
	q05 := withAliases(qwen25("Qwen/Qwen2.5-0.5B", 24, 896, 14, 2, 64, 4864, 151936, true, 32768, 0.49e9), "Qwen/Qwen2.5-0.5B-Instruct")
	q05bnb := q05
	q05bnb.ID, q05bnb.Aliases = "unsloth/Qwen2.5-0.5B-Instruct-bnb-4bit", nil
	q05bnb.Quantization = &QuantConfig{Method: "bitsandbytes", Bits: 4, GroupSize: 64, DoubleQuant: true, SkipModules: []string{"lm_head"}}

	vl72 := qwen25("Qwen/Qwen2.5-VL-72B-Instruct", 80, 8192, 64, 8, 128, 29568, 152064, false, 128000, 73.4e9)
	vl72.Architecture, vl72.VisionParams = "Qwen2_5_VLForConditionalGeneration", 700_147_712 // the vision tower and patch merger as vision.go counts them (transformers agrees: TestConfigDifferential)

	dsR1Q := func(id string, base Model, published float64) Model {
		base.ID, base.Aliases, base.MaxPositionEmbeddings, base.PublishedParams = id, nil, 131072, int64(published)
		return base
	}
	q15 := withAliases(qwen25("Qwen/Qwen2.5-1.5B", 28, 1536, 12, 2, 128, 8960, 151936, true, 32768, 1.54e9), "Qwen/Qwen2.5-1.5B-Instruct")
	q14 := withAliases(qwen25("Qwen/Qwen2.5-14B", 48, 5120, 40, 8, 128, 13824, 152064, false, 32768, 14.7e9), "Qwen/Qwen2.5-14B-Instruct")
	q32 := withAliases(qwen25("Qwen/Qwen2.5-32B", 64, 5120, 40, 8, 128, 27648, 152064, false, 32768, 32.5e9), "Qwen/Qwen2.5-32B-Instruct")
	r1q15 := q15
	r1q15.TiedEmbeddings = false // the distill checkpoint unties them

	l3_8 := llama("meta-llama/Meta-Llama-3-8B", 32, 4096, 32, 8, 128, 14336, 128256, false, 8192, "bfloat16", 8.03e9)
	l3_8.Aliases = []string{"meta-llama/Meta-Llama-3-8B-Instruct"}
	l3_70 := llama("meta-llama/Meta-Llama-3-70B", 80, 8192, 64, 8, 128, 28672, 128256, false, 8192, "bfloat16", 70.6e9)
	l3_70.Aliases = []string{"meta-llama/Meta-Llama-3-70B-Instruct"}

	return append([]Model{
		q05, q05bnb, q15,
		withAliases(qwen25("Qwen/Qwen2.5-3B", 36, 2048, 16, 2, 128, 11008, 151936, true, 32768, 3.09e9), "Qwen/Qwen2.5-3B-Instruct"),
		q7, q7i, q7awq, q14, q32,
		withAliases(qwen25("Qwen/Qwen2.5-72B", 80, 8192, 64, 8, 128, 29568, 152064, false, 32768, 72.7e9), "Qwen/Qwen2.5-72B-Instruct"),
		vl72,
		withAliases(qwen3("Qwen/Qwen3-0.6B", 28, 1024, 16, 8, 3072, true, 0.6e9)),
		withAliases(qwen3("Qwen/Qwen3-4B", 36, 2560, 32, 8, 9728, true, 4.0e9)),
		withAliases(qwen3("Qwen/Qwen3-8B", 36, 4096, 32, 8, 12288, false, 8.2e9)),
		withAliases(qwen3("Qwen/Qwen3-14B", 40, 5120, 40, 8, 17408, false, 14.8e9)),
		withAliases(qwen3("Qwen/Qwen3-32B", 64, 5120, 64, 8, 25600, false, 32.8e9)),
		qwen3moe("Qwen/Qwen3-30B-A3B", 48, 2048, 32, 768, 30.5e9),
		withAliases(qwen3("Qwen/Qwen3-1.7B", 28, 2048, 16, 8, 6144, true, 1.7e9)),
		// Qwen's block-fp8 checkpoints: 128×128 blocks, lm_head and the MoE
		// router left in bf16 (their config.json quantization_config).
		withQuant(qwen3("Qwen/Qwen3-8B", 36, 4096, 32, 8, 12288, false, 8.2e9), "Qwen/Qwen3-8B-FP8",
			QuantConfig{Method: "fp8", Bits: 8, GroupSize: 128, Float: true, SkipModules: []string{"lm_head"}}),
		withQuant(qwen3("Qwen/Qwen3-14B", 40, 5120, 40, 8, 17408, false, 14.8e9), "Qwen/Qwen3-14B-FP8",
			QuantConfig{Method: "fp8", Bits: 8, GroupSize: 128, Float: true, SkipModules: []string{"lm_head"}}),
		// Qwen3-14B-AWQ: 4-bit, group 128, zero point (its quantization_config).
		withQuant(qwen3("Qwen/Qwen3-14B", 40, 5120, 40, 8, 17408, false, 14.8e9), "Qwen/Qwen3-14B-AWQ",
			QuantConfig{Method: "awq", Bits: 4, GroupSize: 128, ZeroPoint: true}),
		withQuant(qwen3moe("Qwen/Qwen3-30B-A3B", 48, 2048, 32, 768, 30.5e9), "Qwen/Qwen3-30B-A3B-FP8",
			QuantConfig{Method: "fp8", Bits: 8, GroupSize: 128, Float: true, SkipModules: []string{"lm_head", "mlp.gate"}}),
		func() Model {
			m := qwen3moe("Qwen/Qwen3-Coder-30B-A3B-Instruct", 48, 2048, 32, 768, 30.5e9)
			m.MaxPositionEmbeddings = 262144
			return m
		}(),
		// QuantTrio's AWQ of it: 4-bit, group 128, zero point, router in bf16.
		func() Model {
			m := qwen3moe("Qwen/Qwen3-Coder-30B-A3B-Instruct", 48, 2048, 32, 768, 30.5e9)
			m.MaxPositionEmbeddings = 262144
			return withQuant(m, "QuantTrio/Qwen3-Coder-30B-A3B-Instruct-AWQ", QuantConfig{Method: "awq", Bits: 4, GroupSize: 128, ZeroPoint: true, SkipModules: []string{"mlp.gate"}})
		}(),
		gptOSS("openai/gpt-oss-20b", 24, 32, 20.9e9),
		gptOSS("openai/gpt-oss-120b", 36, 128, 116.8e9),
		glm45Air(),
		// cpatonn's 4-bit AWQ of GLM-4.5-Air (compressed-tensors W4A16; the
		// group size 128 and bf16 lm_head/router are assumed).
		withQuant(glm45Air(), "cpatonn/GLM-4.5-Air-AWQ-4bit", QuantConfig{Method: "awq", Bits: 4, GroupSize: 128, SkipModules: []string{"lm_head", "mlp.gate"}}),
		qwen3moe("Qwen/Qwen3-235B-A22B", 94, 4096, 64, 1536, 235e9),
		func() Model {
			m := qwen3moe("Qwen/Qwen3-235B-A22B-FP8", 94, 4096, 64, 1536, 235e9)
			m.Quantization = &QuantConfig{Method: "fp8", Bits: 8, GroupSize: 128, SkipModules: []string{"lm_head", "mlp.gate"}}
			return m
		}(),
		withAliases(llama("meta-llama/Llama-2-7b-hf", 32, 4096, 32, 32, 128, 11008, 32000, false, 4096, "float16", 6.74e9), "meta-llama/Llama-2-7b", "meta-llama/Llama-2-7b-chat-hf"),
		withAliases(llama("meta-llama/Llama-2-13b-hf", 40, 5120, 40, 40, 128, 13824, 32000, false, 4096, "float16", 13.0e9), "meta-llama/Llama-2-13b", "meta-llama/Llama-2-13b-chat-hf"),
		withAliases(llama("meta-llama/Llama-2-70b-hf", 80, 8192, 64, 8, 128, 28672, 32000, false, 4096, "float16", 69.0e9), "meta-llama/Llama-2-70b", "meta-llama/Llama-2-70b-chat-hf"),
		withAliases(llama("huggyllama/llama-7b", 32, 4096, 32, 32, 128, 11008, 32000, false, 2048, "float16", 6.74e9), "llama-7b-hf"),
		l3_8, l3_70,
		withAliases(l31_8, "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Meta-Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B-Instruct"),
		withAliases(l31_70, "meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Meta-Llama-3.1-70B", "meta-llama/Meta-Llama-3.1-70B-Instruct", "meta-llama/Llama-3.3-70B-Instruct"),
		withAliases(l31_405, "meta-llama/Llama-3.1-405B-Instruct", "meta-llama/Meta-Llama-3.1-405B", "meta-llama/Meta-Llama-3.1-405B-Instruct"),
		l405fp8,
		withAliases(llama("meta-llama/Llama-3.2-1B", 16, 2048, 32, 8, 64, 8192, 128256, true, 131072, "bfloat16", 1.24e9), "meta-llama/Llama-3.2-1B-Instruct"),
		withAliases(llama("meta-llama/Llama-3.2-3B", 28, 3072, 24, 8, 128, 8192, 128256, true, 131072, "bfloat16", 3.21e9), "meta-llama/Llama-3.2-3B-Instruct"),
		mistral01, mistral02, mistral03, mixtral,
		phi3mini, phi3mini128, phi4, phi35moe,
		gemma9, gemma27,
		withAliases(deepseekV3("deepseek-ai/DeepSeek-V3"), "deepseek-ai/DeepSeek-V3-0324"),
		withAliases(deepseekV3("deepseek-ai/DeepSeek-R1"), "deepseek-ai/DeepSeek-R1-0528"),
		dsR1Q("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", r1q15, 1.78e9),
		dsR1Q("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", q7, 7.62e9),
		dsR1Q("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", q14, 14.8e9),
		dsR1Q("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", q32, 32.8e9),
		func() Model { m := l31_8; m.ID, m.Aliases = "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", nil; return m }(),
		func() Model {
			m := l31_70
			m.ID, m.Aliases = "deepseek-ai/DeepSeek-R1-Distill-Llama-70B", nil
			return m
		}(),
		withAliases(llama("codellama/CodeLlama-13b-hf", 40, 5120, 40, 40, 128, 13824, 32016, false, 16384, "bfloat16", 13.0e9),
			"codellama/CodeLlama-13b-Instruct-hf", "TheBloke/CodeLlama-13B-Instruct-fp16"),
		withAliases(llama("deepseek-ai/deepseek-coder-6.7b-instruct", 32, 4096, 32, 32, 128, 11008, 32256, false, 16384, "bfloat16", 6.74e9),
			"deepseek-ai/deepseek-coder-6.7b-base"),
	}, append(llama4Catalog(), glm45V())...)
}()

// Models returns the model catalog sorted by id.
func Models() []Model {
	out := make([]Model, len(modelCatalog))
	copy(out, modelCatalog)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ModelIDs returns the catalog ids, sorted.
func ModelIDs() []string {
	var ids []string
	for _, m := range Models() {
		ids = append(ids, m.ID)
	}
	return ids
}

// LookupModel finds a catalog model by Hugging Face id or alias,
// case-insensitively.
func LookupModel(id string) (Model, error) {
	n := strings.ToLower(strings.TrimSpace(id))
	if n != "" {
		for _, m := range modelCatalog {
			if strings.ToLower(m.ID) == n {
				return m, nil
			}
			for _, a := range m.Aliases {
				if strings.ToLower(a) == n {
					return m, nil
				}
			}
		}
	}
	ids := ModelIDs()
	return Model{}, &input.InputError{Attribute: "model", Message: fmt.Sprintf("unknown model %q%s. The catalog has: %s. For any other model, pass its Hugging Face config.json text as model_config_json instead.",
		id, didYouMeanModel(id), strings.Join(ids, ", "))}
}

// SuggestModel is the catalog id or alias nearest to id by edit distance
// over the whole lower-cased id ("" when none is close): the did-you-mean
// of a model that is neither in the catalog nor on the Hub.
func SuggestModel(id string) string {
	n := strings.ToLower(strings.TrimSpace(id))
	best, bestD := "", -1
	for _, m := range Models() {
		for _, c := range append([]string{m.ID}, m.Aliases...) {
			if d := input.Levenshtein(n, strings.ToLower(c)); bestD == -1 || d < bestD {
				best, bestD = c, d
			}
		}
	}
	if bestD < 0 || bestD > max(3, len(n)/3) {
		return ""
	}
	return best
}

func didYouMeanModel(id string) string {
	if s := SuggestModel(id); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}
