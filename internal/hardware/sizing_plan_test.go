package hardware

import (
	"strings"
	"testing"
)

// plan_for "typical" plans on the prediction, "safe" on the low end; the
// hours differ by exactly the ratio, and cost, GPUs and the SLA follow.
func TestPlanForLevels(t *testing.T) {
	in := SizingInput{Fit: FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "h100"), MaxModelLen: 4096},
		Workload: Workload{NumRequests: 1_000_000, MeanInputTokens: 500, MeanOutputTokens: 200}, GPUs: 2, PricePerGPUHourUSD: 3}
	in.PlanFor = PlanTypical
	typ, err := Size(in)
	if err != nil {
		t.Fatal(err)
	}
	in.PlanFor = ""
	safe, err := Size(in)
	if err != nil {
		t.Fatal(err)
	}
	// An H100 with a dense model at TP 1 is inside the records: the band is
	// the grouped-CV 10th–90th percentile, not widened.
	if safe.PlanFor != PlanSafe || safe.RatioLow != groupedRatioLow || safe.RatioHigh != groupedRatioHigh {
		t.Fatalf("default plan %q, range %.2f–%.2f", safe.PlanFor, safe.RatioLow, safe.RatioHigh)
	}
	su := safe.Startup.Seconds() / 3600
	near(t, "safe hours", safe.HoursToComplete-su, (typ.HoursToComplete-su)/groupedRatioLow)
	near(t, "safe cost", safe.CostUSD, 3*2*safe.HoursToComplete)
	near(t, "typical requests/s unchanged", safe.RequestsPerSecond, typ.RequestsPerSecond)
	near(t, "fast end", typ.HoursFastest-su, (typ.HoursToComplete-su)/groupedRatioHigh)
	// A deadline the typical plan just meets is missed at the safe level,
	// which asks for more GPUs.
	in.GPUs, in.SLAHours = 0, typ.HoursToComplete*1.01
	in.PlanFor = PlanTypical
	a, _ := Size(in)
	in.PlanFor = PlanSafe
	b, _ := Size(in)
	if !a.MeetsSLA || a.GPUsRequired != 2 || b.GPUsRequired <= a.GPUsRequired || !b.MeetsSLA {
		t.Errorf("typical: %d GPUs, meets %v; safe: %d GPUs, meets %v", a.GPUsRequired, a.MeetsSLA, b.GPUsRequired, b.MeetsSLA)
	}
	in.PlanFor = "optimistic"
	if _, err := Size(in); err == nil || !strings.Contains(err.Error(), "plan_for") {
		t.Errorf("bad plan_for: %v", err)
	}
}

// Extrapolation widens the range and names why: TP > 1, MoE, AMD, and a
// GPU without records.
func TestPlanRangeWidens(t *testing.T) {
	for _, c := range []struct {
		model, gpu string
		tp         int
		want       string
	}{
		{"meta-llama/Llama-3.1-70B", "h100", 2, "tensor_parallel_size 2"},
		{"Qwen/Qwen3-30B-A3B", "h100", 1, "mixture-of-experts"},
		{"meta-llama/Llama-3.1-8B", "MI300X", 1, "AMD"},
		{"meta-llama/Llama-3.1-8B", "A10G", 1, "A10G has no throughput records"},
	} {
		r, err := Size(SizingInput{Fit: FitInput{Model: mustModel(t, c.model), GPU: mustGPU(t, c.gpu), TensorParallelSize: c.tp, MaxModelLen: 4096},
			Workload: Workload{NumRequests: 10000, MeanInputTokens: 500, MeanOutputTokens: 200}, GPUs: max(1, c.tp)})
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(r.Notes, " ")
		if r.RatioLow != 1/groupedWorstFactor || !strings.Contains(notes, c.want) || !strings.Contains(notes, "widened") {
			t.Errorf("%s on %s TP %d: range %.2f–%.2f, notes %q", c.model, c.gpu, c.tp, r.RatioLow, r.RatioHigh, notes)
		}
	}
}

// The recommender lowers max_num_seqs (and max_num_batched_tokens) until
// the engine fits before it reports a misfit: Llama-3.1-8B in bf16 on a
// 24 GB A10G (g5) with an 8192-token context, and on an A100-40GB with the
// model's 131072-token default context, plan. vLLM 0.18 (before the
// sort-free sampler) is where 1024 rows of logits do not fit.
func TestSizeLowersBatchToFit(t *testing.T) {
	for _, c := range []struct {
		gpu string
		mml int
	}{{"A10G", 8192}, {"A100-40GB", 0}} {
		in := SizingInput{Fit: FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B-Instruct"), GPU: mustGPU(t, c.gpu), MaxModelLen: c.mml, VLLMVersion: "0.18.0"},
			Workload: Workload{NumRequests: 100000, MeanInputTokens: 500, MeanOutputTokens: 200}, GPUs: 1}
		// At the first try's max_num_seqs (1024) vLLM would not start.
		first := in.Fit
		first.MaxNumSeqs, first.MaxNumBatchedTokens = 1024, 16384
		if fitsWith(first) != nil {
			t.Fatalf("%s: the first try fits; the case tests nothing", c.gpu)
		}
		r, err := Size(in)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Fit.Fits {
			t.Fatalf("%s: does not plan: %v %v", c.gpu, r.Fit.Reasons, r.Fit.Suggestions)
		}
		if r.LoweredMaxNumSeqsFrom == 0 || r.MaxNumSeqs >= r.LoweredMaxNumSeqsFrom || !strings.Contains(strings.Join(r.Notes, " "), "max_num_seqs lowered") {
			t.Errorf("%s: max_num_seqs %d (lowered from %d), notes %v", c.gpu, r.MaxNumSeqs, r.LoweredMaxNumSeqsFrom, r.Notes)
		}
		e, _ := resolveEngine(FitInput{Model: in.Fit.Model, GPU: in.Fit.GPU, MaxModelLen: c.mml, MaxNumSeqs: r.MaxNumSeqs, MaxNumBatchedTokens: r.MaxNumBatchedTokens, VLLMVersion: "0.18.0"})
		if !e.fit().Fits {
			t.Errorf("%s: the recommended engine does not fit", c.gpu)
		}
	}
}

// Suggestions for a misfit name a smaller engine batch when one fits
// (vLLM 0.18's sorting sampler over 1024 rows does not fit an A10G).
func TestSuggestsSmallerBatch(t *testing.T) {
	e, err := resolveEngine(FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B-Instruct"), GPU: mustGPU(t, "A10G"), MaxModelLen: 8192, MaxNumSeqs: 1024, MaxNumBatchedTokens: 16384, VLLMVersion: "0.18.0"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.fit()
	if r.Fits {
		t.Fatal("must not fit at max_num_seqs 1024")
	}
	if s := strings.Join(e.suggest(r), " | "); !strings.Contains(s, "max_num_seqs = ") {
		t.Errorf("suggestions lack max_num_seqs: %s", s)
	}
}

// Start-up, by hand: Llama-3.1-8B in bf16 (16.06e9 bytes of weights) from
// the Hub on a fresh instance: 90 s boot + 180 s install + 16.06e9/100e6 s
// download + 16.06e9/2e9 s load + 60 s compile; from S3 on a prepared
// image the install is gone and the download runs at 700 MB/s.
func TestStartup(t *testing.T) {
	e, err := resolveEngine(FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "h100"), MaxModelLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	b := e.weightBytes()
	if b < 16.0e9 || b > 16.1e9 {
		t.Fatalf("weights %.4g bytes", b)
	}
	hub, _ := startupFor(b, "", false)
	near(t, "hub, fresh", hub.Seconds(), 90+180+b/100e6+b/2e9+60)
	s3, _ := startupFor(b, ModelSourceS3, true)
	near(t, "s3, prepared", s3.Seconds(), 90+b/700e6+b/2e9+60)
	if _, err := startupFor(b, "ftp", false); err == nil || !strings.Contains(err.Error(), "model_source") {
		t.Errorf("bad source: %v", err)
	}
	// The sizing adds it once to the hours and bills it: one GPU at $2/h.
	r, err := Size(SizingInput{Fit: FitInput{Model: e.m, GPU: e.g, MaxModelLen: 4096}, Workload: Workload{NumRequests: 1000, MeanInputTokens: 100, MeanOutputTokens: 100},
		GPUs: 1, PricePerGPUHourUSD: 2, ModelSource: ModelSourceS3, PreparedImage: true, PlanFor: PlanTypical})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "start-up in the hours", r.HoursToComplete, 1000/r.RequestsPerSecond/3600+s3.Seconds()/3600)
	near(t, "start-up billed", r.CostUSD, 2*r.HoursToComplete)
}
