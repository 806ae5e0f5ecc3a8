package hardware

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
)

// The added throughput records (testdata/vllm-throughput-observed-amd.json):
// MI300X ×8 with FP8 Llama-3.1-70B/405B (ROCm's dev-docker table) and one
// MI355X with Llama-3.1-8B in bf16, fp8 and mxfp4 (a ROCm blog's appendix).
var addedCases = func() map[string]thrCase {
	mi300 := func(model string, seqs int) thrCase {
		return thrCase{model: model, quant: "fp8", kv: "fp8", gpu: "MI300X", tp: 8, context: EngineContextLLMClass, version: "0.10.0",
			mml: 8192, seqs: seqs, mbt: 131072, util: 0.9, lengths: lengthsFixed}
	}
	mi355 := func(quant, context string) thrCase {
		return thrCase{model: "meta-llama/Llama-3.1-8B-Instruct", quant: quant, gpu: "MI355X", context: context, version: "0.20.1",
			mml: 1280, util: 0.85, lengths: lengthsFixed}
	}
	const w4a6 = "W4A6 (MXFP4 weights × MXFP6 activations) runs the authors' own kernels (confidence low); not a vLLM quantization a user can choose"
	const qwen36 = "Qwen3.6-27B is not in the model catalog"
	return map[string]thrCase{
		"N09": mi300("meta-llama/Llama-3.1-70B-Instruct", 3200), "N10": mi300("meta-llama/Llama-3.1-70B-Instruct", 1500),
		"N11": mi300("meta-llama/Llama-3.1-70B-Instruct", 2000), "N12": mi300("meta-llama/Llama-3.1-70B-Instruct", 1500),
		"N13": mi300("meta-llama/Llama-3.1-405B", 1500), "N14": mi300("meta-llama/Llama-3.1-405B", 1500),
		"N15": mi300("meta-llama/Llama-3.1-405B", 2000), "N16": mi300("meta-llama/Llama-3.1-405B", 500),
		"N17": mi355("", EngineContextLLMClass), "N18": mi355("fp8", EngineContextLLMClass), "N19": {skip: "a Quark MXFP4 (W4A4) checkpoint: not a quantization the engine settings offer, and the catalog has no such checkpoint"},
		"N20": {skip: w4a6}, "N24": {skip: w4a6},
		"N21": {skip: qwen36}, "N22": {skip: qwen36}, "N23": {skip: qwen36}, "N27": {skip: qwen36}, "N28": {skip: qwen36},
		"N25": mi355("", EngineContextWorker), "N26": mi355("fp8", EngineContextWorker),
	}
}()

// heldOut is the set of record ids a fit leaves out (nil: none).
type heldOut map[string]bool

func (h heldOut) has(id string) bool { return h[id] }

// modelGroup is the model a record ran, whatever its quantization: the
// catalog id without the organisation and without -Instruct, -FP8, -AWQ
// suffixes (Qwen3-14B, -FP8 and -AWQ are one group; gpt-oss-20b and -120b
// are two models of different size and are two groups).
func modelGroup(id string) string {
	s := strings.ToLower(id[strings.Index(id, "/")+1:])
	for _, suf := range []string{"-awq-4bit", "-fp8-kv", "-fp8", "-awq", "-instruct"} {
		s = strings.TrimSuffix(s, suf)
	}
	return strings.TrimSuffix(s, "-instruct")
}

// lineageGroup is the stricter grouping reported next to it: one
// architecture lineage per group (all Qwen3 dense sizes together, all
// Llama 3 sizes together), so the fit has never seen that kind of model.
func lineageGroup(id string) string {
	s := modelGroup(id)
	switch {
	case strings.HasPrefix(s, "qwen3") && strings.Contains(s, "a3b"):
		return "qwen3-moe"
	case strings.HasPrefix(s, "qwen3"):
		return "qwen3-dense"
	case strings.HasPrefix(s, "qwen2.5"):
		return "qwen2.5"
	case strings.HasPrefix(s, "gpt-oss"):
		return "gpt-oss"
	case strings.Contains(s, "llama-3"):
		return "llama-3"
	}
	return s
}

type groupedResult struct {
	by      string
	ratios  map[string]float64 // record → predicted ÷ observed, fitted without its group
	groupOf map[string]string
	median  float64
	worst   float64
	folds   []throughputConstants // the constants fitted without each group
}

// groupedCV fits the constants once per group with every throughput and
// step-time record of that group left out, and predicts the group's V1
// throughput records.
func groupedCV(thr []thrPoint, steps []stepPoint, by string, group func(e engine) string) groupedResult {
	r := groupedResult{by: by, ratios: map[string]float64{}, groupOf: map[string]string{}}
	members := map[string]heldOut{}
	for _, p := range thr {
		g := group(p.e)
		r.groupOf[p.id] = g
		if members[g] == nil {
			members[g] = heldOut{}
		}
		members[g][p.id] = true
	}
	for _, p := range steps {
		if g := group(p.e); members[g] != nil {
			members[g][p.id] = true
		}
	}
	for _, held := range members {
		k := fitConstants(thr, steps, held)
		r.folds = append(r.folds, k)
		for _, p := range thr {
			if held.has(p.id) && p.v0 == "" {
				r.ratios[p.id] = p.predict(k) / p.observed
			}
		}
	}
	var errs []float64
	r.worst = 1
	for _, x := range r.ratios {
		errs = append(errs, math.Abs(x-1))
		r.worst = math.Max(r.worst, math.Max(x, 1/x))
	}
	r.median = quantile(errs, 0.5)
	return r
}

// TestThroughputGroupedCV is the gate on unseen work: grouped
// cross-validation by model and by GPU, each group's step-time records
// held out with it. It fails when either median |error| exceeds 25% or
// any record is off by 2× or more. The stricter lineage grouping is
// reported, not gated.
func TestThroughputGroupedCV(t *testing.T) {
	t.Parallel()
	thr, _ := throughputPoints(t)
	steps, _ := stepPoints(t)
	results := []groupedResult{
		groupedCV(thr, steps, "model", func(e engine) string { return modelGroup(e.m.ID) }),
		groupedCV(thr, steps, "GPU", func(e engine) string { return gpuGroup(e.g.Name) }),
		groupedCV(thr, steps, "lineage", func(e engine) string { return lineageGroup(e.m.ID) }),
	}
	table := groupedTable(thr, results)
	t.Log("\n" + table)
	if path := os.Getenv("CALIBRATION_TABLE"); path != "" {
		writeBetweenMarkers(t, path, "grouped-table", table)
	}
	// How firmly the data pins each constant: its spread over the folds.
	for _, p := range fitParams {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range results {
			for _, k := range r.folds {
				lo, hi = math.Min(lo, *p.get(&k)), math.Max(hi, *p.get(&k))
			}
		}
		t.Logf("%s over the %d grouped folds: %.4g–%.4g (plausible range %g–%g)", p.name, len(results[0].folds)+len(results[1].folds)+len(results[2].folds), lo, hi, p.lo, p.hi)
	}
	for _, r := range results[:2] {
		t.Logf("grouped by %s: median |error| %.1f%%, worst %.2f×", r.by, r.median*100, r.worst)
		if r.median > 0.25 {
			t.Errorf("grouped by %s: median |error| %.1f%% exceeds 25%%", r.by, r.median*100)
		}
		if r.worst >= 2 {
			t.Errorf("grouped by %s: a record is off by %.2f× (2× or more)", r.by, r.worst)
		}
	}
	t.Logf("grouped by lineage (reported): median |error| %.1f%%, worst %.2f×", results[2].median*100, results[2].worst)
	var obsOverPred []float64
	for _, r := range results[:2] {
		for _, x := range r.ratios {
			obsOverPred = append(obsOverPred, 1/x)
		}
	}
	worst := math.Max(results[0].worst, results[1].worst)
	if math.Abs(worst-groupedWorstFactor) > 0.03 {
		t.Errorf("groupedWorstFactor = %.2f; the grouped CV's worst miss is %.2f×", groupedWorstFactor, worst)
	}
	lo, hi := quantile(obsOverPred, 0.1), quantile(obsOverPred, 0.9)
	t.Logf("observed ÷ predicted, 10th–90th percentile over both groupings: %.2f–%.2f", lo, hi)
	if math.Abs(lo-groupedRatioLow) > 0.03 || math.Abs(hi-groupedRatioHigh) > 0.03 {
		t.Errorf("groupedRatioLow/High = %.2f/%.2f; the grouped spread is %.2f/%.2f", groupedRatioLow, groupedRatioHigh, lo, hi)
	}
}

func groupedTable(thr []thrPoint, results []groupedResult) string {
	var b strings.Builder
	for _, r := range results {
		fmt.Fprintf(&b, "Grouped by %s: median |error| **%.1f%%**, worst **%.2f×**. ", r.by, r.median*100, r.worst)
	}
	b.WriteString("\n\n| Record | Model, GPU | Observed out tok/s |")
	for _, r := range results {
		fmt.Fprintf(&b, " By %s: predicted ÷ observed (group) |", r.by)
	}
	b.WriteString("\n|---|---|---:|" + strings.Repeat("---:|", len(results)) + "\n")
	sorted := append([]thrPoint(nil), thr...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].id < sorted[j].id })
	for _, p := range sorted {
		if p.v0 != "" {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f |", p.id, p.label, p.observed)
		for _, r := range results {
			fmt.Fprintf(&b, " %.2f (%s) |", r.ratios[p.id], r.groupOf[p.id])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestThroughputPairs checks the TP and 8-bit terms on same-model pairs
// that differ in one setting only: the predicted speed-up (second ÷ first,
// output tokens/s, constants fitted on all records) against the observed
// one. TP: R13→R14 (gpt-oss-120b, TP 1→2), R20→R21 (GLM-4.5-Air AWQ on
// H200, TP 1→8). 8-bit: R30→R31 (Qwen3-8B bf16→fp8 on an H100),
// N17→N18 and N25→N26 (Llama-3.1-8B bf16→fp8 on an MI355X, offline and
// served). It fails when a predicted speed-up is off by more than 1.3×.
func TestThroughputPairs(t *testing.T) {
	thr, _ := throughputPoints(t)
	by := map[string]thrPoint{}
	for _, p := range thr {
		by[p.id] = p
	}
	for _, pair := range [][2]string{{"R13", "R14"}, {"R20", "R21"}, {"R30", "R31"}, {"N17", "N18"}, {"N25", "N26"}} {
		a, b := by[pair[0]], by[pair[1]]
		obs := b.observed / a.observed
		pred := b.predict(calibrated) / a.predict(calibrated)
		t.Logf("%s→%s: observed speed-up %.2f×, predicted %.2f×", pair[0], pair[1], obs, pred)
		if r := pred / obs; r > 1.3 || r < 1/1.3 {
			t.Errorf("%s→%s: predicted speed-up %.2f× against %.2f× observed", pair[0], pair[1], pred, obs)
		}
	}
}

// TestCalibratedGPUs: the GPUs that count as calibrated are those with
// V1 throughput records; groupedWorstFactor is the grouped CV's worst
// miss (that one is checked in TestThroughputGroupedCV).
func TestCalibratedGPUs(t *testing.T) {
	thr, _ := throughputPoints(t)
	seen := map[string]bool{}
	for _, p := range thr {
		if p.v0 == "" {
			seen[gpuGroup(p.e.g.Name)] = true
		}
	}
	var got []string
	for g := range seen {
		got = append(got, g)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(calibratedGPUs, ",") {
		t.Errorf("calibratedGPUs = %v; the V1 throughput records cover %v", calibratedGPUs, got)
	}
}
