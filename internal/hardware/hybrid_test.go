package hardware

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/internal/venvtest"
)

// hybridConfigs are the hybrid configs under hfconfig/testdata/configs/hybrid
// (written from the published config.json files; not byte-checked).
func hybridConfigs(t *testing.T) map[string][]byte {
	return venvtest.GlobConfigs(t, "hfconfig/testdata/configs/hybrid/*.json")
}

type hybridView struct {
	StatePage   int64 `json:"state_page"`
	AttnPage1   int64 `json:"attn_page_1"`
	BlockSize   int   `json:"block_size"`
	AttnLayers  int   `json:"attn_layers"`
	StateLayers int   `json:"state_layers"`
}

// TestHybridKVMatchesVLLM compares, for every hybrid config in testdata at
// tensor_parallel_size 1 and 2, the provider's state page, attention page,
// raised block size and layer split with vLLM's own state-shape, dtype and
// page-size functions (testdata/hybrid_kv.py, one Python process for all),
// and its parameter count with transformers' on the meta device (0.5%).
func TestHybridKVMatchesVLLM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	py := venvtest.Python(t, 2)
	dir := t.TempDir()
	type tc struct {
		name string
		tp   int
		m    hfconfig.Model
	}
	var cases []tc
	var in []map[string]any
	for name, b := range hybridConfigs(t) {
		m, err := hfconfig.ParseConfigJSON(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		d := venvtest.WriteConfigDir(t, dir, name, b)
		for _, tp := range []int{1, 2} {
			n := fmt.Sprintf("%s/tp%d", name, tp)
			cases = append(cases, tc{n, tp, m})
			in = append(in, map[string]any{"name": n, "dir": d, "tp": tp})
		}
	}
	got := venvtest.RunScript[hybridView](t, py, "hybrid_kv.py", in)
	h100, _ := catalog.LookupGPU("h100")
	for _, c := range cases {
		r, ok := got[c.name]
		if !ok || r.VLLM == nil {
			t.Errorf("%s: python: %s %s", c.name, r.Error, r.Trace)
			continue
		}
		e, err := resolveEngine(FitInput{Model: c.m, GPU: h100, TensorParallelSize: c.tp})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		h, v := e.hybrid(), r.VLLM
		for _, f := range []struct {
			what      string
			mine, ref int64
		}{{"state page bytes", int64(h.statePage), v.StatePage}, {"attention bytes per token", int64(e.layerKVBytesPerToken()), v.AttnPage1},
			{"block size", int64(h.block), int64(v.BlockSize)}, {"attention layers", int64(h.attnLayers), int64(v.AttnLayers)},
			{"state layers", int64(h.stateLayers), int64(v.StateLayers)}} {
			if f.mine != f.ref {
				t.Errorf("%s: %s %d, vLLM %d", c.name, f.what, f.mine, f.ref)
			}
		}
		if d := math.Abs(float64(c.m.Params())/float64(r.Params) - 1); d > 0.005 {
			t.Errorf("%s: params %d, transformers %d (%.2f%% off)", c.name, c.m.Params(), r.Params, 100*d)
		}
		t.Logf("%s: state %d B/seq/layer, block %d tokens, %d attention + %d state layers, params %.4gB (transformers %.4gB)",
			c.name, v.StatePage, v.BlockSize, v.AttnLayers, v.StateLayers, float64(c.m.Params())/1e9, float64(r.Params)/1e9)
	}
}

func qwen3Next(t *testing.T) hfconfig.Model {
	t.Helper()
	m, err := hfconfig.ParseConfigJSON(hybridConfigs(t)["Qwen--Qwen3-Next-80B-A3B-Instruct"])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestHybridAccountingByHand: Qwen3-Next-80B-A3B on one rank, bf16, worked
// out from vLLM's rules (hybrid.go) without the code under test.
func TestHybridAccountingByHand(t *testing.T) {
	m := qwen3Next(t)
	h100, _ := catalog.LookupGPU("h100")
	e, err := resolveEngine(FitInput{Model: m, GPU: h100, MaxModelLen: 32768})
	if err != nil {
		t.Fatal(err)
	}
	h := e.hybrid()
	const (
		attn1     = 2 * 2 * 256 * 2                      // K and V × 2 KV heads × head_dim 256 × bf16
		statePage = 3*(2*16*128+32*128)*2 + 32*128*128*2 // conv (kernel−1 × conv width) + temporal (v heads × v dim × k dim), bf16
		block     = 16 * 34                              // 16 × ceil(1097728 / (16 × 2048)) = 544
		page      = block * attn1
		perBlock  = 12 * page          // 12 full-attention layers in a group (36 GDN layers: 3 groups)
		perReq    = 61 + 3*2           // ceil(32768 / 544) attention blocks + 2 per GDN group (align mode)
		dense     = 48 * attn1 * 32768 // the same model were every layer attention
	)
	if h.statePage != statePage || h.block != block || h.page != page || h.groupSize != 12 || h.attnGroups != 1 || h.stateGroups != 3 {
		t.Fatalf("layout %+v; want state page %d, block %d, page %d, 12-layer groups, 1 + 3 groups", h, statePage, block, page)
	}
	if got, want := e.requestKVBytes(32768), float64(perBlock*perReq); got != want {
		t.Errorf("one 32k request: %.0f bytes, want %.0f", got, want)
	}
	if got := e.requestKVBytes(32768); got > dense/3 {
		t.Errorf("one 32k request takes %.2f GiB, not well under the all-attention %.2f GiB", got/catalog.GiB, float64(dense)/catalog.GiB)
	}
}

// TestHybridFitConcurrency: at TP 4 on H100 the fit's concurrency is the
// pool's blocks over one request's blocks, vLLM's KV tokens are that ×
// max_model_len, and sizing's sequences of 1k tokens use the same pool.
func TestHybridFitConcurrency(t *testing.T) {
	m := qwen3Next(t)
	h100, _ := catalog.LookupGPU("h100")
	in := FitInput{Model: m, GPU: h100, TensorParallelSize: 4, MaxModelLen: 32768}
	r, err := Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Fits {
		t.Fatalf("Qwen3-Next-80B on 4 × H100 should fit at 32k: %v", r.Reasons)
	}
	e, _ := resolveEngine(in)
	h := e.hybrid()
	blocks := math.Floor(r.KVCacheGiB * catalog.GiB / h.bytesPerBlock())
	if want := blocks / float64(h.requestBlocks(32768)); math.Abs(r.MaxConcurrency-want) > 1e-9 {
		t.Errorf("max_concurrency %.3f, want blocks %.0f / %d = %.3f", r.MaxConcurrency, blocks, h.requestBlocks(32768), want)
	}
	if want := int64(r.MaxConcurrency * 32768); r.KVCacheTokens != want {
		t.Errorf("KV tokens %d, want concurrency × max_model_len = %d", r.KVCacheTokens, want)
	}
	short := e.seqsFitting(r, 1024)
	if naive := float64(r.KVCacheTokens) / 1024; short >= naive {
		t.Errorf("1k-token sequences: %.0f fit, but KV tokens ÷ length says %.0f; the per-sequence state must make it fewer", short, naive)
	}
	if !strings.Contains(strings.Join(r.Reasons, " "), "Gated DeltaNet") {
		t.Errorf("reasons do not explain the hybrid accounting: %v", r.Reasons)
	}
}

// TestHybridWorkedExample is the memory guide's example: a Qwen3-Next-class
// model against a dense model of about the same size, 4 × H100, 32k.
func TestHybridWorkedExample(t *testing.T) {
	h100, _ := catalog.LookupGPU("h100")
	dense, err := hfconfig.LookupModel("Qwen/Qwen2.5-72B")
	if err != nil {
		t.Fatal(err)
	}
	var conc [2]float64
	for i, m := range []hfconfig.Model{qwen3Next(t), dense} {
		r, err := Fit(FitInput{Model: m, GPU: h100, TensorParallelSize: 4, MaxModelLen: 32768})
		if err != nil || !r.Fits {
			t.Fatalf("%s: %v %v", m.ID, err, r.Reasons)
		}
		e, _ := resolveEngine(FitInput{Model: m, GPU: h100, TensorParallelSize: 4, MaxModelLen: 32768})
		conc[i] = r.MaxConcurrency
		t.Logf("%s: weights %.2f GiB, KV cache %.2f GiB per GPU, one 32k request %.3f GiB per GPU, %d KV tokens, %.2f× concurrency",
			m.ID, r.WeightsGiB, r.KVCacheGiB, e.requestKVBytes(32768)/catalog.GiB, r.KVCacheTokens, r.MaxConcurrency)
	}
	if conc[0] < 2*conc[1] {
		t.Errorf("hybrid concurrency %.2f is not well above the dense model's %.2f", conc[0], conc[1])
	}
}

// TestHybridRefusals: what is not modelled says so, naming the field and
// the hybrid types that are.
func TestHybridRefusals(t *testing.T) {
	for _, c := range []struct{ cfg, field string }{
		{`{"model_type":"falcon_h1","architectures":["FalconH1ForCausalLM"],"mamba_d_ssm":1024,"mamba_d_state":128,"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":2,"vocab_size":10}`, "mamba_d"},
		{`{"model_type":"kimi_linear","linear_attn_config":{"num_heads":32},"num_hidden_layers":2,"hidden_size":64,"num_attention_heads":2,"vocab_size":10}`, "linear_attn_config"},
		{`{"model_type":"nemotron_h","hybrid_override_pattern":"MEM*","max_position_embeddings":4096}`, "hybrid_override_pattern"},
		{`{"model_type":"granitemoehybrid","layer_types":["mamba","mamba"],"num_hidden_layers":2,"max_position_embeddings":4096}`, "layer_types"},
	} {
		_, err := hfconfig.ParseConfigJSON([]byte(c.cfg))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: want an error naming %s, got %v", c.cfg, c.field, err)
		}
	}
	m := qwen3Next(t)
	s := *m.State
	s.VHeads = 24 // attention splits 16 ways; 24 value heads do not
	m.State = &s
	h100, _ := catalog.LookupGPU("h100")
	if _, err := Fit(FitInput{Model: m, GPU: h100, TensorParallelSize: 16}); err == nil || !strings.Contains(err.Error(), "value heads") {
		t.Errorf("TP 16 with 24 linear-attention value heads: want an error naming them, got %v", err)
	}
}
