package hardware

import (
	"fmt"
	"math"
	"strings"
)

// Hybrid models mix attention layers, whose KV cache grows with every token,
// with recurrent layers (Mamba, Mamba-2, Gated DeltaNet) that keep a state of
// fixed size per sequence. vLLM's V1 engine (0.32.0) holds both in one block
// pool:
//
//   - a state layer's page is its conv state plus its temporal (SSM) state
//     (MambaSpec.page_size_bytes in vllm/v1/kv_cache_interface.py; the shapes
//     are MambaStateShapeCalculator's in
//     vllm/model_executor/layers/mamba/mamba_utils.py);
//   - the attention block size is raised to the smallest multiple of the
//     kernel block (16) whose page holds one state page, and the state page is
//     padded to it (Platform._align_hybrid_block_size,
//     vllm/platforms/interface.py);
//   - the layers are grouped by kind into groups of equal size, the smaller
//     kind's layer count (the larger one when both are within 1.5×), and one
//     block of the pool holds one page of every layer of a group
//     (_get_kv_cache_groups_uniform_page_size, vllm/v1/core/kv_cache_utils.py);
//   - one request takes cdiv(len, block) blocks in each attention group and,
//     with prefix caching on (vLLM's default, which sets mamba_cache_mode
//     "align"), 2 blocks in each state group, 3 for Mamba-2 mixers, which keep
//     a prefill checkpoint block (MambaSpec.max_memory_usage_bytes;
//     MambaMixer2.get_kv_cache_spec). Concurrency is the pool's blocks over
//     that sum (get_max_concurrency_for_kv_cache_config), and vLLM's "KV cache
//     size" in tokens is that concurrency × max_model_len.
//
// So the sequences that fit are no longer KV tokens ÷ length: the state costs
// the same per sequence at 1k or 128k tokens.

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

func (s StateMixer) name() string {
	return map[string]string{"mamba": "Mamba", "mamba2": "Mamba-2", "gated_delta_net": "Gated DeltaNet"}[s.Kind]
}

// convDim is the width of the causal conv (and its state).
func (s StateMixer) convDim(groups int) int {
	switch s.Kind {
	case "mamba2":
		return s.Inner + 2*groups*s.StateSize
	case "gated_delta_net":
		return 2*s.KHeads*s.KHeadDim + s.VHeads*s.VHeadDim
	}
	return s.Inner
}

// groupsPerTP: Mamba-2 replicates groups so that every head's group is on
// its rank (extra_groups_for_head_shards).
func (s StateMixer) groupsPerTP(tp int) int {
	if s.Groups%tp == 0 {
		return s.Groups
	}
	return s.Groups + tp - s.Groups
}

// tpError is vLLM's divide(): every sharded dimension must split evenly.
func (s StateMixer) tpError(tp int) error {
	dims := []struct {
		name string
		v    int
	}{{"conv width", s.convDim(s.groupsPerTP(tp))}}
	switch s.Kind {
	case "mamba":
		dims = append(dims, struct {
			name string
			v    int
		}{"Mamba inner size", s.Inner})
	case "mamba2":
		dims = append(dims, struct {
			name string
			v    int
		}{"Mamba heads", s.Heads})
	case "gated_delta_net":
		dims = append(dims, struct {
			name string
			v    int
		}{"linear-attention value heads", s.VHeads})
	}
	for _, d := range dims {
		if d.v%tp != 0 {
			return &InputError{Attribute: "tensor_parallel_size", Message: fmt.Sprintf("%d does not divide the model's %s (%d); vLLM shards the %s state over the tensor-parallel ranks and needs it to",
				tp, d.name, d.v, s.name())}
		}
	}
	return nil
}

// stateElems are the conv and temporal state elements of one layer and one
// sequence on one of tp ranks (MambaStateShapeCalculator).
func (s StateMixer) stateElems(tp int) (conv, temporal float64) {
	k := float64(s.ConvKernel - 1)
	switch s.Kind {
	case "mamba":
		return float64(s.Inner/tp) * k, float64(s.Inner/tp) * float64(s.StateSize)
	case "mamba2":
		return float64(s.convDim(s.groupsPerTP(tp))/tp) * k, float64(s.Heads/tp) * float64(s.HeadDim) * float64(s.StateSize)
	}
	return float64(s.convDim(0)/tp) * k, float64(s.VHeads/tp) * float64(s.VHeadDim) * float64(s.KHeadDim)
}

// pageBytes is one layer's state page for one sequence (MambaSpec
// page_size_bytes, unpadded): the conv state in the model dtype
// (mamba_cache_dtype "auto"), the temporal state in float32 or the model dtype.
func (s StateMixer) pageBytes(tp int, modelBytes float64) float64 {
	conv, temporal := s.stateElems(tp)
	tb := modelBytes
	if s.SSMFloat32 {
		tb = 4
	}
	return conv*modelBytes + temporal*tb
}

// blocksPerRequest in mamba_cache_mode "align": the running state and the
// last block-aligned one, plus Mamba-2's prefill checkpoint.
func (s StateMixer) blocksPerRequest() int {
	if s.Kind == "mamba2" {
		return 3
	}
	return 2
}

// stateLinears are a state layer's matrices and small tensors (conv
// weights, A_log, D, dt bias, norms), as vLLM holds them: the projections
// quantized, the rest in the model dtype, all split over the TP ranks.
func (m Model) stateLinears(i int) []linear {
	s, H := *m.State, m.HiddenSize
	p := func(n string) string { return layerPath(i, "mamba."+n) }
	small := func(n string, size int) linear { return linear{p(n), 1, size, 1, "tp", false} }
	conv := s.convDim(s.Groups)
	bias := 0
	if s.ConvBias {
		bias = conv
	}
	var ls []linear
	switch s.Kind {
	case "mamba":
		ls = []linear{{p("in_proj"), H, 2 * s.Inner, 1, "tp", true},
			{p("x_proj"), s.Inner, s.DtRank + 2*s.StateSize, 1, "tp", true},
			{p("dt_proj"), s.DtRank, s.Inner, 1, "tp", true},
			{p("out_proj"), s.Inner, H, 1, "tp", true},
			small("conv1d", conv*s.ConvKernel+bias), small("dt_proj.bias", s.Inner), small("A_log", s.Inner*s.StateSize),
			small("D", s.Inner), small("layernorms", s.DtRank+2*s.StateSize)}
	case "mamba2":
		ls = []linear{{p("in_proj"), H, s.Inner + conv + s.Heads, 1, "tp", true},
			{p("out_proj"), s.Inner, H, 1, "tp", true},
			small("conv1d", conv*s.ConvKernel+bias), small("dt_bias", s.Heads), small("A_log", s.Heads), small("D", s.Heads), small("norm", s.Inner)}
	default:
		p = func(n string) string { return layerPath(i, "linear_attn."+n) }
		ls = []linear{{p("in_proj_qkvz"), H, conv + s.VHeads*s.VHeadDim, 1, "tp", true},
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
func (m Model) hybridLinears(i int) []linear {
	var ls []linear
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

// layerCounts are the attention and state layers ('P' counts in both).
func (m Model) layerCounts() (attn, state int) {
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

// hybridLayout is vLLM's block pool for a hybrid model on one GPU.
type hybridLayout struct {
	attnLayers, stateLayers int
	block                   int     // tokens per attention block, after vLLM raises it
	page                    float64 // bytes of one layer's block (the state page padded to it)
	statePage               float64 // one layer's state, unpadded
	groupSize               int     // layers per KV cache group
	attnGroups, stateGroups int
	stateBlocks             int // per request, per state group
}

// kernelBlock is the attention kernel's block granularity (FlashAttention
// and FlashInfer: multiples of 16 tokens).
const kernelBlock = 16

func (e engine) hybrid() hybridLayout {
	h := hybridLayout{stateBlocks: e.m.State.blocksPerRequest()}
	h.attnLayers, h.stateLayers = e.m.layerCounts()
	attn1 := e.layerKVBytesPerToken()
	h.statePage = e.m.State.pageBytes(e.tp, e.prec.DTypeBytes)
	align := max(kernelBlock, e.block)
	bs := align * int(math.Ceil(h.statePage/(float64(align)*attn1)))
	bs = kernelBlock * ceilDiv(bs, kernelBlock)
	h.block = max(e.block, bs)
	h.page = float64(h.block) * attn1
	lo, hi := min(h.attnLayers, h.stateLayers), max(h.attnLayers, h.stateLayers)
	h.groupSize = lo
	if float64(hi) < 1.5*float64(lo) {
		h.groupSize = hi
	}
	h.attnGroups, h.stateGroups = ceilDiv(h.attnLayers, h.groupSize), ceilDiv(h.stateLayers, h.groupSize)
	return h
}

func (h hybridLayout) bytesPerBlock() float64 { return float64(h.groupSize) * h.page }

// requestBlocks is what one request of n tokens takes from the pool.
func (h hybridLayout) requestBlocks(n int) int {
	return h.attnGroups*ceilDiv(n, h.block) + h.stateGroups*h.stateBlocks
}

// seqsFitting is how many sequences of perSeq tokens the fit's KV cache
// holds: KV tokens ÷ length for a transformer; for a hybrid model the
// pool's blocks over one sequence's blocks (its state costs the same at any
// length).
func (e engine) seqsFitting(r FitResult, perSeq int) float64 {
	if e.m.State == nil {
		return float64(r.KVCacheTokens) / float64(perSeq)
	}
	h := e.hybrid()
	blocks := math.Floor(r.KVCacheGiB * GiB / h.bytesPerBlock())
	return blocks / float64(h.requestBlocks(perSeq))
}

func (h hybridLayout) describe(s StateMixer, mml int) string {
	return fmt.Sprintf("hybrid model: %d attention layers keep KV per token (blocks of %d tokens, raised so a page holds one state), %d %s layers keep %.2f MiB of state per sequence each (padded to %.2f MiB); one request of %d tokens takes %d blocks of %.2f MiB",
		h.attnLayers, h.block, h.stateLayers, s.name(), h.statePage/(1<<20), h.page/(1<<20), mml, h.requestBlocks(mml), h.bytesPerBlock()/(1<<20))
}

// hybridKeys are config fields that only hybrid model types may carry.
var hybridKeys = map[string]bool{"layers_block_type": true, "hybrid_override_pattern": true, "linear_num_value_heads": true, "mamba_d_state": true}

// layerKinds maps a config's layer type names onto mixer bytes.
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
	m.SharedExpertGate = m.NumExperts > 0 && m.sharedInter() > 0
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
	s.DtRank = ceilDiv(m.HiddenSize, 16)
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
	a, s := m.layerCounts()
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
