package hardware

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// OptionsInput is a workload and the ways it may run, for RankOptions.
type OptionsInput struct {
	Model         hfconfig.Model
	MaxModelLen   int
	Workload      Workload
	SLAHours      float64 // 0: no deadline (one instance per option)
	BudgetUSD     float64 // 0: no budget
	InstanceTypes []string
	Quantizations []string // "" or "none": the checkpoint as it is
	PlanFor       string
	ModelSource   string
	PreparedImage bool
}

// Option is one way to run the batch: an instance type, a quantization and
// a tensor-parallel size, sized by Size at the plan level.
type Option struct {
	InstanceType, GPU, Quantization                  string
	TensorParallelSize, ReplicasPerInstance          int
	Instances, GPUs, MaxNumSeqs, MaxNumBatchedTokens int
	Hours, HoursLow, HoursHigh                       float64
	CostUSD, CostUSDLow, CostUSDHigh                 float64
	MeetsSLA, Feasible                               bool
	Why                                              string // why it is not feasible ("" when it is)
}

// RankOptions sizes every (instance type, quantization, tensor-parallel
// size) for the workload and returns them with the feasible ones first,
// cheapest first at the plan level; the others say why they are out.
func RankOptions(in OptionsInput) ([]Option, error) {
	types := in.InstanceTypes
	if len(types) == 0 {
		for _, it := range catalog.Instances() {
			types = append(types, it.Name)
		}
	}
	quants := in.Quantizations
	if len(quants) == 0 {
		quants = []string{"none", "fp8"}
	}
	if !(in.BudgetUSD >= 0) {
		return nil, &input.InputError{Attribute: "budget_usd", Message: fmt.Sprintf("got %g; must be 0 (none) or a positive amount", in.BudgetUSD)}
	}
	var out []Option
	for _, name := range types {
		it, err := catalog.LookupInstance(name)
		if err != nil {
			return nil, err
		}
		g, err := catalog.LookupGPU(it.GPU)
		if err != nil {
			return nil, err
		}
		for _, q := range quants {
			if !contains(Quantizations, q) {
				return nil, &input.InputError{Attribute: "quantizations", Message: fmt.Sprintf("unknown quantization %q%s; valid: %s", q, input.DidYouMean(q, Quantizations), strings.Join(Quantizations, ", "))}
			}
			for _, tp := range validTPs(in.Model, it.GPUCount) {
				out = append(out, sizeOption(in, it, g, q, tp))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Feasible != out[j].Feasible {
			return out[i].Feasible
		}
		return out[i].Feasible && out[i].CostUSD < out[j].CostUSD
	})
	return out, nil
}

func sizeOption(in OptionsInput, it catalog.InstanceType, g catalog.GPU, q string, tp int) Option {
	o := Option{InstanceType: it.Name, GPU: g.Name, Quantization: q, TensorParallelSize: tp, ReplicasPerInstance: it.GPUCount / tp}
	quant := q
	if q == "none" {
		quant = ""
	}
	si := SizingInput{Fit: FitInput{Model: in.Model, GPU: g, TensorParallelSize: tp, Quantization: quant, MaxModelLen: in.MaxModelLen},
		Workload: in.Workload, SLAHours: in.SLAHours, Instance: &it, PricePerGPUHourUSD: it.PricePerGPUHourUSD(),
		PlanFor: in.PlanFor, ModelSource: in.ModelSource, PreparedImage: in.PreparedImage}
	if in.SLAHours == 0 {
		si.GPUs = o.ReplicasPerInstance * tp // one instance, every replica it holds
	}
	r, err := Size(si)
	if whole := r.InstancesRequired * o.ReplicasPerInstance * tp; err == nil && r.Fit.Fits && in.SLAHours > 0 && whole > r.GPUsUsed {
		// Whole instances are billed: run a replica on every GPU of them.
		si.GPUs = whole
		r, err = Size(si)
	}
	switch {
	case err != nil:
		o.Why = err.Error()
	case !r.Fit.Fits:
		o.Why = "does not fit: " + strings.Join(r.Fit.Reasons, "; ")
	default:
		o.MaxNumSeqs, o.MaxNumBatchedTokens = r.MaxNumSeqs, r.MaxNumBatchedTokens
		o.Instances, o.GPUs = r.InstancesRequired, r.GPUsUsed
		o.Hours, o.HoursLow, o.HoursHigh = r.HoursToComplete, r.HoursFastest, r.HoursSlowest
		o.CostUSD, o.CostUSDLow, o.CostUSDHigh = r.CostUSD, r.CostUSDLow, r.CostUSDHigh
		o.MeetsSLA = r.MeetsSLA
		switch {
		case !r.MeetsSLA:
			o.Why = fmt.Sprintf("misses sla_hours %g: %.2f h at the %s level", in.SLAHours, r.HoursToComplete, r.PlanFor)
		case in.BudgetUSD > 0 && r.CostUSD > in.BudgetUSD:
			o.Why = fmt.Sprintf("over budget_usd %g: $%.2f at the %s level", in.BudgetUSD, r.CostUSD, r.PlanFor)
		default:
			o.Feasible = true
		}
	}
	return o
}
