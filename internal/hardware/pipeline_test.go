package hardware

import (
	"errors"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// A pipeline stage holds ceil(layers/pp) of the layers: its weights drop to
// about half at pp = 2 (the embedding stays whole), and the freed memory
// and halved per-token KV cache more than double the KV tokens.
func TestPipelineParallelSplitsLayers(t *testing.T) {
	in := FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B-Instruct"), GPU: mustGPU(t, "L40S"), MaxModelLen: 8192}
	one, err := Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	in.PipelineParallelSize = 2
	two, err := Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	if r := two.WeightsGiB / one.WeightsGiB; r < 0.5 || r > 0.6 {
		t.Errorf("weights per GPU at pp 2: %.2f GiB, %.2f of pp 1's %.2f GiB; want 0.5 to 0.6 (half the layers, the whole embedding)", two.WeightsGiB, r, one.WeightsGiB)
	}
	if two.KVCacheTokens < 2*one.KVCacheTokens {
		t.Errorf("KV cache tokens at pp 2: %d, want more than twice pp 1's %d", two.KVCacheTokens, one.KVCacheTokens)
	}
	in.PipelineParallelSize = 33 // Llama 3.1 8B has 32 layers
	var ie *input.InputError
	if _, err := Fit(in); !errors.As(err, &ie) || ie.Attribute != "pipeline_parallel_size" {
		t.Errorf("pp 33 of 32 layers: want an input error on pipeline_parallel_size, got %v", err)
	}
}

// A replica spans tp × pp GPUs.
func TestPipelineParallelGPUsPerReplica(t *testing.T) {
	in := SizingInput{
		Fit:      FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B-Instruct"), GPU: mustGPU(t, "L40S"), MaxModelLen: 8192, TensorParallelSize: 2, PipelineParallelSize: 2},
		Workload: Workload{NumRequests: 10000, MeanInputTokens: 1000, MeanOutputTokens: 200}, GPUs: 9,
	}
	r, err := Size(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Concurrency != 2 || r.GPUsUsed != 8 {
		t.Errorf("9 GPUs at tp 2 × pp 2: got %d replicas on %d GPUs, want 2 on 8", r.Concurrency, r.GPUsUsed)
	}
}

func TestCachedPrefixTokens(t *testing.T) {
	for _, tc := range []struct {
		on                bool
		shared, in, block int
		want              float64
	}{
		{true, 1500, 2000, 16, 1488}, // whole blocks only
		{true, 2000, 2000, 16, 1999}, // the last token is always computed
		{true, 10, 2000, 16, 0},      // less than a block
		{false, 1500, 2000, 16, 0},   // caching off
	} {
		if got := cachedPrefixTokens(tc.on, tc.shared, tc.in, tc.block); got != tc.want {
			t.Errorf("cachedPrefixTokens(%v, %d, %d, %d) = %g, want %g", tc.on, tc.shared, tc.in, tc.block, got, tc.want)
		}
	}
}

// A shared system prompt with prefix caching shortens the run; without
// caching it changes nothing.
func TestSharedPrefixShortensRun(t *testing.T) {
	base := SizingInput{
		Fit:      FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B-Instruct"), GPU: mustGPU(t, "h100"), MaxModelLen: 8192},
		Workload: Workload{NumRequests: 100000, MeanInputTokens: 2000, MeanOutputTokens: 100}, GPUs: 1,
	}
	size := func(shared int, caching bool) float64 {
		in := base
		in.Workload.SharedPrefixTokens, in.Workload.PrefixCaching = shared, caching
		r, err := Size(in)
		if err != nil {
			t.Fatal(err)
		}
		return r.HoursToComplete
	}
	none, off, on := size(0, true), size(1500, false), size(1500, true)
	if off != none {
		t.Errorf("prefix caching off: %.3f h, want the same as no shared prefix, %.3f h", off, none)
	}
	if on >= 0.8*none {
		t.Errorf("1500 of 2000 prompt tokens cached: %.3f h, want well under the uncached %.3f h", on, none)
	}
	base.Workload.SharedPrefixTokens = 2001
	var ie *input.InputError
	if _, err := Size(base); !errors.As(err, &ie) || ie.Attribute != "shared_prefix_tokens" {
		t.Errorf("shared_prefix_tokens above mean_input_tokens: want an input error, got %v", err)
	}
}
