package hfconfig

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/internal/venvtest"
)

// catalogConfigJSON writes a catalog model as the config.json transformers
// would save for it (the fields the memory model reads; rope parameters where
// the length rules need them).
func catalogConfigJSON(m Model) map[string]any {
	t := archTypes[m.Architecture]
	c := map[string]any{
		"architectures": []string{m.Architecture}, "model_type": t, "torch_dtype": m.TorchDType,
		"hidden_size": m.HiddenSize, "intermediate_size": m.IntermediateSize, "num_hidden_layers": m.NumLayers,
		"num_attention_heads": m.NumHeads, "num_key_value_heads": m.NumKVHeads, "head_dim": m.HeadDim,
		"vocab_size": m.VocabSize, "tie_word_embeddings": m.TiedEmbeddings, "max_position_embeddings": m.MaxPositionEmbeddings,
		"sliding_window": nil,
	}
	if m.AttentionBias && !modelTypes[t].qkvBias {
		c["attention_bias"] = true
	}
	if m.SlidingWindow > 0 {
		c["sliding_window"] = m.SlidingWindow
	}
	if m.NumExperts > 0 {
		key := map[string]string{"qwen3_moe": "num_experts", "qwen2_moe": "num_experts", "deepseek_v3": "n_routed_experts",
			"deepseek_v2": "n_routed_experts", "glm4_moe": "n_routed_experts"}[t]
		if key == "" {
			key = "num_local_experts"
		}
		c[key], c["num_experts_per_tok"] = m.NumExperts, m.NumActiveExperts
		if modelTypes[t].expertSize != "intermediate_size" {
			c["moe_intermediate_size"] = m.ExpertIntermediateSize
		}
	}
	if m.IsMLA() {
		c["kv_lora_rank"], c["q_lora_rank"], c["qk_rope_head_dim"], c["qk_nope_head_dim"], c["v_head_dim"] =
			m.KVLoraRank, m.QLoraRank, m.QKRopeHeadDim, m.QKNopeHeadDim, m.VHeadDim
		c["n_shared_experts"], c["first_k_dense_replace"] = m.NumSharedExperts, m.FirstDenseLayers
		delete(c, "head_dim")
		c["rope_scaling"] = map[string]any{"rope_type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
			"beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0}
	}
	if m.DefaultMaxModelLen > 0 { // LongRoPE: one factor per rotary frequency
		ones := make([]float64, m.HeadDim/2)
		for i := range ones {
			ones[i] = 1
		}
		c["original_max_position_embeddings"] = m.DefaultMaxModelLen
		rs := map[string]any{"type": "longrope", "long_factor": ones, "short_factor": ones}
		if t == "phimoe" {
			rs["short_mscale"], rs["long_mscale"] = 1.243, 1.243
			rs["original_max_position_embeddings"] = m.DefaultMaxModelLen
		}
		c["rope_scaling"] = rs
	}
	if nest, ok := nestedCatalog[t]; ok {
		return nest(c, m)
	}
	if m.VisionParams > 0 && t == "qwen2_5_vl" { // Qwen2.5-VL's published vision tower
		c["vision_config"] = map[string]any{"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
			"out_hidden_size": m.HiddenSize, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
			"in_chans": 3, "window_size": 112, "fullatt_block_indexes": []int{7, 15, 23, 31}}
	}
	return c
}

// diffCase is one config.json and the provider's reading of it.
type diffCase struct {
	Name, Dir, Source string
	Model             Model
	Err               error
}

type diffResult struct {
	Name   string `json:"name"`
	Params int64  `json:"params"`
	VLLM   *struct {
		HeadSize      int  `json:"head_size"`
		KVHeads       int  `json:"kv_heads"`
		Layers        int  `json:"layers"`
		SlidingWindow int  `json:"sliding_window"`
		SlidingLayers int  `json:"sliding_layers"`
		MaxModelLen   int  `json:"max_model_len"`
		MaxLenLimit   int  `json:"max_model_len_limit"`
		MLA           bool `json:"mla"`
		Chunk         int  `json:"attention_chunk"`
	} `json:"vllm"`
	Error string `json:"error"`
	Trace string `json:"trace"`
}

// refused are the configs the provider must refuse, and why: transformers'
// default has no value the memory model could use.
var refused = map[string]string{
	// DeepseekV2Config's num_experts_per_tok defaults to None.
	"default/deepseek_v2": "num_experts_per_tok",
	// NemotronHConfig's default layers include a MoE layer (Nemotron 3).
	"default/nemotron_h": "mixture-of-experts layers",
	// GraniteMoeHybridConfig's default layer_types are all Mamba: no attention.
	"default/granitemoehybrid": "attention-free",
}

func differentialCases(t *testing.T, dir string) []diffCase {
	var cases []diffCase
	add := func(name, source string, cfgJSON []byte) {
		d := filepath.Join(dir, strings.NewReplacer("/", "--", " ", "_").Replace(name))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "config.json"), cfgJSON, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := ParseConfigJSON(cfgJSON)
		cases = append(cases, diffCase{Name: name, Dir: d, Source: source, Model: m, Err: err})
	}
	for _, mt := range ModelTypes() {
		if mt == "qwen2_5_vl_text" || mt == "qwen3_vl_text" || mt == "qwen3_vl_moe_text" || mt == "glm4v_text" || mt == "glm4v_moe_text" {
			continue // no causal-LM class of its own; covered by the multimodal type
		}
		b, _ := json.Marshal(map[string]any{"model_type": mt, "architectures": []string{modelTypes[mt].arch}})
		add("default/"+mt, "transformers default", b)
	}
	for _, m := range Models() {
		b, err := json.Marshal(catalogConfigJSON(m))
		if err != nil {
			t.Fatal(err)
		}
		add("catalog/"+m.ID, "catalog", b)
	}
	for _, glob := range []string{"testdata/configs/*.json", "testdata/configs/hub/*.json"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			add("file/"+strings.TrimPrefix(f, "testdata/configs/"), "config.json", b)
		}
	}
	return cases
}

// TestConfigDifferential compares the provider's reading of every config
// (each supported model_type's transformers default, each catalog model, each
// config.json under testdata/configs) with transformers' parameter count on
// the meta device (within 0.5%) and vLLM's ModelConfig (head size, KV heads,
// layers, sliding window and its layers, default and longest max_model_len:
// exact), in a few Python processes of the test venv
// (testdata/config_differential.py), each with its share of the configs.
// make config-differential prints the table.
func TestConfigDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	py := venvtest.Python(t, 3)
	cases := differentialCases(t, t.TempDir())
	got, err := runDifferential(py, cases, differentialWorkers(len(cases)))
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	table.WriteString("| config | model_type | params provider / transformers | head size | KV heads | layers | window (layers) | max_model_len default / limit | result |\n|---|---|---|---|---|---|---|---|---|\n")
	types := map[string]bool{}
	bad := 0
	for _, c := range cases {
		r, ok := got[c.Name]
		row := func(res string, cols ...string) {
			fmt.Fprintf(&table, "| %s | %s | %s | %s |\n", c.Name, c.Model.ModelType, strings.Join(cols, " | "), res)
		}
		if why, want := refused[c.Name]; want {
			if c.Err == nil || !strings.Contains(c.Err.Error(), why) {
				t.Errorf("%s: want the provider to refuse it naming %s, got %v", c.Name, why, c.Err)
				bad++
			}
			row("refused: "+why, "", "", "", "", "", "")
			continue
		}
		if c.Err != nil {
			t.Errorf("%s: provider: %v", c.Name, c.Err)
			bad++
			row("provider error", "", "", "", "", "", "")
			continue
		}
		if !ok || r.Error != "" || r.VLLM == nil {
			t.Errorf("%s: python: %s %s", c.Name, r.Error, r.Trace)
			bad++
			row("python error", "", "", "", "", "", "")
			continue
		}
		types[c.Model.ModelType] = true
		m, v := c.Model, r.VLLM
		var miss []string
		p := m.Params()
		if d := math.Abs(float64(p)/float64(r.Params) - 1); d > 0.005 {
			miss = append(miss, fmt.Sprintf("params %.2f%% off", 100*d))
		}
		head := m.HeadDim
		if m.IsMLA() {
			head = m.KVLoraRank + m.QKRopeHeadDim // vLLM's MLA head size: the cached latent
		}
		sl, def := m.SlidingLayers(), m.DefaultMaxLen()
		for _, f := range []struct {
			name      string
			mine, ref int
		}{{"head size", head, v.HeadSize}, {"KV heads", m.NumKVHeads, v.KVHeads}, {"layers", m.NumLayers, v.Layers},
			{"sliding window", m.SlidingWindow, v.SlidingWindow}, {"sliding layers", sl, v.SlidingLayers},
			{"max_model_len", def, v.MaxModelLen}, {"max_model_len limit", m.MaxPositionEmbeddings, v.MaxLenLimit},
			{"attention chunk", m.AttentionChunk, v.Chunk}} {
			if f.mine != f.ref {
				miss = append(miss, fmt.Sprintf("%s %d, vLLM %d", f.name, f.mine, f.ref))
			}
		}
		if m.IsMLA() != v.MLA {
			miss = append(miss, "MLA differs")
		}
		res := "ok"
		if len(miss) > 0 {
			res = "MISMATCH: " + strings.Join(miss, "; ")
			t.Errorf("%s: %s", c.Name, strings.Join(miss, "; "))
			bad++
		}
		row(res, fmt.Sprintf("%.4gB / %.4gB", float64(p)/1e9, float64(r.Params)/1e9), fmt.Sprintf("%d / %d", head, v.HeadSize),
			fmt.Sprintf("%d / %d", m.NumKVHeads, v.KVHeads), fmt.Sprintf("%d / %d", m.NumLayers, v.Layers),
			fmt.Sprintf("%d (%d) / %d (%d)", m.SlidingWindow, sl, v.SlidingWindow, v.SlidingLayers),
			fmt.Sprintf("%d, %d / %d, %d", def, m.MaxPositionEmbeddings, v.MaxModelLen, v.MaxLenLimit))
	}
	var tl []string
	for k := range types {
		tl = append(tl, k)
	}
	sort.Strings(tl)
	fmt.Fprintf(&table, "\n%d configs, %d text model types compared (%s), %d mismatches or errors. Multimodal configs: transformers counts the whole model (vision tower included); vLLM reads the text config alone.\n",
		len(cases), len(tl), strings.Join(tl, ", "), bad)
	t.Log("\n" + table.String())
	if out := os.Getenv("RAYVLLM_DIFFERENTIAL_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table.String()), 0o600); err != nil {
			t.Error(err)
		}
	}
}

// differentialWorkers is how many Python processes share the configs: one per
// CPU, at most 4 (each imports torch, transformers and vLLM once, about 1 GiB);
// RAYVLLM_DIFFERENTIAL_WORKERS overrides it.
func differentialWorkers(n int) int {
	w := min(runtime.NumCPU(), 4)
	if v, err := strconv.Atoi(os.Getenv("RAYVLLM_DIFFERENTIAL_WORKERS")); err == nil && v > 0 {
		w = v
	}
	return max(1, min(w, n))
}

// runDifferential reads every case's config.json with transformers and vLLM
// in workers processes (case i goes to worker i mod workers) and returns the
// results by case name.
func runDifferential(py string, cases []diffCase, workers int) (map[string]diffResult, error) {
	shares := make([][]map[string]string, workers)
	for i, c := range cases {
		shares[i%workers] = append(shares[i%workers], map[string]string{"name": c.Name, "dir": c.Dir})
	}
	outs, errs := make([][]byte, workers), make([]error, workers)
	var wg sync.WaitGroup
	for w := range shares {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stdin, _ := json.Marshal(shares[w])
			cmd := exec.Command(py, filepath.Join("testdata", "config_differential.py")) // #nosec G204 -- test venv
			cmd.Stdin = bytes.NewReader(stdin)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				err = fmt.Errorf("%s (worker %d of %d): %v\n%s", py, w+1, workers, err, venvtest.Tail(stderr.String(), 3000))
			}
			outs[w], errs[w] = out, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	got := map[string]diffResult{}
	for _, out := range outs {
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r diffResult
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Name != "" {
				got[r.Name] = r
			}
		}
	}
	return got, nil
}
