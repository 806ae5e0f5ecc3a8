package hfconfig

import (
	"fmt"
	"math"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// Linear is one weight matrix (or a stack of Count identical expert
// matrices) of a layer, as vLLM holds it.
type Linear struct {
	Path    string // module path as in the checkpoint, for skip-module matching
	In, Out int
	Count   int // experts; 1 for a plain matrix
	// Shard: "tp" (column/row parallel: split over TP ranks), "rep"
	// (ReplicatedLinear: whole on every rank), "kv" (k/v projection: each
	// rank holds max(1, kv_heads/tp) heads).
	Shard     string
	Quantized bool // whether a quantized checkpoint quantizes it in vLLM
}

func (l Linear) Params() float64 { return float64(l.In) * float64(l.Out) * float64(max(l.Count, 1)) }

func (m Model) IsMLA() bool { return m.KVLoraRank > 0 }

func (m Model) IsMoELayer(i int) bool {
	if m.State != nil {
		return m.NumExperts > 0 && i < len(m.LayerFFNs) && m.LayerFFNs[i] == 'E'
	}
	if m.MoEStep > 1 {
		return m.NumExperts > 0 && (i+1)%m.MoEStep == 0
	}
	return m.NumExperts > 0 && i >= m.FirstDenseLayers
}

func (m Model) moeLayers() int {
	n := 0
	for i := 0; i < m.NumLayers; i++ {
		if m.IsMoELayer(i) {
			n++
		}
	}
	return n
}

func (m Model) SharedInter() int {
	if m.SharedExpertIntermediateSize > 0 {
		return m.SharedExpertIntermediateSize
	}
	return m.NumSharedExperts * m.ExpertIntermediateSize
}

// LayerLinears lists layer i's matrices. Routers stay unquantized: vLLM
// builds every MoE gate with quant_config=None (mixtral.py, qwen3_moe.py,
// deepseek_v2.py). A hybrid model's layers are listed by hybridLinears.
func (m Model) LayerLinears(i int) []Linear {
	if m.State != nil {
		return m.hybridLinears(i)
	}
	return append(m.attnLinears(i), m.ffnLinears(i, m.IsMoELayer(i))...)
}

func layerPath(i int, s string) string { return fmt.Sprintf("model.layers.%d.%s", i, s) }

func (m Model) attnLinears(i int) []Linear {
	p := func(s string) string { return layerPath(i, s) }
	H := m.HiddenSize
	if m.IsMLA() {
		var ls []Linear
		qk := m.QKNopeHeadDim + m.QKRopeHeadDim
		if m.QLoraRank > 0 {
			ls = append(ls, Linear{p("self_attn.q_a_proj"), H, m.QLoraRank, 1, "rep", true},
				Linear{p("self_attn.q_b_proj"), m.QLoraRank, m.NumHeads * qk, 1, "tp", true})
		} else {
			ls = append(ls, Linear{p("self_attn.q_proj"), H, m.NumHeads * qk, 1, "tp", true})
		}
		return append(ls, Linear{p("self_attn.kv_a_proj_with_mqa"), H, m.KVLoraRank + m.QKRopeHeadDim, 1, "rep", true},
			Linear{p("self_attn.kv_b_proj"), m.KVLoraRank, m.NumHeads * (m.QKNopeHeadDim + m.VHeadDim), 1, "tp", true},
			Linear{p("self_attn.o_proj"), m.NumHeads * m.VHeadDim, H, 1, "tp", true})
	}
	hd, q := m.HeadDim, m.NumHeads*m.HeadDim
	if m.AttnOutputGate {
		q *= 2 // q_proj also yields the output gate (Qwen3-Next)
	}
	return []Linear{{p("self_attn.q_proj"), H, q, 1, "tp", true},
		{p("self_attn.k_proj"), H, m.NumKVHeads * hd, 1, "kv", true},
		{p("self_attn.v_proj"), H, m.NumKVHeads * hd, 1, "kv", true},
		{p("self_attn.o_proj"), m.NumHeads * hd, H, 1, "tp", true}}
}

func (m Model) ffnLinears(i int, moe bool) []Linear {
	p := func(s string) string { return layerPath(i, s) }
	H := m.HiddenSize
	if moe {
		E, I := m.NumExperts, m.ExpertIntermediateSize
		ls := []Linear{{p("mlp.gate"), H, E, 1, "rep", false},
			{p("mlp.experts.gate_up_proj"), H, 2 * I, E, "tp", true},
			{p("mlp.experts.down_proj"), I, H, E, "tp", true}}
		if s := m.SharedInter(); s > 0 {
			ls = append(ls, Linear{p("mlp.shared_experts.gate_up_proj"), H, 2 * s, 1, "tp", true},
				Linear{p("mlp.shared_experts.down_proj"), s, H, 1, "tp", true})
			if m.SharedExpertGate {
				ls = append(ls, Linear{p("mlp.shared_expert_gate"), H, 1, 1, "rep", false})
			}
		}
		return ls
	}
	I := m.IntermediateSize
	if m.UngatedMLP { // up and down only (Nemotron-H's relu² MLP)
		return []Linear{{p("mlp.up_proj"), H, I, 1, "tp", true}, {p("mlp.down_proj"), I, H, 1, "tp", true}}
	}
	return []Linear{{p("mlp.gate_proj"), H, I, 1, "tp", true},
		{p("mlp.up_proj"), H, I, 1, "tp", true},
		{p("mlp.down_proj"), I, H, 1, "tp", true}}
}

// smallParams are biases and norms of one layer (kept in the model dtype).
func (m Model) LayerSmallParams() float64 {
	norms := m.NormsPerLayer
	if norms == 0 {
		norms = 2
	}
	s := float64(norms * m.HiddenSize)
	if m.AttentionBias {
		s += float64((m.NumHeads + 2*m.NumKVHeads) * m.HeadDim)
	}
	if m.IsMLA() {
		s += float64(m.KVLoraRank + m.QLoraRank) // the latent norms
	}
	return s
}

func (m Model) embedParams() float64 {
	e := float64(m.VocabSize) * float64(m.HiddenSize)
	if m.TiedEmbeddings {
		return e
	}
	return 2 * e
}

// LayerKinds calls fn once per distinct layer: a representative index and
// how many layers share its shape (dense layers, MoE layers). With
// perLayer it calls fn for every layer (needed when quantization skips
// named layers).
func (m Model) LayerKinds(perLayer bool, fn func(i, count int)) {
	if perLayer || m.State != nil || m.MoEStep > 1 {
		for i := 0; i < m.NumLayers; i++ {
			fn(i, 1)
		}
		return
	}
	dense := m.NumLayers
	if m.NumExperts > 0 {
		dense = min(m.FirstDenseLayers, m.NumLayers)
	}
	if dense > 0 {
		fn(0, dense)
	}
	if moe := m.NumLayers - dense; moe > 0 {
		fn(dense, moe)
	}
}

// Params is the total parameter count computed from the architecture:
// embeddings (+ untied lm_head), every layer's matrices, biases and norms,
// the final norm and any vision encoder.
func (m Model) Params() int64 {
	t := m.embedParams() + float64(m.HiddenSize) + float64(m.VisionParams)
	m.LayerKinds(false, func(i, n int) {
		for _, l := range m.LayerLinears(i) {
			t += l.Params() * float64(n)
		}
	})
	t += float64(m.NumLayers) * m.LayerSmallParams()
	return ClampInt64(t)
}

// ActiveParams is the parameter count one token touches: Params less the
// experts it is not routed to and any vision encoder.
func (m Model) ActiveParams() int64 {
	t := float64(m.Params()) - float64(m.VisionParams)
	if m.NumExperts > 0 && m.NumActiveExperts < m.NumExperts {
		moeLayers := float64(m.moeLayers())
		t -= moeLayers * float64(m.NumExperts-m.NumActiveExperts) * 3 * float64(m.HiddenSize) * float64(m.ExpertIntermediateSize)
	}
	return ClampInt64(t)
}

// ClampInt64 converts a count computed in float64 to int64, flooring at 0
// and capping far below overflow.
func ClampInt64(f float64) int64 {
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	if f > math.MaxInt64/2 {
		return math.MaxInt64 / 2
	}
	return int64(f)
}

func (m Model) RotaryWidth() int {
	if m.NoRope {
		return 0
	}
	if m.RotaryDim > 0 {
		return m.RotaryDim
	}
	if m.IsMLA() {
		return m.QKRopeHeadDim
	}
	return m.HeadDim
}

func (m Model) RopeCachePositions() int {
	if m.RopePositions > 0 {
		return m.RopePositions
	}
	return m.MaxPositionEmbeddings
}

// Validate checks a Model's dimensions (catalog entries pass; a hand-built
// or parsed one may not).
func (m Model) Validate() error {
	bad := func(field string, v int) error {
		return &input.InputError{Attribute: "model", Message: fmt.Sprintf("architecture field %s = %d is out of range", field, v)}
	}
	checks := []struct {
		f        string
		v, lo, h int
	}{
		{"num_hidden_layers", m.NumLayers, 1, 2048},
		{"hidden_size", m.HiddenSize, 1, 1 << 17},
		{"num_attention_heads", m.NumHeads, 1, 4096},
		{"num_key_value_heads", m.NumKVHeads, 1, 4096},
		{"head_dim", m.HeadDim, 1, 4096},
		{"intermediate_size", m.IntermediateSize, 0, 1 << 20},
		{"vocab_size", m.VocabSize, 1, 1 << 24},
		{"max_position_embeddings", m.MaxPositionEmbeddings, 1, 1 << 24},
		{"default max_model_len", m.DefaultMaxModelLen, 0, m.MaxPositionEmbeddings},
		{"sliding_window", m.SlidingWindow, 0, 1 << 24},
		{"sliding window layers", m.SlidingWindowLayers, 0, m.NumLayers},
		{"attention_chunk_size", m.AttentionChunk, 0, 1 << 24},
		{"chunked attention layers", m.ChunkedLayers, 0, m.NumLayers - m.SlidingLayers()},
		{"interleave_moe_layer_step", m.MoEStep, 0, m.NumLayers},
		{"num_experts", m.NumExperts, 0, 1 << 14},
		{"num_experts_per_tok", m.NumActiveExperts, 0, max(m.NumExperts, 0)},
		{"moe_intermediate_size", m.ExpertIntermediateSize, 0, 1 << 20},
		{"n_shared_experts", m.NumSharedExperts, 0, 64},
		{"first_k_dense_replace", m.FirstDenseLayers, 0, m.NumLayers},
		{"kv_lora_rank", m.KVLoraRank, 0, 1 << 16},
		{"q_lora_rank", m.QLoraRank, 0, 1 << 16},
		{"qk_rope_head_dim", m.QKRopeHeadDim, 0, 1 << 12},
		{"qk_nope_head_dim", m.QKNopeHeadDim, 0, 1 << 12},
		{"v_head_dim", m.VHeadDim, 0, 1 << 12},
		{"rotary dim", m.RotaryDim, 0, 1 << 14},
		{"rope positions", m.RopePositions, 0, 1 << 26},
		{"norms per layer", m.NormsPerLayer, 0, 16},
		{"shared_expert_intermediate_size", m.SharedExpertIntermediateSize, 0, 1 << 20},
	}
	for _, c := range checks {
		if c.v < c.lo || c.v > c.h {
			return bad(c.f, c.v)
		}
	}
	if m.NumExperts > 0 && (m.NumActiveExperts < 1 || m.ExpertIntermediateSize < 1) {
		return &input.InputError{Attribute: "model", Message: "a mixture-of-experts model needs num_experts_per_tok >= 1 and moe_intermediate_size >= 1"}
	}
	if m.NumExperts == 0 && m.IntermediateSize < 1 {
		return bad("intermediate_size", m.IntermediateSize)
	}
	if m.NumExperts > 0 && m.FirstDenseLayers > 0 && m.IntermediateSize < 1 {
		return bad("intermediate_size", m.IntermediateSize)
	}
	if m.IsMLA() && (m.QKRopeHeadDim < 1 || m.QKNopeHeadDim < 1 || m.VHeadDim < 1) {
		return &input.InputError{Attribute: "model", Message: "multi-head latent attention (kv_lora_rank > 0) needs qk_rope_head_dim, qk_nope_head_dim and v_head_dim >= 1"}
	}
	if !m.IsMLA() && m.NumHeads%m.NumKVHeads != 0 {
		return &input.InputError{Attribute: "model", Message: fmt.Sprintf("num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)", m.NumHeads, m.NumKVHeads)}
	}
	if m.State != nil && (len(m.LayerMixers) != m.NumLayers || len(m.LayerFFNs) != m.NumLayers) {
		return &input.InputError{Attribute: "model", Message: fmt.Sprintf("a hybrid model needs one mixer and one MLP kind per layer (%d layers; got %d and %d)", m.NumLayers, len(m.LayerMixers), len(m.LayerFFNs))}
	}
	if m.State != nil {
		if a, s := m.LayerCounts(); a == 0 || s == 0 {
			return &input.InputError{Attribute: "model", Message: "a hybrid model needs at least one attention layer and one state layer"}
		}
	}
	if m.VisionParams < 0 || m.VisionParams > 1e12 {
		return &input.InputError{Attribute: "model", Message: "vision encoder parameter count out of range"}
	}
	if m.Quantization != nil {
		if err := m.Quantization.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// SlidingLayers is how many layers use the sliding window; 0 without one.
func (m Model) SlidingLayers() int {
	switch {
	case m.SlidingWindow <= 0:
		return 0
	case m.SlidingWindowLayers == 0:
		return m.NumLayers
	}
	return m.SlidingWindowLayers
}

// DefaultMaxLen is vLLM's max_model_len when none is set.
func (m Model) DefaultMaxLen() int {
	if m.DefaultMaxModelLen > 0 {
		return m.DefaultMaxModelLen
	}
	return m.MaxPositionEmbeddings
}
