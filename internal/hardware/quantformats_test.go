package hardware

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
)

// llama31 is Llama-3.1-8B's config.json with a quantization_config added.
func llama31(q string) string {
	return `{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":4096,"intermediate_size":14336,
	"num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,"max_position_embeddings":131072,"vocab_size":128256,
	"tie_word_embeddings":false,"torch_dtype":"bfloat16","quantization_config":` + q + `}`
}

func readTestConfig(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("hfconfig/testdata/configs/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCheckpointFormats: one matrix of layer 0 per format, on one H100, from
// the published quantization_config, against bytes worked out by hand
// (weights + scales + zero points; the model dtype where the config leaves
// the module unquantized).
func TestCheckpointFormats(t *testing.T) {
	const (
		q4096   = 4096.0 * 4096    // Llama-3.1-8B q_proj
		gate8b  = 4096.0 * 14336   // gate_proj, down_proj
		q7b     = 3584.0 * 3584    // Qwen2.5-7B q_proj
		ossQ    = 2880.0 * 64 * 64 // gpt-oss-20b q_proj
		ossUp   = 32 * 3072.0 * 2 * 2944
		mxfp4   = 0.5 + 1.0/32
		nvfp4   = 0.5 + 1.0/16
		bnbExp  = 128 * 2048.0 * 2 * 768 // Qwen3-30B-A3B experts' gate_up, one layer
		dsQA    = 7168.0 * 1536          // DeepSeek-V3 q_a_proj
		bnbBits = 0.5 + 1.0/64 + 4.0/(64*256)
	)
	cases := []struct {
		name, source, cfg, matrix, version string
		want                               float64
	}{
		{"compressed-tensors FP8 per channel", "RedHatAI/Meta-Llama-3.1-8B-Instruct-FP8", readTestConfig(t, "llama-3.1-8b-fp8-compressed-tensors.json"),
			"self_attn.q_proj", "", q4096 * (1 + 4.0/4096)}, // e4m3 + an fp32 scale per output channel
		{"compressed-tensors W4A16 group 128", "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16", llama31(`{"quant_method":"compressed-tensors","format":"pack-quantized",
			"config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":4,"type":"int","strategy":"group","group_size":128,"symmetric":true}}},"ignore":["lm_head"]}`),
			"mlp.gate_proj", "", gate8b * (0.5 + 2.0/128)}, // int4 + a 16-bit scale per 128, no zero points
		{"compressed-tensors NVFP4", "RedHatAI/Meta-Llama-3.1-8B-Instruct-NVFP4", llama31(`{"quant_method":"compressed-tensors","format":"nvfp4-pack-quantized",
			"config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":4,"type":"float","strategy":"tensor_group","group_size":16,"symmetric":true}}},"ignore":["lm_head","re:.*self_attn.*"]}`),
			"mlp.down_proj", "", gate8b * nvfp4}, // e2m1 + an fp8 scale per 16
		{"compressed-tensors NVFP4, ignored attention", "as above", llama31(`{"quant_method":"compressed-tensors","format":"nvfp4-pack-quantized",
			"config_groups":{"group_0":{"targets":["Linear"],"weights":{"num_bits":4,"type":"float","strategy":"tensor_group","group_size":16,"symmetric":true}}},"ignore":["lm_head","re:.*self_attn.*"]}`),
			"self_attn.q_proj", "", q4096 * 2}, // left in bf16
		{"ModelOpt NVFP4", "nvidia/Llama-3.1-8B-Instruct-FP4", llama31(`{"quant_method":"modelopt","quantization":{"quant_algo":"NVFP4","kv_cache_quant_algo":"FP8","group_size":16,"exclude_modules":["lm_head"]}}`),
			"self_attn.q_proj", "", q4096 * nvfp4},
		{"ModelOpt FP8", "nvidia/Llama-3.1-8B-Instruct-FP8", llama31(`{"quant_method":"modelopt","quant_algo":"FP8","exclude_modules":["lm_head"]}`),
			"mlp.gate_proj", "", gate8b * 1}, // e4m3, one scale per tensor
		{"MXFP4 experts, vLLM 0.32 (padded)", "openai/gpt-oss-20b", readTestConfig(t, "hub/openai--gpt-oss-20b.json"),
			"mlp.experts.gate_up_proj", "0.32.0", ossUp * mxfp4}, // hidden 2880→3072, intermediate 2880→2944
		{"MXFP4 experts, vLLM 0.11", "openai/gpt-oss-20b", readTestConfig(t, "hub/openai--gpt-oss-20b.json"),
			"mlp.experts.gate_up_proj", "0.11.0", 32 * 2880.0 * 5760 * mxfp4},
		{"MXFP4, attention in modules_to_not_convert", "openai/gpt-oss-20b", readTestConfig(t, "hub/openai--gpt-oss-20b.json"),
			"self_attn.q_proj", "", ossQ * 2},
		{"AWQ group 128 with zero points", "Qwen/Qwen2.5-7B-Instruct-AWQ", readTestConfig(t, "qwen2.5-7b-instruct-awq.json"),
			"self_attn.q_proj", "", q7b * (0.5 + 2.0/128 + 0.5/128)}, // int4 + fp16 scale + packed 4-bit zero per 128
		{"GPTQ symmetric group 128", "Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4", strings.Replace(readTestConfig(t, "qwen2.5-7b-instruct-awq.json"),
			`"quantization_config": {"bits": 4, "group_size": 128, "modules_to_not_convert": null, "quant_method": "awq", "version": "gemm", "zero_point": true}`,
			`"quantization_config": {"bits": 4, "group_size": 128, "damp_percent": 0.01, "desc_act": false, "sym": true, "true_sequential": true, "quant_method": "gptq"}`, 1),
			"self_attn.q_proj", "", q7b * (0.5 + 2.0/128)}, // Marlin drops symmetric zeros
		{"bitsandbytes nf4, double quant", "unsloth/Qwen3-30B-A3B-bnb-4bit", readTestConfig(t, "qwen3-30b-a3b-bnb-4bit.json"),
			"mlp.experts.gate_up_proj", "", bnbExp * bnbBits}, // nf4 + 8-bit absmax per 64 + fp32 per 256 blocks
		{"FP8 128×128 blocks", "deepseek-ai/DeepSeek-V3", readTestConfig(t, "deepseek-v3.json"),
			"self_attn.q_a_proj", "", dsQA * (1 + 4.0/(128*128))}, // e4m3 + an fp32 scale per block
	}
	h100, _ := catalog.LookupGPU("h100")
	for _, c := range cases {
		m, err := hfconfig.ParseConfigJSON([]byte(c.cfg))
		if err != nil {
			t.Errorf("%s (%s): %v", c.name, c.source, err)
			continue
		}
		e, err := resolveEngine(FitInput{Model: m, GPU: h100, VLLMVersion: c.version, MaxModelLen: 4096})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := math.NaN()
		for _, l := range m.LayerLinears(0) {
			if strings.HasSuffix(l.Path, "."+c.matrix) {
				got = e.linearBytes(l)
			}
		}
		if math.Abs(got-c.want) > 0.5 {
			t.Errorf("%s (%s): layer 0 %s takes %.0f bytes, want %.0f", c.name, c.source, c.matrix, got, c.want)
		}
	}
}

// TestMXFP4WeightsMatchObserved: gpt-oss-20b on an 80 GB A100 under vLLM
// 0.19 printed "Model loading took 13.72 GiB" (testdata/vllm-observed.json
// M28); the padded experts are 0.86 GiB of it.
func TestMXFP4WeightsMatchObserved(t *testing.T) {
	b, err := os.ReadFile("testdata/vllm-observed.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Memory []struct {
			ID       string `json:"id"`
			Observed struct {
				Weights float64 `json:"weights_gib"`
			} `json:"observed"`
			Version string `json:"vllm_version"`
		} `json:"memory"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Memory {
		if r.ID != "M28" {
			continue
		}
		m, _ := hfconfig.LookupModel("openai/gpt-oss-20b")
		a100, _ := catalog.LookupGPU("A100-80GB")
		e, err := resolveEngine(FitInput{Model: m, GPU: a100, VLLMVersion: r.Version})
		if err != nil {
			t.Fatal(err)
		}
		got := e.weightBytes() / catalog.GiB
		if d := got/r.Observed.Weights - 1; math.Abs(d) > 0.01 {
			t.Errorf("gpt-oss-20b weights under vLLM %s: %.2f GiB, observed %.2f GiB (%+.1f%%)", r.Version, got, r.Observed.Weights, 100*d)
		}
		return
	}
	t.Fatal("record M28 not found")
}
