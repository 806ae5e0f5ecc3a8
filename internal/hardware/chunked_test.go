package hardware

import (
	"fmt"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/internal/venvtest"
)

// TestChunkedKVMatchesVLLM compares, for every Llama 4 config at
// tensor_parallel_size 1 and 2 and several max_model_len, the provider's KV
// bytes per token per layer, chunked/full layer split and one request's KV
// bytes with vLLM's own FullAttentionSpec and ChunkedLocalAttentionSpec
// (testdata/chunked_kv.py, one Python process for all).
func TestChunkedKVMatchesVLLM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	py := venvtest.Python(t, 2)
	dir := t.TempDir()
	type tc struct {
		name         string
		tp, mml, mbt int
		m            hfconfig.Model
	}
	var cases []tc
	var in []map[string]any
	for name, b := range venvtest.GlobConfigs(t, "hfconfig/testdata/configs/hub/meta-llama--Llama-4-*.json") {
		m, err := hfconfig.ParseConfigJSON(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		d := venvtest.WriteConfigDir(t, dir, name, b)
		for _, tp := range []int{1, 2} {
			for _, mml := range []int{4096, 10000, 32768, 131072} {
				mbt := 8192
				n := fmt.Sprintf("%s/tp%d/len%d", name, tp, mml)
				cases = append(cases, tc{n, tp, mml, mbt, m})
				in = append(in, map[string]any{"name": n, "dir": d, "tp": tp, "max_model_len": mml, "max_num_batched_tokens": mbt})
			}
		}
	}
	type view struct {
		RequestBytes  int64 `json:"request_bytes"`
		Page1         int64 `json:"page_1"`
		ChunkedLayers int   `json:"chunked_layers"`
		FullLayers    int   `json:"full_layers"`
	}
	got := venvtest.RunScript[view](t, py, "chunked_kv.py", in)
	h100, _ := catalog.LookupGPU("h100")
	for _, c := range cases {
		r := got[c.name]
		if r.VLLM == nil {
			t.Errorf("%s: python: %s %s", c.name, r.Error, r.Trace)
			continue
		}
		e, err := resolveEngine(FitInput{Model: c.m, GPU: h100, TensorParallelSize: c.tp, MaxModelLen: c.mml, MaxNumBatchedTokens: c.mbt})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		v := r.VLLM
		for _, f := range []struct {
			what      string
			mine, ref int64
		}{{"KV bytes per token per layer", int64(e.layerKVBytesPerToken()), v.Page1},
			{"chunked layers", int64(c.m.ChunkedLayers), int64(v.ChunkedLayers)},
			{"full-attention layers", int64(c.m.NumLayers - c.m.ChunkedLayers), int64(v.FullLayers)},
			{"one request's KV bytes", int64(e.requestKVBytes(c.mml)), v.RequestBytes}} {
			if f.mine != f.ref {
				t.Errorf("%s: %s %d, vLLM %d", c.name, f.what, f.mine, f.ref)
			}
		}
		t.Logf("%s: %d chunked + %d full layers, one request %.3f GiB (vLLM %.3f GiB)", c.name, c.m.ChunkedLayers,
			c.m.NumLayers-c.m.ChunkedLayers, e.requestKVBytes(c.mml)/catalog.GiB, float64(v.RequestBytes)/catalog.GiB)
	}
}

// TestChunkedByHand: Llama-4-Scout at TP 4 on H100, max_model_len 131072,
// max_num_batched_tokens 8192, worked out without the code under test.
func TestChunkedByHand(t *testing.T) {
	m, err := hfconfig.LookupModel("meta-llama/Llama-4-Scout-17B-16E-Instruct")
	if err != nil {
		t.Fatal(err)
	}
	h100, _ := catalog.LookupGPU("h100")
	in := FitInput{Model: m, GPU: h100, TensorParallelSize: 4, MaxModelLen: 131072, MaxNumBatchedTokens: 8192}
	e, err := resolveEngine(in)
	if err != nil {
		t.Fatal(err)
	}
	const (
		perTok  = 2 * 2 * 128 * 2                  // K and V × 8/4 KV heads × head_dim 128 × bf16
		full    = 12 * (131072 / 16) * 16 * perTok // 12 NoPE layers: cdiv(131072, 16) blocks of 16 tokens
		chunked = 36 * (16384 / 16) * 16 * perTok  // 36 RoPE layers: cdiv(min(8192 + 8192, 131072), 16) blocks
	)
	if got := e.requestKVBytes(131072); got != full+chunked {
		t.Errorf("one 131072-token request: %.0f bytes, want %d", got, full+chunked)
	}
	if got, want := e.attendedPerLayer(131072), (12*131072.0+36*8192.0)/48; got != want {
		t.Errorf("attended tokens per layer at 131072: %.1f, want %.1f", got, want)
	}
	r, err := Fit(in)
	if err != nil || !r.Fits {
		t.Fatalf("Scout on 4 × H100 at 131072 should fit: %v %v", err, r.Reasons)
	}
	t.Logf("weights %.2f GiB, KV cache %.2f GiB per GPU, one request %.3f GiB, %.2f× concurrency", r.WeightsGiB, r.KVCacheGiB,
		e.requestKVBytes(131072)/catalog.GiB, r.MaxConcurrency)
}
