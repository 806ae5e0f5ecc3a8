package hardware

import (
	"fmt"
	"math"
	"sort"
	"testing"
)

// throughputCase maps a throughput record onto the sizing model. The
// workload means come from the record (ShareGPT runs: total input tokens /
// prompts and output tokens/s ÷ requests/s); running is the number of
// sequences the engine ran at once (the client's max_concurrency, capped by
// the engine's max_num_seqs: 256 by default in V0).
type throughputCase struct {
	model, gpu, quant string
	tp, in, out       int
	running           int
	mml               int
}

var throughputCases = map[string]throughputCase{
	"T05": {model: "meta-llama/Llama-3.1-70B", gpu: "MI300X", tp: 4, in: 216, out: 187, running: 128, mml: 8192},
	"T06": {model: "meta-llama/Llama-3.1-70B", gpu: "MI300X", tp: 4, in: 216, out: 187, running: 256, mml: 8192},
	"T07": {model: "meta-llama/Llama-3.1-70B", gpu: "MI300X", quant: "fp8", tp: 4, in: 216, out: 187, running: 256, mml: 8192},
	"T08": {model: "meta-llama/Llama-3.1-70B", gpu: "MI300X", quant: "fp8", tp: 1, in: 216, out: 187, running: 512, mml: 32768},
	"T10": {model: "meta-llama/Llama-3.1-8B", gpu: "A100-40GB", tp: 1, in: 100, out: 250, running: 256, mml: 512},
	"T11": {model: "meta-llama/Llama-3.1-8B", gpu: "A100-40GB", quant: "gptq", tp: 1, in: 100, out: 250, running: 256, mml: 512},
	"T12": {model: "huggyllama/llama-7b", gpu: "A100-80GB", quant: "fp16", tp: 1, in: 216, out: 187, running: 256, mml: 2048},
}

// throughputRatios returns predicted ÷ observed requests/s per record.
func throughputRatios(t testing.TB) (ids []string, ratios []float64) {
	_, thr := loadCalibration(t)
	for _, r := range thr {
		c, ok := throughputCases[r.ID]
		if !ok {
			t.Fatalf("throughput record %s has no mapping", r.ID)
		}
		m, err := LookupModel(c.model)
		if err != nil {
			t.Fatal(err)
		}
		g, err := LookupGPU(c.gpu)
		if err != nil {
			t.Fatal(err)
		}
		e, err := resolveEngine(FitInput{Model: m, GPU: g, TensorParallelSize: c.tp, Quantization: c.quant, MaxModelLen: c.mml,
			MaxNumSeqs: c.running, MaxNumBatchedTokens: max(c.running, 2048)})
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		obs, ok := obsFloat(r.Observed, "requests_per_s")
		if !ok {
			t.Fatalf("%s: no requests_per_s", r.ID)
		}
		ids = append(ids, r.ID)
		ratios = append(ratios, e.replicaRequestsPerSecond(c.running, c.in, c.out)/obs)
	}
	return ids, ratios
}

func medianAbsLog(r []float64) float64 {
	v := make([]float64, len(r))
	for i, x := range r {
		v[i] = math.Abs(math.Log(x))
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// TestThroughputCalibration prints predicted ÷ observed throughput for
// every record and checks that decodeBandwidthEfficiency is the value
// that best fits them (the grid minimum of the median |log ratio|) and
// that the median error stays within a factor of 1.35.
func TestThroughputCalibration(t *testing.T) {
	ids, ratios := throughputRatios(t)
	for i := range ids {
		t.Logf("%s predicted/observed requests/s = %.2f", ids[i], ratios[i])
	}
	got := medianAbsLog(ratios)
	t.Logf("median |error| factor %.2f with decodeBandwidthEfficiency %.2f, prefillMFU %.2f", math.Exp(got), decodeBandwidthEfficiency, prefillMFU)
	if math.Exp(got) > 1.35 {
		t.Errorf("median throughput error is a factor %.2f; want within 1.35", math.Exp(got))
	}
	saved := decodeBandwidthEfficiency
	defer func() { decodeBandwidthEfficiency = saved }()
	best, bestErr := 0.0, math.Inf(1)
	for eff := 0.10; eff <= 0.885; eff += 0.01 {
		decodeBandwidthEfficiency = eff
		_, r := throughputRatios(t)
		if e := medianAbsLog(r); e < bestErr-1e-9 {
			best, bestErr = eff, e
		}
	}
	t.Logf("grid best decodeBandwidthEfficiency %.2f (median |error| factor %.2f)", best, math.Exp(bestErr))
	if math.Abs(best-saved) > 0.05 {
		t.Errorf("decodeBandwidthEfficiency %.2f is not the fitted value %.2f", saved, best)
	}
	_ = fmt.Sprint
}
