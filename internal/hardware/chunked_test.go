package hardware

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// chunkedConfigs are the chunked-local-attention configs (Llama 4) under
// testdata/configs/hub.
func chunkedConfigs(t *testing.T) map[string][]byte {
	files, err := filepath.Glob("testdata/configs/hub/meta-llama--Llama-4-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Llama 4 configs: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = b
	}
	return out
}

// TestChunkedKVMatchesVLLM compares, for every Llama 4 config at
// tensor_parallel_size 1 and 2 and several max_model_len, the provider's KV
// bytes per token per layer, chunked/full layer split and one request's KV
// bytes with vLLM's own FullAttentionSpec and ChunkedLocalAttentionSpec
// (testdata/chunked_kv.py, one Python process for all).
func TestChunkedKVMatchesVLLM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	py, err := filepath.Abs(filepath.Join("..", "..", ".venv", "bin", "python"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(py); err != nil {
		venvSkip(t, fmt.Sprintf("no test venv at %s (make venv creates it)", py))
	}
	dir := t.TempDir()
	type tc struct {
		name         string
		tp, mml, mbt int
		m            Model
	}
	var cases []tc
	var in []map[string]any
	for name, b := range chunkedConfigs(t) {
		m, err := ParseConfigJSON(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "config.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tp := range []int{1, 2} {
			for _, mml := range []int{4096, 10000, 32768, 131072} {
				mbt := 8192
				n := fmt.Sprintf("%s/tp%d/len%d", name, tp, mml)
				cases = append(cases, tc{n, tp, mml, mbt, m})
				in = append(in, map[string]any{"name": n, "dir": d, "tp": tp, "max_model_len": mml, "max_num_batched_tokens": mbt})
			}
		}
	}
	stdin, _ := json.Marshal(in)
	cmd := exec.Command(py, filepath.Join("testdata", "chunked_kv.py")) // #nosec G204 -- test venv
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", py, err, tailString(stderr.String(), 3000))
	}
	type view struct {
		RequestBytes  int64 `json:"request_bytes"`
		Page1         int64 `json:"page_1"`
		ChunkedLayers int   `json:"chunked_layers"`
		FullLayers    int   `json:"full_layers"`
	}
	type result struct {
		Name  string `json:"name"`
		VLLM  *view  `json:"vllm"`
		Error string `json:"error"`
		Trace string `json:"trace"`
	}
	got := map[string]result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r result
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Name != "" {
			got[r.Name] = r
		}
	}
	h100, _ := LookupGPU("h100")
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
			c.m.NumLayers-c.m.ChunkedLayers, e.requestKVBytes(c.mml)/GiB, float64(v.RequestBytes)/GiB)
	}
}

// TestChunkedByHand: Llama-4-Scout at TP 4 on H100, max_model_len 131072,
// max_num_batched_tokens 8192, worked out without the code under test.
func TestChunkedByHand(t *testing.T) {
	m, err := LookupModel("meta-llama/Llama-4-Scout-17B-16E-Instruct")
	if err != nil {
		t.Fatal(err)
	}
	h100, _ := LookupGPU("h100")
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
		e.requestKVBytes(131072)/GiB, r.MaxConcurrency)
}
