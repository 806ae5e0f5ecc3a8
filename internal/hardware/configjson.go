package hardware

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// cfg reads fields of a Hugging Face config.json object. Every error names
// the field, so the user sees which one to fix.
type cfg struct {
	obj    map[string]any
	prefix string // "text_config." when reading the nested language model
}

func cfgErr(field, format string, a ...any) error {
	return &InputError{Attribute: "model_config_json", Message: fmt.Sprintf("field %q: %s", field, fmt.Sprintf(format, a...))}
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
}

// ParseConfigJSON reads a Hugging Face config.json (the text) into a Model:
// the standard decoder fields, MoE (num_experts / num_local_experts /
// n_routed_experts, num_experts_per_tok, moe_intermediate_size,
// n_shared_experts, shared_expert_intermediate_size, first_k_dense_replace),
// MLA (kv_lora_rank, q_lora_rank, qk_rope_head_dim, qk_nope_head_dim,
// v_head_dim), sliding windows (sliding_window with use_sliding_window,
// max_window_layers, layer_types or sliding_window_pattern), rope scaling,
// a multimodal model's text_config and quantization_config (awq, gptq, fp8,
// fbgemm_fp8, compressed-tensors, bitsandbytes, mxfp4). Errors are
// *InputError for model_config_json naming the field.
func ParseConfigJSON(data []byte) (Model, error) {
	var top map[string]any
	if err := json.Unmarshal(data, &top); err != nil {
		var se *json.SyntaxError
		msg := err.Error()
		if errors.As(err, &se) {
			msg = fmt.Sprintf("%v (at byte %d)", se, se.Offset)
		}
		return Model{}, &InputError{Attribute: "model_config_json", Message: "not a JSON object: " + msg}
	}
	if top == nil {
		return Model{}, &InputError{Attribute: "model_config_json", Message: "not a JSON object: got null"}
	}
	root := cfg{obj: top}
	m := Model{ID: "custom"}
	if id, err := root.str("_name_or_path"); err != nil {
		return m, err
	} else if id != "" {
		m.ID = id
	}
	archs, err := root.strings("architectures")
	if err != nil {
		return m, err
	}
	if len(archs) > 0 {
		m.Architecture = archs[0]
	}
	if b, err := root.bool(false, "is_encoder_decoder"); err != nil {
		return m, err
	} else if b {
		return m, cfgErr("is_encoder_decoder", "encoder-decoder models are not modelled; only decoder-only language models")
	}
	c := root
	if tc, ok, err := root.sub("text_config"); err != nil {
		return m, err
	} else if ok {
		c = tc
	}
	for _, src := range []cfg{root, c} {
		for k, why := range unsupported {
			if src.has(k) {
				return m, cfgErr(src.prefix+k, "%s", why)
			}
		}
	}
	if err := parseArch(c, &m); err != nil {
		return m, err
	}
	for _, src := range []cfg{c, root} {
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
	for _, src := range []cfg{root, c} {
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
	if err := m.validate(); err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			ie.Attribute = "model_config_json"
		}
		return m, err
	}
	return m, nil
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
	get(&m.NumKVHeads, m.NumHeads, "num_key_value_heads", "num_kv_heads", "n_head_kv")
	get(&m.HeadDim, m.HiddenSize/max(m.NumHeads, 1), "head_dim")
	get(&m.IntermediateSize, 4*m.HiddenSize, "intermediate_size", "ffn_dim", "n_inner")
	get(&m.MaxPositionEmbeddings, 2048, "max_position_embeddings", "n_positions", "max_seq_len", "seq_length")
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
			return cfgErr(c.prefix+"num_experts_per_tok", "is required when the model has %d experts", m.NumExperts)
		}
		if m.ExpertIntermediateSize == 0 {
			m.ExpertIntermediateSize = m.IntermediateSize // Mixtral-style configs
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
	if m.KVLoraRank > 0 {
		if m.QKRopeHeadDim == 0 || m.QKNopeHeadDim == 0 || m.VHeadDim == 0 {
			return cfgErr(c.prefix+"kv_lora_rank", "multi-head latent attention needs qk_rope_head_dim, qk_nope_head_dim and v_head_dim")
		}
		m.HeadDim = m.QKNopeHeadDim + m.QKRopeHeadDim
		m.NumKVHeads = m.NumHeads
	}
	if m.TiedEmbeddings, err = c.bool(strings.HasPrefix(m.Architecture, "Gemma"), "tie_word_embeddings"); err != nil {
		return err
	}
	if m.AttentionBias, err = c.bool(strings.HasPrefix(m.Architecture, "Qwen2"), "attention_bias"); err != nil {
		return err
	}
	if c.has("qkv_bias") {
		if m.AttentionBias, err = c.bool(false, "qkv_bias"); err != nil {
			return err
		}
	}
	if strings.HasPrefix(m.Architecture, "Gemma2") || strings.HasPrefix(m.Architecture, "Gemma3") {
		m.NormsPerLayer = 4
	}
	if err := parseSliding(c, m); err != nil {
		return err
	}
	if err := parseRope(c, m); err != nil {
		return err
	}
	return nil
}

func parseSliding(c cfg, m *Model) error {
	w, err := c.int(0, "sliding_window")
	if err != nil {
		return err
	}
	if w == 0 {
		return nil
	}
	use, err := c.bool(true, "use_sliding_window")
	if err != nil || !use {
		return err
	}
	m.SlidingWindow = w
	if types, err := c.strings("layer_types"); err != nil {
		return err
	} else if len(types) > 0 {
		if len(types) != m.NumLayers {
			return cfgErr(c.prefix+"layer_types", "has %d entries for %d layers", len(types), m.NumLayers)
		}
		n := 0
		for _, t := range types {
			switch t {
			case "sliding_attention":
				n++
			case "full_attention":
			default:
				return cfgErr(c.prefix+"layer_types", "unknown layer type %q (sliding_attention or full_attention)", t)
			}
		}
		if n == 0 {
			m.SlidingWindow = 0
		}
		m.SlidingWindowLayers = n
		return nil
	}
	if p, err := c.int(0, "sliding_window_pattern"); err != nil {
		return err
	} else if p > 0 {
		// Every p-th layer is global, the rest slide (Gemma 3).
		m.SlidingWindowLayers = m.NumLayers - m.NumLayers/p
		return nil
	}
	if strings.HasPrefix(m.Architecture, "Gemma2") {
		m.SlidingWindowLayers = (m.NumLayers + 1) / 2 // every other layer
		return nil
	}
	if c.has("max_window_layers") && strings.HasPrefix(m.Architecture, "Qwen2") {
		// Qwen2: layers from max_window_layers on use the window.
		mw, err := c.int(0, "max_window_layers")
		if err != nil {
			return err
		}
		m.SlidingWindowLayers = max(0, m.NumLayers-mw)
		if m.SlidingWindowLayers == 0 {
			m.SlidingWindow = 0
		}
	}
	return nil
}

// parseRope applies vLLM's derived max length (_get_and_verify_max_len in
// vllm/config/model.py): rope scaling other than llama3/longrope multiplies
// it by the factor (yarn starts from original_max_position_embeddings).
func parseRope(c cfg, m *Model) error {
	f, err := c.float(1, "partial_rotary_factor")
	if err != nil {
		return err
	}
	if f > 0 && f < 1 {
		m.RotaryDim = int(float64(m.HeadDim) * f)
	}
	rs, ok, err := c.sub("rope_scaling")
	if err != nil || !ok {
		return err
	}
	typ, err := rs.str("rope_type")
	if err != nil {
		return err
	}
	if typ == "" {
		if typ, err = rs.str("type"); err != nil {
			return err
		}
	}
	factor, err := rs.float(1, "factor")
	if err != nil {
		return err
	}
	switch typ {
	case "", "default", "mrope", "llama3", "longrope", "su":
		if typ == "longrope" || typ == "su" {
			orig, err := rs.int(0, "original_max_position_embeddings")
			if err != nil {
				return err
			}
			if orig == 0 {
				orig, _ = c.int(0, "original_max_position_embeddings")
			}
			m.RopePositions = m.MaxPositionEmbeddings + orig
		}
	case "yarn", "dynamic", "linear", "deepseek_yarn":
		if factor < 1 || factor > 1024 {
			return cfgErr(rs.prefix+"factor", "must be between 1 and 1024, got %g", factor)
		}
		base := m.MaxPositionEmbeddings
		if typ == "yarn" {
			if orig, err := rs.int(0, "original_max_position_embeddings"); err != nil {
				return err
			} else if orig > 0 {
				base = orig
			}
		}
		m.MaxPositionEmbeddings = int(float64(base) * factor)
		m.RopePositions = m.MaxPositionEmbeddings
	default:
		return cfgErr(rs.prefix+"rope_type", "unknown rope scaling %q; known: default, linear, dynamic, yarn, llama3, longrope, mrope", typ)
	}
	return nil
}

func parseQuant(q cfg) (*QuantConfig, error) {
	method, err := q.str("quant_method")
	if err != nil {
		return nil, err
	}
	skip := func(keys ...string) ([]string, error) {
		var all []string
		for _, k := range keys {
			s, err := q.strings(k)
			if err != nil {
				return nil, err
			}
			all = append(all, s...)
		}
		return all, nil
	}
	qc := &QuantConfig{Method: method}
	switch method {
	case "awq":
		if qc.Bits, err = q.int(4, "bits", "w_bit"); err != nil {
			return nil, err
		}
		if qc.GroupSize, err = q.int(128, "group_size", "q_group_size"); err != nil {
			return nil, err
		}
		if qc.ZeroPoint, err = q.bool(true, "zero_point"); err != nil {
			return nil, err
		}
		if v, err := q.str("version"); err != nil {
			return nil, err
		} else if v != "" && !strings.EqualFold(v, "gemm") && !strings.EqualFold(v, "gemv") && !strings.EqualFold(v, "gemv_fast") {
			return nil, cfgErr(q.prefix+"version", "unknown AWQ version %q", v)
		}
		qc.SkipModules, err = skip("modules_to_not_convert")
	case "gptq":
		if qc.Bits, err = q.int(4, "bits"); err != nil {
			return nil, err
		}
		if qc.GroupSize, err = signedGroup(q, 128); err != nil {
			return nil, err
		}
		sym, err := q.bool(true, "sym")
		if err != nil {
			return nil, err
		}
		qc.ZeroPoint = !sym
		if lm, err := q.bool(false, "lm_head"); err != nil {
			return nil, err
		} else if lm {
			return nil, cfgErr(q.prefix+"lm_head", "a quantized lm_head is not modelled")
		}
	case "fp8", "fbgemm_fp8":
		qc.Bits, qc.Float = 8, true
		if bs, ok := q.obj["weight_block_size"]; ok && bs != nil {
			l, ok := bs.([]any)
			if !ok || len(l) != 2 {
				return nil, cfgErr(q.prefix+"weight_block_size", "must be a list of two integers, got %s", short(bs))
			}
			g, ok := l[0].(float64)
			if !ok || g < 1 || g > 1<<16 || g != math.Trunc(g) {
				return nil, cfgErr(q.prefix+"weight_block_size", "must be a list of two positive integers, got %s", short(bs))
			}
			qc.GroupSize = int(g)
		} else if method == "fbgemm_fp8" {
			qc.GroupSize = -1
		}
		qc.SkipModules, err = skip("modules_to_not_convert", "ignored_layers")
	case "compressed-tensors":
		qc, err = parseCompressedTensors(q)
	case "bitsandbytes":
		four, err := q.bool(false, "load_in_4bit")
		if err != nil {
			return nil, err
		}
		eight, err := q.bool(false, "load_in_8bit")
		if err != nil {
			return nil, err
		}
		switch {
		case four:
			qc.Bits, qc.GroupSize = 4, 64
		case eight:
			qc.Bits, qc.GroupSize = 8, -1
		default:
			return nil, cfgErr(q.prefix+"load_in_4bit", "bitsandbytes needs load_in_4bit or load_in_8bit set to true")
		}
		if qc.DoubleQuant, err = q.bool(false, "bnb_4bit_use_double_quant"); err != nil {
			return nil, err
		}
		qc.SkipModules, err = skip("llm_int8_skip_modules")
		if err != nil {
			return nil, err
		}
	case "mxfp4":
		qc.Bits, qc.GroupSize, qc.Float = 4, 32, true
		qc.SkipModules, err = skip("modules_to_not_convert")
	case "":
		return nil, cfgErr(q.prefix+"quant_method", "is missing; supported: awq, gptq, fp8, fbgemm_fp8, compressed-tensors, bitsandbytes, mxfp4")
	default:
		return nil, cfgErr(q.prefix+"quant_method", "%q is not modelled; supported: awq, gptq, fp8, fbgemm_fp8, compressed-tensors, bitsandbytes, mxfp4", method)
	}
	if err != nil {
		return nil, err
	}
	if qc.Bits != 4 && qc.Bits != 8 {
		return nil, cfgErr(q.prefix+"bits", "%d-bit weights are not modelled; 4 or 8", qc.Bits)
	}
	return qc, qc.validate()
}

func signedGroup(q cfg, def int) (int, error) {
	v, ok := q.obj["group_size"]
	if !ok || v == nil {
		return def, nil
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < -1 || f > 1<<20 || f == 0 {
		return 0, cfgErr(q.prefix+"group_size", "must be -1 (per channel) or a positive integer, got %s", short(v))
	}
	return int(f), nil
}

// parseCompressedTensors reads the first config group's weight scheme
// (llm-compressor's format): num_bits, type (int or float), strategy
// (tensor, channel, group, block) and group_size, plus the ignore list.
func parseCompressedTensors(q cfg) (*QuantConfig, error) {
	groups, ok, err := q.sub("config_groups")
	if err != nil {
		return nil, err
	}
	if !ok || len(groups.obj) == 0 {
		return nil, cfgErr(q.prefix+"config_groups", "is required for compressed-tensors")
	}
	name := ""
	for k := range groups.obj {
		if name == "" || k < name {
			name = k
		}
	}
	g, _, err := groups.sub(name)
	if err != nil {
		return nil, err
	}
	w, ok, err := g.sub("weights")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, cfgErr(g.prefix+"weights", "is required")
	}
	qc := &QuantConfig{Method: "compressed-tensors"}
	if qc.Bits, err = w.int(8, "num_bits"); err != nil {
		return nil, err
	}
	typ, err := w.str("type")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "float":
		qc.Float = true
	case "int", "":
	default:
		return nil, cfgErr(w.prefix+"type", "unknown weight type %q (int or float)", typ)
	}
	if qc.Float && qc.Bits == 4 {
		return nil, cfgErr(w.prefix+"num_bits", "4-bit float (NVFP4/MXFP4) compressed-tensors schemes are not modelled")
	}
	strategy, err := w.str("strategy")
	if err != nil {
		return nil, err
	}
	switch strategy {
	case "tensor":
		qc.GroupSize = 0
	case "channel", "":
		qc.GroupSize = -1
	case "group":
		if qc.GroupSize, err = w.int(128, "group_size"); err != nil {
			return nil, err
		}
		if qc.GroupSize == 0 {
			return nil, cfgErr(w.prefix+"group_size", "must be positive")
		}
	case "block":
		qc.GroupSize = 128
		if bs, ok := w.obj["block_structure"].([]any); ok && len(bs) == 2 {
			if f, ok := bs[0].(float64); ok && f >= 1 && f < 1<<16 {
				qc.GroupSize = int(f)
			}
		}
	default:
		return nil, cfgErr(w.prefix+"strategy", "unknown strategy %q (tensor, channel, group or block)", strategy)
	}
	sym, err := w.bool(true, "symmetric")
	if err != nil {
		return nil, err
	}
	qc.ZeroPoint = !sym
	if qc.SkipModules, err = q.strings("ignore"); err != nil {
		return nil, err
	}
	return qc, nil
}
