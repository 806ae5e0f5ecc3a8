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
