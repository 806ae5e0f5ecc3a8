package hfconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// cfg reads fields of a Hugging Face config.json object. Every error names
// the field, so the user sees which one to fix.
type cfg struct {
	obj       map[string]any
	prefix    string         // "text_config." when reading the nested language model
	modelType string         // whose defaults obj carries; "" when unknown
	raw       map[string]any // the config's own fields, before the defaults
}

func cfgErr(field, format string, a ...any) error {
	return &input.InputError{Attribute: "model_config_json", Message: fmt.Sprintf("field %q: %s", field, fmt.Sprintf(format, a...))}
}

func (c cfg) has(k string) bool {
	v, ok := c.obj[k]
	return ok && v != nil
}

// int returns the first present key of keys as an integer; def when none.
func (c cfg) int(def int, keys ...string) (int, error) {
	for _, k := range keys {
		v, ok := c.obj[k]
		if !ok || v == nil {
			continue
		}
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || f < 0 || f > 1<<31 {
			return 0, cfgErr(c.prefix+k, "must be a non-negative integer, got %s", short(v))
		}
		return int(f), nil
	}
	return def, nil
}

func (c cfg) float(def float64, k string) (float64, error) {
	v, ok := c.obj[k]
	if !ok || v == nil {
		return def, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || f < 0 || f > 1e9 {
		return 0, cfgErr(c.prefix+k, "must be a non-negative number, got %s", short(v))
	}
	return f, nil
}

func (c cfg) bool(def bool, k string) (bool, error) {
	v, ok := c.obj[k]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, cfgErr(c.prefix+k, "must be true or false, got %s", short(v))
	}
	return b, nil
}

func (c cfg) str(k string) (string, error) {
	v, ok := c.obj[k]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", cfgErr(c.prefix+k, "must be a string, got %s", short(v))
	}
	return s, nil
}

func (c cfg) strings(k string) ([]string, error) {
	v, ok := c.obj[k]
	if !ok || v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok {
		return []string{s}, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, cfgErr(c.prefix+k, "must be a list of strings, got %s", short(v))
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, cfgErr(c.prefix+k, "must be a list of strings, got an element %s", short(e))
		}
		out = append(out, s)
	}
	return out, nil
}

func (c cfg) sub(k string) (cfg, bool, error) {
	v, ok := c.obj[k]
	if !ok || v == nil {
		return cfg{}, false, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return cfg{}, false, cfgErr(c.prefix+k, "must be an object, got %s", short(v))
	}
	return cfg{obj: o, prefix: c.prefix + k + "."}, true, nil
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// unsupported are config.json fields of architectures the memory model does
// not cover; meeting one is an error rather than a silently wrong answer.
var unsupported = map[string]string{
	"layers_block_type":       "hybrid attention/Mamba layers are not modelled",
	"hybrid_override_pattern": "hybrid attention/Mamba layers are not modelled",
	"attn_type_list":          "hybrid linear-attention layers are not modelled",
	"linear_num_value_heads":  "linear-attention (Gated DeltaNet) layers are not modelled",
	"mamba_d_state":           "Mamba layers are not modelled",
	"ssm_cfg":                 "state-space layers are not modelled",
	"cross_attention_layers":  "cross-attention layers are not modelled",
	"index_topk":              "sparse-attention indexers are not modelled",
	"linear_attn_config":      "Kimi Delta Attention (Kimi-Linear) layers are not modelled",
	"attention_chunk_size":    "chunked local attention (Llama 4) is not modelled",
	"mamba_d_ssm":             "parallel attention and Mamba-2 in every layer (Falcon-H1) is not modelled",
}

// ParseConfigJSON reads a Hugging Face config.json (the text) into a Model,
// as transformers and vLLM read it: the config's fields over the defaults of
// its model_type's configuration class (modeltypes.go), transformers' default
// layer_types, and vLLM's derived max_model_len. It reads the standard
// decoder fields, MoE (num_experts / num_local_experts / n_routed_experts,
// num_experts_per_tok, moe_intermediate_size, n_shared_experts,
// shared_expert_intermediate_size, first_k_dense_replace), MLA
// (kv_lora_rank, q_lora_rank, qk_rope_head_dim, qk_nope_head_dim,
// v_head_dim), sliding windows (sliding_window with use_sliding_window,
// max_window_layers, layer_types or sliding_window_pattern), rope scaling
// (rope_parameters or rope_scaling), a multimodal model's text_config and
// vision tower, and quantization_config (awq, gptq, fp8, fbgemm_fp8,
// compressed-tensors, bitsandbytes, mxfp4). For a model_type whose defaults
// are not known, a field that changes the answer must be in the config.
// Errors are *InputError for model_config_json naming the field.
func ParseConfigJSON(data []byte) (Model, error) {
	var top map[string]any
	if err := json.Unmarshal(data, &top); err != nil {
		var se *json.SyntaxError
		msg := err.Error()
		if errors.As(err, &se) {
			msg = fmt.Sprintf("%v (at byte %d)", se, se.Offset)
		}
		return Model{}, &input.InputError{Attribute: "model_config_json", Message: "not a JSON object: " + msg}
	}
	if top == nil {
		return Model{}, &input.InputError{Attribute: "model_config_json", Message: "not a JSON object: got null"}
	}
	raw := cfg{obj: top}
	m := Model{ID: "custom"}
	if id, err := raw.str("_name_or_path"); err != nil {
		return m, err
	} else if id != "" {
		m.ID = id
	}
	archs, err := raw.strings("architectures")
	if err != nil {
		return m, err
	}
	if len(archs) > 0 {
		m.Architecture = archs[0]
	}
	if b, err := raw.bool(false, "is_encoder_decoder"); err != nil {
		return m, err
	} else if b {
		return m, cfgErr("is_encoder_decoder", "encoder-decoder models are not modelled; only decoder-only language models")
	}
	mt, err := typeOf(raw)
	if err != nil {
		return m, err
	}
	if err := unmodelledErr("model_type", mt); err != nil {
		return m, err
	}
	root := cfg{obj: withDefaults(top, mt), modelType: mt, raw: top}
	if m.Architecture == "" {
		m.Architecture = modelTypes[mt].arch
	}
	c := root
	tc, hasText, err := root.sub("text_config")
	if err != nil {
		return m, err
	}
	if info := modelTypes[mt]; hasText || info.text != "" {
		tt := info.text
		switch {
		case hasText:
			if t, err := tc.str("model_type"); err != nil {
				return m, err
			} else if t != "" {
				tt = t
			}
		case mt == "qwen2_5_vl": // older Qwen2.5-VL checkpoints keep the text fields at the top
			tc = cfg{obj: top}
		default: // the text class's defaults (Gemma3Config, LlavaConfig)
			tc = cfg{obj: map[string]any{}, prefix: "text_config."}
		}
		if err := unmodelledErr(tc.prefix+"model_type", tt); err != nil {
			return m, err
		}
		c = cfg{obj: withDefaults(tc.obj, tt), prefix: tc.prefix, modelType: tt, raw: tc.obj}
	}
	m.ModelType = c.modelType
	hybrid := modelTypes[c.modelType].hybrid
	for _, src := range []cfg{raw, c} {
		for k, why := range unsupported {
			if !src.has(k) || hybrid != nil && hybridKeys[k] || k == "attention_chunk_size" && modelTypes[c.modelType].extra != nil {
				continue
			}
			if hybridKeys[k] || k == "mamba_d_ssm" || k == "linear_attn_config" {
				why += "; hybrid models modelled: model_type " + strings.Join(hybridTypes(), ", ")
			}
			return m, cfgErr(src.prefix+k, "%s", why)
		}
	}
	if hybrid != nil {
		prepareHybrid(c)
	}
	if err := parseArch(c, &m); err != nil {
		return m, err
	}
	if extra := modelTypes[c.modelType].extra; extra != nil {
		if err := extra(c, &m); err != nil {
			return m, err
		}
	}
	if hybrid != nil {
		if err := hybrid(c, &m); err != nil {
			return m, err
		}
		if err := finishHybrid(c, &m); err != nil {
			return m, err
		}
	}
	if err := parseTied(root, c, hasText, &m); err != nil {
		return m, err
	}
	if c.prefix != "" || hasText || modelTypes[mt].text != "" {
		if m.VisionParams, err = towerParams(root, mt, m.HiddenSize); err != nil {
			return m, err
		}
	}
	for _, src := range []cfg{c, raw} {
		dt, err := src.str("torch_dtype")
		if err != nil {
			return m, err
		}
		if dt == "" {
			if dt, err = src.str("dtype"); err != nil {
				return m, err
			}
		}
		if dt != "" {
			m.TorchDType = dt
			break
		}
	}
	if m.TorchDType == "" {
		m.TorchDType = "bfloat16"
	}
	switch m.TorchDType {
	case "bfloat16", "float16", "float32", "half", "float", "bf16", "fp16", "fp32":
	default:
		return m, cfgErr("torch_dtype", "unknown dtype %q; expected bfloat16, float16 or float32", m.TorchDType)
	}
	for _, src := range []cfg{raw, c} {
		qc, ok, err := src.sub("quantization_config")
		if err != nil {
			return m, err
		}
		if ok {
			if m.Quantization, err = parseQuant(qc); err != nil {
				return m, err
			}
			break
		}
	}
	if err := m.Validate(); err != nil {
		var ie *input.InputError
		if errors.As(err, &ie) {
			ie.Attribute = "model_config_json"
		}
		return m, err
	}
	return m, nil
}

// need is the error for a field a config of an unknown model_type must
// carry: without transformers' class defaults there is nothing to fall back
// on that would not be a guess.
func (c cfg) need(field, example string) error {
	t := c.modelType
	if t == "" {
		t = "(none)"
	}
	return cfgErr(c.prefix+field, "is missing, and model_type %s is not one whose transformers defaults the provider knows (%s); add %q: %s to the config.json, or set model_type to one of those",
		t, strings.Join(ModelTypes(), ", "), field, example)
}

func (c cfg) known() bool { _, ok := modelTypes[c.modelType]; return ok }

// parseTied: transformers 5 ties on the outer config of a multimodal model
// (a pre-5 text_config value still counts when the outer one is absent).
func parseTied(root, c cfg, hasText bool, m *Model) error {
	src := c
	if hasText || c.prefix != "" || root.modelType != c.modelType {
		src = root
		if _, ok := root.raw["tie_word_embeddings"]; !ok && c.raw != nil {
			if _, ok := c.raw["tie_word_embeddings"]; ok {
				src = c
			}
		}
	}
	if _, ok := src.obj["tie_word_embeddings"]; !ok && !src.known() {
		return src.need("tie_word_embeddings", "false")
	}
	var err error
	m.TiedEmbeddings, err = src.bool(true, "tie_word_embeddings")
	return err
}

func parseArch(c cfg, m *Model) error {
	var err error
	get := func(dst *int, def int, keys ...string) {
		if err == nil {
			*dst, err = c.int(def, keys...)
		}
	}
	get(&m.NumLayers, 0, "num_hidden_layers", "n_layer", "num_layers")
	get(&m.HiddenSize, 0, "hidden_size", "n_embd", "d_model")
	get(&m.NumHeads, 0, "num_attention_heads", "n_head", "num_heads")
	get(&m.VocabSize, 0, "vocab_size", "padded_vocab_size")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"num_hidden_layers", m.NumLayers}, {"hidden_size", m.HiddenSize}, {"num_attention_heads", m.NumHeads}, {"vocab_size", m.VocabSize}} {
		if f.v < 1 {
			return cfgErr(c.prefix+f.name, "is required and must be a positive integer")
		}
	}
	info := modelTypes[c.modelType]
	// vLLM's get_total_num_kv_heads and get_head_size
	// (vllm/transformers_utils/model_arch_config_convertor.py) fall back to
	// the attention heads and hidden_size // heads.
	get(&m.NumKVHeads, m.NumHeads, "num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
	get(&m.HeadDim, 0, "head_dim")
	get(&m.IntermediateSize, 0, "intermediate_size", "ffn_dim", "n_inner")
	get(&m.NumExperts, 0, "num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")
	get(&m.NumActiveExperts, 0, "num_experts_per_tok", "num_experts_per_token", "moe_top_k")
	get(&m.ExpertIntermediateSize, 0, "moe_intermediate_size", "expert_intermediate_size")
	get(&m.NumSharedExperts, 0, "n_shared_experts", "num_shared_experts")
	get(&m.SharedExpertIntermediateSize, 0, "shared_expert_intermediate_size")
	get(&m.FirstDenseLayers, 0, "first_k_dense_replace")
	get(&m.KVLoraRank, 0, "kv_lora_rank")
	get(&m.QLoraRank, 0, "q_lora_rank")
	get(&m.QKRopeHeadDim, 0, "qk_rope_head_dim")
	get(&m.QKNopeHeadDim, 0, "qk_nope_head_dim")
	get(&m.VHeadDim, 0, "v_head_dim")
	if err != nil {
		return err
	}
	if m.HeadDim == 0 {
		m.HeadDim = m.HiddenSize / m.NumHeads
	}
	if m.NumExperts > 0 {
		if m.NumActiveExperts == 0 {
			return cfgErr(c.prefix+"num_experts_per_tok", "is required when the model has %d experts (model_type %q has no default for it); add the checkpoint's top-k, e.g. \"num_experts_per_tok\": 8", m.NumExperts, c.modelType)
		}
		if info.expertSize == "intermediate_size" {
			m.ExpertIntermediateSize = m.IntermediateSize
		} else if m.ExpertIntermediateSize == 0 {
			if c.known() {
				return cfgErr(c.prefix+"moe_intermediate_size", "is required for the experts of model_type %q", c.modelType)
			}
			return c.need("moe_intermediate_size", "the MLP width of one expert (for Mixtral-style experts, the intermediate_size)")
		}
		for _, k := range []string{"moe_layer_freq", "decoder_sparse_step"} {
			if f, err := c.int(1, k); err != nil {
				return err
			} else if f != 1 {
				return cfgErr(c.prefix+k, "= %d (MoE only on some layers) is not modelled; only 1", f)
			}
		}
		if c.has("mlp_only_layers") {
			if l, ok := c.obj["mlp_only_layers"].([]any); !ok || len(l) > 0 {
				return cfgErr(c.prefix+"mlp_only_layers", "dense layers interleaved with MoE layers are not modelled")
			}
		}
	}
	if (m.NumExperts == 0 || m.FirstDenseLayers > 0) && !c.has("intermediate_size") && !c.has("ffn_dim") && !c.has("n_inner") {
		if !c.known() {
			return c.need("intermediate_size", "the MLP width")
		}
		return cfgErr(c.prefix+"intermediate_size", "is required")
	}
	if m.KVLoraRank > 0 {
		if m.QKRopeHeadDim == 0 || m.QKNopeHeadDim == 0 || m.VHeadDim == 0 {
			return cfgErr(c.prefix+"kv_lora_rank", "multi-head latent attention needs qk_rope_head_dim, qk_nope_head_dim and v_head_dim")
		}
		m.HeadDim = m.QKNopeHeadDim + m.QKRopeHeadDim
		m.NumKVHeads = m.NumHeads
	}
	if m.AttentionBias, err = c.bool(false, "attention_bias"); err != nil {
		return err
	}
	if c.has("qkv_bias") {
		if m.AttentionBias, err = c.bool(false, "qkv_bias"); err != nil {
			return err
		}
	}
	m.AttentionBias = m.AttentionBias || info.qkvBias
	m.NormsPerLayer = info.norms
	if err := parseSliding(c, m); err != nil {
		return err
	}
	return parseRope(c, m)
}

// parseSliding reads the window as vLLM sees it (ModelConfig.get_sliding_window:
// the text config's sliding_window after transformers' __post_init__; 0
// disables it) and how many layers use it: layer_types when the config has
// them, else the type's default layer_types, else every layer.
func parseSliding(c cfg, m *Model) error {
	info := modelTypes[c.modelType]
	w, err := c.int(0, "sliding_window")
	if err != nil {
		return err
	}
	if info.useSliding {
		if use, err := c.bool(false, "use_sliding_window"); err != nil {
			return err
		} else if !use {
			w = 0
		}
	}
	types, err := c.strings("layer_types")
	if err != nil {
		return err
	}
	if w == 0 {
		return nil
	}
	var sliding []bool
	switch {
	case len(types) > 0:
		if len(types) != m.NumLayers {
			return cfgErr(c.prefix+"layer_types", "has %d entries for %d layers", len(types), m.NumLayers)
		}
		for _, t := range types {
			switch t {
			case "sliding_attention":
				sliding = append(sliding, true)
			case "full_attention":
				sliding = append(sliding, false)
			default:
				return cfgErr(c.prefix+"layer_types", "unknown layer type %q (sliding_attention or full_attention)", t)
			}
		}
	case info.layerTypes != nil:
		sliding = info.layerTypes(c, m.NumLayers)
	case !c.known():
		if p, err := c.int(0, "sliding_window_pattern"); err != nil || p > 0 {
			if err != nil {
				return err
			}
			sliding = gemma3Layers(c, m.NumLayers)
			break
		}
		return cfgErr(c.prefix+"layer_types", "is missing: sliding_window is %d, but which layers of model_type %q use it is not known; add layer_types (one \"sliding_attention\" or \"full_attention\" per layer)", w, c.modelType)
	}
	m.SlidingWindow = w
	if sliding == nil {
		return nil // every layer
	}
	n := 0
	for _, s := range sliding {
		if s {
			n++
		}
	}
	switch n {
	case 0:
		m.SlidingWindow = 0
	case m.NumLayers:
		m.SlidingWindowLayers = 0
	default:
		m.SlidingWindowLayers = n
	}
	return nil
}

// ropeNoFactor are the rope types whose factor vLLM does not apply to the
// derived max_model_len (their max_position_embeddings is already the
// extended length).
var ropeNoFactor = map[string]bool{"su": true, "longrope": true, "llama3": true, "yarn": true, "deepseek_yarn": true, "deepseek_llama_scaling": true}

// parseRope applies vLLM's derived max_model_len (_get_and_verify_max_len in
// vllm/config/model.py and derive_max_model_len_and_key in
// vllm/transformers_utils/model_arch_config_convertor.py, vllm 0.32.0): the
// smallest of the length keys (model_max_length wins when set), times the
// factor of a rope type other than su/longrope/llama3/yarn/deepseek_yarn,
// except for gemma3 whose length is already scaled; LongRoPE models default
// to original_max_position_embeddings. rope_parameters (transformers 5) and
// rope_scaling (before) are both read; per-layer-type parameters (Gemma 3)
// are walked one by one.
func parseRope(c cfg, m *Model) error {
	f, err := c.float(1, "partial_rotary_factor")
	if err != nil {
		return err
	}
	derived := 0
	for _, k := range []string{"max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length", "max_target_positions", "max_sequence_length", "max_seq_length", "seq_len"} {
		v, err := c.int(0, k)
		if err != nil {
			return err
		}
		if v > 0 && (derived == 0 || v < derived) {
			derived = v
		}
	}
	if v, err := c.int(0, "model_max_length"); err != nil {
		return err
	} else if v > 0 {
		derived = v
	}
	if derived == 0 {
		if c.known() {
			return cfgErr(c.prefix+"max_position_embeddings", "is required")
		}
		// vLLM would assume 2048 with a warning; that is a guess.
		return c.need("max_position_embeddings", "the context length the model was trained for")
	}
	var params []cfg
	rs, ok, err := c.sub("rope_parameters")
	if err != nil {
		return err
	}
	if !ok {
		if rs, ok, err = c.sub("rope_scaling"); err != nil {
			return err
		}
	}
	if ok {
		nested := false
		for _, lt := range []string{"full_attention", "sliding_attention"} {
			if sub, ok, err := rs.sub(lt); err != nil {
				return err
			} else if ok {
				nested = true
				params = append(params, sub)
			}
		}
		if !nested {
			params = append(params, rs)
		}
	}
	scale, longrope := 1.0, false
	for _, p := range params {
		typ, err := p.str("rope_type")
		if err != nil {
			return err
		}
		if typ == "" {
			if typ, err = p.str("type"); err != nil {
				return err
			}
		}
		factor, err := p.float(1, "factor")
		if err != nil {
			return err
		}
		if pf, err := p.float(0, "partial_rotary_factor"); err != nil {
			return err
		} else if pf > 0 {
			f = pf
		}
		switch typ {
		case "", "default", "mrope":
		case "longrope", "su":
			longrope = true
			orig, err := p.int(0, "original_max_position_embeddings")
			if err != nil {
				return err
			}
			if orig == 0 {
				orig, _ = c.int(0, "original_max_position_embeddings")
			}
			m.RopePositions = derived + orig // a short and a long cos/sin cache
		case "yarn", "deepseek_yarn", "llama3", "deepseek_llama_scaling":
			if typ != "llama3" {
				if orig, err := p.int(0, "original_max_position_embeddings"); err != nil {
					return err
				} else if orig > 0 {
					m.RopePositions = int(float64(orig) * factor)
				}
			}
		case "linear", "dynamic":
			if factor < 1 || factor > 1024 {
				return cfgErr(p.prefix+"factor", "must be between 1 and 1024, got %g", factor)
			}
			if !strings.Contains(c.modelType, "gemma3") {
				scale = factor
			}
		default:
			return cfgErr(p.prefix+"rope_type", "unknown rope scaling %q; known: default, linear, dynamic, yarn, llama3, longrope, mrope", typ)
		}
		if ropeNoFactor[typ] && (factor < 1 || factor > 1024) {
			return cfgErr(p.prefix+"factor", "must be between 1 and 1024, got %g", factor)
		}
	}
	if f > 0 && f < 1 {
		m.RotaryDim = int(float64(m.HeadDim) * f)
	}
	m.MaxPositionEmbeddings = int(float64(derived) * scale)
	if longrope {
		// vLLM reads hf_config.original_max_position_embeddings. transformers
		// keeps the top-level field (a declared one in Phi3Config), except
		// that PhimoeConfig.validate_rope replaces it by the rope parameters'
		// value, which standardize_rope_params defaults to
		// max_position_embeddings (modeling_rope_utils.py).
		orig, err := c.int(0, "original_max_position_embeddings")
		if err != nil {
			return err
		}
		if c.modelType == "phimoe" {
			orig = 0
			for _, p := range params {
				if o, err := p.int(0, "original_max_position_embeddings"); err != nil {
					return err
				} else if o > 0 {
					orig = o
				}
			}
		}
		if orig > 0 && orig < m.MaxPositionEmbeddings {
			m.DefaultMaxModelLen = orig
		}
	}
	if m.RopePositions > 0 && m.RopePositions < m.MaxPositionEmbeddings {
		m.RopePositions = 0
	}
	return nil
}
