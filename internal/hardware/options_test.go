package hardware

import (
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

// RankOptions: feasible options cheapest first, each one what Size says for
// its settings; the infeasible ones say why.
func TestRankOptions(t *testing.T) {
	in := OptionsInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B-Instruct"), MaxModelLen: 4096,
		Workload: Workload{NumRequests: 2_000_000, MeanInputTokens: 500, MeanOutputTokens: 200}, SLAHours: 24, BudgetUSD: 2000,
		InstanceTypes: []string{"g5.xlarge", "g6e.xlarge", "p4d.24xlarge", "g4dn.xlarge"}}
	opts, err := RankOptions(in)
	if err != nil {
		t.Fatal(err)
	}
	var feasible, out int
	prev := 0.0
	for i, o := range opts {
		if o.Feasible {
			if out > 0 {
				t.Fatalf("option %d is feasible after an infeasible one", i)
			}
			if o.CostUSD < prev || !o.MeetsSLA || o.CostUSD > 2000 {
				t.Errorf("option %d: %+v", i, o)
			}
			prev = o.CostUSD
			feasible++
			// The same sizing, directly; a replica on every GPU of the
			// whole instances the deadline needs.
			if o.GPUs != o.Instances*o.ReplicasPerInstance*o.TensorParallelSize {
				t.Errorf("option %d leaves GPUs of its instances idle: %+v", i, o)
			}
			it, _ := catalog.LookupInstance(o.InstanceType)
			q := o.Quantization
			if q == "none" {
				q = ""
			}
			r, err := Size(SizingInput{Fit: FitInput{Model: in.Model, GPU: mustGPU(t, it.GPU), TensorParallelSize: o.TensorParallelSize, Quantization: q, MaxModelLen: 4096},
				Workload: in.Workload, SLAHours: 24, GPUs: o.GPUs, Instance: &it, PricePerGPUHourUSD: it.PricePerGPUHourUSD()})
			if err != nil || r.CostUSD != o.CostUSD || r.InstancesRequired != o.Instances {
				t.Errorf("option %d differs from Size: %+v vs cost %.2f, %d instances (%v)", i, o, r.CostUSD, r.InstancesRequired, err)
			}
			continue
		}
		out++
		if o.Why == "" {
			t.Errorf("option %d is out without a reason: %+v", i, o)
		}
	}
	if feasible == 0 || out == 0 {
		t.Fatalf("%d feasible, %d out: %+v", feasible, out, opts)
	}
	// A T4 (turing) cannot run fp8: that option is out with the reason.
	found := false
	for _, o := range opts {
		if o.InstanceType == "g4dn.xlarge" && o.Quantization == "fp8" {
			found = strings.Contains(o.Why, "fp8") || strings.Contains(o.Why, "quantization")
		}
	}
	if !found {
		t.Error("g4dn fp8 should be out, naming the quantization")
	}
	if _, err := RankOptions(OptionsInput{Model: in.Model, Workload: in.Workload, InstanceTypes: []string{"g9.huge"}}); err == nil || !strings.Contains(err.Error(), "instance_type") {
		t.Errorf("unknown instance type: %v", err)
	}
}
