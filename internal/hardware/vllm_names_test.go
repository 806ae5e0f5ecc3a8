package hardware

import (
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
)

func TestCheckQuantization(t *testing.T) {
	q7, q7awq := mustModel(t, "Qwen/Qwen2.5-7B-Instruct"), mustModel(t, "Qwen/Qwen2.5-7B-Instruct-AWQ")
	for _, tc := range []struct {
		m    hfconfig.Model
		q    string
		want string // "" = accepted
	}{
		{q7, "", ""}, {q7, "fp8", ""}, {q7, "bitsandbytes", ""}, {q7, "int4", ""}, {q7, "bf16", ""}, {q7, "experts_int8", ""},
		{q7, "awq", `is not quantized`}, {q7, "gptq_marlin", `"fp8" or "bitsandbytes"`}, {q7, "compressed-tensors", "not quantized"},
		{q7awq, "awq", ""}, {q7awq, "awq_marlin", ""}, {q7awq, "int4", ""}, {q7awq, "", ""},
		{q7awq, "fp8", `already a awq-quantized checkpoint`}, {q7awq, "gptq", "leave quantization unset"}, {q7awq, "int8", "refuses"},
	} {
		err := CheckQuantization(tc.m, tc.q)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s with %q: got %v, want %q", tc.m.ID, tc.q, err, tc.want)
		}
	}
}

func TestRayLabel(t *testing.T) {
	for name, want := range map[string]string{"H100-80GB-SXM": "H100", "a100 80gb": "A100-80G", "MI300X": "AMD-Instinct-MI300X-OAM", "RTX-3090": ""} {
		if l, _, known := catalog.RayLabel(name); !known || l != want {
			t.Errorf("%s: got %q, %v; want %q", name, l, known, want)
		}
	}
	if _, _, known := catalog.RayLabel("H1000"); known {
		t.Error("H1000 is no catalog GPU")
	}
	labels := []string{"A10G", "H100", "H200", "H20", "L4", "AMD-Instinct-MI300X-OAM"}
	for name, want := range map[string]string{"H1000": "H100", "h100-sxm": "H100", "mi300x": "AMD-Instinct-MI300X-OAM", "A10": "A10G"} {
		if got := catalog.ClosestAccelerator(name, labels); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

func TestFromVLLMNames(t *testing.T) {
	for _, tc := range []struct{ q, kv, wantQ, wantKV, unmodelled string }{
		{"", "", "none", "auto", ""},
		{"awq_marlin", "fp8_e5m2", "awq", "fp8", ""},
		{"compressed-tensors", "auto", "none", "auto", ""},
		{"gguf", "auto", "", "", "quantization"},
		{"fp8", "fp8_e9m9", "", "", "kv_cache_dtype"},
	} {
		q, kv, un, ok := FromVLLMNames(tc.q, tc.kv)
		if q != tc.wantQ || kv != tc.wantKV || un != tc.unmodelled || ok != (tc.unmodelled == "") {
			t.Errorf("%q/%q: got %q %q %q %v", tc.q, tc.kv, q, kv, un, ok)
		}
	}
	for _, kv := range VLLMKVCacheDTypes {
		if _, ok := vllmKVCacheDType[kv]; !ok && kv != "bfloat16" {
			t.Errorf("vLLM kv_cache_dtype %q is neither modelled nor known to be skipped", kv)
		}
	}
}
