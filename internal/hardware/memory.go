package hardware

import (
	"fmt"
	"math"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// The memory model follows vLLM's V1 engine start-up, term by term:
//
//	budget     = total × gpu_memory_utilization
//	             (Worker.init_device: requested_memory, vllm/v1/worker/gpu_worker.py)
//	weights    = the model's tensors on one GPU after TP sharding and
//	             quantization (GPUModelRunner.load_model: model_memory_usage)
//	activation = torch peak of profile_run(): one forward pass over
//	             max_num_batched_tokens tokens, then the sampler over
//	             min(max_num_seqs, max_num_batched_tokens) rows of logits
//	             (gpu_model_runner.py profile_run/_dummy_run/_dummy_sampler_run;
//	             vllm/utils/mem_utils.py memory_profiling: torch_peak_increase)
//	non-torch  = memory the profile run grew outside PyTorch's allocator
//	             (memory_profiling: non_torch_increase; cuBLAS workspaces, NCCL)
//	KV cache   = budget − weights − activation − non-torch
//	             (Worker.determine_available_memory)
//
//	cudagraph  = since v0.21.0, profile_cudagraph_memory() estimates the
//	             graph pool before the KV cache is sized and
//	             determine_available_memory subtracts it
//	             (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1 by default,
//	             vllm/v1/worker/gpu_worker.py lines 560–600 in 0.29.0)
//	KV cache   = budget − weights − activation − non-torch − cudagraph
//
// Before v0.21 the graphs were captured after the KV cache was allocated
// (Worker.compile_or_warm_up_model) and came out of the
// (1 − gpu_memory_utilization) margin instead.
const (
	// samplerBytesPerLogit is the torch peak of _dummy_sampler_run per
	// element of the [num_reqs, vocab] logits before vLLM 0.19: bf16 logits,
	// their fp32 copy, the top-k/top-p sort (values + int64 indices), masks,
	// softmax, the scatter back and the exponential draw
	// (vllm/v1/sample/sampler.py, ops/topk_topp_sampler.py), all alive at
	// once. 38.4 is fitted to five V1 start-up logs on H100 with 1024 rows
	// (llm-d-benchmark config_explorer/empirical-vllm-memory-results.md:
	// Qwen3-0.6B, Qwen3-32B, Llama-3.1-8B, Llama-3.3-70B-FP8 TP2,
	// gpt-oss-20b), which agree to ±0.4%; a count of those tensors gives 36
	// bytes, and a PyTorch re-run of that sampling path on an H200 measured
	// 38.0–38.3 bytes (testdata/sampler_probe.py,
	// testdata/h200-sampler-2026-11-26.json).
	samplerBytesPerLogit = 38.4
	// samplerBytesPerLogitNoSort is the same peak once top-k/top-p no longer
	// sort the vocabulary (FlashInfer's sampler on CUDA by default, and a
	// Triton top-k/top-p kernel that masks the fp32 logits in place for the
	// PyTorch path): bf16 logits (2) + fp32 copy (4) + fp32 softmax probs (4)
	// + fp32 exponential noise (4), counted in vLLM 0.32's
	// v1/sample/sampler.py lines 96–97 (logits.to(float32)), 230–239
	// (temperature in place), ops/topk_topp_sampler.py lines 263–284
	// (forward_native: apply_top_k_top_p → Triton, softmax) and 555–577
	// (random_sample: q, then probs.div_(q) in place). M28 (vLLM 0.19,
	// gpt-oss-20b on an A100, util 0.65), which this count never saw, comes
	// out within 2% of the KV cache vLLM printed; see vllmRelease.samplerBytes.
	samplerBytesPerLogitNoSort = 14.0
	// nonTorchGiB is the non-torch increase of a single-GPU V1 start-up
	// (0.13 GiB in every H100 log above); nonTorchTPGiB is what NCCL and the
	// custom all-reduce add once tensor_parallel_size > 1 (0.55 − 0.13 in the
	// TP=2 log).
	nonTorchGiB   = 0.13
	nonTorchTPGiB = 0.42
	// cudaContextGiB is the CUDA context and allocator before any tensor
	// (0.61 GiB in testdata/h100-2026-11-26.json). It sits in the
	// (1 − gpu_memory_utilization) margin (with the CUDA graphs before v0.21).
	cudaContextGiB = 0.61
	// vocabPadding: VocabParallelEmbedding pads the vocabulary to a multiple
	// of 64 (vllm/model_executor/layers/vocab_parallel_embedding.py).
	vocabPadding = 64
	// fusedMoEChunk caps the tokens fused_moe works on at once
	// (VLLM_FUSED_MOE_CHUNK_SIZE, 16384 in vllm/envs.py).
	fusedMoEChunk = 16384
	// cudaGraphMaxCapture is V1's largest captured batch by default
	// (min(2 × max_num_seqs, 512), vllm/config/compilation.py).
	cudaGraphMaxCapture = 512
	// cudaGraphBytesPerPiece is an estimate of the private-pool overhead of
	// one captured piecewise graph (one per layer boundary and batch size).
	cudaGraphBytesPerPiece = 64 << 10
)

// engine is a validated FitInput with vLLM's defaults filled in.
type engine struct {
	in        FitInput
	m         hfconfig.Model
	g         catalog.GPU
	prec      precision
	tp        int
	pp        int // pipeline stages; m is one stage (pipeline.go)
	mml       int
	mbt       int
	seqs      int
	block     int
	kvBytes   float64 // per KV element
	userMBT   bool
	userSeqs  bool
	kvDType   string
	quantName string
	context   string
	version   vllmRelease
}

func validTPs(m hfconfig.Model, upTo int) []int {
	var v []int
	for tp := 1; tp <= upTo; tp++ {
		if tpOK(m, tp) {
			v = append(v, tp)
		}
	}
	return v
}

// tpError applies vLLM's checks (ModelConfig.verify_with_parallel_config and
// QKVParallelLinear): TP must divide the attention heads, and either divide
// the KV heads or be a multiple of them (then each KV head is replicated).
func tpOK(m hfconfig.Model, tp int) bool {
	return tp >= 1 && m.NumHeads%tp == 0 && (m.IsMLA() || m.NumKVHeads%tp == 0 || tp%m.NumKVHeads == 0)
}

func tpError(m hfconfig.Model, tp int) error {
	if tp < 1 || tp > 1024 {
		return &input.InputError{Attribute: "tensor_parallel_size", Message: fmt.Sprintf("got %d; must be between 1 and 1024", tp)}
	}
	if m.NumHeads%tp != 0 {
		return &input.InputError{Attribute: "tensor_parallel_size", Message: fmt.Sprintf("%d does not divide the model's %d attention heads (vLLM requires it). Valid: %s",
			tp, m.NumHeads, joinInts(validTPs(m, min(m.NumHeads, 64))))}
	}
	if !m.IsMLA() && m.NumKVHeads%tp != 0 && tp%m.NumKVHeads != 0 {
		return &input.InputError{Attribute: "tensor_parallel_size", Message: fmt.Sprintf("%d neither divides nor is a multiple of the model's %d KV heads (vLLM's QKVParallelLinear needs one or the other). Valid: %s",
			tp, m.NumKVHeads, joinInts(validTPs(m, min(m.NumHeads, 64))))}
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

func resolveEngine(in FitInput) (engine, error) {
	e := engine{in: in, m: in.Model, g: in.GPU}
	if err := e.m.Validate(); err != nil {
		return e, err
	}
	if !(in.GPU.MemoryGiB > 0 && in.GPU.MemoryGiB < 1e6) {
		return e, &input.InputError{Attribute: "gpu", Message: fmt.Sprintf("GPU memory %g GiB is not a positive size; pick a catalog GPU or set gpu_memory_gib", in.GPU.MemoryGiB)}
	}
	var err error
	if e.m, e.pp, err = pipelineStage(e.m, in.PipelineParallelSize); err != nil {
		return e, err
	}
	e.tp = in.TensorParallelSize
	if e.tp == 0 {
		e.tp = 1
	}
	if err := tpError(e.m, e.tp); err != nil {
		return e, err
	}
	if e.m.State != nil {
		if err := stateTPError(*e.m.State, e.tp); err != nil {
			return e, err
		}
	}
	if e.prec, err = resolvePrecision(e.m, in.Quantization, in.GPU); err != nil {
		return e, err
	}
	e.quantName = strings.ToLower(strings.TrimSpace(in.Quantization))
	if e.quantName == "" {
		e.quantName = "none"
	}
	e.kvDType = in.KVCacheDType
	switch e.kvDType {
	case "", "auto":
		e.kvDType, e.kvBytes = "auto", e.prec.DTypeBytes
	case "fp8":
		e.kvBytes = 1
	default:
		return e, &input.InputError{Attribute: "kv_cache_dtype", Message: fmt.Sprintf("unknown KV cache dtype %q; valid: %s", in.KVCacheDType, strings.Join(KVCacheDTypes, ", "))}
	}
	e.mml = in.MaxModelLen
	switch {
	case e.mml < 0:
		return e, &input.InputError{Attribute: "max_model_len", Message: fmt.Sprintf("got %d; must be a positive number of tokens", e.mml)}
	case e.mml == 0:
		e.mml = e.m.DefaultMaxLen() // LongRoPE: vLLM starts from the original length
	case e.mml > e.m.MaxPositionEmbeddings:
		return e, &input.InputError{Attribute: "max_model_len", Message: fmt.Sprintf("%d is longer than the model's max_position_embeddings (%d); vLLM refuses it. Valid: 1 to %d",
			e.mml, e.m.MaxPositionEmbeddings, e.m.MaxPositionEmbeddings)}
	}
	u := in.GPUMemoryUtilization
	if u == 0 {
		u = 0.9
	}
	if !(u > 0 && u <= 1) {
		return e, &input.InputError{Attribute: "gpu_memory_utilization", Message: fmt.Sprintf("got %g; must be in (0, 1], e.g. 0.9 (vLLM's default)", in.GPUMemoryUtilization)}
	}
	e.in.GPUMemoryUtilization = u
	if !(in.CPUOffloadGiB >= 0) {
		return e, &input.InputError{Attribute: "cpu_offload_gb", Message: fmt.Sprintf("got %g; must be >= 0 (GiB of weights per GPU kept in CPU memory; 0 = none)", in.CPUOffloadGiB)}
	}
	if e.context, err = validateEngineContext(in.EngineContext); err != nil {
		return e, err
	}
	if e.version, err = parseVLLMVersion(in.VLLMVersion); err != nil {
		return e, err
	}
	defMBT, defSeqs := EngineBatchDefaults(e.context, in.GPU, e.mml)
	e.mbt, e.seqs, e.userMBT, e.userSeqs = in.MaxNumBatchedTokens, in.MaxNumSeqs, in.MaxNumBatchedTokens != 0, in.MaxNumSeqs != 0
	if e.mbt < 0 || e.mbt > 1<<24 {
		return e, &input.InputError{Attribute: "max_num_batched_tokens", Message: fmt.Sprintf("got %d; must be between 1 and %d", e.mbt, 1<<24)}
	}
	if e.seqs < 0 || e.seqs > 1<<20 {
		return e, &input.InputError{Attribute: "max_num_seqs", Message: fmt.Sprintf("got %d; must be between 1 and %d", e.seqs, 1<<20)}
	}
	if e.mbt == 0 {
		e.mbt = defMBT
	}
	if e.seqs == 0 {
		e.seqs = defSeqs
	}
	if e.mbt < e.seqs {
		// SchedulerConfig._verify_args (vllm/config/scheduler.py) refuses it.
		attr, hint := "max_num_seqs", "raise max_num_batched_tokens or lower max_num_seqs"
		if e.userMBT && !e.userSeqs {
			attr, hint = "max_num_batched_tokens", fmt.Sprintf("vLLM's default max_num_seqs for engine context %s on %s is %d, so also set max_num_seqs <= %d", e.context, e.g.Name, defSeqs, e.mbt)
		} else if e.userMBT {
			attr = "max_num_batched_tokens"
		}
		return e, &input.InputError{Attribute: attr, Message: fmt.Sprintf("max_num_batched_tokens (%d) must be >= max_num_seqs (%d), as vLLM requires; %s", e.mbt, e.seqs, hint)}
	}
	e.block = in.BlockSize
	if e.block == 0 {
		e.block = 16
	}
	if !contains([]string{"1", "8", "16", "32", "64", "128", "256"}, fmt.Sprint(e.block)) {
		return e, &input.InputError{Attribute: "block_size", Message: fmt.Sprintf("got %d; valid: 1, 8, 16, 32, 64, 128, 256", e.block)}
	}
	return e, nil
}

func (e engine) kvHeadsPerGPU() int {
	if e.m.IsMLA() {
		return 1
	}
	return max(1, e.m.NumKVHeads/e.tp)
}

// weightBytes is one GPU's share of the weights. Column/row-parallel
// matrices and the vocab-parallel embedding and lm_head are split over the
// TP ranks; ReplicatedLinear layers (MoE routers, MLA's q_a/kv_a) are not;
// each rank holds max(1, kv_heads/tp) KV heads (QKVParallelLinear). vLLM
// keeps embeddings, lm_head, norms and biases in the model dtype for every
// quantization method it supports, and adds the rotary cos/sin cache
// (rope positions × rotary dim, vllm/model_executor/layers/rotary_embedding).
func (e engine) weightBytes() float64 {
	m, p, tp := e.m, e.prec, float64(e.tp)
	b := e.layerWeightBytes()
	vocab := math.Ceil(float64(m.VocabSize)/vocabPadding) * vocabPadding
	emb := vocab * float64(m.HiddenSize) / tp
	if !m.TiedEmbeddings {
		emb *= 2
	}
	b += emb*p.DTypeBytes + float64(m.HiddenSize)*p.DTypeBytes
	b += float64(m.RopeCachePositions()) * float64(m.RotaryWidth()) * p.DTypeBytes
	b += float64(m.VisionParams) / tp * p.DTypeBytes
	return b
}

// layerWeightBytes is one GPU's share of the decoder layers' weights: the
// part cpu_offload_gb can move, since vLLM offloads only the modules that
// make_layers wraps (maybe_offload_to_cpu, vllm/model_executor/models/
// utils.py; the UVA offloader in model_executor/offloader/uva.py moves
// parameters until the budget is reached), never the embedding or lm_head.
func (e engine) layerWeightBytes() float64 {
	var b float64
	perLayer := e.prec.Quant != nil && len(e.prec.Quant.SkipModules) > 0
	e.m.LayerKinds(perLayer, func(i, count int) {
		for _, l := range e.m.LayerLinears(i) {
			b += e.linearBytes(l) * float64(count)
		}
	})
	return b + float64(e.m.NumLayers)*e.m.LayerSmallParams()*e.prec.DTypeBytes
}

// offloadBytes is what cpu_offload_gb keeps in CPU memory of one GPU's
// weights: the budget, at most the layers' weights. (The offloader stops
// after the parameter that reaches the budget, so vLLM may move up to one
// parameter more: the resident weights here are an upper bound.)
func (e engine) offloadBytes() float64 {
	if e.in.CPUOffloadGiB == 0 {
		return 0 // the usual case: no second walk over the layers
	}
	return min(e.in.CPUOffloadGiB*catalog.GiB, e.layerWeightBytes())
}

// linearBytes is one GPU's share of one matrix: quantized as the
// checkpoint's quantization_config says, or in the model dtype where it
// leaves the module unquantized (modules_to_not_convert, ignore,
// exclude_modules, llm_int8_skip_modules).
func (e engine) linearBytes(l hfconfig.Linear) float64 {
	n := l.Params()
	switch l.Shard {
	case "tp":
		n /= float64(e.tp)
	case "kv":
		n = float64(l.In) * float64(e.kvHeadsPerGPU()*e.m.HeadDim)
	}
	if padded := e.mxfp4PaddedParams(l); padded > 0 {
		n = padded
	}
	q := e.prec.Quant
	if q != nil && l.Quantized && !q.Skips(l.Path) {
		return n * bytesPerParam(q, l.In)
	}
	return n * e.prec.DTypeBytes
}

// forwardPeakBytes is the activation peak of one forward pass over tokens
// tokens on one GPU. The transient peak is inside the MLP: the gate_up
// output (2·I/tp), the activation output (I/tp) and about four hidden-size
// buffers (residual, normed input, attention output, output) per token.
// testdata/h100-2026-11-26.json measures 4.1 hidden-size buffers on top of
// 3·I for three dense models. In a MoE layer, fused_moe's three caches hold
// top_k·(2·I_e/tp), top_k·I_e/tp and top_k·H values per token
// (vllm/model_executor/layers/fused_moe/fused_moe.py), at most
// VLLM_FUSED_MOE_CHUNK_SIZE tokens at a time; MLA's prefill expands the
// latent into per-head keys and values (heads/tp · (nope+rope + nope+v)).
func (e engine) forwardPeakBytes(tokens int) float64 {
	m, tp, a := e.m, float64(e.tp), e.prec.DTypeBytes
	t := float64(tokens)
	H := float64(m.HiddenSize)
	var per float64
	if m.NumExperts == 0 || m.FirstDenseLayers > 0 {
		per = 3*float64(m.IntermediateSize)/tp + 4*H
	}
	attn := 4 * H
	if m.IsMLA() {
		attn += float64(m.NumHeads) / tp * float64(2*m.QKNopeHeadDim+m.QKRopeHeadDim+m.VHeadDim)
	} else {
		attn += float64(m.NumHeads/e.tp+2*e.kvHeadsPerGPU()) * float64(m.HeadDim)
	}
	per = math.Max(per, attn)
	if m.NumExperts > 0 {
		k := float64(m.NumActiveExperts)
		moe := k*(3*float64(m.ExpertIntermediateSize)/tp+H) + 3*float64(m.SharedInter())/tp + 4*H
		chunk := math.Min(t, fusedMoEChunk)
		return math.Max(per*t, moe*chunk+4*H*(t-chunk)) * a
	}
	return per * t * a
}

// samplerPeakBytes is the second half of profile_run: the hidden states of
// the whole batch stay alive while the sampler runs over one row of logits
// per request.
func (e engine) samplerPeakBytes() float64 {
	rows := float64(min(e.seqs, e.mbt))
	logit := e.version.samplerBytes() + (e.prec.DTypeBytes - 2) // fp32 models keep 4-byte logits
	return rows*float64(e.m.VocabSize)*logit + float64(e.mbt)*float64(e.m.HiddenSize)*e.prec.DTypeBytes
}

func (e engine) activationBytes() float64 {
	return math.Max(e.forwardPeakBytes(e.mbt), e.samplerPeakBytes())
}

func (e engine) nonTorchBytes() float64 {
	g := nonTorchGiB
	if e.tp > 1 {
		g += nonTorchTPGiB
	}
	return g * catalog.GiB
}

// cudaGraphBytes estimates V1's graph pool: the activations of the largest
// captured batch plus a per-graph overhead for each piecewise graph
// (layers+1 pieces per captured size; the default sizes are 1, 2, 4 and
// multiples of 8 up to the largest).
func (e engine) cudaGraphBytes() float64 {
	largest := min(cudaGraphMaxCapture, 2*e.seqs, e.mbt)
	sizes := 3 + largest/8
	return e.forwardPeakBytes(largest) + float64(sizes*(e.m.NumLayers+1))*cudaGraphBytesPerPiece
}

// layerKVBytesPerToken is one layer's KV bytes per token on one GPU:
// K and V, kv_heads_per_gpu × head_dim each (FullAttentionSpec.page_size_bytes
// / block_size, vllm/v1/kv_cache_interface.py). MLA caches one compressed
// latent of kv_lora_rank + qk_rope_head_dim per token, not split over TP
// and with no factor 2 (MLAAttentionSpec).
func (e engine) layerKVBytesPerToken() float64 {
	if e.m.IsMLA() {
		return float64(e.m.KVLoraRank+e.m.QKRopeHeadDim) * e.kvBytes
	}
	return 2 * float64(e.kvHeadsPerGPU()*e.m.HeadDim) * e.kvBytes
}

func (e engine) slidingLayers() int { return e.m.SlidingLayers() }

// requestKVBytes is the KV memory one request of mml tokens needs on one
// GPU: spec.max_memory_usage_bytes summed over the layers, as
// check_enough_kv_cache_memory does (vllm/v1/core/kv_cache_utils.py).
// Full attention: cdiv(mml, block) pages. Sliding window:
// cdiv(min(window − 1 + max_num_batched_tokens, mml), block) + 1 pages.
// Chunked local attention: chunked.go.
func (e engine) requestKVBytes(mml int) float64 {
	if e.m.State != nil {
		h := e.hybrid()
		return h.bytesPerBlock() * float64(h.requestBlocks(mml))
	}
	page := float64(e.block) * e.layerKVBytesPerToken()
	sl := e.slidingLayers()
	full := float64(e.m.NumLayers-sl-e.m.ChunkedLayers)*float64(ceilDiv(mml, e.block))*page + e.chunkedKVBytes(mml, page)
	if sl == 0 {
		return full
	}
	w := min(e.m.SlidingWindow-1+e.mbt, mml)
	return full + float64(sl)*float64(ceilDiv(w, e.block)+1)*page
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// KVCacheBytesPerToken is the KV cache one token takes on one GPU, all
// layers, for kvCacheDType "auto" (the model dtype) or "fp8".
func KVCacheBytesPerToken(m hfconfig.Model, kvCacheDType string, tensorParallelSize int) (int64, error) {
	e, err := resolveEngine(FitInput{Model: m, GPU: catalog.GPU{Name: "any", MemoryGiB: 80}, TensorParallelSize: tensorParallelSize, KVCacheDType: kvCacheDType, MaxModelLen: 1})
	if err != nil {
		return 0, err
	}
	return int64(e.layerKVBytesPerToken() * float64(attnLayers(m))), nil
}

// attnLayers are the layers with a per-token KV cache.
func attnLayers(m hfconfig.Model) int {
	if m.State == nil {
		return m.NumLayers
	}
	a, _ := m.LayerCounts()
	return a
}

// Fit predicts vLLM's start-up accounting on one GPU of the engine.
// The error is only for invalid input; a misfit is Fits == false with
// Reasons, Suggestions and ShortfallGiB.
func Fit(in FitInput) (FitResult, error) {
	e, err := resolveEngine(in)
	if err != nil {
		return FitResult{}, err
	}
	r := e.fit()
	if !r.Fits {
		r.Suggestions = e.suggest(r)
	}
	return r, nil
}

func (e engine) fit() FitResult {
	total := e.g.MemoryGiB * catalog.GiB
	budget := total * e.in.GPUMemoryUtilization
	off := e.offloadBytes()
	w, act, nt, cg := e.weightBytes()-off, e.activationBytes(), e.nonTorchBytes(), e.cudaGraphBytes()
	kv := budget - w - act - nt
	inKV := e.version.estimatesCUDAGraphs()
	if inKV {
		kv -= cg
	}
	perTok := e.layerKVBytesPerToken() * float64(attnLayers(e.m))
	need := e.requestKVBytes(e.mml)
	r := FitResult{
		GPUTotalMemoryGiB: e.g.MemoryGiB, BudgetGiB: budget / catalog.GiB, WeightsGiB: w / catalog.GiB, CPUOffloadGiB: off / catalog.GiB,
		ActivationPeakGiB: act / catalog.GiB, NonTorchGiB: nt / catalog.GiB, CUDAGraphGiB: cg / catalog.GiB, CUDAGraphInKVBudget: inKV,
		EngineContext: e.context, VLLMVersion: e.version.String(),
		KVCacheGiB: kv / catalog.GiB, KVCacheBytesPerTok: int64(perTok), MaxModelLen: e.mml,
		MaxNumBatchedTokens: e.mbt, MaxNumSeqs: e.seqs,
	}
	switch {
	case kv > 0 && e.m.State != nil:
		// vLLM's "KV cache size" of a hybrid model: concurrency × max_model_len.
		h := e.hybrid()
		r.MaxConcurrency = math.Floor(kv/h.bytesPerBlock()) / float64(h.requestBlocks(e.mml))
		r.KVCacheTokens = hfconfig.ClampInt64(r.MaxConcurrency * float64(e.mml))
	case kv > 0:
		blocks := math.Floor(kv / (float64(e.block) * perTok))
		r.KVCacheTokens = hfconfig.ClampInt64(blocks * float64(e.block))
		pageAll := float64(e.block) * perTok
		r.MaxConcurrency = blocks / math.Ceil(need/pageAll)
	}
	where := fmt.Sprintf("%s on %s", e.m.ID, e.g.Name)
	if e.tp > 1 {
		where += fmt.Sprintf(" × %d (tensor parallel)", e.tp)
	}
	weights := fmt.Sprintf("weights %.2f GiB", r.WeightsGiB)
	if off > 0 {
		weights = fmt.Sprintf("weights %.2f GiB (after cpu_offload_gb moves %.2f GiB to CPU memory)", r.WeightsGiB, r.CPUOffloadGiB)
	}
	overheads := fmt.Sprintf("%s + activation peak %.2f GiB + non-torch %.2f GiB", weights, r.ActivationPeakGiB, r.NonTorchGiB)
	if inKV {
		overheads += fmt.Sprintf(" + CUDA graphs %.2f GiB (subtracted from the KV cache since vLLM 0.21; this is %s)", r.CUDAGraphGiB, e.version)
	}
	switch {
	case kv <= 0:
		r.ShortfallGiB = (need - kv) / catalog.GiB
		r.Reasons = append(r.Reasons, fmt.Sprintf("%s: %s = %.2f GiB exceed the budget of %.2f GiB (%.2f GiB × gpu_memory_utilization %.2f) per GPU, leaving no memory for the KV cache (vLLM: \"No available memory for the cache blocks\")",
			where, overheads, (budget-kv)/catalog.GiB, r.BudgetGiB, e.g.MemoryGiB, e.in.GPUMemoryUtilization))
	case kv < need:
		r.ShortfallGiB = (need - kv) / catalog.GiB
		r.Reasons = append(r.Reasons, fmt.Sprintf("%s: one request of max_model_len %d tokens needs %.2f GiB of KV cache per GPU but only %.2f GiB (%d tokens) is left after %s; vLLM refuses to start",
			where, e.mml, need/catalog.GiB, r.KVCacheGiB, r.KVCacheTokens, overheads))
	default:
		r.Fits = true
		r.HeadroomGiB = (kv - need) / catalog.GiB
		r.Reasons = append(r.Reasons, fmt.Sprintf("%s fits: budget %.2f GiB − (%s) leaves %.2f GiB for the KV cache per GPU: %d tokens, %.2f× concurrency at max_model_len %d",
			where, r.BudgetGiB, overheads, r.KVCacheGiB, r.KVCacheTokens, r.MaxConcurrency, e.mml))
	}
	if e.m.State != nil {
		r.Reasons = append(r.Reasons, e.hybrid().describe(*e.m.State, e.mml))
	}
	if act > 0.5*catalog.GiB && e.samplerPeakBytes() >= e.forwardPeakBytes(e.mbt) {
		r.Reasons = append(r.Reasons, fmt.Sprintf("the activation peak is set by the sampler's profiling run over max_num_seqs %d × vocab %d logits; a lower max_num_seqs frees KV cache memory", e.seqs, e.m.VocabSize))
	}
	if margin := total - budget; !inKV && margin < (cudaContextGiB+r.CUDAGraphGiB)*catalog.GiB {
		r.Reasons = append(r.Reasons, fmt.Sprintf("warning: the %.2f GiB left outside gpu_memory_utilization may not hold the CUDA context (~%.2f GiB) and CUDA graphs (~%.2f GiB); lower gpu_memory_utilization if vLLM runs out of memory while capturing graphs",
			margin/catalog.GiB, cudaContextGiB, r.CUDAGraphGiB))
	}
	return r
}
