package hardware

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// cpu_offload_gb moves that much of each GPU's decoder-layer weights to CPU
// memory, never the embedding or lm_head, and sizing refuses it.
func TestCPUOffload(t *testing.T) {
	in := FitInput{Model: mustModel(t, "meta-llama/Llama-3.1-8B"), GPU: mustGPU(t, "T4"), MaxModelLen: 4096}
	base, err := Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	if base.Fits || base.CPUOffloadGiB != 0 {
		t.Fatalf("8B in BF16 (%.2f GiB of weights) on a 16 GB T4 must not fit without offload: %+v", base.WeightsGiB, base)
	}
	in.CPUOffloadGiB = 8
	off, err := Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	if !off.Fits || math.Abs(base.WeightsGiB-off.WeightsGiB-8) > 1e-9 || off.CPUOffloadGiB != 8 {
		t.Fatalf("with cpu_offload_gb 8: fits %v, weights %.3f GiB (was %.3f), offloaded %.3f GiB; want it to fit with 8 GiB fewer resident", off.Fits, off.WeightsGiB, base.WeightsGiB, off.CPUOffloadGiB)
	}
	if math.Abs(off.KVCacheGiB-base.KVCacheGiB-8) > 1e-9 {
		t.Fatalf("the offloaded GiB go to the KV cache: %.3f GiB, was %.3f", off.KVCacheGiB, base.KVCacheGiB)
	}

	// More than the layers hold: the embedding and lm_head stay (2 × 128256
	// × 4096 BF16 values, 1.96 GiB, plus the final norm and the rope cache).
	in.CPUOffloadGiB = 1000
	all, err := Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	emb := 2 * 128256.0 * 4096 * 2 / (1 << 30)
	if all.WeightsGiB < emb || all.WeightsGiB > emb+0.1 || all.CPUOffloadGiB >= 1000 {
		t.Fatalf("offload capped at the layers: resident %.3f GiB (embedding and lm_head %.3f), offloaded %.3f", all.WeightsGiB, emb, all.CPUOffloadGiB)
	}

	for _, bad := range []float64{-1, math.NaN()} {
		in.CPUOffloadGiB = bad
		var ie *input.InputError
		if _, err := Fit(in); !errors.As(err, &ie) || ie.Attribute != "cpu_offload_gb" {
			t.Fatalf("cpu_offload_gb %g: got %v, want an InputError naming cpu_offload_gb", bad, err)
		}
	}

	in.CPUOffloadGiB = 8
	_, err = Size(SizingInput{Fit: in, Workload: Workload{NumRequests: 1000, MeanInputTokens: 500, MeanOutputTokens: 100}, GPUs: 1})
	var ie *input.InputError
	if !errors.As(err, &ie) || ie.Attribute != "cpu_offload_gb" || !strings.Contains(ie.Message, "sizing does not model cpu_offload_gb") {
		t.Fatalf("sizing with cpu_offload_gb: got %v, want a refusal naming cpu_offload_gb", err)
	}
}
