package hardware

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

func mustModel(t testing.TB, id string) hfconfig.Model {
	t.Helper()
	m, err := hfconfig.LookupModel(id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readConfig(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("hfconfig", "testdata", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGPU(t testing.TB, name string) catalog.GPU {
	t.Helper()
	g, err := catalog.LookupGPU(name)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestKVCacheBytesPerToken(t *testing.T) {
	for _, c := range []struct {
		model, dtype string
		tp           int
		want         int64
	}{
		{"meta-llama/Llama-3.1-8B", "auto", 1, 32 * 2 * 8 * 128 * 2},
		{"meta-llama/Llama-3.1-8B", "auto", 2, 32 * 2 * 4 * 128 * 2},
		{"meta-llama/Llama-3.1-8B", "fp8", 1, 32 * 2 * 8 * 128 * 1},
		{"meta-llama/Llama-3.1-8B", "auto", 16, 32 * 2 * 1 * 128 * 2}, // 8 KV heads over 16 GPUs: replicated
		{"Qwen/Qwen2.5-7B", "auto", 1, 28 * 2 * 4 * 128 * 2},
		{"Qwen/Qwen2.5-0.5B", "", 1, 24 * 2 * 2 * 64 * 2},
		{"google/gemma-2-9b", "auto", 1, 42 * 2 * 8 * 256 * 2},
		{"deepseek-ai/DeepSeek-V3", "auto", 1, 61 * (512 + 64) * 2}, // MLA latent, no 2×
		{"deepseek-ai/DeepSeek-V3", "auto", 8, 61 * (512 + 64) * 2}, // not split over TP
		{"meta-llama/Llama-2-7b-hf", "auto", 1, 32 * 2 * 32 * 128 * 2},
	} {
		got, err := KVCacheBytesPerToken(mustModel(t, c.model), c.dtype, c.tp)
		if err != nil {
			t.Errorf("%+v: %v", c, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s %s tp=%d: %d bytes/token, want %d", c.model, c.dtype, c.tp, got, c.want)
		}
	}
	if _, err := KVCacheBytesPerToken(mustModel(t, "Qwen/Qwen2.5-7B"), "auto", 3); err == nil {
		t.Error("tp 3 on 28 heads accepted")
	}
	if _, err := KVCacheBytesPerToken(mustModel(t, "Qwen/Qwen2.5-7B"), "fp16", 1); err == nil {
		t.Error("kv dtype fp16 accepted")
	}
}

// TestFitLlama8BOnH100 derives every term by hand for Llama-3.1-8B on an
// H100 with the LLM class's defaults (max_num_batched_tokens 16384,
// max_num_seqs 1024, gpu_memory_utilization 0.9, block 16) and the
// accounting of vLLM 0.18 (the sorting sampler; CUDA graphs outside the KV
// budget), then at 0.21 (the sort-free sampler; graphs inside).
func TestFitLlama8BOnH100(t *testing.T) {
	in := FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "h100"), MaxModelLen: 16000, EngineContext: EngineContextLLMClass, VLLMVersion: "0.18.0"}
	r, err := Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	weights := 8_030_261_248.0*2 + 131072*128*2                  // params × bf16 + rope cos/sin cache
	sampler := 1024*128256*samplerBytesPerLogit + 16384*4096*2.0 // logits rows × vocab, plus the hidden states
	forward := 16384 * 2 * (3*14336 + 4*4096.0)
	act := math.Max(sampler, forward)
	budget := 79.18 * 0.9 * catalog.GiB
	kv := budget - weights - act - 0.13*catalog.GiB
	perTok := 32 * 2 * 8 * 128 * 2.0
	tokens := math.Floor(kv/(16*perTok)) * 16
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-6*math.Abs(want)+1e-9 {
			t.Errorf("%s = %.6f, want %.6f", name, got, want)
		}
	}
	near("weights GiB", r.WeightsGiB, weights/catalog.GiB)
	near("activation GiB", r.ActivationPeakGiB, act/catalog.GiB)
	near("KV GiB", r.KVCacheGiB, kv/catalog.GiB)
	near("KV tokens", float64(r.KVCacheTokens), tokens)
	near("max concurrency", r.MaxConcurrency, tokens/16/1000) // cdiv(16000, 16) = 1000 blocks per request
	near("headroom GiB", r.HeadroomGiB, (kv-1000*16*perTok)/catalog.GiB)
	if !r.Fits || r.ShortfallGiB != 0 || r.MaxNumBatchedTokens != 16384 || r.MaxNumSeqs != 1024 || r.KVCacheBytesPerTok != 131072 {
		t.Errorf("unexpected %+v", r)
	}
	// From 0.21 the CUDA-graph estimate comes out of the KV cache.
	in.VLLMVersion = "0.21.0"
	r21, err := Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	if !r21.CUDAGraphInKVBudget || r.CUDAGraphInKVBudget || r21.CUDAGraphGiB <= 0 {
		t.Errorf("graphs in KV budget: 0.20 %v, 0.21 %v (%.3f GiB)", r.CUDAGraphInKVBudget, r21.CUDAGraphInKVBudget, r21.CUDAGraphGiB)
	}
	// bf16 logits + fp32 copy + fp32 probs + fp32 noise, no sort.
	act21 := math.Max(1024*128256*(2+4+4+4.0)+16384*4096*2.0, forward)
	near("activation GiB at 0.21", r21.ActivationPeakGiB, act21/catalog.GiB)
	near("KV GiB at 0.21", r21.KVCacheGiB, (kv+act-act21-e21graphs(t, in))/catalog.GiB)
	// vLLM printed 14.9888 GiB of weights for this model (testdata M25/M33).
	if math.Abs(r.WeightsGiB-14.9888) > 0.001 {
		t.Errorf("weights %.4f GiB, vLLM prints 14.9888", r.WeightsGiB)
	}
}

func TestWeightsByQuantization(t *testing.T) {
	m := mustModel(t, "meta-llama/Llama-3.1-8B")
	g := mustGPU(t, "A100-80GB")
	linear := 32 * (4096*4096*2 + 4096*1024*2 + 3*4096*14336.0) // quantizable matrices
	rest := 8_030_261_248 - linear                              // embeddings, lm_head, norms stay 16-bit
	rope := 131072 * 128.0
	for q, want := range map[string]float64{
		"fp32":         8_030_261_248*4 + rope*4,
		"bf16":         8_030_261_248*2 + rope*2,
		"fp8":          linear*1 + rest*2 + rope*2,
		"int8":         32*(4096*4096*2*(1+4.0/4096)+4096*1024*2*(1+4.0/4096)+2*4096*14336*(1+4.0/4096)+14336*4096*(1+4.0/14336)) + rest*2 + rope*2,
		"int4":         linear*(0.5+2.0/128+0.5/128) + rest*2 + rope*2,
		"gptq":         linear*(0.5+2.0/128) + rest*2 + rope*2,
		"bitsandbytes": linear*(0.5+1.0/64+4.0/(64*256)) + rest*2 + rope*2,
	} {
		r, err := Fit(FitInput{Model: m, GPU: g, Quantization: q, MaxModelLen: 4096})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if math.Abs(r.WeightsGiB-want/catalog.GiB) > 1e-6 {
			t.Errorf("%s: weights %.4f GiB, want %.4f", q, r.WeightsGiB, want/catalog.GiB)
		}
	}
}

func TestWeightsTensorParallel(t *testing.T) {
	m := mustModel(t, "meta-llama/Llama-3.1-70B")
	g := mustGPU(t, "h100")
	one, _ := Fit(FitInput{Model: m, GPU: g, MaxModelLen: 8192, TensorParallelSize: 1})
	four, _ := Fit(FitInput{Model: m, GPU: g, MaxModelLen: 8192, TensorParallelSize: 4})
	// Norms (80·2·8192 + 8192) and the rope cache are replicated; the rest splits.
	repl := (80*2*8192 + 8192 + 131072*128) * 2.0 / catalog.GiB
	if want := (one.WeightsGiB-repl)/4 + repl; math.Abs(four.WeightsGiB-want) > 1e-6 {
		t.Errorf("tp4 weights %.4f GiB, want %.4f", four.WeightsGiB, want)
	}
	if one.Fits {
		t.Error("Llama-3.1-70B bf16 cannot fit one H100")
	}
	if !four.Fits || four.NonTorchGiB != nonTorchGiB+nonTorchTPGiB {
		t.Errorf("tp4: %+v", four)
	}
}

func e21graphs(t *testing.T, in FitInput) float64 {
	t.Helper()
	e, err := resolveEngine(in)
	if err != nil {
		t.Fatal(err)
	}
	// min(512, 2·max_num_seqs, mbt) = 512 tokens of activations plus 67
	// captured sizes × 33 pieces × 64 KiB.
	want := e.forwardPeakBytes(512) + float64((3+512/8)*33)*64*1024
	if got := e.cudaGraphBytes(); got != want {
		t.Errorf("graph bytes %.0f, want %.0f", got, want)
	}
	return want
}

func TestFitMisfits(t *testing.T) {
	// fp32 Qwen2.5-7B on a 3090: 28.4 GiB of weights in a 21.2 GiB budget.
	r, err := Fit(FitInput{Model: mustModel(t, "Qwen/Qwen2.5-7B-Instruct"), GPU: mustGPU(t, "rtx3090"), Quantization: "fp32"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Fits || r.ShortfallGiB <= 0 || r.KVCacheGiB >= 0 || r.KVCacheTokens != 0 {
		t.Fatalf("fp32 7B on a 3090 must not fit: %+v", r)
	}
	want := r.WeightsGiB + r.ActivationPeakGiB + r.NonTorchGiB + r.CUDAGraphGiB - r.BudgetGiB + float64(ceilDiv(32768, 16)*16*57344*2)/catalog.GiB // KV "auto" is fp32 too
	if math.Abs(r.ShortfallGiB-want) > 1e-9 {
		t.Errorf("shortfall %.4f, want %.4f", r.ShortfallGiB, want)
	}
	if !strings.Contains(strings.Join(r.Reasons, " "), "exceed the budget") {
		t.Errorf("reasons: %v", r.Reasons)
	}
	s := strings.Join(r.Suggestions, "\n")
	for _, w := range []string{`quantization = "bf16"`, "tensor_parallel_size = ", `gpu = "`} {
		if !strings.Contains(s, w) {
			t.Errorf("suggestions lack %q:\n%s", w, s)
		}
	}
	// Every suggestion must really fit when applied (they are re-runs).
	for _, q := range []string{"bf16"} {
		f, _ := Fit(FitInput{Model: mustModel(t, "Qwen/Qwen2.5-7B-Instruct"), GPU: mustGPU(t, "rtx3090"), Quantization: q})
		if !f.Fits {
			t.Errorf("suggested %s does not fit", q)
		}
	}

	// Llama-3.1-8B on an A10 at its full 131072 context: the weights fit but
	// one sequence does not (vLLM: "max_model_len 131072 > 37696").
	r, _ = Fit(FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "A10")})
	if r.Fits || r.KVCacheGiB <= 0 || r.MaxModelLen != 131072 {
		t.Fatalf("A10 131072: %+v", r)
	}
	if !strings.Contains(strings.Join(r.Reasons, " "), "max_model_len 131072") || !strings.Contains(r.Suggestions[0], "max_model_len = ") {
		t.Errorf("reasons %v suggestions %v", r.Reasons, r.Suggestions)
	}
	if want := float64(131072*131072)/catalog.GiB - r.KVCacheGiB; math.Abs(r.ShortfallGiB-want) > 1e-9 {
		t.Errorf("shortfall %.4f want %.4f", r.ShortfallGiB, want)
	}
}

func TestFitSuggestionsFit(t *testing.T) {
	in := FitInput{Model: mustModel(t, "Qwen/Qwen2.5-32B-Instruct"), GPU: mustGPU(t, "L40S"), MaxModelLen: 8192}
	r, err := Fit(in)
	if err != nil || r.Fits {
		t.Fatalf("32B bf16 on one L40S must not fit: %v %+v", err, r)
	}
	if len(r.Suggestions) == 0 {
		t.Fatal("no suggestions")
	}
	tp := in
	tp.TensorParallelSize = 2
	if f, _ := Fit(tp); !f.Fits {
		t.Log("tp2 does not fit; the suggestion must name a larger one")
	}
	for _, s := range r.Suggestions {
		if strings.HasPrefix(s, "quantization = \"fp8\"") {
			q := in
			q.Quantization = "fp8"
			if f, _ := Fit(q); !f.Fits {
				t.Errorf("suggested fp8 does not fit")
			}
		}
	}
}

func TestFitValidation(t *testing.T) {
	q7 := mustModel(t, "Qwen/Qwen2.5-7B-Instruct")
	h100 := mustGPU(t, "h100")
	awq := mustModel(t, "Qwen/Qwen2.5-7B-Instruct-AWQ")
	for _, c := range []struct {
		name string
		in   FitInput
		attr string
		want string
	}{
		{"tp not dividing heads", FitInput{Model: q7, GPU: h100, TensorParallelSize: 3}, "tensor_parallel_size", "Valid: 1, 2, 4, 28"},
		{"tp 8 on 28 heads", FitInput{Model: q7, GPU: h100, TensorParallelSize: 8}, "tensor_parallel_size", "28 attention heads"},
		{"negative tp", FitInput{Model: q7, GPU: h100, TensorParallelSize: -1}, "tensor_parallel_size", "between 1"},
		{"util > 1", FitInput{Model: q7, GPU: h100, GPUMemoryUtilization: 1.5}, "gpu_memory_utilization", "(0, 1]"},
		{"util < 0", FitInput{Model: q7, GPU: h100, GPUMemoryUtilization: -0.2}, "gpu_memory_utilization", "(0, 1]"},
		{"util NaN", FitInput{Model: q7, GPU: h100, GPUMemoryUtilization: math.NaN()}, "gpu_memory_utilization", "(0, 1]"},
		{"mml too long", FitInput{Model: q7, GPU: h100, MaxModelLen: 40000}, "max_model_len", "32768"},
		{"negative mml", FitInput{Model: q7, GPU: h100, MaxModelLen: -5}, "max_model_len", "positive"},
		{"bad quant", FitInput{Model: q7, GPU: h100, Quantization: "int3"}, "quantization", "valid: none, fp32"},
		{"bad kv", FitInput{Model: q7, GPU: h100, KVCacheDType: "fp16"}, "kv_cache_dtype", "auto, fp8"},
		{"requantize awq", FitInput{Model: awq, GPU: h100, Quantization: "fp8"}, "quantization", "already a awq-quantized"},
		{"bf16 on T4", FitInput{Model: q7, GPU: mustGPU(t, "T4"), Quantization: "bf16"}, "quantization", "fp16"},
		{"fp8 on T4", FitInput{Model: q7, GPU: mustGPU(t, "T4"), Quantization: "fp8"}, "quantization", "compute capability 8.0"},
		{"mbt < seqs", FitInput{Model: q7, GPU: h100, MaxNumBatchedTokens: 512, MaxNumSeqs: 1024}, "max_num_batched_tokens", ">= max_num_seqs"},
		{"default seqs above mbt", FitInput{Model: q7, GPU: h100, MaxNumSeqs: 20000}, "max_num_seqs", ">= max_num_seqs"},
		{"chunk below default seqs", FitInput{Model: q7, GPU: h100, MaxNumBatchedTokens: 512, EngineContext: EngineContextWorker}, "max_num_batched_tokens", "set max_num_seqs <= 512"},
		{"context", FitInput{Model: q7, GPU: h100, EngineContext: "serve"}, "engine_context", "batch_job, worker, llm_class"},
		{"version", FitInput{Model: q7, GPU: h100, VLLMVersion: "0.6.6"}, "vllm_version", "V0"},
		{"version syntax", FitInput{Model: q7, GPU: h100, VLLMVersion: "latest"}, "vllm_version", "release"},
		{"negative seqs", FitInput{Model: q7, GPU: h100, MaxNumSeqs: -1}, "max_num_seqs", "between 1"},
		{"negative mbt", FitInput{Model: q7, GPU: h100, MaxNumBatchedTokens: -1}, "max_num_batched_tokens", "between 1"},
		{"block", FitInput{Model: q7, GPU: h100, BlockSize: 7}, "block_size", "16"},
		{"no gpu", FitInput{Model: q7}, "gpu", "positive"},
		{"empty model", FitInput{GPU: h100}, "model", "num_hidden_layers"},
	} {
		_, err := Fit(c.in)
		var ie *input.InputError
		if !errors.As(err, &ie) {
			t.Errorf("%s: want *InputError, got %v", c.name, err)
			continue
		}
		if ie.Attribute != c.attr || !strings.Contains(ie.Message, c.want) {
			t.Errorf("%s: got %s: %s; want attribute %s mentioning %q", c.name, ie.Attribute, ie.Message, c.attr, c.want)
		}
	}
	// fp8 weights on Ampere run through Marlin (weight-only): allowed.
	if r, err := Fit(FitInput{Model: q7, GPU: mustGPU(t, "A100-80GB"), Quantization: "fp8"}); err != nil || !r.Fits {
		t.Errorf("fp8 on A100: %v", err)
	}
	// A pre-quantized checkpoint runs as it is with quantization none or its own family.
	for _, q := range []string{"", "none", "awq", "int4", "fp16"} {
		if _, err := Fit(FitInput{Model: awq, GPU: h100, Quantization: q}); err != nil {
			t.Errorf("awq checkpoint with %q: %v", q, err)
		}
	}
}

func TestSlidingWindowRequest(t *testing.T) {
	// Gemma-2-9B: 21 full layers need cdiv(8192,16) pages, 21 sliding
	// layers cdiv(min(4096−1+8192, 8192),16)+1 pages (SlidingWindowSpec).
	e, err := resolveEngine(FitInput{Model: mustModel(t, "google/gemma-2-9b"), GPU: mustGPU(t, "A100-80GB"), EngineContext: EngineContextLLMClass})
	if err != nil {
		t.Fatal(err)
	}
	page := 16 * 2 * 8 * 256 * 2.0
	want := 21*512*page + 21*(512+1)*page
	if got := e.requestKVBytes(8192); got != want {
		t.Errorf("gemma-2 request KV %.0f, want %.0f", got, want)
	}
	e, _ = resolveEngine(FitInput{Model: mustModel(t, "mistralai/Mistral-7B-v0.1"), GPU: mustGPU(t, "A100-80GB"), MaxNumBatchedTokens: 2048})
	page = 16 * 2 * 8 * 128 * 2.0
	if got, want := e.requestKVBytes(32768), 32*float64(ceilDiv(4095+2048, 16)+1)*page; got != want {
		t.Errorf("mistral request KV %.0f, want %.0f", got, want)
	}
}

func TestFitMonotonic(t *testing.T) {
	// Lighter formats never need more memory, more GPUs never fewer tokens.
	m := mustModel(t, "Qwen/Qwen2.5-14B-Instruct")
	g := mustGPU(t, "A100-80GB")
	prev := math.Inf(1)
	for _, q := range []string{"fp32", "bf16", "int8", "int4"} {
		r, err := Fit(FitInput{Model: m, GPU: g, Quantization: q, MaxModelLen: 8192})
		if err != nil {
			t.Fatal(err)
		}
		if r.WeightsGiB >= prev {
			t.Errorf("%s weights %.2f not below the previous %.2f", q, r.WeightsGiB, prev)
		}
		prev = r.WeightsGiB
	}
	var tokens int64
	for _, tp := range []int{1, 2, 4, 8} {
		r, _ := Fit(FitInput{Model: m, GPU: g, TensorParallelSize: tp, MaxModelLen: 8192})
		if r.KVCacheTokens <= tokens {
			t.Errorf("tp %d: %d tokens, not above %d", tp, r.KVCacheTokens, tokens)
		}
		tokens = r.KVCacheTokens
	}
}

func BenchmarkFit(b *testing.B) {
	in := FitInput{Model: mustModel(b, "Qwen/Qwen2.5-7B-Instruct"), GPU: mustGPU(b, "L40S"), Quantization: "int4", MaxModelLen: 8192, MaxNumBatchedTokens: 512}
	for b.Loop() {
		if _, err := Fit(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitMisfit(b *testing.B) {
	in := FitInput{Model: mustModel(b, "Qwen/Qwen2.5-72B-Instruct"), GPU: mustGPU(b, "rtx3090")}
	for b.Loop() {
		if _, err := Fit(in); err != nil {
			b.Fatal(err)
		}
	}
}

// The sampler constant, fitted to vLLM start-up logs, against a direct
// measurement of the same PyTorch sampling path on an H200.
func TestSamplerConstantAgainstH200Probe(t *testing.T) {
	raw, err := os.ReadFile("testdata/h200-sampler-2026-11-26.json")
	if err != nil {
		t.Fatal(err)
	}
	var probe struct {
		TotalGiB float64 `json:"total_gib"`
		Sampler  []struct {
			Vocab         string  `json:"vocab"`
			Rows          int     `json:"rows"`
			BytesPerLogit float64 `json:"bytes_per_logit"`
		} `json:"sampler"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		t.Fatal(err)
	}
	if len(probe.Sampler) == 0 {
		t.Fatal("probe has no sampler records")
	}
	for _, r := range probe.Sampler {
		if e := math.Abs(r.BytesPerLogit-samplerBytesPerLogit) / r.BytesPerLogit; e > 0.02 {
			t.Errorf("%s × %d rows: measured %.2f bytes per logit, model %.1f (%.1f%% off)", r.Vocab, r.Rows, r.BytesPerLogit, samplerBytesPerLogit, 100*e)
		}
	}
	if g := mustGPU(t, "H200"); math.Abs(g.MemoryGiB-probe.TotalGiB) > 0.01 {
		t.Errorf("H200 catalog memory %.2f GiB, measured %.2f GiB", g.MemoryGiB, probe.TotalGiB)
	}
}
