package hardware

import (
	"fmt"
	"math"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
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

// groupsPerTP: Mamba-2 replicates groups so that every head's group is on
// its rank (extra_groups_for_head_shards).
func groupsPerTP(s hfconfig.StateMixer, tp int) int {
	if s.Groups%tp == 0 {
		return s.Groups
	}
	return s.Groups + tp - s.Groups
}

// stateTPError is vLLM's divide(): every sharded dimension must split evenly.
func stateTPError(s hfconfig.StateMixer, tp int) error {
	dims := []struct {
		name string
		v    int
	}{{"conv width", s.ConvDim(groupsPerTP(s, tp))}}
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
			return &input.InputError{Attribute: "tensor_parallel_size", Message: fmt.Sprintf("%d does not divide the model's %s (%d); vLLM shards the %s state over the tensor-parallel ranks and needs it to",
				tp, d.name, d.v, s.Name())}
		}
	}
	return nil
}

// stateElems are the conv and temporal state elements of one layer and one
// sequence on one of tp ranks (MambaStateShapeCalculator).
func stateElems(s hfconfig.StateMixer, tp int) (conv, temporal float64) {
	k := float64(s.ConvKernel - 1)
	switch s.Kind {
	case "mamba":
		return float64(s.Inner/tp) * k, float64(s.Inner/tp) * float64(s.StateSize)
	case "mamba2":
		return float64(s.ConvDim(groupsPerTP(s, tp))/tp) * k, float64(s.Heads/tp) * float64(s.HeadDim) * float64(s.StateSize)
	}
	return float64(s.ConvDim(0)/tp) * k, float64(s.VHeads/tp) * float64(s.VHeadDim) * float64(s.KHeadDim)
}

// statePageBytes is one layer's state page for one sequence (MambaSpec
// page_size_bytes, unpadded): the conv state in the model dtype
// (mamba_cache_dtype "auto"), the temporal state in float32 or the model dtype.
func statePageBytes(s hfconfig.StateMixer, tp int, modelBytes float64) float64 {
	conv, temporal := stateElems(s, tp)
	tb := modelBytes
	if s.SSMFloat32 {
		tb = 4
	}
	return conv*modelBytes + temporal*tb
}

// stateBlocksPerRequest in mamba_cache_mode "align": the running state and the
// last block-aligned one, plus Mamba-2's prefill checkpoint.
func stateBlocksPerRequest(s hfconfig.StateMixer) int {
	if s.Kind == "mamba2" {
		return 3
	}
	return 2
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
	h := hybridLayout{stateBlocks: stateBlocksPerRequest(*e.m.State)}
	h.attnLayers, h.stateLayers = e.m.LayerCounts()
	attn1 := e.layerKVBytesPerToken()
	h.statePage = statePageBytes(*e.m.State, e.tp, e.prec.DTypeBytes)
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
	blocks := math.Floor(r.KVCacheGiB * catalog.GiB / h.bytesPerBlock())
	return blocks / float64(h.requestBlocks(perSeq))
}

func (h hybridLayout) describe(s hfconfig.StateMixer, mml int) string {
	return fmt.Sprintf("hybrid model: %d attention layers keep KV per token (blocks of %d tokens, raised so a page holds one state), %d %s layers keep %.2f MiB of state per sequence each (padded to %.2f MiB); one request of %d tokens takes %d blocks of %.2f MiB",
		h.attnLayers, h.block, h.stateLayers, s.Name(), h.statePage/(1<<20), h.page/(1<<20), mml, h.requestBlocks(mml), h.bytesPerBlock()/(1<<20))
}
