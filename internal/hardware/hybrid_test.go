package hardware

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hybridConfigs are the hybrid configs under testdata/configs/hybrid
// (written from the published config.json files; not byte-checked).
func hybridConfigs(t *testing.T) map[string][]byte {
	files, err := filepath.Glob("testdata/configs/hybrid/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no hybrid configs: %v", err)
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
	py, err := filepath.Abs(filepath.Join("..", "..", ".venv", "bin", "python"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(py); err != nil {
		venvSkip(t, fmt.Sprintf("no test venv at %s (make venv creates it)", py))
	}
	dir := t.TempDir()
	type tc struct {
		name string
		tp   int
		m    Model
	}
	var cases []tc
	var in []map[string]any
	for name, b := range hybridConfigs(t) {
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
			n := fmt.Sprintf("%s/tp%d", name, tp)
			cases = append(cases, tc{n, tp, m})
			in = append(in, map[string]any{"name": n, "dir": d, "tp": tp})
		}
	}
	stdin, _ := json.Marshal(in)
	cmd := exec.Command(py, filepath.Join("testdata", "hybrid_kv.py"))
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", py, err, tailString(stderr.String(), 3000))
	}
	type result struct {
		Name   string      `json:"name"`
		Params int64       `json:"params"`
		VLLM   *hybridView `json:"vllm"`
		Error  string      `json:"error"`
		Trace  string      `json:"trace"`
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
