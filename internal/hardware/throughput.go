package hardware

import "math"

// The throughput model follows one vLLM V1 engine step by step.
//
// A step runs every running sequence's next token (the decodes) and, under
// chunked prefill, as many prompt tokens as max_num_batched_tokens leaves
// (vLLM's scheduler fills the token budget with decodes first, then prompt
// chunks). Its time is two rooflines, one for the matmuls and
// one for attention, added (the kernels run one after the other, so
// attention's KV reads do not hide behind the matmuls), plus the
// tensor-parallel all-reduces and a fixed overhead:
//
//	t_step = max(t_weights, t_matmul) + max(t_kv, t_attention) + t_allreduce + t_overhead
//
//	t_weights   = weights read / (bandwidth × tp × bandwidthShare): every
//	              matrix once, except the experts the step's tokens miss
//	t_matmul    = (2 × active matmul params × tokens + lm_head of the
//	              decodes) / (matmul peak × tp × share(tokens)), expert
//	              matmuls slowed by moeShare. share(n) = computeShare ×
//	              n / (n + halfTokens): a GEMM whose M dimension (the
//	              step's tokens) is below a tile leaves tensor cores idle.
//	              The matmul peak is the bf16 peak, times eightBitGain for
//	              fp8/int8 weights and activations on GPUs with 8-bit
//	              tensor cores (fp8: Hopper, Ada, Blackwell, CDNA3/4;
//	              Ampere has int8 only), never above the datasheet ratio.
//	t_kv        = KV read / (bandwidth × tp × bandwidthShare): each decode
//	              reads its context in every layer (a sliding-window layer
//	              at most the window)
//	t_attention = 4 × layers × width × attended tokens / (bf16 peak × tp ×
//	              computeShare)
//	t_allreduce = 2 all-reduces per layer of tokens × hidden × 2 bytes:
//	              tpSyncSeconds (latency and the wait for the slowest
//	              rank; 3× over PCIe) + 2(tp−1)/tp × bytes / (link
//	              bandwidth × linkShare)
//	t_overhead  = stepOverheadSeconds: what the GPU roofline leaves out and
//	              does not scale with the batch: the scheduler, input
//	              preparation, sampling and launch gaps between CUDA graphs
//
// A finite run has three phases (runSeconds): the ramp, when the first
// wave of prompts is prefilled in full chunks; the steady state, where each
// step carries B decodes plus B × input/output prompt tokens of the requests
// that replace finished ones; and the drain, when the queue is empty and the
// batch shrinks as the remaining outputs finish. Output lengths are either
// fixed (a random-token benchmark) or exponential with the given mean (real
// prompts such as ShareGPT), which sets how long the drain lasts and how
// much KV cache a running sequence holds on average.

// throughputConstants are the constants fitted to the calibration sets
// (see calibration_throughput_test.go and the memory-model guide).
type throughputConstants struct {
	// BandwidthShare is the share of the datasheet memory bandwidth that
	// decode reads reach: weight GEMVs/GEMMs and paged-attention KV reads.
	// Plausible range 0.4–0.9: copy kernels reach 0.88 on an H100
	// (testdata/h100-2026-11-26.json), GEMV kernels 0.6–0.85.
	BandwidthShare float64
	// StepOverheadSeconds is the fixed time per engine step outside the
	// roofline. Plausible range 0.3–5 ms: a batch-1 decode of a 0.5B model,
	// whose weights read in under 1 ms, takes 3–5 ms per token
	// (testdata/vllm-step-time-observed.json).
	StepOverheadSeconds float64
	// ComputeShare is the share of the dense tensor-core peak that large
	// matmuls and attention reach (model FLOPs utilization at many tokens
	// per step). Plausible range 0.25–0.55; the PyTorch probe on an H100
	// (testdata/h100-2026-11-26.json) reaches 0.50–0.55 for 7–8B prefill
	// without a serving stack, an upper bound for vLLM's end-to-end share.
	ComputeShare float64
	// MoEShare is the efficiency of the fused-MoE expert GEMMs relative to
	// dense ones: each expert sees only tokens·k/E rows, so its tiles run
	// partly empty. Plausible range 0.2–1.
	MoEShare float64
	// TPSyncSeconds is the fixed cost of one tensor-parallel all-reduce
	// over NVLink/xGMI: the kernel's latency (vLLM's custom all-reduce
	// 5–15 µs) plus the wait for the slowest rank. Plausible range
	// 5–100 µs.
	TPSyncSeconds float64
	// EightBitGain is how much faster fp8 (or int8 W8A8) GEMMs run than
	// bf16 ones on GPUs with 8-bit tensor cores: the datasheet says 2, the
	// activation quantization and scaled-mm epilogues take part of it.
	// Plausible range 1–2.
	EightBitGain float64
	// LinkShare is the share of the interconnect's datasheet bandwidth
	// that the step's all-reduces reach (nccl-tests all_reduce_perf
	// "busbw" reaches 70–85% of the link for large messages, less for the
	// few-MB messages of a decode step). Plausible range 0.2–0.9.
	LinkShare float64
}

// calibrated is the fit over the whole calibration set;
// TestThroughputConstantsAreTheFit recomputes it.
var calibrated = throughputConstants{BandwidthShare: 0.730, StepOverheadSeconds: 1.14e-3, ComputeShare: 0.389, MoEShare: 0.484,
	TPSyncSeconds: 80.4e-6, EightBitGain: 1.300, LinkShare: 0.487}

// Constants taken from measurements or datasheets, not fitted.
const (
	// probeMFU: testdata/h100-2026-11-26.json measures 492–545 TFLOPS
	// (2·params·tokens/time) for 7–8B models at chunks of 1024–16384 tokens
	// on an H100 SXM (989 dense TFLOPS): 0.50–0.55. ComputeShare may not
	// exceed it (TestThroughputConstantsAreTheFit).
	probeMFU = 0.55
	// halfTokens is the number of tokens per step (the GEMM's M
	// dimension) at which the matmuls reach half of ComputeShare: Hopper's
	// smallest wgmma tile and the usual CUTLASS/hipBLASLt tiles are 64 rows,
	// so a step of fewer tokens leaves part of each tile empty. The H100
	// probe (testdata/h100-2026-11-26.json, eager PyTorch with launch
	// overheads included) reaches half of its saturated rate at 260–430
	// tokens, an upper bound; a fitted value went to its 16-token floor
	// (decode steps are memory-bound before tiles matter), so it is held
	// at the tile size.
	halfTokens = 64
	// pcieSyncFactor: NCCL's small all-reduce over PCIe takes 20–40 µs
	// against vLLM's custom all-reduce over NVLink at 5–15 µs (nccl-tests
	// small-message latency): about 3×.
	pcieSyncFactor = 3
)

// Output-length distributions of a workload.
const (
	lengthsFixed       = "fixed"
	lengthsExponential = "exponential"
)

// stepLoad is what one engine step carries.
type stepLoad struct {
	decodes    float64 // sequences producing one token
	prefill    float64 // prompt tokens (chunked prefill)
	ctx        float64 // mean context length of the decoding sequences
	prefillCtx float64 // mean prefix the prompt tokens attend to
}

// stepParts is one step's time split into the model's terms (seconds).
type stepParts struct {
	weights, matmul, kv, attention, allReduce, overhead float64
}

func (p stepParts) total() float64 {
	return math.Max(p.weights, p.matmul) + math.Max(p.kv, p.attention) + p.allReduce + p.overhead
}

// peakTFLOPS is the dense 16-bit rate (fp32 runs without tensor-core bf16:
// TF32 at best).
func (e engine) peakTFLOPS() float64 {
	if e.prec.DTypeBytes == 4 {
		return e.g.BF16TFLOPS / 4
	}
	return e.g.BF16TFLOPS
}

// eightBitPeakRatio is the datasheet ratio of the 8-bit tensor-core rate
// the weights run at to the 16-bit rate: fp8 weights and activations on
// GPUs with fp8 tensor cores, int8 W8A8 on GPUs with int8 ones; 1 for
// weight-only formats (AWQ, GPTQ, MXFP4, Marlin fp8 on Ampere), which
// dequantize to 16-bit.
func (e engine) eightBitPeakRatio() float64 {
	q := e.prec.Quant
	if q == nil || q.Bits != 8 || e.g.BF16TFLOPS <= 0 {
		return 1
	}
	if q.Float || q.Method == "fp8" {
		if e.g.FP8 && e.g.FP8TFLOPS > 0 {
			return e.g.FP8TFLOPS / e.g.BF16TFLOPS
		}
		return 1
	}
	if q.Method != "bitsandbytes" && e.g.INT8TOPS > 0 {
		return e.g.INT8TOPS / e.g.BF16TFLOPS
	}
	return 1
}

// matmulGain is how much faster the matmuls run than at 16-bit: the
// fitted 8-bit gain, never above the datasheet ratio.
func (e engine) matmulGain(k throughputConstants) float64 {
	r := e.eightBitPeakRatio()
	if r <= 1 {
		return 1
	}
	return math.Min(r, k.EightBitGain)
}

// matmulShare is the share of the peak that the step's matmuls reach with
// tokens rows: ComputeShare × n / (n + halfTokens).
func matmulShare(tokens float64, k throughputConstants) float64 {
	return k.ComputeShare * tokens / (tokens + halfTokens)
}

func (e engine) attnWidth() float64 {
	if e.m.IsMLA() {
		return float64(e.m.NumHeads) * float64(e.m.KVLoraRank+e.m.QKRopeHeadDim)
	}
	return float64(e.m.NumHeads * e.m.HeadDim)
}

// expertBytes is the stored size of all routed-expert matrices, all ranks.
func (e engine) expertBytes() float64 {
	m := e.m
	var b float64
	m.LayerKinds(e.prec.Quant != nil && len(e.prec.Quant.SkipModules) > 0, func(i, count int) {
		if !m.IsMoELayer(i) {
			return
		}
		for _, l := range m.LayerLinears(i) {
			if l.Count > 1 {
				bytes := e.prec.DTypeBytes
				if q := e.prec.Quant; q != nil && !q.Skips(l.Path) {
					bytes = bytesPerParam(q, l.In)
				}
				b += l.Params() * bytes * float64(count)
			}
		}
	})
	return b
}

// touchedExperts is the expected share of a layer's experts that tokens
// routed tokens reach: 1 − (1 − k/E)^tokens (each token picks k of E).
func (e engine) touchedExperts(tokens float64) float64 {
	m := e.m
	if m.NumExperts == 0 || tokens <= 0 {
		return 0
	}
	return 1 - math.Pow(1-float64(m.NumActiveExperts)/float64(m.NumExperts), tokens)
}

// attendedPerLayer sums, over the layers, the tokens one query attends to
// with a context of ctx tokens (sliding-window layers stop at the window,
// chunked-attention layers at most at the chunk), divided by the layer count.
func (e engine) attendedPerLayer(ctx float64) float64 {
	sl, cl := float64(e.slidingLayers()), float64(e.m.ChunkedLayers)
	L := float64(e.m.NumLayers)
	w := ctx
	if e.m.SlidingWindow > 0 {
		w = math.Min(ctx, float64(e.m.SlidingWindow))
	}
	return ((L-sl-cl)*ctx + sl*w + cl*math.Min(ctx, float64(e.m.AttentionChunk))) / L
}

// stepCoeffs are an engine's per-step quantities that do not depend on
// the load, computed once per engine.
type stepCoeffs struct {
	e                engine
	weights, experts float64 // bytes, all ranks
	kvPerToken       float64 // bytes per token of context, all layers, all ranks
	// Matmul FLOPs per token: dense matrices and the routed experts (a
	// token's k experts). Weight-only quantized matrices (AWQ, GPTQ, MXFP4,
	// fp8 without fp8 tensor cores) run at the 16-bit rate: the fit found
	// no further dequantization cost (a separate efficiency for them went
	// to its bound of 1), so they are counted as dense.
	dense, expert float64
	lmHeadFlops   float64 // per decode
	attnFlops     float64 // per attended token: 4 × layers × width
	peak, bwAgg   float64 // FLOP/s and bytes/s at full share, all ranks
}

func (e engine) coeffs() stepCoeffs {
	tp := float64(e.tp)
	L := float64(e.m.NumLayers)
	c := stepCoeffs{e: e, weights: e.weightBytes() * tp, kvPerToken: e.layerKVBytesPerToken() * float64(attnLayers(e.m)), // hybrid models: attention layers only
		lmHeadFlops: 2 * float64(e.m.VocabSize) * float64(e.m.HiddenSize),
		attnFlops:   4 * L * e.attnWidth(), peak: e.peakTFLOPS() * 1e12 * tp, bwAgg: e.g.BandwidthGBps * 1e9 * tp}
	m := e.m
	m.LayerKinds(false, func(i, count int) {
		for _, l := range m.LayerLinears(i) {
			f := 2 * float64(l.In) * float64(l.Out) * float64(count)
			if l.Count > 1 {
				c.expert += f * float64(m.NumActiveExperts)
			} else {
				c.dense += f
			}
		}
	})
	if e.m.NumExperts > 0 {
		c.experts = e.expertBytes()
	}
	if !e.m.IsMLA() {
		c.kvPerToken *= tp // each rank reads its heads (MLA: every rank the same latent)
	}
	return c
}

// stepTime is one engine step's time split into its terms.
func (e engine) stepTime(l stepLoad, k throughputConstants) stepParts { return e.coeffs().step(l, k) }

func (c stepCoeffs) step(l stepLoad, k throughputConstants) stepParts {
	e := c.e
	tokens := l.decodes + l.prefill
	// Memory: all ranks together read the weights (less the untouched
	// experts) and every decode's KV.
	w := c.weights
	if c.experts > 0 {
		w -= c.experts * (1 - e.touchedExperts(tokens))
	}
	bw := c.bwAgg * k.BandwidthShare
	p := stepParts{overhead: k.StepOverheadSeconds, weights: w / bw}
	p.kv = l.decodes * e.attendedPerLayer(l.ctx) * c.kvPerToken / bw
	if tokens > 0 {
		mm := (c.dense+c.expert/k.MoEShare)*tokens + c.lmHeadFlops*l.decodes
		p.matmul = mm / (c.peak * e.matmulGain(k) * matmulShare(tokens, k))
	}
	attn := c.attnFlops * (l.decodes*e.attendedPerLayer(l.ctx) + l.prefill*e.attendedPerLayer(l.prefillCtx))
	p.attention = attn / (c.peak * k.ComputeShare)
	p.allReduce = e.allReduceSeconds(tokens, k)
	return p
}

// allReduceSeconds is the tensor-parallel communication of one step: two
// all-reduces per layer (after attention and after the MLP) of tokens ×
// hidden activations in 16-bit, as a ring moves them.
func (e engine) allReduceSeconds(tokens float64, k throughputConstants) float64 {
	if e.tp < 2 {
		return 0
	}
	// The wait for the slowest of tp ranks grows with each doubling of
	// the ranks (a barrier's depth).
	lat, link := k.TPSyncSeconds*math.Log2(float64(e.tp)), e.g.InterconnectGBps
	if e.g.Interconnect != "nvlink" && e.g.Interconnect != "xgmi" {
		lat *= pcieSyncFactor
	}
	if link <= 0 {
		link = 32
	}
	tp := float64(e.tp)
	bytes := tokens * float64(e.m.HiddenSize) * 2
	return 2 * float64(e.m.NumLayers) * (lat + 2*(tp-1)/tp*bytes/(link*1e9*k.LinkShare))
}

// runShape is a workload for runSeconds.
type runShape struct {
	requests float64
	in, out  float64
	lengths  string  // lengthsFixed or lengthsExponential
	outCap   float64 // longest output (0: none), e.g. a benchmark's filter
	maxSeqs  int     // max_num_seqs
	mbt      int     // max_num_batched_tokens
	kvTokens float64 // KV cache capacity of the engine, tokens
	cached   float64 // prompt tokens served by prefix caching (prefix.go)
}

// runPhases is a predicted run split into its phases.
type runPhases struct {
	running               float64 // steady-state running sequences
	ramp, steady, drain   float64 // seconds
	steadyStep            stepParts
	steadyPrefillPerStep  float64
	limitedBy             string // "max_num_seqs", "kv_cache", "max_num_batched_tokens" or "requests"
	total, outputTokensPS float64
}

// runSeconds predicts a run of s.requests requests on one engine.
func (e engine) runSeconds(s runShape, k throughputConstants) runPhases { return e.coeffs().run(s, k) }

func (c stepCoeffs) run(s runShape, k throughputConstants) runPhases {
	e := c.e
	var r runPhases
	in, out := math.Max(s.in, 1), math.Max(s.out, 1)
	// Mean context a running sequence holds: prompt + its age. Fixed
	// lengths: age uniform over [0, out]; exponential: in-flight requests
	// are length-biased and their age has mean out.
	age := out / 2
	if s.lengths == lengthsExponential {
		age = out
	}
	// A cached prefix is computed by the first wave and then shared: its
	// blocks are held once, and later prompts prefill only the rest.
	fresh := in - s.cached
	occupancy := fresh + age + float64(e.block)/2 // half a block lost to paging
	B := float64(s.maxSeqs)
	r.limitedBy = "max_num_seqs"
	if kvB := math.Floor((s.kvTokens - s.cached) / occupancy); kvB < B {
		B, r.limitedBy = math.Max(kvB, 1), "kv_cache"
	}
	// Steady state: B decodes and B·in/out prompt tokens per step must fit
	// the token budget.
	if budgetB := math.Floor(float64(s.mbt) * out / (fresh + out)); budgetB < B && s.requests > B {
		B, r.limitedBy = math.Max(budgetB, 1), "max_num_batched_tokens"
	}
	if s.requests < B {
		B, r.limitedBy = s.requests, "requests"
	}
	r.running = B
	mbt := float64(s.mbt)
	ctx := in + age
	// Ramp: the first wave's prompts in full chunks.
	first := math.Min(s.requests, B)
	rampSteps := first * in / mbt
	r.ramp = rampSteps * c.step(stepLoad{prefill: math.Min(mbt, first*in), prefillCtx: in / 2}, k).total()
	// Drain work: what the running sequences still have to generate when
	// the queue empties.
	var residual float64
	switch {
	case s.requests <= B:
		residual = out
	case s.lengths == lengthsExponential:
		residual = out
	default:
		residual = out / 2
	}
	if s.requests > B {
		work := s.requests*out - B*residual
		steps := work / B
		prompts := (s.requests - B) * fresh
		if steps*(mbt-B) < prompts { // the budget, not the outputs, sets the pace
			steps = prompts / math.Max(mbt-B, 1)
		}
		r.steadyPrefillPerStep = prompts / steps
		r.steadyStep = c.step(stepLoad{decodes: B, prefill: r.steadyPrefillPerStep, ctx: ctx, prefillCtx: s.cached + fresh/2}, k)
		r.steady = steps * r.steadyStep.total()
	}
	r.drain = c.drainSeconds(first, out, ctx, s, k)
	r.total = r.ramp + r.steady + r.drain
	r.outputTokensPS = s.requests * out / r.total
	return r
}

// drainSeconds integrates the step time while b0 sequences finish with no
// new requests to admit.
func (c stepCoeffs) drainSeconds(b0, out, ctx float64, s runShape, k throughputConstants) float64 {
	const n = 64
	var batch func(x float64) float64
	var span float64
	switch {
	case s.lengths == lengthsExponential:
		span = out * math.Log(2*math.Max(b0, 1))
		if s.outCap > 0 {
			span = math.Min(span, s.outCap)
		}
		batch = func(x float64) float64 { return b0 * math.Exp(-x/out) }
	case s.requests <= b0:
		span = out
		batch = func(float64) float64 { return b0 }
	default:
		span = out
		batch = func(x float64) float64 { return b0 * (1 - x/out) }
	}
	var t float64
	h := span / n
	for i := 0; i < n; i++ {
		x := (float64(i) + 0.5) * h
		t += h * c.step(stepLoad{decodes: math.Max(batch(x), 1), ctx: ctx}, k).total()
	}
	return t
}

// The calibration set and the spread that the outputs carry.
const (
	calibrationSetName  = "34 saturated V1 vLLM benchmark runs (vllm-throughput-observed.json, vllm-throughput-observed-amd.json) and 16 decode step times (vllm-step-time-observed.json)"
	calibrationVersions = "0.8.5–0.20"
	// looRatioLow/High: 10th and 90th percentile of observed ÷ predicted
	// output tokens/s over the record-level leave-one-out predictions
	// (TestThroughputLeaveOneOut).
	looRatioLow  = 0.73
	looRatioHigh = 1.28
	// groupedRatioLow/High: 10th and 90th percentile of observed ÷
	// predicted over the grouped cross-validation (by model and by GPU,
	// pooled; TestThroughputGroupedCV): how far off a model or GPU the fit
	// has never seen comes out. The range the outputs carry; "safe" plans
	// on the low end.
	groupedRatioLow  = 0.74
	groupedRatioHigh = 1.37
)
