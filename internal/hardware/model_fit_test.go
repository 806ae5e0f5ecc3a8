package hardware

import (
	"math"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
)

// The Gemma-3-12B: 12.19B parameters with the SigLIP tower
// (transformers on the meta device: 12,187,325,040), and the sparse and the
// explicit config give the same fit.
func TestGemma3Equivalence(t *testing.T) {
	sparse, err := hfconfig.ParseConfigJSON(readConfig(t, "hub/google--gemma-3-12b-it.json"))
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := hfconfig.ParseConfigJSON(readConfig(t, "hub/google--gemma-3-12b-it-explicit.json"))
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(float64(sparse.Params())/12_187_325_040 - 1); d > 0.001 {
		t.Errorf("params %d, transformers 12187325040 (%.3f%% off)", sparse.Params(), 100*d)
	}
	if sparse.VisionParams < 400e6 || sparse.VisionParams > 450e6 {
		t.Errorf("SigLIP tower %d params", sparse.VisionParams)
	}
	for _, mml := range []int{16384, 131072} {
		a, err1 := Fit(FitInput{Model: sparse, GPU: mustGPU(t, "H100-80GB-SXM"), MaxModelLen: mml})
		b, err2 := Fit(FitInput{Model: explicit, GPU: mustGPU(t, "H100-80GB-SXM"), MaxModelLen: mml})
		if err1 != nil || err2 != nil || a.MaxConcurrency != b.MaxConcurrency || a.KVCacheTokens != b.KVCacheTokens {
			t.Errorf("max_model_len %d: sparse %.2f× (%d tokens), explicit %.2f× (%d tokens) %v %v", mml, a.MaxConcurrency, a.KVCacheTokens, b.MaxConcurrency, b.KVCacheTokens, err1, err2)
		}
		t.Logf("gemma-3-12b on H100-80GB-SXM, max_model_len %d: %.2f× concurrency, weights %.2f GiB", mml, a.MaxConcurrency, a.WeightsGiB)
	}
}

// Quantization names are case-insensitive, like GPU names.
func TestQuantizationCaseInsensitive(t *testing.T) {
	m := mustModel(t, "Qwen/Qwen2.5-7B-Instruct")
	for _, q := range []string{"AWQ", "Int4", " fp8 "} {
		r, err := Fit(FitInput{Model: m, GPU: mustGPU(t, "L4"), Quantization: q, MaxModelLen: 4096})
		want, _ := Fit(FitInput{Model: m, GPU: mustGPU(t, "L4"), Quantization: strings.ToLower(strings.TrimSpace(q)), MaxModelLen: 4096})
		if err != nil || r.WeightsGiB != want.WeightsGiB {
			t.Errorf("%q: %v %.3f vs %.3f", q, err, r.WeightsGiB, want.WeightsGiB)
		}
	}
}

// A config.json must give the same architecture as the catalog entry.
func TestParseConfigJSONMatchesCatalog(t *testing.T) {
	for file, id := range map[string]string{
		"qwen2.5-7b-instruct-awq.json":             "Qwen/Qwen2.5-7B-Instruct-AWQ",
		"deepseek-v3.json":                         "deepseek-ai/DeepSeek-V3",
		"mixtral-8x7b.json":                        "mistralai/Mixtral-8x7B-v0.1",
		"gemma-2-9b.json":                          "google/gemma-2-9b",
		"llama-3.1-8b-fp8-compressed-tensors.json": "meta-llama/Llama-3.1-8B",
	} {
		m, err := hfconfig.ParseConfigJSON(readConfig(t, file))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		want := mustModel(t, id)
		if m.Params() != want.Params() || m.ActiveParams() != want.ActiveParams() {
			t.Errorf("%s: %d params (%d active), catalog %s has %d (%d)", file, m.Params(), m.ActiveParams(), id, want.Params(), want.ActiveParams())
		}
		for _, kv := range []string{"auto", "fp8"} {
			a, _ := KVCacheBytesPerToken(m, kv, 1)
			b, _ := KVCacheBytesPerToken(want, kv, 1)
			if a != b {
				t.Errorf("%s: KV bytes/token %d, catalog %d", file, a, b)
			}
		}
		if m.SlidingWindow != want.SlidingWindow || m.SlidingWindowLayers != want.SlidingWindowLayers || m.MaxPositionEmbeddings != want.MaxPositionEmbeddings {
			t.Errorf("%s: window %d/%d maxpos %d, catalog %d/%d %d", file, m.SlidingWindow, m.SlidingWindowLayers, m.MaxPositionEmbeddings,
				want.SlidingWindow, want.SlidingWindowLayers, want.MaxPositionEmbeddings)
		}
	}
}

// The 4-bit Qwen3-30B-A3B (bitsandbytes, double quant) fits an L40S.
func TestBnB4BitMoEFitsL40S(t *testing.T) {
	m, err := hfconfig.ParseConfigJSON(readConfig(t, "qwen3-30b-a3b-bnb-4bit.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Fit(FitInput{Model: m, GPU: mustGPU(t, "L40S"), MaxModelLen: 32768})
	if err != nil || !r.Fits || r.WeightsGiB > 18 {
		t.Errorf("4-bit Qwen3-30B-A3B on an L40S: %+v %v", r, err)
	}
}
