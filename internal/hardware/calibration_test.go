package hardware

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
)

// The golden calibration test runs Fit over every start-up record in
// testdata/vllm-observed.json (numbers vLLM printed, copied from public
// issues and notes; see its meta) and prints the error of each predicted
// figure. It asserts the targets: weights within 3% on every record whose
// checkpoint is modelled, KV-cache tokens within 10% median on the V1-engine
// records, and "does not fit" for every record that failed for lack of memory
// (outcome "failed…" or "OOM…"). M13's "error after cache init" was a vLLM
// bug that put the KV cache on one device, not a capacity limit, so it is
// printed but not counted as a deliberate failure.

type calRecord struct {
	ID                   string   `json:"id"`
	Model                string   `json:"model"`
	GPU                  string   `json:"gpu"`
	GPUTotalGiB          *float64 `json:"gpu_total_memory_gib_reported"`
	TP                   int      `json:"tensor_parallel_size"`
	Util                 *float64 `json:"gpu_memory_utilization"`
	MaxModelLen          *int     `json:"max_model_len"`
	BlockSize            *int     `json:"block_size"`
	Engine               string   `json:"engine"`
	Version              *string  `json:"vllm_version"`
	Outcome              string   `json:"outcome"`
	Observed             map[string]any
	ObservedRaw          json.RawMessage `json:"observed"`
	ThroughputReqPerSec  float64
	ThroughputOutPerSec  float64
	ThroughputInputLen   *int `json:"input_len"`
	ThroughputOutputLen  *int `json:"output_len"`
	ThroughputNumPrompts int  `json:"num_prompts"`
}

// calInput says how a record maps onto FitInput: what the record names in
// prose (model, GPU, checkpoint format) and the batch limits the engine of
// that version used. Nothing here is an observed result.
type calInput struct {
	model string // catalog id
	gpu   string // catalog GPU (memory replaced by the reported total when given)
	quant string // FitInput.Quantization
	ckpt  *hfconfig.QuantConfig
	// maxPos overrides max_position_embeddings when the run used rope
	// scaling (vLLM multiplies the length by the YaRN factor).
	maxPos    int
	mbt, seqs int
	skip      string // why the record cannot be modelled
}

var calInputs = map[string]calInput{
	"M03": {model: "meta-llama/Meta-Llama-3-8B", gpu: "H100-80GB-SXM", mbt: 8192, seqs: 256},
	"M04": {model: "meta-llama/Meta-Llama-3-8B", gpu: "H100-80GB-SXM", mbt: 8192, seqs: 256},
	"M05": {model: "meta-llama/Llama-2-7b-hf", gpu: "A100-80GB", mbt: 4096, seqs: 256},
	"M06": {model: "meta-llama/Llama-2-70b-hf", gpu: "A100-80GB", mbt: 4096, seqs: 256},
	"M07": {model: "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", gpu: "RTX-4090", mbt: 2048, seqs: 256},
	// V1 records from `vllm serve` on H100: max_num_batched_tokens 8192, max_num_seqs 1024.
	"M08": {model: "Qwen/Qwen3-235B-A22B-FP8", gpu: "H100-80GB-SXM", mbt: 8192, seqs: 1024},
	// 5.2 GiB of weights for "Qwen2.5-7B" on 8 GB: a 4-bit AWQ checkpoint.
	"M10": {model: "Qwen/Qwen2.5-7B-Instruct-AWQ", gpu: "RTX-4060", mbt: 4096, seqs: 256},
	// 0.5.3 had no chunked prefill by default: the profile ran 131072 tokens.
	"M11": {model: "meta-llama/Llama-3.1-405B-Instruct-FP8", gpu: "H100-80GB-SXM", mbt: 131072, seqs: 256},
	"M12": {model: "codellama/CodeLlama-13b-hf", gpu: "RTX-4090", quant: "fp16", mbt: 16384, seqs: 16},
	"M13": {model: "deepseek-ai/deepseek-coder-6.7b-instruct", gpu: "T4", quant: "fp16", mbt: 16384, seqs: 256},
	"M14": {model: "Qwen/Qwen2.5-VL-72B-Instruct", gpu: "A100-40GB", mbt: 2048, seqs: 256},
	"M20": {model: "microsoft/phi-4", gpu: "A100-80GB", quant: "bitsandbytes", mbt: 2048, seqs: 320},
	"M21": {model: "microsoft/phi-4", gpu: "A100-80GB", quant: "gptq", mbt: 2048, seqs: 256},
	"M22": {model: "unsloth/Qwen2.5-0.5B-Instruct-bnb-4bit", gpu: "RTX-4090", mbt: 32768, seqs: 320,
		skip: "unsloth's dynamic 4-bit checkpoint keeps an unpublished set of layers in bf16"},
	"M25": {model: "meta-llama/Llama-3.1-8B", gpu: "A10", mbt: 2048, seqs: 256},
	"M26": {skip: "GGUF checkpoints are not modelled"},
	"M27": {model: "Qwen/Qwen3-30B-A3B", gpu: "T4", quant: "fp16", maxPos: 131072, mbt: 2048, seqs: 256},
	// `vllm serve` (the worker context) on an A100: 2048/256.
	"M28": {model: "openai/gpt-oss-20b", gpu: "A100-80GB", mbt: 2048, seqs: 256},
	"M29": {skip: "google/gemma-4-26B-A4B is not in the catalog"},
	"M30": {model: "Qwen/Qwen3-8B", gpu: "H100-80GB-SXM", mbt: 8192, seqs: 1024},
	"M31": {model: "Qwen/Qwen3-32B", gpu: "H100-80GB-SXM", mbt: 8192, seqs: 1024},
	"M32": {model: "meta-llama/Llama-3.1-70B", gpu: "H100-80GB-SXM", mbt: 8192, seqs: 1024},
	// GPU not named; 9930 blocks of Llama-3.1-8B at 0.9 imply a 40 GB A100.
	"M33": {model: "meta-llama/Llama-3.1-8B", gpu: "A100-40GB", mbt: 2048, seqs: 256},
	"M34": {model: "meta-llama/Llama-3.1-8B", gpu: "A100-40GB", ckpt: &hfconfig.QuantConfig{Method: "gptq", Bits: 4, GroupSize: 128, ZeroPoint: true}, mbt: 2048, seqs: 256},
	"M35": {model: "meta-llama/Llama-3.1-8B", gpu: "A100-40GB", ckpt: &hfconfig.QuantConfig{Method: "gptq", Bits: 4, GroupSize: 128}, mbt: 2048, seqs: 256},
	"M36": {model: "meta-llama/Llama-3.1-8B", gpu: "A100-40GB", ckpt: &hfconfig.QuantConfig{Method: "awq", Bits: 4, GroupSize: 128, ZeroPoint: true}, mbt: 2048, seqs: 256},
	"M37": {model: "microsoft/Phi-3-mini-128k-instruct", gpu: "A40", mbt: 200000, seqs: 256},
	"M38": {model: "microsoft/Phi-3.5-MoE-instruct", gpu: "A100-40GB", mbt: 200000, seqs: 256},
	"M40": {model: "meta-llama/Llama-2-7b-hf", gpu: "MI300X", quant: "fp16", mbt: 4096, seqs: 256},
}

func loadCalibration(t testing.TB) []calRecord {
	t.Helper()
	b, err := os.ReadFile("testdata/vllm-observed.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Memory []calRecord `json:"memory"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for i := range f.Memory {
		if err := json.Unmarshal(f.Memory[i].ObservedRaw, &f.Memory[i].Observed); err != nil {
			t.Fatal(err)
		}
	}
	return f.Memory
}

// obsFloat reads the first of keys that holds a number, or a string that
// starts with one ("33.66 per GPU (x2)").
func obsFloat(o map[string]any, keys ...string) (float64, bool) {
	for _, k := range keys {
		switch v := o[k].(type) {
		case float64:
			return v, true
		case string:
			f := strings.Fields(v)
			if len(f) > 0 {
				if x, err := strconv.ParseFloat(f[0], 64); err == nil {
					return x, true
				}
			}
		}
	}
	return 0, false
}

type calRow struct {
	id, engine                string
	weights, kvGiB, kvTokens  float64 // relative errors; NaN = not observed
	failed, predictedFits, ok bool
	line                      string
}

func calibrationInput(r calRecord, ci calInput) (FitInput, error) {
	m, err := hfconfig.LookupModel(ci.model)
	if err != nil {
		return FitInput{}, err
	}
	if ci.ckpt != nil {
		m.Quantization = ci.ckpt
	}
	if ci.maxPos > 0 {
		m.MaxPositionEmbeddings, m.RopePositions = ci.maxPos, ci.maxPos
	}
	g, err := catalog.LookupGPU(ci.gpu)
	if err != nil {
		return FitInput{}, err
	}
	if r.GPUTotalGiB != nil {
		g.MemoryGiB = *r.GPUTotalGiB
	}
	in := FitInput{Model: m, GPU: g, TensorParallelSize: r.TP, Quantization: ci.quant, MaxNumBatchedTokens: ci.mbt, MaxNumSeqs: ci.seqs, VLLMVersion: recordRelease(r)}
	if r.Util != nil {
		in.GPUMemoryUtilization = *r.Util
	}
	if r.MaxModelLen != nil {
		in.MaxModelLen = *r.MaxModelLen
	}
	if r.BlockSize != nil {
		in.BlockSize = *r.BlockSize
	}
	return in, nil
}

// recordRelease is the vLLM release a record printed, as FitInput takes
// it: its own version where it names a V1-era release (0.8 or later,
// "0.8.5 (docker …)" → "0.8.5"); otherwise (V0 releases, "~0.7.x", none
// given) 0.11.0, a release with the V1 accounting the constants were
// fitted to. Every such record predates 0.19, so the fallback changes no
// release-dependent term.
func recordRelease(r calRecord) string {
	if r.Version != nil {
		if v := releaseRE.FindString(*r.Version); v != "" && !strings.HasPrefix(*r.Version, "~") {
			if _, err := parseVLLMVersion(v); err == nil {
				return v
			}
		}
	}
	return "0.11.0"
}

var releaseRE = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?`)

func relErr(pred, obs float64) float64 { return (pred - obs) / math.Abs(obs) }

func runCalibration(t testing.TB) []calRow {
	mem := loadCalibration(t)
	var rows []calRow
	for _, r := range mem {
		ci, ok := calInputs[r.ID]
		if !ok {
			t.Fatalf("record %s has no mapping in calInputs", r.ID)
		}
		row := calRow{id: r.ID, engine: r.Engine, weights: math.NaN(), kvGiB: math.NaN(), kvTokens: math.NaN(),
			failed: strings.HasPrefix(r.Outcome, "failed") || strings.Contains(r.Outcome, "OOM")}
		if ci.skip != "" {
			row.line = fmt.Sprintf("%-4s %-3s not modelled: %s", r.ID, r.Engine, ci.skip)
			rows = append(rows, row)
			continue
		}
		in, err := calibrationInput(r, ci)
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		res, err := Fit(in)
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		row.ok, row.predictedFits = true, res.Fits
		var parts []string
		if w, ok := obsFloat(r.Observed, "weights_gib"); ok {
			row.weights = relErr(res.WeightsGiB, w)
			parts = append(parts, fmt.Sprintf("weights %.2f/%.2f GiB (%+.1f%%)", res.WeightsGiB, w, 100*row.weights))
		}
		if kv, ok := obsFloat(r.Observed, "kv_cache_gib", "available_kv_cache_gib", "available_kv_cache_gb_as_printed"); ok {
			row.kvGiB = relErr(res.KVCacheGiB, kv)
			parts = append(parts, fmt.Sprintf("KV %.2f/%.2f GiB (%+.1f%%)", res.KVCacheGiB, kv, 100*row.kvGiB))
		}
		tokens, ok := obsFloat(r.Observed, "kv_cache_tokens")
		if !ok {
			if b, okb := obsFloat(r.Observed, "gpu_blocks"); okb && b > 0 {
				tokens, ok = b*float64(max(in.BlockSize, 16)), true
			}
		}
		if ok {
			row.kvTokens = relErr(float64(res.KVCacheTokens), tokens)
			parts = append(parts, fmt.Sprintf("KV tokens %d/%.0f (%+.1f%%)", res.KVCacheTokens, tokens, 100*row.kvTokens))
		}
		verdict := "fits"
		if !res.Fits {
			verdict = fmt.Sprintf("does not fit (short %.2f GiB)", res.ShortfallGiB)
		}
		row.line = fmt.Sprintf("%-4s %-3s %-42s %s; predicted %s; observed %q", r.ID, r.Engine, ci.model, strings.Join(parts, ", "), verdict, r.Outcome)
		rows = append(rows, row)
	}
	return rows
}

type errStats struct {
	n              int
	median, worst  float64
	worstID, label string
}

func stats(rows []calRow, label string, pick func(calRow) float64, keep func(calRow) bool) errStats {
	s := errStats{label: label}
	var v []float64
	for _, r := range rows {
		x := pick(r)
		if math.IsNaN(x) || !keep(r) {
			continue
		}
		v = append(v, math.Abs(x))
		if math.Abs(x) > s.worst {
			s.worst, s.worstID = math.Abs(x), r.id
		}
	}
	s.n = len(v)
	if s.n == 0 {
		return s
	}
	sort.Float64s(v)
	if s.n%2 == 1 {
		s.median = v[s.n/2]
	} else {
		s.median = (v[s.n/2-1] + v[s.n/2]) / 2
	}
	return s
}

func (s errStats) String() string {
	return fmt.Sprintf("%-22s n=%2d  median %5.1f%%  worst %5.1f%% (%s)", s.label, s.n, 100*s.median, 100*s.worst, s.worstID)
}

func TestCalibration(t *testing.T) {
	rows := runCalibration(t)
	for _, r := range rows {
		t.Log(r.line)
	}
	isV1 := func(r calRow) bool { return r.engine == "V1" }
	all := func(calRow) bool { return true }
	w := func(r calRow) float64 { return r.weights }
	kv := func(r calRow) float64 { return r.kvGiB }
	tok := func(r calRow) float64 { return r.kvTokens }
	summary := []errStats{
		stats(rows, "weights, V1", w, isV1), stats(rows, "weights, all", w, all),
		stats(rows, "KV GiB, V1", kv, isV1), stats(rows, "KV GiB, all", kv, all),
		stats(rows, "KV tokens, V1", tok, isV1), stats(rows, "KV tokens, all", tok, all),
	}
	for _, s := range summary {
		t.Log(s)
	}
	if s := stats(rows, "", w, all); s.worst > 0.03 {
		t.Errorf("weights: worst error %.1f%% (%s) exceeds the 3%% target", 100*s.worst, s.worstID)
	}
	if s := stats(rows, "", tok, isV1); s.n < 3 || s.median > 0.10 {
		t.Errorf("KV tokens on V1 records: median error %.1f%% over %d records; target is within 10%%", 100*s.median, s.n)
	}
	for _, r := range rows {
		if r.failed && r.ok && r.predictedFits {
			t.Errorf("%s failed in vLLM for lack of memory but is predicted to fit", r.id)
		}
		if r.failed && !r.ok {
			t.Errorf("%s is a deliberate failure that the model cannot evaluate", r.id)
		}
	}
}
