package hardware

import (
	"fmt"
	"math"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// Sizing recommends engine knobs and predicts the run with the throughput
// model of throughput.go (its constants are fitted; see that file).
var (
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

// Size recommends engine knobs and Ray Data settings for a workload and
// predicts its run time and cost.
func Size(in SizingInput) (SizingResult, error) {
	var res SizingResult
	w := in.Workload
	switch {
	case w.NumRequests < 1 || w.NumRequests > 1e13:
		return res, &input.InputError{Attribute: "num_requests", Message: fmt.Sprintf("got %d; must be a positive number of prompts", w.NumRequests)}
	case w.MeanInputTokens < 1 || w.MeanInputTokens > 1<<24:
		return res, &input.InputError{Attribute: "mean_input_tokens", Message: fmt.Sprintf("got %d; must be a positive number of tokens", w.MeanInputTokens)}
	case w.SharedPrefixTokens < 0 || w.SharedPrefixTokens > w.MeanInputTokens:
		return res, &input.InputError{Attribute: "shared_prefix_tokens", Message: fmt.Sprintf("got %d; must be 0 to mean_input_tokens (%d): the tokens every prompt starts with", w.SharedPrefixTokens, w.MeanInputTokens)}
	case w.MeanOutputTokens < 1 || w.MeanOutputTokens > 1<<24:
		return res, &input.InputError{Attribute: "mean_output_tokens", Message: fmt.Sprintf("got %d; must be a positive number of tokens", w.MeanOutputTokens)}
	case in.GPUs < 0 || in.GPUs > 1<<20:
		return res, &input.InputError{Attribute: "gpus", Message: fmt.Sprintf("got %d; must be 0 (derive from sla_hours) or a positive GPU count", in.GPUs)}
	case !(in.SLAHours >= 0 && in.SLAHours < 1e7):
		return res, &input.InputError{Attribute: "sla_hours", Message: fmt.Sprintf("got %g; must be 0 (no deadline) or a positive number of hours", in.SLAHours)}
	case !(in.PricePerGPUHourUSD >= 0 && in.PricePerGPUHourUSD < 1e6):
		return res, &input.InputError{Attribute: "price_per_gpu_hour_usd", Message: fmt.Sprintf("got %g; must be 0 (unknown) or a positive price", in.PricePerGPUHourUSD)}
	case in.Fit.CPUOffloadGiB != 0:
		// Every forward pass reads the offloaded weights over the host link,
		// whose bandwidth the catalog does not hold: hours would be optimistic.
		return res, &input.InputError{Attribute: "cpu_offload_gb", Message: fmt.Sprintf("got %g; sizing does not model cpu_offload_gb "+
			"(each step then reads the offloaded weights from CPU memory over the host link, which the step-time model leaves out). "+
			"Valid here: 0 or unset; size on a GPU that holds the weights, and check the offloaded engine with rayvllm_gpu_fit", in.Fit.CPUOffloadGiB)}
	}
	target := in.TargetKVCacheUtilization
	if target == 0 {
		target = 0.9
	}
	if !(target > 0 && target <= 1) {
		return res, &input.InputError{Attribute: "target_kv_cache_utilization", Message: fmt.Sprintf("got %g; must be in (0, 1], e.g. 0.9", in.TargetKVCacheUtilization)}
	}
	obj := in.Objective
	if obj == "" {
		obj = "throughput"
	}
	if !contains(Objectives, obj) {
		return res, &input.InputError{Attribute: "objective", Message: fmt.Sprintf("unknown objective %q%s; valid: %s", obj, input.DidYouMean(obj, Objectives), strings.Join(Objectives, ", "))}
	}

	plan, err := validPlanFor(in.PlanFor)
	if err != nil {
		return res, err
	}
	res.PlanFor = plan
	fin := in.Fit
	userMBT := fin.MaxNumBatchedTokens != 0
	if fin.MaxNumBatchedTokens == 0 {
		// Recommend the LLM class's chunk budget (larger chunks amortize the
		// weight reads over more prompt tokens); the batch job's own default
		// is only 2048.
		fin.MaxNumBatchedTokens, _ = EngineBatchDefaults(EngineContextLLMClass, fin.GPU, 0)
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
		return res, &input.InputError{Attribute: "mean_input_tokens", Message: fmt.Sprintf("mean_input_tokens + mean_output_tokens = %d exceeds max_model_len %d; raise max_model_len or shorten the requests",
			w.MeanInputTokens+w.MeanOutputTokens, e.mml)}
	}
	if err := in.validateBuyable(e); err != nil {
		return res, err
	}
	perSeq := w.MeanInputTokens + w.MeanOutputTokens
	r := e.fit()
	if !r.Fits && !userSeqs {
		// The first try (max_num_seqs at its cap) does not fit: lower the
		// batch the engine profiles before calling it a misfit.
		if f, seqs, mbt := e.smallerBatch(!userMBT); f != nil {
			res.LoweredMaxNumSeqsFrom = e.seqs
			if mbt != e.mbt {
				res.LoweredMaxNumBatchedTokens = e.mbt
			}
			fin.MaxNumSeqs, fin.MaxNumBatchedTokens = seqs, mbt
			if e, err = resolveEngine(fin); err != nil {
				return res, err
			}
			r, capSeqs = e.fit(), seqs
			res.Notes = append(res.Notes, fmt.Sprintf("max_num_seqs lowered from %d to %d and max_num_batched_tokens %d so that the engine fits (vLLM's profiled activation and sampler peaks grow with both)",
				res.LoweredMaxNumSeqsFrom, seqs, mbt))
		}
	}
	// max_num_seqs bounded by the KV cache: a lower max_num_seqs shrinks the
	// sampler's profiling peak and so grows the KV cache; iterate to a fixed
	// point (it only moves one way).
	for i := 0; i < 4 && !userSeqs && r.Fits; i++ {
		kvSeqs := int(e.seqsFitting(r, perSeq) * target) // hybrid.go: state layers cost per sequence
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
		res.Notes = append(res.Notes, fmt.Sprintf("one replica does not fit in GPU memory even at max_num_seqs %d: see fit.reasons and fit.suggestions", e.seqs))
		return res, nil
	}
	shape := func(requests float64, inTok, outTok int) runShape {
		return runShape{requests: requests, in: float64(inTok), out: float64(outTok), lengths: lengthsExponential,
			maxSeqs: e.seqs, mbt: e.mbt, kvTokens: float64(r.KVCacheTokens), cached: cachedPrefixTokens(w.PrefixCaching, w.SharedPrefixTokens, inTok, e.block)}
	}
	k := calibrated
	c := e.coeffs()
	scale := 1.0
	if mr := in.Measured; mr != nil {
		if err := mr.Validate(); err != nil {
			return res, err
		}
		reps := max(1, mr.Replicas)
		requests := mr.Requests
		if requests == 0 {
			requests = 1e6 // unknown: steady state
		}
		pred := c.run(shape(float64(requests)/float64(reps), mr.MeanInputTokens, mr.MeanOutputTokens), k).outputTokensPS * float64(reps)
		scale = mr.EngineOutputTokensPerSecond / pred
		res.MeasuredScale = scale
		res.Notes = append(res.Notes, fmt.Sprintf("rescaled by %.2f: a previous run measured %.0f engine output tokens/s (%d replica(s), %d/%d mean tokens) where the model predicts %.0f; the prediction assumes the same model, GPU and engine settings",
			scale, mr.EngineOutputTokensPerSecond, reps, mr.MeanInputTokens, mr.MeanOutputTokens, pred))
	}
	low, high, wider := e.throughputRange()
	res.RatioLow, res.RatioHigh = low, high
	level := 1.0
	if plan == PlanSafe {
		level = low
	}
	su, err := startupFor(e.weightBytes()*float64(e.gpusPerReplica()), in.ModelSource, in.PreparedImage)
	if err != nil {
		return res, err
	}
	res.Startup = su
	suH := su.Seconds() / 3600
	res.Notes = append(res.Notes, fmt.Sprintf("start-up of each node launch, added once to the hours (replicas start in parallel) and billed: %s = %.1f min (estimates; see the memory-model guide)", su, su.Seconds()/60))
	// hours predicts the whole workload on n replicas (each takes 1/n of
	// it) at the plan level, start-up not included.
	hours := func(n int) (float64, runPhases) {
		p := c.run(shape(float64(w.NumRequests)/float64(n), w.MeanInputTokens, w.MeanOutputTokens), k)
		return p.total / (scale * level) / 3600, p
	}
	oneReplicaHours, one := hours(1)
	if one.limitedBy == "kv_cache" {
		res.Notes = append(res.Notes, fmt.Sprintf("the KV cache holds only about %.0f running sequences of this workload, fewer than max_num_seqs %d", one.running, e.seqs))
	}
	replicas := 1
	switch {
	case in.GPUs > 0:
		per := e.gpusPerReplica()
		if in.GPUs < per {
			return res, &input.InputError{Attribute: "gpus", Message: fmt.Sprintf("%d GPUs cannot hold one replica of tensor_parallel_size %d × pipeline_parallel_size %d", in.GPUs, e.tp, e.pp)}
		}
		replicas = in.GPUs / per
		if in.GPUs%per != 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("%d of the %d GPUs stay idle: replicas need %d GPUs each", in.GPUs%per, in.GPUs, per))
		}
	case in.SLAHours > suH:
		replicas = e.replicasFor(in.SLAHours-suH, oneReplicaHours, w.NumRequests, hours)
	default:
		res.Notes = append(res.Notes, "neither gpus nor sla_hours is set: sized for one replica")
	}
	if in.SLAHours > suH {
		res.GPUsRequired = e.replicasFor(in.SLAHours-suH, oneReplicaHours, w.NumRequests, hours) * e.gpusPerReplica()
	} else if in.SLAHours > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("the start-up alone (%.2f h) exceeds sla_hours %.2f: no number of GPUs meets it", suH, in.SLAHours))
	}
	run, _ := hours(replicas)
	h := run + suH
	res.BatchSize = rayDataBatchSize(int(math.Max(1, one.running)))
	res.Concurrency = replicas
	res.GPUsUsed = replicas * e.gpusPerReplica()
	res.HoursToComplete = h
	typical := run * level
	res.HoursFastest, res.HoursSlowest = typical/high+suH, typical/low+suH
	res.RequestsPerSecond = float64(w.NumRequests) / (typical * 3600)
	res.OutputTokensPerSecond = res.RequestsPerSecond * float64(w.MeanOutputTokens)
	res.PerReplicaRequestsPerSecond = res.RequestsPerSecond / float64(replicas)
	res.PerReplicaOutputTokensPerSecond = res.OutputTokensPerSecond / float64(replicas)
	res.RequestsPerSecondLow = res.RequestsPerSecond * low
	res.RequestsPerSecondHigh = res.RequestsPerSecond * high
	res.MeetsSLA = in.SLAHours == 0 || res.HoursToComplete <= in.SLAHours
	price := in.PricePerGPUHourUSD
	if it := in.Instance; it != nil {
		res.InstancesRequired = (res.GPUsUsed + it.GPUCount - 1) / it.GPUCount
		if res.GPUsRequired > 0 {
			res.InstancesRequired = max(res.InstancesRequired, (res.GPUsRequired+it.GPUCount-1)/it.GPUCount)
		}
		if price == 0 {
			price = it.PricePerGPUHourUSD()
		}
	}
	if price > 0 {
		billed := float64(res.GPUsUsed)
		if it := in.Instance; it != nil {
			// Whole instances are billed, idle GPUs included.
			billed = float64((res.GPUsUsed + it.GPUCount - 1) / it.GPUCount * it.GPUCount)
		}
		res.CostUSD = price * billed * res.HoursToComplete
		res.CostUSDLow, res.CostUSDHigh = price*billed*res.HoursFastest, price*billed*res.HoursSlowest
		res.CostPerMillionOutputTokensUSD = res.CostUSD / (float64(w.NumRequests) * float64(w.MeanOutputTokens) / 1e6)
	}
	if !res.MeetsSLA {
		res.Notes = append(res.Notes, fmt.Sprintf("%d GPUs finish in %.2f h, past the %.2f h deadline; %d GPUs would meet it", res.GPUsUsed, res.HoursToComplete, in.SLAHours, res.GPUsRequired))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("hours, cost, GPUs and the SLA check plan for %q throughput (%.2f × the prediction); the range %.2f–%.2f × is the grouped cross-validation's 10th–90th percentile of observed ÷ predicted (models and GPUs the fit had not seen)",
		plan, level, low, high))
	if len(wider) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("range widened to the worst grouped-CV miss (%.2f×) because this run extrapolates: %s", groupedWorstFactor, strings.Join(wider, "; ")))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("throughput from the step model fitted to %s (vLLM %s engine, V1); memory accounting of vLLM %s, engine context %s",
		calibrationSetName, calibrationVersions, e.version, e.context))
	return res, nil
}

// replicasFor is the fewest replicas that finish within sla hours: start
// from the one-replica time, then step up (the drain makes the time per
// replica fall slower than 1/n).
func (e engine) replicasFor(sla, oneReplicaHours float64, requests int64, hours func(int) (float64, runPhases)) int {
	n := max(1, int(math.Ceil(oneReplicaHours/sla)))
	for i := 0; i < 200; i++ {
		h, _ := hours(n)
		if h <= sla || int64(n) >= requests {
			return n
		}
		n = max(n+1, int(math.Ceil(float64(n)*h/sla)))
	}
	return n
}

// validateBuyable keeps a sizing within what can be bought: with an
// instance type, the GPU must be that instance's and tensor_parallel_size
// at most its GPUs per instance.
func (in SizingInput) validateBuyable(e engine) error {
	it := in.Instance
	if it == nil {
		return nil
	}
	if g, err := catalog.LookupGPU(it.GPU); err == nil && g.Name != e.g.Name {
		return &input.InputError{Attribute: "instance_type", Message: fmt.Sprintf("%s has %s GPUs, not %s; pick an instance type with %s or set gpu to %s", it.Name, it.GPU, e.g.Name, e.g.Name, it.GPU)}
	}
	if e.tp > it.GPUCount {
		return &input.InputError{Attribute: "tensor_parallel_size", Message: fmt.Sprintf("%d is more than the %d GPU(s) of one %s; one engine cannot span instances. Valid: 1 to %d, or a larger instance type", e.tp, it.GPUCount, it.Name, it.GPUCount)}
	}
	return nil
}

func (m *MeasuredRun) Validate() error {
	switch {
	case !(m.EngineOutputTokensPerSecond > 0 && m.EngineOutputTokensPerSecond < 1e9):
		return &input.InputError{Attribute: "measured_run.engine_output_tokens_per_second", Message: fmt.Sprintf("got %g; must be a positive rate, e.g. rayvllm_batch_job.<name>.metrics.engine_output_tokens_per_second", m.EngineOutputTokensPerSecond)}
	case m.MeanInputTokens < 1 || m.MeanInputTokens > 1<<24:
		return &input.InputError{Attribute: "measured_run.mean_input_tokens", Message: fmt.Sprintf("got %d; must be a positive number of tokens (metrics.input_tokens / metrics.rows)", m.MeanInputTokens)}
	case m.MeanOutputTokens < 1 || m.MeanOutputTokens > 1<<24:
		return &input.InputError{Attribute: "measured_run.mean_output_tokens", Message: fmt.Sprintf("got %d; must be a positive number of tokens (metrics.output_tokens / metrics.rows)", m.MeanOutputTokens)}
	case m.Replicas < 0 || m.Replicas > 1<<20:
		return &input.InputError{Attribute: "measured_run.replicas", Message: fmt.Sprintf("got %d; must be the number of engine replicas the run used (0 = 1)", m.Replicas)}
	case m.Requests < 0:
		return &input.InputError{Attribute: "measured_run.requests", Message: fmt.Sprintf("got %d; must be the rows the run processed (0 = unknown)", m.Requests)}
	}
	return nil
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
