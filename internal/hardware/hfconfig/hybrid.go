package hfconfig

import (
	"strings"
)

// StateMixer is the recurrent mixer of a hybrid model's non-attention layers.
type StateMixer struct {
	// Kind: "mamba" (Mamba-1, Jamba), "mamba2" (Nemotron-H, Granite-4.0-H),
	// "gated_delta_net" (Qwen3-Next's linear attention).
	Kind string
	// Mamba and Mamba-2: the inner width (d_inner), heads and head size
	// (Mamba-2), groups of B/C (Mamba-2), SSM state size, conv kernel and
	// the dt rank (Mamba-1).
	Inner, Heads, HeadDim, Groups, StateSize, ConvKernel, DtRank int
	// Gated DeltaNet: key and value heads and their sizes.
	KHeads, VHeads, KHeadDim, VHeadDim int
	ConvBias, ProjBias                 bool
	// SSMFloat32: the temporal state is kept in float32
	// (mamba_ssm_cache_dtype; Nemotron-H's default), else in the model dtype.
	SSMFloat32 bool
}

func (s StateMixer) Name() string {
	return map[string]string{"mamba": "Mamba", "mamba2": "Mamba-2", "gated_delta_net": "Gated DeltaNet"}[s.Kind]
}

// ConvDim is the width of the causal conv (and its state).
func (s StateMixer) ConvDim(groups int) int {
	switch s.Kind {
	case "mamba2":
		return s.Inner + 2*groups*s.StateSize
	case "gated_delta_net":
		return 2*s.KHeads*s.KHeadDim + s.VHeads*s.VHeadDim
	}
	return s.Inner
}

// stateLinears are a state layer's matrices and small tensors (conv
// weights, A_log, D, dt bias, norms), as vLLM holds them: the projections
// quantized, the rest in the model dtype, all split over the TP ranks.
func (m Model) stateLinears(i int) []Linear {
	s, H := *m.State, m.HiddenSize
	p := func(n string) string { return layerPath(i, "mamba."+n) }
	small := func(n string, size int) Linear { return Linear{p(n), 1, size, 1, "tp", false} }
	conv := s.ConvDim(s.Groups)
	bias := 0
	if s.ConvBias {
		bias = conv
	}
	var ls []Linear
	switch s.Kind {
	case "mamba":
		ls = []Linear{{p("in_proj"), H, 2 * s.Inner, 1, "tp", true},
			{p("x_proj"), s.Inner, s.DtRank + 2*s.StateSize, 1, "tp", true},
			{p("dt_proj"), s.DtRank, s.Inner, 1, "tp", true},
			{p("out_proj"), s.Inner, H, 1, "tp", true},
			small("conv1d", conv*s.ConvKernel+bias), small("dt_proj.bias", s.Inner), small("A_log", s.Inner*s.StateSize),
			small("D", s.Inner), small("layernorms", s.DtRank+2*s.StateSize)}
	case "mamba2":
		ls = []Linear{{p("in_proj"), H, s.Inner + conv + s.Heads, 1, "tp", true},
			{p("out_proj"), s.Inner, H, 1, "tp", true},
			small("conv1d", conv*s.ConvKernel+bias), small("dt_bias", s.Heads), small("A_log", s.Heads), small("D", s.Heads), small("norm", s.Inner)}
	default:
		p = func(n string) string { return layerPath(i, "linear_attn."+n) }
		ls = []Linear{{p("in_proj_qkvz"), H, conv + s.VHeads*s.VHeadDim, 1, "tp", true},
			{p("in_proj_ba"), H, 2 * s.VHeads, 1, "tp", true},
			{p("out_proj"), s.VHeads * s.VHeadDim, H, 1, "tp", true},
			small("conv1d", conv*s.ConvKernel), small("dt_bias", s.VHeads), small("A_log", s.VHeads), small("norm", s.VHeadDim)}
	}
	if s.ProjBias {
		ls = append(ls, small("proj_bias", ls[0].Out+H))
	}
	return ls
}

// hybridLinears: the layer's mixer(s), then its MLP or experts (if any).
func (m Model) hybridLinears(i int) []Linear {
	var ls []Linear
	switch m.LayerMixers[i] {
	case 'A':
		ls = m.attnLinears(i)
	case 'S':
		ls = m.stateLinears(i)
	case 'P':
		ls = append(m.attnLinears(i), m.stateLinears(i)...)
	}
	switch m.LayerFFNs[i] {
	case 'D':
		ls = append(ls, m.ffnLinears(i, false)...)
	case 'E':
		ls = append(ls, m.ffnLinears(i, true)...)
	}
	return ls
}

// LayerCounts are the attention and state layers ('P' counts in both).
func (m Model) LayerCounts() (attn, state int) {
	for _, k := range m.LayerMixers {
		if k == 'A' || k == 'P' {
			attn++
		}
		if k == 'S' || k == 'P' {
			state++
		}
	}
	return attn, state
}

// hybridKeys are config fields that only hybrid model types may carry.
var hybridKeys = map[string]bool{"layers_block_type": true, "hybrid_override_pattern": true, "linear_num_value_heads": true, "mamba_d_state": true}

// LayerKinds maps a config's layer type names onto mixer bytes.
func mixerOf(c cfg, field, t string) (byte, error) {
	switch t {
	case "attention", "full_attention", "*":
		return 'A', nil
	case "mamba", "linear_attention", "M":
		return 'S', nil
	}
	return 0, cfgErr(c.prefix+field, "unknown layer type %q", t)
}

func need(c cfg, def int, keys ...string) (int, error) {
	v, err := c.int(def, keys...)
	if err == nil && v < 1 {
		err = cfgErr(c.prefix+keys[0], "must be a positive integer")
	}
	return v, err
}

func allFFN(n int, b byte) string { return strings.Repeat(string(b), n) }

// parseQwen3Next: layer_types, else every full_attention_interval-th layer
// is full attention (Qwen3NextConfig.__post_init__); every layer is MoE.
func parseQwen3Next(c cfg, m *Model) error {
	types, err := c.strings("layer_types")
	if err != nil {
		return err
	}
	if len(types) == 0 {
		iv, err := need(c, 4, "full_attention_interval")
		if err != nil {
			return err
		}
		for i := 0; i < m.NumLayers; i++ {
			types = append(types, map[bool]string{true: "linear_attention", false: "full_attention"}[(i+1)%iv != 0])
		}
	}
	if err := setMixers(c, "layer_types", types, m); err != nil {
		return err
	}
	m.LayerFFNs = allFFN(m.NumLayers, map[bool]byte{true: 'E', false: 'D'}[m.NumExperts > 0])
	s := StateMixer{Kind: "gated_delta_net"}
	for _, f := range []struct {
		dst *int
		key string
	}{{&s.KHeads, "linear_num_key_heads"}, {&s.VHeads, "linear_num_value_heads"}, {&s.KHeadDim, "linear_key_head_dim"},
		{&s.VHeadDim, "linear_value_head_dim"}, {&s.ConvKernel, "linear_conv_kernel_dim"}} {
		if *f.dst, err = need(c, 0, f.key); err != nil {
			return err
		}
	}
	dt, err := c.str("mamba_ssm_dtype") // Qwen3.5; vLLM's mamba_ssm_cache_dtype follows it
	if err != nil {
		return err
	}
	s.SSMFloat32 = dt == "float32"
	if m.AttnOutputGate, err = c.bool(true, "attn_output_gate"); err != nil {
		return err
	}
	m.SharedExpertGate = m.NumExperts > 0 && m.SharedInter() > 0
	m.State = &s
	return nil
}

// parseNemotronH: hybrid_override_pattern (M Mamba-2, * attention, - MLP;
// each layer holds one of them) or transformers 5's layers_block_type.
func parseNemotronH(c cfg, m *Model) error {
	pat, err := c.str("hybrid_override_pattern")
	if err != nil {
		return err
	}
	field := "hybrid_override_pattern"
	var types []string
	if pat != "" {
		types = strings.Split(pat, "")
	} else if types, err = c.strings("layers_block_type"); err != nil {
		return err
	} else if len(types) == 0 {
		return cfgErr(c.prefix+"hybrid_override_pattern", "is required for model_type nemotron_h (one of M, *, - per layer)")
	} else {
		field = "layers_block_type"
	}
	m.NumLayers = len(types)
	var mix, ffn []byte
	for _, t := range types {
		switch t {
		case "-", "mlp":
			mix, ffn = append(mix, '-'), append(ffn, 'D')
		case "E", "moe":
			return cfgErr(c.prefix+field, "mixture-of-experts layers (E, Nemotron 3) are not modelled yet; Nemotron-H with M, * and - layers is")
		default:
			k, err := mixerOf(c, field, t)
			if err != nil {
				return err
			}
			mix, ffn = append(mix, k), append(ffn, '-')
		}
	}
	m.LayerMixers, m.LayerFFNs = string(mix), string(ffn)
	m.NumExperts, m.NumActiveExperts, m.ExpertIntermediateSize, m.NumSharedExperts, m.SharedExpertIntermediateSize = 0, 0, 0, 0, 0
	m.UngatedMLP, m.NormsPerLayer, m.NoRope = true, 1, true
	if m.HeadDim, err = need(c, m.HeadDim, "attention_head_dim", "head_dim"); err != nil {
		return err
	}
	s := StateMixer{Kind: "mamba2"}
	if s.Heads, err = need(c, 0, "mamba_num_heads"); err != nil {
		return err
	}
	if s.HeadDim, err = need(c, 0, "mamba_head_dim"); err != nil {
		return err
	}
	s.Inner = s.Heads * s.HeadDim
	if s.Groups, err = need(c, 0, "n_groups", "mamba_n_groups"); err != nil {
		return err
	}
	if s.StateSize, err = need(c, 0, "ssm_state_size"); err != nil {
		return err
	}
	if s.ConvKernel, err = need(c, 0, "conv_kernel", "mamba_d_conv"); err != nil {
		return err
	}
	if s.ConvBias, err = c.bool(true, "use_conv_bias"); err != nil {
		return err
	}
	if s.ProjBias, err = c.bool(false, "mamba_proj_bias"); err != nil {
		return err
	}
	// NemotronHForCausalLMConfig: the config's mamba_ssm_cache_dtype, else float32.
	dt, err := c.str("mamba_ssm_cache_dtype")
	if err != nil {
		return err
	}
	s.SSMFloat32 = dt == "" || dt == "float32"
	m.State = &s
	return nil
}

// parseGraniteHybrid: layer_types; every layer has a shared MLP
// (shared_intermediate_size) and, with num_local_experts > 0, experts.
func parseGraniteHybrid(c cfg, m *Model) error {
	types, err := c.strings("layer_types")
	if err != nil {
		return err
	}
	if len(types) == 0 {
		types = strings.Split(strings.Repeat("mamba,", m.NumLayers), ",")[:m.NumLayers]
	}
	if err := setMixers(c, "layer_types", types, m); err != nil {
		return err
	}
	shared, err := need(c, 0, "shared_intermediate_size")
	if err != nil {
		return err
	}
	if m.NumExperts > 0 {
		m.SharedExpertIntermediateSize = shared
		m.LayerFFNs = allFFN(m.NumLayers, 'E')
	} else {
		m.IntermediateSize, m.LayerFFNs = shared, allFFN(m.NumLayers, 'D')
	}
	if pe, err := c.str("position_embedding_type"); err != nil {
		return err
	} else if pe == "nope" {
		m.NoRope = true
	}
	s := StateMixer{Kind: "mamba2"}
	expand, err := need(c, 2, "mamba_expand")
	if err != nil {
		return err
	}
	s.Inner = expand * m.HiddenSize
	if s.Heads, err = need(c, 0, "mamba_n_heads"); err != nil {
		return err
	}
	if d, ok := c.obj["mamba_d_head"].(string); ok && d == "auto" {
		s.HeadDim = s.Inner / s.Heads
	} else if s.HeadDim, err = need(c, 0, "mamba_d_head"); err != nil {
		return err
	}
	if s.Groups, err = need(c, 1, "mamba_n_groups"); err != nil {
		return err
	}
	if s.StateSize, err = need(c, 0, "mamba_d_state"); err != nil {
		return err
	}
	if s.ConvKernel, err = need(c, 4, "mamba_d_conv"); err != nil {
		return err
	}
	if s.ConvBias, err = c.bool(true, "mamba_conv_bias"); err != nil {
		return err
	}
	if s.ProjBias, err = c.bool(false, "mamba_proj_bias"); err != nil {
		return err
	}
	m.State = &s
	return nil
}

// parseJamba: attention where i % attn_layer_period == attn_layer_offset,
// experts where i % expert_layer_period == expert_layer_offset
// (JambaConfig.layers_block_type), Mamba-1 elsewhere.
func parseJamba(c cfg, m *Model) error {
	var v [4]int
	for i, k := range []string{"attn_layer_period", "attn_layer_offset", "expert_layer_period", "expert_layer_offset"} {
		def := map[string]int{"attn_layer_period": 8, "attn_layer_offset": 4, "expert_layer_period": 2, "expert_layer_offset": 1}[k]
		var err error
		if v[i], err = c.int(def, k); err != nil {
			return err
		}
		if i%2 == 0 && v[i] < 1 {
			return cfgErr(c.prefix+k, "must be a positive integer")
		}
	}
	var mix, ffn []byte
	for i := 0; i < m.NumLayers; i++ {
		mix = append(mix, map[bool]byte{true: 'A', false: 'S'}[i%v[0] == v[1]])
		ffn = append(ffn, map[bool]byte{true: 'E', false: 'D'}[m.NumExperts > 1 && i%v[2] == v[3]])
	}
	m.LayerMixers, m.LayerFFNs = string(mix), string(ffn)
	if m.NumExperts <= 1 {
		m.NumExperts, m.NumActiveExperts, m.ExpertIntermediateSize = 0, 0, 0
	}
	m.NoRope = true
	s := StateMixer{Kind: "mamba"}
	expand, err := need(c, 2, "mamba_expand")
	if err != nil {
		return err
	}
	s.Inner = expand * m.HiddenSize
	if s.StateSize, err = need(c, 16, "mamba_d_state"); err != nil {
		return err
	}
	if s.ConvKernel, err = need(c, 4, "mamba_d_conv"); err != nil {
		return err
	}
	s.DtRank = (m.HiddenSize + 15) / 16 // ceil(hidden_size / 16)
	if r, ok := c.obj["mamba_dt_rank"].(string); !ok || r != "auto" {
		if s.DtRank, err = need(c, s.DtRank, "mamba_dt_rank"); err != nil {
			return err
		}
	}
	if s.ConvBias, err = c.bool(true, "mamba_conv_bias"); err != nil {
		return err
	}
	if s.ProjBias, err = c.bool(false, "mamba_proj_bias"); err != nil {
		return err
	}
	m.State = &s
	return nil
}

func setMixers(c cfg, field string, types []string, m *Model) error {
	if len(types) != m.NumLayers {
		return cfgErr(c.prefix+field, "has %d entries for %d layers", len(types), m.NumLayers)
	}
	mix := make([]byte, len(types))
	for i, t := range types {
		k, err := mixerOf(c, field, t)
		if err != nil {
			return err
		}
		mix[i] = k
	}
	m.LayerMixers = string(mix)
	return nil
}

// finishHybrid checks what the accounting needs: at least one attention
// layer (an attention-free model has no KV pages to align to) and one state
// layer (else it is a plain transformer, as vLLM's is_hybrid says).
func finishHybrid(c cfg, m *Model) error {
	a, s := m.LayerCounts()
	if a == 0 {
		return cfgErr(c.prefix+"layer_types", "has no attention layer; attention-free (pure Mamba) models are not modelled")
	}
	if s == 0 {
		m.State, m.LayerMixers, m.LayerFFNs = nil, "", ""
	}
	return nil
}

func hybridTypes() []string {
	var out []string
	for _, t := range ModelTypes() {
		if modelTypes[t].hybrid != nil {
			out = append(out, t)
		}
	}
	return out
}

// prepareHybrid: transformers 5 derives Nemotron-H's num_hidden_layers from
// its pattern; a config may leave it out.
func prepareHybrid(c cfg) {
	if c.has("num_hidden_layers") {
		return
	}
	if p, ok := c.obj["hybrid_override_pattern"].(string); ok && p != "" {
		c.obj["num_hidden_layers"] = float64(len(p))
	} else if l, ok := c.obj["layers_block_type"].([]any); ok && len(l) > 0 {
		c.obj["num_hidden_layers"] = float64(len(l))
	}
}
