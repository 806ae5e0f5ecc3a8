package hfconfig

import (
	"errors"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

func TestParseConfigJSONDetails(t *testing.T) {
	m, err := ParseConfigJSON(readConfig(t, "qwen2.5-7b-instruct-awq.json"))
	if err != nil {
		t.Fatal(err)
	}
	if q := m.Quantization; q == nil || q.Method != "awq" || q.Bits != 4 || q.GroupSize != 128 || !q.ZeroPoint {
		t.Errorf("awq config: %+v", m.Quantization)
	}
	if m.SlidingWindow != 0 || !m.AttentionBias || m.ID != "Qwen/Qwen2.5-7B-Instruct-AWQ" || m.TorchDType != "float16" {
		t.Errorf("qwen2 details: %+v", m)
	}

	m, _ = ParseConfigJSON(readConfig(t, "deepseek-v3.json"))
	if m.KVLoraRank != 512 || m.QLoraRank != 1536 || m.NumSharedExperts != 1 || m.FirstDenseLayers != 3 || m.Quantization.GroupSize != 128 || !m.Quantization.Float {
		t.Errorf("deepseek: %+v %+v", m, m.Quantization)
	}

	m, err = ParseConfigJSON(readConfig(t, "llava-style-text-config.json"))
	if err != nil || m.NumLayers != 32 || m.VocabSize != 32064 || m.Architecture != "LlavaForConditionalGeneration" || m.TorchDType != "float16" {
		t.Errorf("text_config: %+v %v", m, err)
	}

	m, err = ParseConfigJSON(readConfig(t, "qwen3-30b-a3b-bnb-4bit.json"))
	if err != nil {
		t.Fatal(err)
	}
	// YaRN: vLLM 0.32 takes max_position_embeddings as already extended
	// (_get_and_verify_max_len skips the yarn factor).
	if m.MaxPositionEmbeddings != 40960 || m.NumExperts != 128 || m.Quantization.Method != "bitsandbytes" || !m.Quantization.DoubleQuant {
		t.Errorf("qwen3 moe bnb: %+v %+v", m, m.Quantization)
	}
	if p := float64(m.Params()); p < 30.0e9 || p > 31.0e9 {
		t.Errorf("qwen3-30b-a3b params %.3g", p)
	}

	m, _ = ParseConfigJSON(readConfig(t, "llama-3.1-8b-fp8-compressed-tensors.json"))
	if q := m.Quantization; q.Method != "compressed-tensors" || q.Bits != 8 || !q.Float || q.GroupSize != -1 || !q.Skips("lm_head") {
		t.Errorf("compressed-tensors: %+v", q)
	}
}

func TestParseConfigJSONErrors(t *testing.T) {
	base := `"architectures":["LlamaForCausalLM"],"hidden_size":4096,"num_attention_heads":32,"num_hidden_layers":32,"vocab_size":32000,"intermediate_size":11008`
	for _, c := range []struct {
		json, field string
	}{
		{`{`, "not a JSON object"},
		{`[1,2]`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`{"hidden_size":4096}`, `"num_hidden_layers"`},
		{`{` + base + `,"num_key_value_heads":"eight"}`, `"num_key_value_heads"`},
		{`{` + base + `,"num_key_value_heads":5}`, "multiple of num_key_value_heads"},
		{`{` + base + `,"hidden_size":4096.5}`, `"hidden_size"`},
		{`{` + base + `,"num_local_experts":8}`, `"num_experts_per_tok"`},
		{`{` + base + `,"kv_lora_rank":512}`, `"kv_lora_rank"`},
		{`{` + base + `,"quantization_config":{"quant_method":"hqq"}}`, `"quantization_config.quant_method"`},
		{`{` + base + `,"quantization_config":{"quant_method":"gptq","bits":3}}`, `"quantization_config.bits"`},
		{`{` + base + `,"quantization_config":{"quant_method":"gptq","group_size":"x"}}`, `"quantization_config.group_size"`},
		{`{` + base + `,"quantization_config":{"quant_method":"bitsandbytes"}}`, `"quantization_config.load_in_4bit"`},
		{`{` + base + `,"quantization_config":{"quant_method":"compressed-tensors"}}`, `"quantization_config.config_groups"`},
		{`{` + base + `,"quantization_config":{"quant_method":"fp8","modules_to_not_convert":["re:("]}}`, "bad regular expression"},
		{`{` + base + `,"rope_scaling":{"rope_type":"weird","factor":2}}`, `"rope_scaling.rope_type"`},
		{`{` + base + `,"rope_scaling":{"rope_type":"yarn","factor":-2}}`, `"rope_scaling.factor"`},
		{`{` + base + `,"torch_dtype":"int8"}`, `"torch_dtype"`},
		{`{` + base + `,"layers_block_type":["mamba"]}`, `"layers_block_type"`},
		{`{` + base + `,"is_encoder_decoder":true}`, `"is_encoder_decoder"`},
		{`{` + base + `,"sliding_window":4096,"layer_types":["full_attention"]}`, `"layer_types"`},
		{`{"text_config":{"hidden_size":-1}}`, `"text_config.hidden_size"`},
		{`{` + base + `,"num_hidden_layers":99999999}`, "num_hidden_layers"},
	} {
		_, err := ParseConfigJSON([]byte(c.json))
		var ie *input.InputError
		if !errors.As(err, &ie) || ie.Attribute != "model_config_json" {
			t.Errorf("%s: want *InputError on model_config_json, got %v", c.json, err)
			continue
		}
		if !strings.Contains(ie.Message, c.field) {
			t.Errorf("%s: message %q does not name %s", c.json, ie.Message, c.field)
		}
	}
}
