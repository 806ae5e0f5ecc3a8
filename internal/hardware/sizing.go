package hardware

import (
	"fmt"
	"math"
	"strings"
)

// The sizing model is a roofline. A prefill is bound by compute: FLOPs =
// 2 × active layer parameters × prompt tokens + causal attention
// (2 × layers × tokens² × heads × head_dim) + the lm_head for the last
// token, at prefillMFU of the GPU's dense peak. A decode step of B running
// sequences is bound by the larger of memory time (all weights once, or the
// experts the batch touches, plus every sequence's KV cache) at
// decodeBandwidthEfficiency of the GPU's bandwidth, and compute time
// (2 × active parameters × B + attention over the context) at prefillMFU.
// One request costs its prefill plus mean_output_tokens decode steps shared
// with B − 1 others, so a replica completes B / (B·t_prefill + out·t_step)
// requests per second. Tensor parallelism multiplies FLOPS and bandwidth by
// the TP size; its communication is not modelled.
var (
	// prefillMFU: testdata/h100-2026-11-26.json measures 492–545 TFLOPS
	// (2·params·tokens/time) for 7–8B models at chunks of 1024–16384 tokens
	// on an H100 SXM (989 dense TFLOPS): 0.50–0.55. We use the median, 0.54.
	prefillMFU = 0.54
	// decodeBandwidthEfficiency is the share of the datasheet bandwidth a
	// decode step achieves end to end (kernels, sampler, scheduler gaps).
	// Fitted to the throughput records of testdata/vllm-observed.json (see
	// TestThroughputCalibration); the probe's copy kernel reaches 0.88 of an
	// H100's bandwidth, the ceiling for this factor.
	decodeBandwidthEfficiency = 0.11
	// latencyMaxNumSeqs caps max_num_seqs for objective "latency": small
	// decode batches keep each step near the weight-read time.
	latencyMaxNumSeqs = 64
	// latencyMaxNumBatchedTokens: 512-token prefill chunks.
	latencyMaxNumBatchedTokens = 512
	// throughputMaxNumSeqs caps max_num_seqs for objective "throughput"
	// (vLLM's largest default).
	throughputMaxNumSeqs = 1024
	// rayDataMaxConcurrentBatches is Ray Data LLM's default
	// max_concurrent_batches per engine replica (vLLMEngineProcessorConfig).
	rayDataMaxConcurrentBatches = 8
)

// peakTFLOPS is the dense rate the weights run at: fp8 tensor cores for
// fp8 weights on fp8 GPUs, int8 for W8A8 int8, bf16/fp16 otherwise
// (weight-only int4 and Marlin fp8 dequantize to 16-bit).
func (e engine) peakTFLOPS() float64 {
	if q := e.prec.Quant; q != nil && q.Bits == 8 {
		if (q.Float || q.Method == "fp8") && e.g.FP8 && e.g.FP8TFLOPS > 0 {
			return e.g.FP8TFLOPS
		}
		if !q.Float && q.Method != "bitsandbytes" && e.g.INT8TOPS > 0 {
			return e.g.INT8TOPS
		}
	}
	if e.prec.DTypeBytes == 4 {
		return e.g.BF16TFLOPS / 4 // fp32 runs without tensor-core bf16 (TF32 at best)
	}
	return e.g.BF16TFLOPS
}

func (e engine) attnWidth() float64 {
	if e.m.isMLA() {
		return float64(e.m.NumHeads) * float64(e.m.KVLoraRank+e.m.QKRopeHeadDim)
	}
	return float64(e.m.NumHeads * e.m.HeadDim)
}

// prefillSeconds is one request's prefill on one replica.
func (e engine) prefillSeconds(in int) float64 {
	t := float64(in)
	flops := 2*e.m.layerMatmulParams()*t + 2*float64(e.m.NumLayers)*t*t*e.attnWidth() + 2*float64(e.m.VocabSize)*float64(e.m.HiddenSize)
	return flops / (e.peakTFLOPS() * 1e12 * float64(e.tp) * prefillMFU)
}

// decodeStepSeconds is one decode step of b sequences with ctx tokens of
// context each, on one replica.
func (e engine) decodeStepSeconds(b int, ctx float64) float64 {
	B := float64(b)
	w := e.weightBytes() * float64(e.tp)
	if m := e.m; m.NumExperts > 0 {
		// Expected share of experts a batch touches: 1 − (1 − k/E)^B.
		touched := 1 - math.Pow(1-float64(m.NumActiveExperts)/float64(m.NumExperts), B)
		var expertBytes float64
		m.layerKinds(e.prec.Quant != nil && len(e.prec.Quant.SkipModules) > 0, func(i, count int) {
			if !m.isMoELayer(i) {
				return
			}
			for _, l := range m.layerLinears(i) {
				if l.Count > 1 {
					bytes := e.prec.DTypeBytes
					if q := e.prec.Quant; q != nil && !q.skips(l.Path) {
						bytes = q.bytesPerParam(l.In)
					}
					expertBytes += l.params() * bytes * float64(count)
				}
			}
		})
		w -= expertBytes * (1 - touched)
	}
	kv := B * ctx * e.layerKVBytesPerToken() * float64(e.m.NumLayers) * float64(e.tp)
	if e.m.isMLA() {
		kv /= float64(e.tp) // every rank holds (and reads) the same latent
	}
	mem := (w + kv) / (e.g.BandwidthGBps * 1e9 * float64(e.tp) * decodeBandwidthEfficiency)
	flops := B * (2*e.m.layerMatmulParams() + 2*float64(e.m.VocabSize)*float64(e.m.HiddenSize) + 4*float64(e.m.NumLayers)*ctx*e.attnWidth())
	comp := flops / (e.peakTFLOPS() * 1e12 * float64(e.tp) * prefillMFU)
	return math.Max(mem, comp)
}

// replicaRequestsPerSecond is the steady-state completion rate of one
// engine replica running b sequences at a time.
func (e engine) replicaRequestsPerSecond(b, in, out int) float64 {
	ctx := float64(in) + float64(out)/2
	perRequest := e.prefillSeconds(in) + float64(out)*e.decodeStepSeconds(b, ctx)/float64(b)
	return 1 / perRequest
}

// Size recommends engine knobs and Ray Data settings for a workload and
// predicts its run time and cost.
func Size(in SizingInput) (SizingResult, error) {
	var res SizingResult
	w := in.Workload
	switch {
	case w.NumRequests < 1 || w.NumRequests > 1e13:
		return res, &InputError{Attribute: "num_requests", Message: fmt.Sprintf("got %d; must be a positive number of prompts", w.NumRequests)}
	case w.MeanInputTokens < 1 || w.MeanInputTokens > 1<<24:
		return res, &InputError{Attribute: "mean_input_tokens", Message: fmt.Sprintf("got %d; must be a positive number of tokens", w.MeanInputTokens)}
	case w.MeanOutputTokens < 1 || w.MeanOutputTokens > 1<<24:
		return res, &InputError{Attribute: "mean_output_tokens", Message: fmt.Sprintf("got %d; must be a positive number of tokens", w.MeanOutputTokens)}
	case in.GPUs < 0 || in.GPUs > 1<<20:
		return res, &InputError{Attribute: "gpus", Message: fmt.Sprintf("got %d; must be 0 (derive from sla_hours) or a positive GPU count", in.GPUs)}
	case !(in.SLAHours >= 0 && in.SLAHours < 1e7):
		return res, &InputError{Attribute: "sla_hours", Message: fmt.Sprintf("got %g; must be 0 (no deadline) or a positive number of hours", in.SLAHours)}
	case !(in.PricePerGPUHourUSD >= 0 && in.PricePerGPUHourUSD < 1e6):
		return res, &InputError{Attribute: "price_per_gpu_hour_usd", Message: fmt.Sprintf("got %g; must be 0 (unknown) or a positive price", in.PricePerGPUHourUSD)}
	}
	target := in.TargetKVCacheUtilization
	if target == 0 {
		target = 0.9
	}
	if !(target > 0 && target <= 1) {
		return res, &InputError{Attribute: "target_kv_cache_utilization", Message: fmt.Sprintf("got %g; must be in (0, 1], e.g. 0.9", in.TargetKVCacheUtilization)}
	}
	obj := in.Objective
	if obj == "" {
		obj = "throughput"
	}
	if !contains(Objectives, obj) {
		return res, &InputError{Attribute: "objective", Message: fmt.Sprintf("unknown objective %q%s; valid: %s", obj, didYouMean(obj, Objectives), strings.Join(Objectives, ", "))}
	}

	fin := in.Fit
	defMBT, _ := DefaultBatchLimits(fin.GPU)
	if fin.MaxNumBatchedTokens == 0 {
		fin.MaxNumBatchedTokens = defMBT
		if obj == "latency" {
			fin.MaxNumBatchedTokens = latencyMaxNumBatchedTokens
		}
	}
	capSeqs := throughputMaxNumSeqs
	if obj == "latency" {
		capSeqs = latencyMaxNumSeqs
	}
	userSeqs := fin.MaxNumSeqs != 0
	if !userSeqs {
		fin.MaxNumSeqs = min(capSeqs, fin.MaxNumBatchedTokens)
	}
	e, err := resolveEngine(fin)
	if err != nil {
		return res, err
	}
	if w.MeanInputTokens+w.MeanOutputTokens > e.mml {
		return res, &InputError{Attribute: "mean_input_tokens", Message: fmt.Sprintf("mean_input_tokens + mean_output_tokens = %d exceeds max_model_len %d; raise max_model_len or shorten the requests",
			w.MeanInputTokens+w.MeanOutputTokens, e.mml)}
	}
	perSeq := w.MeanInputTokens + w.MeanOutputTokens
	r := e.fit()
	// max_num_seqs bounded by the KV cache: a lower max_num_seqs shrinks the
	// sampler's profiling peak and so grows the KV cache; iterate to a fixed
	// point (it only moves one way).
	for i := 0; i < 4 && !userSeqs && r.Fits; i++ {
		kvSeqs := int(float64(r.KVCacheTokens) * target / float64(perSeq))
		n := max(1, min(kvSeqs, capSeqs, e.mbt))
		if n == e.seqs {
			break
		}
		e.seqs, e.in.MaxNumSeqs = n, n
		r = e.fit()
	}
	if !r.Fits {
		r.Suggestions = e.suggest(r)
	}
	res.Fit, res.MaxNumSeqs, res.MaxNumBatchedTokens = r, e.seqs, e.mbt
	if !r.Fits {
		return res, nil
	}
	// Running sequences: max_num_seqs, unless the KV cache holds fewer.
	running := min(e.seqs, max(1, int(float64(r.KVCacheTokens)*target/float64(perSeq))))
	if running < e.seqs {
		res.Notes = append(res.Notes, fmt.Sprintf("the KV cache holds only %d sequences of %d tokens at target_kv_cache_utilization %.2f, fewer than max_num_seqs %d", running, perSeq, target, e.seqs))
	}
	rps := e.replicaRequestsPerSecond(running, w.MeanInputTokens, w.MeanOutputTokens)
	res.PerReplicaRequestsPerSecond = rps
	res.PerReplicaOutputTokensPerSecond = rps * float64(w.MeanOutputTokens)
	res.BatchSize = rayDataBatchSize(running)

	oneReplicaHours := float64(w.NumRequests) / rps / 3600
	replicas := 1
	switch {
	case in.GPUs > 0:
		if in.GPUs < e.tp {
			return res, &InputError{Attribute: "gpus", Message: fmt.Sprintf("%d GPUs cannot hold one replica of tensor_parallel_size %d", in.GPUs, e.tp)}
		}
		replicas = in.GPUs / e.tp
		if in.GPUs%e.tp != 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("%d of the %d GPUs stay idle: replicas need %d GPUs each", in.GPUs%e.tp, in.GPUs, e.tp))
		}
	case in.SLAHours > 0:
		replicas = max(1, int(math.Ceil(oneReplicaHours/in.SLAHours)))
	default:
		res.Notes = append(res.Notes, "neither gpus nor sla_hours is set: sized for one replica")
	}
	if in.SLAHours > 0 {
		res.GPUsRequired = max(1, int(math.Ceil(oneReplicaHours/in.SLAHours))) * e.tp
	}
	res.Concurrency = replicas
	res.GPUsUsed = replicas * e.tp
	res.RequestsPerSecond = rps * float64(replicas)
	res.OutputTokensPerSecond = res.PerReplicaOutputTokensPerSecond * float64(replicas)
	res.HoursToComplete = oneReplicaHours / float64(replicas)
	res.MeetsSLA = in.SLAHours == 0 || res.HoursToComplete <= in.SLAHours
	if in.PricePerGPUHourUSD > 0 {
		res.CostUSD = in.PricePerGPUHourUSD * float64(res.GPUsUsed) * res.HoursToComplete
		res.CostPerMillionOutputTokensUSD = res.CostUSD / (float64(w.NumRequests) * float64(w.MeanOutputTokens) / 1e6)
	}
	if !res.MeetsSLA {
		res.Notes = append(res.Notes, fmt.Sprintf("%d GPUs finish in %.2f h, past the %.2f h deadline; %d GPUs would meet it", res.GPUsUsed, res.HoursToComplete, in.SLAHours, res.GPUsRequired))
	}
	return res, nil
}

// rayDataBatchSize keeps about two engine-fulls of rows in flight per
// replica with Ray Data's default max_concurrent_batches (8), so vLLM's
// scheduler always has waiting requests: ceil(2 × running / 8), rounded up
// to a power of two, between 16 and 1024.
func rayDataBatchSize(running int) int {
	want := (2*running + rayDataMaxConcurrentBatches - 1) / rayDataMaxConcurrentBatches
	b := 16
	for b < want && b < 1024 {
		b *= 2
	}
	return b
}
