package hardware

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.9g, want %.9g", name, got, want)
	}
}

// Hand-derived roofline terms for Llama-3.1-8B (bf16) on one H100 SXM.
func TestRooflineLlama8BOnH100(t *testing.T) {
	e, err := resolveEngine(FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "h100"), MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	layerMatmul := 32 * (4096*4096*2 + 4096*1024*2 + 3*4096*14336.0) // 6.98e9
	lmHead := 2 * 128256 * 4096.0
	peak := 989.4e12
	// Prefill of 1000 tokens: 2·P·t + causal attention 2·L·t²·(heads·hd) + lm_head once.
	prefill := (2*layerMatmul*1000 + 2*32*1000*1000*4096.0 + lmHead) / (peak * prefillMFU)
	near(t, "prefill seconds", e.prefillSeconds(1000), prefill)
	// Decode step, 64 sequences with 1500 tokens of context: memory-bound.
	weights := e.weightBytes()
	kv := 64 * 1500 * 131072.0
	mem := (weights + kv) / (3350e9 * decodeBandwidthEfficiency)
	comp := 64 * (2*layerMatmul + lmHead + 4*32*1500*4096.0) / (peak * prefillMFU)
	near(t, "decode step seconds", e.decodeStepSeconds(64, 1500), math.Max(mem, comp))
	if mem < comp {
		t.Errorf("64-sequence decode should be memory-bound: mem %.4f s, compute %.4f s", mem, comp)
	}
	// A replica finishes running/(running·prefill + out·step) requests per second.
	rps := 1 / (e.prefillSeconds(1000) + 1000*e.decodeStepSeconds(64, 1500)/64)
	near(t, "requests/s", e.replicaRequestsPerSecond(64, 1000, 1000), rps)
}

func TestPeakTFLOPS(t *testing.T) {
	for _, c := range []struct {
		gpu, quant string
		want       float64
	}{
		{"h100", "fp8", 1978.9}, {"h100", "", 989.4}, {"h100", "int8", 1978.9}, {"h100", "int4", 989.4},
		{"A100-80GB", "fp8", 312}, // Marlin weight-only fp8: bf16 math
		{"A100-80GB", "int8", 624}, {"rtx3090", "fp32", 71.0 / 4},
	} {
		e, err := resolveEngine(FitInput{Model: mustModel(t, "Qwen/Qwen2.5-7B-Instruct"), GPU: mustGPU(t, c.gpu), Quantization: c.quant})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.peakTFLOPS(); got != c.want {
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
	near(t, "hours", r.HoursToComplete, 1e6/r.RequestsPerSecond/3600)
	near(t, "cost", r.CostUSD, 0.5*4*r.HoursToComplete)
	near(t, "$/M output tokens", r.CostPerMillionOutputTokensUSD, r.CostUSD/128)
	if !r.MeetsSLA || r.GPUsRequired != 0 || r.BatchSize != rayDataBatchSize(512) {
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
		var ie *InputError
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
