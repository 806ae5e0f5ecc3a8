package hfconfig

// Model is a decoder-only transformer architecture, as read from a Hugging
// Face config.json or the built-in catalog.
type Model struct {
	ID           string // Hugging Face id, or "custom" for a config.json
	Architecture string // the config's architectures[0], e.g. "Qwen2ForCausalLM"
	// ModelType is the config's model_type (of the text model for a
	// multimodal one), e.g. "qwen2"; "" when unknown.
	ModelType             string
	NumLayers             int
	HiddenSize            int
	NumHeads              int
	NumKVHeads            int
	HeadDim               int
	IntermediateSize      int
	VocabSize             int
	TiedEmbeddings        bool
	MaxPositionEmbeddings int // the longest max_model_len vLLM accepts (its derived max_model_len)
	// DefaultMaxModelLen is vLLM's max_model_len when none is given; 0 means
	// MaxPositionEmbeddings (LongRoPE models default to the original length).
	DefaultMaxModelLen int
	SlidingWindow      int // 0 when full attention everywhere
	// SlidingWindowLayers is how many layers use the sliding window (the rest
	// are full attention); 0 with SlidingWindow>0 means all layers.
	SlidingWindowLayers int
	AttentionBias       bool // q/k/v projections carry a bias (Qwen2)
	// Mixture of experts. NumExperts==0 means dense.
	NumExperts             int
	NumActiveExperts       int
	ExpertIntermediateSize int
	NumSharedExperts       int
	FirstDenseLayers       int // leading dense layers (DeepSeek first_k_dense_replace)
	// Multi-head latent attention (DeepSeek-V2/V3). KVLoraRank==0 means none.
	KVLoraRank    int
	QLoraRank     int
	QKRopeHeadDim int
	QKNopeHeadDim int
	VHeadDim      int
	// TorchDType is the checkpoint's dtype ("bfloat16", "float16", "float32").
	TorchDType string
	// Quantization is what the checkpoint's quantization_config says; nil for
	// an unquantized checkpoint.
	Quantization *QuantConfig
	// PublishedParams is the parameter count the model card publishes, used
	// only by tests; 0 when unknown.
	PublishedParams int64
	// Aliases are other accepted ids (e.g. the -Instruct variant).
	Aliases []string
	// RotaryDim is the rotary embedding width; 0 means HeadDim (MLA: the
	// rope head dim). vLLM keeps a cos/sin cache of RopePositions × RotaryDim.
	RotaryDim int
	// RopePositions is the length of that cache; 0 means MaxPositionEmbeddings.
	RopePositions int
	// NormsPerLayer is the number of hidden-size norms per layer; 0 means 2
	// (Gemma-2 has 4).
	NormsPerLayer int
	// SharedExpertIntermediateSize is the total intermediate size of the
	// shared expert(s); 0 means NumSharedExperts × ExpertIntermediateSize.
	SharedExpertIntermediateSize int
	// VisionParams counts a multimodal encoder (loaded with the weights, not
	// used for text tokens).
	VisionParams int64
	// AttnOutputGate: q_proj also yields a per-head output gate (Qwen3-Next).
	AttnOutputGate bool
	// SharedExpertGate: a 1-wide sigmoid gate scales the shared expert
	// (Qwen2-MoE, Qwen3-Next).
	SharedExpertGate bool
	// UngatedMLP: the dense MLP is up and down only (Nemotron-H's relu²).
	UngatedMLP bool
	// NoRope: the attention has no rotary embedding, so no cos/sin cache
	// (Jamba, Nemotron-H, Granite-4.0-H with position_embedding_type nope).
	NoRope bool
	// State is the recurrent mixer of a hybrid model's non-attention layers
	// (hybrid.go); nil for a transformer with attention in every layer.
	State *StateMixer
	// LayerMixers and LayerFFNs describe a hybrid model's layers, one byte
	// per layer. Mixers: 'A' attention, 'S' the state mixer, 'P' both in
	// parallel (Falcon-H1). FFNs: 'D' dense MLP, 'E' mixture of experts,
	// '-' none.
	LayerMixers, LayerFFNs string
	// AttentionChunk is the chunk of chunked local attention (Llama 4's
	// attention_chunk_size); ChunkedLayers how many layers use it (the rest
	// are full attention). 0: none (llama4.go).
	AttentionChunk, ChunkedLayers int
	// MoEStep: experts on every MoEStep-th layer, dense MLPs of
	// IntermediateSize elsewhere (Llama 4's interleave_moe_layer_step);
	// 0 or 1: every layer past FirstDenseLayers.
	MoEStep int
}

// QuantConfig is a checkpoint's (or the user's) weight quantization.
type QuantConfig struct {
	Method    string // "awq", "gptq", "fp8", "compressed-tensors", "bitsandbytes"
	Bits      int    // 4, 8
	GroupSize int    // -1 or 0 for per-channel
	ZeroPoint bool   // asymmetric (awq zero_point, gptq sym=false)
	// SkipModules are the checkpoint's unquantized modules
	// (modules_to_not_convert / ignore / llm_int8_skip_modules): exact
	// names, dotted suffixes, globs with * or "re:" regular expressions.
	SkipModules []string
	// DoubleQuant is bitsandbytes' bnb_4bit_use_double_quant.
	DoubleQuant bool
	// Float marks floating-point weights (fp8, mxfp4) as opposed to integer
	// ones; it disambiguates compressed-tensors schemes.
	Float bool
}
