package hardware

import (
	"fmt"
	"sort"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

// fitsWith re-runs the fit with a changed input; nil when invalid or no fit.
func fitsWith(in FitInput) *FitResult {
	e, err := resolveEngine(in)
	if err != nil {
		return nil
	}
	r := e.fit()
	if !r.Fits {
		return nil
	}
	return &r
}

// suggest lists the nearest changes that would make vLLM start, each found
// by re-running the fit: the longest max_model_len that fits, fp8 KV cache,
// the lightest quantization step, the smallest larger tensor-parallel size,
// the smallest larger catalog GPU and a higher gpu_memory_utilization.
func (e engine) suggest(r FitResult) []string {
	var s []string
	in := e.in
	// The longest max_model_len the KV cache holds (vLLM prints the same).
	if r.KVCacheGiB > 0 {
		kv := r.KVCacheGiB * catalog.GiB
		lo, hi := 0, e.mml
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if e.requestKVBytes(mid) <= kv {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		if lo >= e.block {
			s = append(s, fmt.Sprintf("max_model_len = %d (the longest request this KV cache holds; vLLM suggests the same)", lo))
		}
	}
	if e.kvDType == "auto" && e.kvBytes > 1 {
		c := in
		c.KVCacheDType = "fp8"
		if f := fitsWith(c); f != nil {
			s = append(s, fmt.Sprintf("kv_cache_dtype = \"fp8\" (halves the KV cache per token; %d tokens)", f.KVCacheTokens))
		}
	}
	if e.m.Quantization == nil {
		steps := []string{"fp8", "int8", "int4"}
		if e.prec.DTypeBytes > 2 {
			half := "bf16"
			if !e.g.SupportsBF16() {
				half = "fp16"
			}
			steps = append([]string{half}, steps...)
		}
		for _, q := range steps {
			if q == e.quantName || (e.prec.Quant != nil && (userQuant(q) == nil || bytesPerParam(userQuant(q), 4096) >= bytesPerParam(e.prec.Quant, 4096))) {
				continue
			}
			c := in
			c.Quantization = q
			if in.RayLabels && q == "int8" {
				continue // no vLLM method; int4 stands for an AWQ or GPTQ checkpoint
			}
			if f := fitsWith(c); f != nil {
				if in.RayLabels && q == "int4" {
					s = append(s, fmt.Sprintf("a 4-bit AWQ or GPTQ checkpoint of %s (weights %.2f GiB instead of %.2f GiB per GPU; %d KV tokens)", e.m.ID, f.WeightsGiB, r.WeightsGiB, f.KVCacheTokens))
				} else {
					s = append(s, fmt.Sprintf("quantization = %q (weights %.2f GiB instead of %.2f GiB per GPU; %d KV tokens)", q, f.WeightsGiB, r.WeightsGiB, f.KVCacheTokens))
				}
				break
			}
		}
	}
	maxTP := 16
	if in.MaxTensorParallel > 0 {
		maxTP = in.MaxTensorParallel
	}
	for _, tp := range validTPs(e.m, maxTP) {
		if tp <= e.tp {
			continue
		}
		c := in
		c.TensorParallelSize = tp
		if f := fitsWith(c); f != nil {
			s = append(s, fmt.Sprintf("tensor_parallel_size = %d (%d GPUs per replica, weights %.2f GiB per GPU, %d KV tokens)", tp, tp, f.WeightsGiB, f.KVCacheTokens))
			break
		}
	}
	gpus := catalog.GPUs()
	sort.SliceStable(gpus, func(i, j int) bool { return gpus[i].MemoryGiB < gpus[j].MemoryGiB })
	for _, g := range gpus {
		if g.MemoryGiB <= e.g.MemoryGiB {
			continue
		}
		it, onEC2 := smallestInstance(g.Name, e.tp)
		if in.EC2Only && !onEC2 {
			continue
		}
		label, _, _ := catalog.RayLabel(g.Name)
		if in.RayLabels && label == "" {
			continue
		}
		c := in
		c.GPU = g
		if f := fitsWith(c); f != nil {
			if in.RayLabels {
				s = append(s, fmt.Sprintf("accelerator_type = %q (%s, %.2f GiB; %d KV tokens)", label, g.Name, g.MemoryGiB, f.KVCacheTokens))
			} else if in.EC2Only {
				s = append(s, fmt.Sprintf("instance_type = %q (%s, %.2f GiB; %d KV tokens)", it.Name, g.Name, g.MemoryGiB, f.KVCacheTokens))
			} else {
				s = append(s, fmt.Sprintf("gpu = %q (%.2f GiB; %d KV tokens)", g.Name, g.MemoryGiB, f.KVCacheTokens))
			}
			break
		}
	}
	if e.in.GPUMemoryUtilization < 0.95 {
		c := in
		c.GPUMemoryUtilization = 0.95
		if f := fitsWith(c); f != nil {
			s = append(s, fmt.Sprintf("gpu_memory_utilization = 0.95 (%d KV tokens; leaves %.2f GiB for the CUDA context and graphs)", f.KVCacheTokens, 0.05*e.g.MemoryGiB))
		}
	}
	if f, seqs, mbt := e.smallerBatch(true); f != nil {
		s = append(s, fmt.Sprintf("max_num_seqs = %d, max_num_batched_tokens = %d (the profiled activation peak shrinks to %.2f GiB; %d KV tokens)", seqs, mbt, f.ActivationPeakGiB, f.KVCacheTokens))
	}
	return s
}

// smallestInstance is the cheapest EC2 instance type with at least gpus GPUs
// of the catalog GPU name.
func smallestInstance(name string, gpus int) (catalog.InstanceType, bool) {
	var best catalog.InstanceType
	found := false
	for _, it := range catalog.Instances() {
		if it.GPU == name && it.GPUCount >= gpus && (!found || it.PriceUSDPerHour < best.PriceUSDPerHour) {
			best, found = it, true
		}
	}
	return best, found
}
