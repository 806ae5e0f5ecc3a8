package catalog

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

func TestLookupGPU(t *testing.T) {
	for in, want := range map[string]string{
		"h100":                    "H100-80GB-SXM",
		"NVIDIA H100 80GB HBM3":   "H100-80GB-SXM",
		"rtx3090":                 "RTX-3090",
		"RTX 3090":                "RTX-3090",
		"NVIDIA GeForce RTX 3090": "RTX-3090",
		"NVIDIA A100-SXM4-80GB":   "A100-80GB",
		"a100-40gb":               "A100-40GB",
		"l40s":                    "L40S",
		"AMD Instinct MI300X":     "MI300X",
		"Tesla T4":                "T4",
		"H100 PCIe":               "H100-80GB-PCIe",
	} {
		g, err := LookupGPU(in)
		if err != nil {
			t.Errorf("LookupGPU(%q): %v", in, err)
			continue
		}
		if g.Name != want {
			t.Errorf("LookupGPU(%q) = %s, want %s", in, g.Name, want)
		}
	}
}

func TestLookupGPUUnknown(t *testing.T) {
	_, err := LookupGPU("H10")
	var ie *input.InputError
	if !errors.As(err, &ie) || ie.Attribute != "gpu" {
		t.Fatalf("want *InputError on gpu, got %v", err)
	}
	for _, want := range []string{`did you mean "H100-`, "RTX-3090", "MI300X", "gpu_memory_gib"} {
		if !strings.Contains(ie.Message, want) {
			t.Errorf("message %q lacks %q", ie.Message, want)
		}
	}
	if _, err := LookupGPU(""); err == nil {
		t.Error("empty name accepted")
	}
}

func TestGPUCatalog(t *testing.T) {
	gs := GPUs()
	if !sort.SliceIsSorted(gs, func(i, j int) bool { return gs[i].Name < gs[j].Name }) {
		t.Error("GPUs() not sorted by name")
	}
	required := []string{"RTX-3090", "RTX-4090", "T4", "A10G", "A10", "L4", "L40S", "A100-40GB", "A100-80GB", "H100-80GB-SXM", "H100-80GB-PCIe", "H200", "B200", "MI300X"}
	for _, n := range required {
		if _, err := LookupGPU(n); err != nil {
			t.Errorf("required GPU %s missing", n)
		}
	}
	seen := map[string]string{}
	for _, g := range gs {
		if g.MemoryGiB <= 0 || g.MemoryGiB > g.NominalMemoryGB || g.BandwidthGBps <= 0 || g.BF16TFLOPS <= 0 || g.Source == "" || g.Architecture == "" {
			t.Errorf("%s: incomplete or inconsistent entry %+v", g.Name, g)
		}
		if g.FP8 != (g.FP8TFLOPS > 0) {
			t.Errorf("%s: FP8 flag disagrees with FP8TFLOPS", g.Name)
		}
		// Every name and alias resolves to exactly one GPU.
		for _, a := range append([]string{g.Name}, g.Aliases...) {
			if other, ok := seen[input.NormName(a)]; ok && other != g.Name {
				t.Errorf("alias %q is claimed by %s and %s", a, other, g.Name)
			}
			seen[input.NormName(a)] = g.Name
		}
	}
	// Reported values that come from measurements.
	for name, want := range map[string]float64{"RTX-3090": 23.58, "H100-80GB-SXM": 79.18, "A100-80GB": 79.15, "A10": 22.07, "A100-40GB": 39.38} {
		if g, _ := LookupGPU(name); g.MemoryGiB != want {
			t.Errorf("%s memory %.2f, want %.2f", name, g.MemoryGiB, want)
		}
	}
}

func TestCustomGPU(t *testing.T) {
	g, err := CustomGPU(128, 273, 100, 200)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Custom || g.MemoryGiB != 128 || !g.FP8 || g.BandwidthGBps != 273 {
		t.Errorf("unexpected %+v", g)
	}
	if g, err := CustomGPU(24, 900, 70, 0); err != nil || g.FP8 {
		t.Errorf("fp8 0 must mean no fp8: %+v %v", g, err)
	}
	for _, c := range []struct {
		mem, bw, bf, fp8 float64
		attr             string
	}{
		{0, 1, 1, 1, "gpu_memory_gib"}, {-4, 1, 1, 1, "gpu_memory_gib"}, {1, 0, 1, 1, "gpu_memory_bandwidth_gbps"},
		{1, 1, -1, 1, "gpu_bf16_tflops"}, {1, 1, 1, -1, "gpu_fp8_tflops"},
	} {
		_, err := CustomGPU(c.mem, c.bw, c.bf, c.fp8)
		var ie *input.InputError
		if !errors.As(err, &ie) || ie.Attribute != c.attr {
			t.Errorf("CustomGPU(%v,%v,%v,%v): want error on %s, got %v", c.mem, c.bw, c.bf, c.fp8, c.attr, err)
		}
	}
}

func TestInstances(t *testing.T) {
	families := map[string]bool{}
	for _, it := range Instances() {
		g, err := LookupGPU(it.GPU)
		if err != nil {
			t.Errorf("%s: GPU %q not in the catalog", it.Name, it.GPU)
		}
		if g.Name != it.GPU {
			t.Errorf("%s: GPU %q is not a canonical name", it.Name, it.GPU)
		}
		if it.GPUCount < 1 || it.VCPUs < 1 || it.MemoryGiB <= 0 || it.PriceUSDPerHour <= 0 || it.PriceDate != PriceDate {
			t.Errorf("%s: incomplete %+v", it.Name, it)
		}
		families[strings.Split(it.Name, ".")[0]] = true
	}
	for _, f := range []string{"g4dn", "g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en"} {
		if !families[f] {
			t.Errorf("family %s missing", f)
		}
	}
	it, err := LookupInstance("P5.48XLARGE")
	if err != nil || it.GPUCount != 8 || it.GPU != "H100-80GB-SXM" {
		t.Fatalf("p5.48xlarge: %+v %v", it, err)
	}
	if got := it.PricePerGPUHourUSD(); got != it.PriceUSDPerHour/8 {
		t.Errorf("price per GPU %v", got)
	}
	_, err = LookupInstance("g5.xlarg")
	var ie *input.InputError
	if !errors.As(err, &ie) || ie.Attribute != "instance_type" || !strings.Contains(ie.Message, `"g5.xlarge"`) {
		t.Errorf("unknown instance: %v", err)
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-72B", "meta-llama/Llama-3.1-8B"}
	for in, want := range map[string]string{"qwen2.5-7b": "Qwen/Qwen2.5-7B", "llama 3.1 8b": "meta-llama/Llama-3.1-8B", "Qwen2.5-72": "Qwen/Qwen2.5-72B"} {
		if got := input.Closest(in, cands); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
	if input.Closest("x", nil) != "" {
		t.Error("no candidates must give empty string")
	}
}
