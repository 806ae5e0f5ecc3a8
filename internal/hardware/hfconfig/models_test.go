package hfconfig

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

func TestParamsMatchPublished(t *testing.T) {
	for _, m := range Models() {
		if m.PublishedParams == 0 {
			t.Errorf("%s: no published parameter count", m.ID)
			continue
		}
		got := float64(m.Params())
		if d := math.Abs(got/float64(m.PublishedParams) - 1); d > 0.02 {
			t.Errorf("%s: computed %.4gB params, published %.4gB (%.1f%% off)", m.ID, got/1e9, float64(m.PublishedParams)/1e9, 100*d)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", m.ID, err)
		}
	}
}

// Exact counts PyTorch printed for the same architectures
// (internal/hardware/testdata/h100-2026-11-26.json) and the Llama-2-7B safetensors total.
func TestParamsExact(t *testing.T) {
	for id, want := range map[string]int64{
		"Qwen/Qwen2.5-0.5B":       494_032_768,
		"Qwen/Qwen2.5-7B":         7_615_616_512,
		"meta-llama/Llama-3.1-8B": 8_030_261_248,
		// 2·32000·4096 + 32·(4·4096² + 3·4096·11008 + 2·4096) + 4096
		"meta-llama/Llama-2-7b-hf": 6_738_415_616,
	} {
		m, err := LookupModel(id)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Params(); got != want {
			t.Errorf("%s: Params() = %d, want %d", id, got, want)
		}
	}
}

func TestActiveParams(t *testing.T) {
	for id, want := range map[string]float64{
		"mistralai/Mixtral-8x7B-v0.1":    12.9e9,
		"deepseek-ai/DeepSeek-V3":        37e9,
		"Qwen/Qwen3-30B-A3B":             3.3e9,
		"Qwen/Qwen3-235B-A22B":           22e9,
		"microsoft/Phi-3.5-MoE-instruct": 6.6e9,
		"meta-llama/Llama-3.1-8B":        8.03e9, // dense: all of it
	} {
		m, _ := LookupModel(id)
		if d := math.Abs(float64(m.ActiveParams())/want - 1); d > 0.03 {
			t.Errorf("%s: active %.3gB, published %.3gB", id, float64(m.ActiveParams())/1e9, want/1e9)
		}
	}
}

func TestModelCatalogCoverage(t *testing.T) {
	for _, id := range []string{
		"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen2.5-3B", "Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-14B", "Qwen/Qwen2.5-32B", "Qwen/Qwen2.5-72B",
		"Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-72B-Instruct",
		"Qwen/Qwen3-8B", "Qwen/Qwen3-32B", "Qwen/Qwen3-30B-A3B", "Qwen/Qwen3-235B-A22B",
		"meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-13b-hf", "meta-llama/Llama-2-70b-hf",
		"meta-llama/Meta-Llama-3-8B", "meta-llama/Meta-Llama-3-70B", "meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "meta-llama/Llama-3.1-405B",
		"meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-3B",
		"mistralai/Mistral-7B-v0.1", "mistralai/Mixtral-8x7B-v0.1", "microsoft/Phi-3-mini-4k-instruct", "microsoft/phi-4",
		"google/gemma-2-9b", "google/gemma-2-27b", "deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-R1",
		"deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B",
		"deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
	} {
		if _, err := LookupModel(id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

func TestLookupModel(t *testing.T) {
	m, err := LookupModel("qwen/qwen2.5-7b-INSTRUCT")
	if err != nil || m.ID != "Qwen/Qwen2.5-7B-Instruct" {
		t.Fatalf("case-insensitive lookup: %v %v", m.ID, err)
	}
	_, err = LookupModel("Qwen/Qwen2.5-7B-Instrct")
	var ie *input.InputError
	if !errors.As(err, &ie) || ie.Attribute != "model" {
		t.Fatalf("want *InputError on model, got %v", err)
	}
	for _, want := range []string{`did you mean "Qwen/Qwen2.5-7B-Instruct"`, "model_config_json"} {
		if !strings.Contains(ie.Message, want) {
			t.Errorf("message lacks %q: %s", want, ie.Message)
		}
	}
}

// The did-you-mean searches aliases and the whole id.
func TestSuggestModel(t *testing.T) {
	for typed, want := range map[string]string{
		"meta-llama/Llama-3.1-8B-Instuct": "meta-llama/Llama-3.1-8B-Instruct",
		"qwen/qwen2.5-7b-instrct":         "Qwen/Qwen2.5-7B-Instruct",
		"mistralai/Mixtral-8x7B-Instruct": "mistralai/Mixtral-8x7B-Instruct-v0.1",
		"google/gemma-2-9b-itt":           "google/gemma-2-9b-it",
		"someone/completely-different":    "",
	} {
		if got := SuggestModel(typed); got != want {
			t.Errorf("SuggestModel(%q) = %q, want %q", typed, got, want)
		}
	}
	_, err := LookupModel("meta-llama/Llama-3.1-8B-Instuct")
	if err == nil || !strings.Contains(err.Error(), `did you mean "meta-llama/Llama-3.1-8B-Instruct"`) {
		t.Errorf("LookupModel: %v", err)
	}
}
