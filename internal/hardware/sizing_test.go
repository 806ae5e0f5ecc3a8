package hardware

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.9g, want %.9g", name, got, want)
	}
}

// Hand-derived step terms for Llama-3.1-8B (bf16) on one H100 SXM.
func TestStepTermsLlama8BOnH100(t *testing.T) {
	e, err := resolveEngine(FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "h100"), MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	k := throughputConstants{BandwidthShare: 0.5, StepOverheadSeconds: 2e-3, ComputeShare: 0.5, MoEShare: 1, EightBitGain: 1.5}
	layerMatmul := 32 * (4096*4096*2 + 4096*1024*2 + 3*4096*14336.0) // 6.98e9
	lmHead := 2 * 128256 * 4096.0
	peak := 989.4e12
	// 64 decodes with 1500 tokens of context, no prompt tokens. The matmul
	// share at 64 tokens is 0.5 × 64/(64+64) = 0.25.
	p := e.stepTime(stepLoad{decodes: 64, ctx: 1500}, k)
	kv := 64 * 1500 * 131072.0 // 32 layers × 2 × 8 heads × 128 × 2 bytes per token
	near(t, "weights", p.weights, e.weightBytes()/(3350e9*0.5))
	near(t, "kv", p.kv, kv/(3350e9*0.5))
	near(t, "matmul", p.matmul, 64*(2*layerMatmul+lmHead)/(peak*0.25))
	near(t, "attention", p.attention, 4*32*4096*64*1500.0/(peak*0.5))
	near(t, "all-reduce (TP 1)", p.allReduce, 0)
	near(t, "per-step overhead", p.overhead, 2e-3)
	// Both rooflines are memory-bound here, and they add.
	near(t, "step", p.total(), p.weights+p.kv+2e-3)
	// Chunk mixing: 2048 prompt tokens attending to 500-token prefixes join
	// the same step. They add matmul and attention work, not weight reads;
	// at 2112 tokens the share is 0.5 × 2112/2176.
	q := e.stepTime(stepLoad{decodes: 64, ctx: 1500, prefill: 2048, prefillCtx: 500}, k)
	near(t, "mixed weights", q.weights, p.weights)
	near(t, "mixed matmul", q.matmul, (2*layerMatmul*2112+lmHead*64)/(peak*0.5*2112/2176))
	near(t, "mixed attention", q.attention, p.attention+4*32*4096*2048*500.0/(peak*0.5))
	if q.matmul < q.weights {
		t.Errorf("2112 tokens per step should be compute-bound: %.4f s vs %.4f s", q.matmul, q.weights)
	}
	// fp8 on an H100 (fp8 tensor cores, datasheet ratio 2): the matmuls
	// run EightBitGain = 1.5× faster; on an A100 (no fp8 tensor cores)
	// they do not.
	f, _ := resolveEngine(FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "h100"), Quantization: "fp8", MaxModelLen: 4096})
	near(t, "fp8 gain on H100", f.matmulGain(k), 1.5)
	near(t, "fp8 matmul on H100", f.stepTime(stepLoad{decodes: 64, prefill: 2048, prefillCtx: 500}, k).matmul, (2*layerMatmul*2112+lmHead*64)/(peak*1.5*0.5*2112/2176))
	a, _ := resolveEngine(FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "A100-80GB"), Quantization: "fp8", MaxModelLen: 4096})
	near(t, "fp8 gain on A100", a.matmulGain(k), 1)
	k.EightBitGain = 3
	near(t, "gain capped at the datasheet ratio", f.matmulGain(k), 1978.9/989.4) // H100 SXM datasheet: 1978.9 fp8, 989.4 bf16 dense TFLOPS
}

// TP all-reduce: two per layer, ring volume 2(tp−1)/tp × tokens × hidden ×
// 2 bytes at link × LinkShare, plus TPSyncSeconds × log2(tp) each (3× over PCIe).
func TestAllReduceTerm(t *testing.T) {
	m := mustModel(t, "meta-llama/Llama-3.1-70B")
	e, err := resolveEngine(FitInput{Model: m, GPU: mustGPU(t, "h100"), TensorParallelSize: 4, MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	k := throughputConstants{TPSyncSeconds: 20e-6, LinkShare: 0.75}
	bytes := 1000 * 8192 * 2.0
	// TP 4: two doublings of ranks, 2 × 20 µs per all-reduce.
	near(t, "nvlink", e.allReduceSeconds(1000, k), 160*(40e-6+1.5*bytes/(450e9*0.75)))
	e, _ = resolveEngine(FitInput{Model: m, GPU: mustGPU(t, "L40S"), TensorParallelSize: 4, MaxModelLen: 4096})
	near(t, "pcie", e.allReduceSeconds(1000, k), 160*(120e-6+1.5*bytes/(32e9*0.75)))
	if e.allReduceSeconds(1000, k) < 5*e.allReduceSeconds(0, k) {
		t.Error("over PCIe a 1000-token step's all-reduce should be bandwidth-bound")
	}
}

// MoE: a step's tokens touch 1 − (1 − k/E)^T of the experts; untouched
// experts are not read.
func TestMoEExpertReads(t *testing.T) {
	e, err := resolveEngine(FitInput{Model: mustModel(t, "Qwen/Qwen3-30B-A3B"), GPU: mustGPU(t, "h100"), MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "touched(1)", e.touchedExperts(1), 8.0/128)
	near(t, "touched(16)", e.touchedExperts(16), 1-math.Pow(120.0/128, 16))
	experts := 48 * 128 * 3 * 2048 * 768 * 2.0
	near(t, "expert bytes", e.expertBytes(), experts)
	k := throughputConstants{BandwidthShare: 1, StepOverheadSeconds: 0, ComputeShare: 0.5, MoEShare: 1}
	one := e.stepTime(stepLoad{decodes: 1, ctx: 0}, k)
	near(t, "batch-1 memory", one.weights, (e.weightBytes()-experts*(1-8.0/128))/3350e9)
	// mxfp4 experts: 4.25 bits per weight.
	g, _ := resolveEngine(FitInput{Model: mustModel(t, "openai/gpt-oss-20b"), GPU: mustGPU(t, "h100"), MaxModelLen: 4096})
	near(t, "mxfp4 expert bytes", g.expertBytes(), 24*32*(2880*5760+2880*2880)*(0.5+1.0/32))
}

// The run phases: a ramp of full prefill chunks, a steady state of B decodes
// with B·in/out prompt tokens per step, and a drain.
func TestRunPhases(t *testing.T) {
	e, err := resolveEngine(FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "h100"), MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	k := throughputConstants{BandwidthShare: 0.7, StepOverheadSeconds: 1e-3, ComputeShare: 0.5, MoEShare: 1}
	s := runShape{requests: 10000, in: 400, out: 200, lengths: lengthsFixed, maxSeqs: 256, mbt: 8192, kvTokens: 1e7}
	r := e.runSeconds(s, k)
	if r.running != 256 || r.limitedBy != "max_num_seqs" {
		t.Fatalf("running %g limited by %s; want 256 by max_num_seqs", r.running, r.limitedBy)
	}
	// Steady state: 10000·200 − 256·100 decode tokens in steps of 256, each
	// with 256·400/200 = 512 prompt tokens (the 9744 later prompts spread
	// over those steps).
	steps := (10000*200 - 256*100) / 256.0
	near(t, "prompt tokens per step", r.steadyPrefillPerStep, 9744*400/steps)
	step := e.stepTime(stepLoad{decodes: 256, prefill: 9744 * 400 / steps, ctx: 500, prefillCtx: 200}, k).total()
	near(t, "steady seconds", r.steady, steps*step)
	// Ramp: 256 × 400 prompt tokens in chunks of 8192.
	near(t, "ramp seconds", r.ramp, 256*400/8192.0*e.stepTime(stepLoad{prefill: 8192, prefillCtx: 200}, k).total())
	// Tail: fixed lengths leave residuals uniform over [0, 200]: the batch
	// falls linearly, so the drain takes 200 steps of a shrinking batch,
	// between 200 steps at batch 1 and 200 at batch 256.
	lo := 200 * e.stepTime(stepLoad{decodes: 1, ctx: 500}, k).total()
	hi := 200 * e.stepTime(stepLoad{decodes: 256, ctx: 500}, k).total()
	if !(r.drain > lo && r.drain < hi) {
		t.Errorf("drain %.3f s outside (%.3f, %.3f)", r.drain, lo, hi)
	}
	near(t, "total", r.total, r.ramp+r.steady+r.drain)
	// A finite batch smaller than max_num_seqs is one wave: no steady state,
	// and fixed lengths finish together after out steps at full batch.
	s.requests = 100
	r = e.runSeconds(s, k)
	near(t, "one-wave drain", r.drain, 200*e.stepTime(stepLoad{decodes: 100, ctx: 500}, k).total())
	if r.steady != 0 || r.limitedBy != "requests" {
		t.Errorf("one wave: steady %g, limited by %s", r.steady, r.limitedBy)
	}
	// Exponential lengths: the drain lasts until fewer than half a sequence
	// is left, out·ln(2B) steps, so a small run is slower per request.
	s.lengths = lengthsExponential
	r = e.runSeconds(s, k)
	if r.drain <= 200*e.stepTime(stepLoad{decodes: 1, ctx: 600}, k).total() {
		t.Errorf("exponential drain %.3f s should outlast the mean output", r.drain)
	}
	// The token budget: 256 decodes + 256·4000/200 prompt tokens exceed
	// 2048, so B falls to 2048·200/4200.
	s = runShape{requests: 10000, in: 4000, out: 200, lengths: lengthsFixed, maxSeqs: 256, mbt: 2048, kvTokens: 1e8}
	r = e.runSeconds(s, k)
	if r.running != math.Floor(2048*200/4200.0) || r.limitedBy != "max_num_batched_tokens" {
		t.Errorf("running %g limited by %s; want %g by max_num_batched_tokens", r.running, r.limitedBy, math.Floor(2048*200/4200.0))
	}
	// The KV cache: 1e5 tokens hold 1e5/(400+100+8) sequences.
	s = runShape{requests: 10000, in: 400, out: 200, lengths: lengthsFixed, maxSeqs: 1024, mbt: 16384, kvTokens: 1e5}
	if r = e.runSeconds(s, k); r.running != math.Floor(1e5/508) || r.limitedBy != "kv_cache" {
		t.Errorf("running %g limited by %s; want %g by kv_cache", r.running, r.limitedBy, math.Floor(1e5/508))
	}
}

func TestPeakTFLOPS(t *testing.T) {
	for _, c := range []struct {
		gpu, quant string
		want       float64
	}{
		{"h100", "fp8", 1978.9}, {"h100", "", 989.4}, {"h100", "int8", 1978.9}, {"h100", "int4", 989.4},
		{"A100-80GB", "fp8", 312}, // Marlin weight-only fp8: bf16 math (peak × datasheet 8-bit ratio)
		{"A100-80GB", "int8", 624}, {"rtx3090", "fp32", 71.0 / 4},
	} {
		e, err := resolveEngine(FitInput{Model: mustModel(t, "Qwen/Qwen2.5-7B-Instruct"), GPU: mustGPU(t, c.gpu), Quantization: c.quant})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.peakTFLOPS() * e.eightBitPeakRatio(); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s %s: %g TFLOPS, want %g", c.gpu, c.quant, got, c.want)
		}
	}
}

func TestRayDataBatchSize(t *testing.T) {
	for running, want := range map[int]int{1: 16, 32: 16, 64: 16, 65: 32, 256: 64, 512: 128, 1024: 256, 100000: 1024} {
		if got := rayDataBatchSize(running); got != want {
			t.Errorf("rayDataBatchSize(%d) = %d, want %d", running, got, want)
		}
	}
}

func quickstartInput(t *testing.T) SizingInput {
	return SizingInput{
		Fit:       FitInput{Model: mustModel(t, "Qwen/Qwen2.5-0.5B-Instruct"), GPU: mustGPU(t, "rtx3090"), Quantization: "int4", MaxNumBatchedTokens: 512},
		Workload:  Workload{NumRequests: 1_000_000, MeanInputTokens: 256, MeanOutputTokens: 128},
		Objective: "throughput", GPUs: 4, TargetKVCacheUtilization: 0.9, PricePerGPUHourUSD: 0.5,
	}
}

func TestSizeConsistency(t *testing.T) {
	in := quickstartInput(t)
	r, err := Size(in)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Fit.Fits {
		t.Fatalf("quickstart must fit: %v", r.Fit.Reasons)
	}
	// User-set chunk kept; max_num_seqs bounded by the chunk (vLLM needs mbt >= seqs).
	if r.MaxNumBatchedTokens != 512 || r.MaxNumSeqs != 512 || r.Concurrency != 4 || r.GPUsUsed != 4 {
		t.Errorf("knobs: %+v", r)
	}
	near(t, "requests/s", r.RequestsPerSecond, 4*r.PerReplicaRequestsPerSecond)
	near(t, "output tokens/s", r.OutputTokensPerSecond, r.RequestsPerSecond*128)
	// Planned for "safe": the low end of the range (an RTX 3090 has no
	// throughput records, so the range is the worst grouped-CV miss).
	if r.PlanFor != PlanSafe || r.RatioLow != 1/groupedWorstFactor {
		t.Errorf("plan %q at %.3f; want safe at 1/%.2f", r.PlanFor, r.RatioLow, groupedWorstFactor)
	}
	su := r.Startup.Seconds() / 3600
	near(t, "hours", r.HoursToComplete, 1e6/(r.RequestsPerSecond*r.RatioLow)/3600+su)
	near(t, "hours, slow end", r.HoursSlowest, r.HoursToComplete)
	near(t, "hours, fast end", r.HoursFastest, 1e6/(r.RequestsPerSecond*r.RatioHigh)/3600+su)
	near(t, "cost, ends", r.CostUSDHigh/r.CostUSDLow, r.HoursSlowest/r.HoursFastest)
	near(t, "start-up", r.Startup.Seconds(), bootSeconds+installSeconds+compileSeconds+r.Fit.WeightsGiB*catalog.GiB*(1/hubBytesPerSecond+1/loadBytesPerSecond))
	near(t, "cost", r.CostUSD, 0.5*4*r.HoursToComplete)
	near(t, "$/M output tokens", r.CostPerMillionOutputTokensUSD, r.CostUSD/128)
	// The 512-token budget holds 512·128/(256+128) = 170 running sequences
	// with their replacement prompts.
	if !r.MeetsSLA || r.GPUsRequired != 0 || r.BatchSize != rayDataBatchSize(170) {
		t.Errorf("sla/batch: %+v", r)
	}

	// With a deadline and no GPU count, the replicas come from the SLA.
	in.GPUs, in.SLAHours = 0, r.HoursToComplete*4/3 // 4 replicas finish in H, so 3 finish in 4H/3
	s, err := Size(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.GPUsRequired != 3 || s.Concurrency != 3 || !s.MeetsSLA {
		t.Errorf("SLA sizing: required %d, concurrency %d, meets %v", s.GPUsRequired, s.Concurrency, s.MeetsSLA)
	}
	// A fixed GPU count that misses the deadline says so.
	in.GPUs, in.SLAHours = 1, r.HoursToComplete
	s, _ = Size(in)
	if s.MeetsSLA || s.GPUsRequired != 4 || !strings.Contains(strings.Join(s.Notes, " "), "deadline") {
		t.Errorf("missed SLA: %+v", s)
	}
}

func TestSizeObjectives(t *testing.T) {
	base := SizingInput{
		Fit:      FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B-Instruct"), GPU: mustGPU(t, "h100"), MaxModelLen: 8192},
		Workload: Workload{NumRequests: 100000, MeanInputTokens: 1000, MeanOutputTokens: 200}, GPUs: 8,
	}
	thr, err := Size(base)
	if err != nil {
		t.Fatal(err)
	}
	lat := base
	lat.Objective = "latency"
	l, err := Size(lat)
	if err != nil {
		t.Fatal(err)
	}
	// Throughput: as many sequences as 90% of the KV cache holds at 1200 tokens each.
	if want := int(float64(thr.Fit.KVCacheTokens) * 0.9 / 1200); thr.MaxNumSeqs != want || thr.Fit.MaxNumSeqs != want {
		t.Errorf("throughput max_num_seqs %d (fit ran with %d), want %d", thr.MaxNumSeqs, thr.Fit.MaxNumSeqs, want)
	}
	if thr.MaxNumBatchedTokens != 16384 || l.MaxNumBatchedTokens != 512 || l.MaxNumSeqs != 64 {
		t.Errorf("knobs: throughput %d/%d latency %d/%d", thr.MaxNumBatchedTokens, thr.MaxNumSeqs, l.MaxNumBatchedTokens, l.MaxNumSeqs)
	}
	if thr.RequestsPerSecond <= l.RequestsPerSecond {
		t.Errorf("throughput objective %.1f req/s not above latency %.1f", thr.RequestsPerSecond, l.RequestsPerSecond)
	}
	// max_num_seqs is bounded by the KV cache: long requests on a small GPU.
	kvb := SizingInput{
		Fit:      FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B-Instruct"), GPU: mustGPU(t, "L40S"), MaxModelLen: 32768},
		Workload: Workload{NumRequests: 1000, MeanInputTokens: 16000, MeanOutputTokens: 1000}, GPUs: 1, TargetKVCacheUtilization: 0.8,
	}
	k, err := Size(kvb)
	if err != nil {
		t.Fatal(err)
	}
	if want := int(float64(k.Fit.KVCacheTokens) * 0.8 / 17000); k.MaxNumSeqs != want || want < 1 || want > 20 {
		t.Errorf("KV-bounded max_num_seqs %d, want %d", k.MaxNumSeqs, want)
	}
}

func TestSizeValidation(t *testing.T) {
	ok := quickstartInput(t)
	for _, c := range []struct {
		name string
		mod  func(*SizingInput)
		attr string
	}{
		{"requests", func(s *SizingInput) { s.Workload.NumRequests = 0 }, "num_requests"},
		{"input", func(s *SizingInput) { s.Workload.MeanInputTokens = -1 }, "mean_input_tokens"},
		{"output", func(s *SizingInput) { s.Workload.MeanOutputTokens = 0 }, "mean_output_tokens"},
		{"too long", func(s *SizingInput) { s.Workload.MeanInputTokens = 40000 }, "mean_input_tokens"},
		{"objective", func(s *SizingInput) { s.Objective = "cheap" }, "objective"},
		{"gpus", func(s *SizingInput) { s.GPUs = -2 }, "gpus"},
		{"gpus below tp", func(s *SizingInput) { s.GPUs = 1; s.Fit.TensorParallelSize = 2 }, "gpus"},
		{"sla", func(s *SizingInput) { s.SLAHours = -1 }, "sla_hours"},
		{"target", func(s *SizingInput) { s.TargetKVCacheUtilization = 1.2 }, "target_kv_cache_utilization"},
		{"fit input", func(s *SizingInput) { s.Fit.TensorParallelSize = 5 }, "tensor_parallel_size"},
	} {
		in := ok
		c.mod(&in)
		_, err := Size(in)
		var ie *input.InputError
		if !errors.As(err, &ie) || ie.Attribute != c.attr {
			t.Errorf("%s: want error on %s, got %v", c.name, c.attr, err)
		}
	}
	// A misfit is not an error: Fit says why.
	mis := ok
	mis.Fit.Model, mis.Fit.Quantization = mustModel(t, "Qwen/Qwen2.5-72B-Instruct"), "none"
	r, err := Size(mis)
	if err != nil || r.Fit.Fits || len(r.Fit.Suggestions) == 0 || r.RequestsPerSecond != 0 {
		t.Errorf("misfit: %v %+v", err, r.Fit)
	}
}

// Suggestions stay within what exists: with an instance type, TP at most
// its GPUs and only GPUs EC2 sells.
func TestSuggestionsBuyable(t *testing.T) {
	in := FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-70B"), GPU: mustGPU(t, "L40S"), MaxModelLen: 8192, MaxTensorParallel: 1, EC2Only: true}
	r, err := Fit(in)
	if err != nil || r.Fits {
		t.Fatalf("70B bf16 on one L40S must not fit: %v %v", err, r.Reasons)
	}
	s := strings.Join(r.Suggestions, "\n")
	if strings.Contains(s, "tensor_parallel_size") || strings.Contains(s, "B200") || strings.Contains(s, "MI300X") {
		t.Errorf("suggestions leave one 1-GPU instance of EC2: %s", s)
	}
	in.MaxTensorParallel = 4
	r, _ = Fit(in)
	if s := strings.Join(r.Suggestions, "\n"); !strings.Contains(s, "tensor_parallel_size = 4") {
		t.Errorf("4 GPUs per instance: want tensor_parallel_size = 4 among %s", s)
	}
	// Sizing: whole instances, whole-instance cost, TP capped by the instance.
	it, _ := catalog.LookupInstance("g6e.12xlarge")
	sz := SizingInput{Fit: FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "L40S"), MaxModelLen: 8192},
		Workload: Workload{NumRequests: 5_000_000, MeanInputTokens: 400, MeanOutputTokens: 150}, SLAHours: 12, Instance: &it}
	res, err := Size(sz)
	if err != nil {
		t.Fatal(err)
	}
	if res.InstancesRequired != (res.GPUsRequired+3)/4 || res.InstancesRequired < 1 {
		t.Errorf("instances %d for %d GPUs", res.InstancesRequired, res.GPUsRequired)
	}
	near(t, "whole-instance cost", res.CostUSD, it.PriceUSDPerHour*float64((res.GPUsUsed+3)/4)*res.HoursToComplete)
	sz.Fit.TensorParallelSize = 8
	if _, err := Size(sz); err == nil || !strings.Contains(err.Error(), "4 GPU(s) of one g6e.12xlarge") {
		t.Errorf("TP 8 on a 4-GPU instance: %v", err)
	}
	sz.Fit.TensorParallelSize, sz.Fit.GPU = 1, mustGPU(t, "L4")
	if _, err := Size(sz); err == nil || !strings.Contains(err.Error(), "has L40S GPUs") {
		t.Errorf("L4 on a g6e: %v", err)
	}
}

// The closed loop: a measured run rescales the prediction by measured ÷
// predicted for the measured run's own shape.
func TestMeasuredRunRescales(t *testing.T) {
	in := SizingInput{Fit: FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "L40S"), MaxModelLen: 8192},
		Workload: Workload{NumRequests: 1_000_000, MeanInputTokens: 400, MeanOutputTokens: 150}, GPUs: 2}
	base, err := Size(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Measured = &MeasuredRun{EngineOutputTokensPerSecond: 1000, MeanInputTokens: 400, MeanOutputTokens: 150, Replicas: 1, Requests: 1_000_000}
	got, err := Size(in)
	if err != nil {
		t.Fatal(err)
	}
	// Same shape as the sizing's per-replica run at 1/2 the requests: the
	// scale is 1000 ÷ the one-replica prediction of 1M requests.
	e, _ := resolveEngine(FitInput{Model: in.Fit.Model, GPU: in.Fit.GPU, MaxModelLen: 8192, MaxNumBatchedTokens: base.MaxNumBatchedTokens, MaxNumSeqs: base.MaxNumSeqs})
	pred := e.runSeconds(runShape{requests: 1e6, in: 400, out: 150, lengths: lengthsExponential, maxSeqs: base.MaxNumSeqs, mbt: base.MaxNumBatchedTokens, kvTokens: float64(base.Fit.KVCacheTokens)}, calibrated).outputTokensPS
	near(t, "scale", got.MeasuredScale, 1000/pred)
	near(t, "rescaled rate", got.RequestsPerSecond, base.RequestsPerSecond*1000/pred)
	if !strings.Contains(strings.Join(got.Notes, " "), "rescaled by") {
		t.Errorf("notes do not say so: %v", got.Notes)
	}
	in.Measured.EngineOutputTokensPerSecond = -1
	if _, err := Size(in); err == nil || !strings.Contains(err.Error(), "measured_run.engine_output_tokens_per_second") {
		t.Errorf("negative rate: %v", err)
	}
}
