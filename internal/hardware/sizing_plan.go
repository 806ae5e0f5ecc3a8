package hardware

import (
	"fmt"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// Plan levels: the throughput a budget is planned on.
const (
	PlanTypical = "typical" // the model's prediction
	PlanSafe    = "safe"    // the low end of the range (default)
)

// PlanLevels are the valid plan_for values.
var PlanLevels = []string{PlanSafe, PlanTypical}

// calibratedGPUs are the GPU chips (gpuGroup) with throughput records in
// the calibration set; TestCalibratedGPUs keeps the list equal to the
// records.
var calibratedGPUs = []string{"A100-80GB", "H100", "H200", "L40S", "MI300X", "MI355X", "RTX-4090"}

// gpuGroup is the GPU chip: the three H100 variants share the GH100 die
// (grouped cross-validation holds them out together).
func gpuGroup(name string) string {
	if strings.HasPrefix(name, "H100") {
		return "H100"
	}
	return name
}

// groupedWorstFactor is the largest factor by which a grouped-CV
// prediction missed (TestThroughputGroupedCV): where the workload lies
// outside what the records cover, the range widens to it.
const groupedWorstFactor = 1.73

// throughputRange is observed ÷ predicted at the low and high end for this
// engine, and why it is wider than the grouped-CV band where it is.
func (e engine) throughputRange() (low, high float64, why []string) {
	low, high = groupedRatioLow, groupedRatioHigh
	known := false
	for _, g := range calibratedGPUs {
		known = known || g == gpuGroup(e.g.Name)
	}
	if !known {
		why = append(why, fmt.Sprintf("%s has no throughput records", e.g.Name))
	}
	if e.tp > 1 {
		why = append(why, fmt.Sprintf("tensor_parallel_size %d (TP runs are 13 of 34 records; the TP terms are fitted on them)", e.tp))
	}
	if e.m.NumExperts > 0 {
		why = append(why, "a mixture-of-experts model (one fitted MoE efficiency for every router)")
	}
	if e.g.Vendor == "amd" {
		why = append(why, "an AMD GPU (ROCm kernels differ by version more than CUDA ones)")
	}
	if len(why) > 0 {
		low, high = 1/groupedWorstFactor, groupedWorstFactor
	}
	return low, high, why
}

// smallerBatch halves max_num_seqs (down to 16), then, when lowerMBT,
// max_num_batched_tokens (down to 1024), until the engine fits: the
// activation and sampler peaks that vLLM profiles grow with both. It
// returns the first that fits (nil when none does).
func (e engine) smallerBatch(lowerMBT bool) (*FitResult, int, int) {
	in := e.in
	seqs, mbt := e.seqs, e.mbt
	for seqs > 16 || (lowerMBT && mbt > 1024) {
		if seqs > 16 {
			seqs /= 2
		} else {
			mbt /= 2
		}
		in.MaxNumSeqs, in.MaxNumBatchedTokens = seqs, max(mbt, seqs)
		if f := fitsWith(in); f != nil {
			return f, seqs, in.MaxNumBatchedTokens
		}
	}
	return nil, 0, 0
}

func validPlanFor(p string) (string, error) {
	if p == "" {
		return PlanSafe, nil
	}
	for _, v := range PlanLevels {
		if v == p {
			return p, nil
		}
	}
	return "", &input.InputError{Attribute: "plan_for", Message: fmt.Sprintf("unknown plan level %q%s; valid: %s", p, input.DidYouMean(p, PlanLevels), strings.Join(PlanLevels, ", "))}
}
