package hfconfig

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// Per-model_type defaults: a sparse config.json reads as transformers fills
// it in, and vLLM's length rules apply (TestConfigDifferential checks the
// same against the real libraries; this table runs without them).
func TestModelTypeDefaults(t *testing.T) {
	for _, c := range []struct {
		name, json                               string
		headDim, kvHeads, maxLen, defLen, window int
		slidingLayers                            int
		tied                                     bool
	}{
		// Gemma3TextConfig: head_dim 256, 131072 positions, the linear rope
		// factor not applied (vLLM's gemma3 exception), 5 of 6 layers slide.
		{"gemma3 sparse text_config", string(readConfig(t, "hub/google--gemma-3-12b-it.json")), 256, 8, 131072, 131072, 1024, 40, true},
		{"gemma3 explicit", string(readConfig(t, "hub/google--gemma-3-12b-it-explicit.json")), 256, 8, 131072, 131072, 1024, 40, true},
		{"gemma3_text bare", `{"model_type":"gemma3_text"}`, 256, 4, 131072, 131072, 4096, 22, true},
		{"gemma2 bare", `{"model_type":"gemma2","num_hidden_layers":42}`, 256, 4, 8192, 8192, 4096, 21, true},
		// Qwen2: no window unless use_sliding_window.
		{"qwen2 window off", `{"model_type":"qwen2","sliding_window":4096}`, 128, 32, 32768, 32768, 0, 0, false},
		{"qwen2 window on", `{"model_type":"qwen2","use_sliding_window":true,"sliding_window":4096,"max_window_layers":28}`, 128, 32, 32768, 32768, 4096, 4, false},
		{"qwen3 head_dim default", `{"model_type":"qwen3","hidden_size":2560,"num_attention_heads":32}`, 128, 32, 32768, 32768, 0, 0, false},
		{"mistral default window", `{"model_type":"mistral"}`, 128, 8, 131072, 131072, 4096, 0, false},
		{"mistral null window", `{"model_type":"mistral","sliding_window":null}`, 128, 8, 131072, 131072, 0, 0, false},
		// gpt-oss: alternating 128-token windows; yarn's factor is not applied.
		{"gpt_oss", string(readConfig(t, "hub/openai--gpt-oss-20b.json")), 64, 8, 131072, 131072, 128, 12, false},
		// Phi-3 LongRoPE: vLLM defaults to original_max_position_embeddings.
		{"phi3 longrope", string(readConfig(t, "hub/microsoft--Phi-3-mini-128k-instruct.json")), 96, 32, 131072, 4096, 262144, 0, false},
		{"llama linear rope", `{"model_type":"llama","max_position_embeddings":4096,"rope_scaling":{"rope_type":"linear","factor":4}}`, 128, 32, 16384, 16384, 0, 0, false},
		{"llama llama3 rope", `{"model_type":"llama","max_position_embeddings":131072,"rope_scaling":{"rope_type":"llama3","factor":8,"original_max_position_embeddings":8192}}`, 128, 32, 131072, 131072, 0, 0, false},
		{"glm4_moe head_dim", `{"model_type":"glm4_moe"}`, 42, 8, 131072, 131072, 0, 0, false},
		{"deepseek_v3 MLA", `{"model_type":"deepseek_v3"}`, 192, 128, 4096, 4096, 0, 0, false},
		{"architectures only", `{"architectures":["Gemma2ForCausalLM"]}`, 256, 4, 8192, 8192, 4096, 13, true},
		{"llava default tie", string(readConfig(t, "llava-style-text-config.json")), 128, 8, 32768, 32768, 0, 0, false},
	} {
		m, err := ParseConfigJSON([]byte(c.json))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		def := m.MaxPositionEmbeddings
		if m.DefaultMaxModelLen > 0 {
			def = m.DefaultMaxModelLen
		}
		sl := 0
		if m.SlidingWindow > 0 {
			sl = m.SlidingWindowLayers
		}
		if m.HeadDim != c.headDim || m.NumKVHeads != c.kvHeads || m.MaxPositionEmbeddings != c.maxLen || def != c.defLen ||
			m.SlidingWindow != c.window || sl != c.slidingLayers || m.TiedEmbeddings != c.tied {
			t.Errorf("%s: head_dim %d kv %d max %d default %d window %d (%d layers) tied %v; want %d %d %d %d %d (%d) %v",
				c.name, m.HeadDim, m.NumKVHeads, m.MaxPositionEmbeddings, def, m.SlidingWindow, sl, m.TiedEmbeddings,
				c.headDim, c.kvHeads, c.maxLen, c.defLen, c.window, c.slidingLayers, c.tied)
		}
	}
}

// No silent guess: a field that changes the answer, missing from a config of
// a model_type whose defaults are unknown, is an error naming the field, the
// type and what to add.
func TestNoSilentGuess(t *testing.T) {
	base := `"model_type":"mystery","hidden_size":4096,"num_attention_heads":32,"num_hidden_layers":32,"vocab_size":32000`
	for _, c := range []struct{ json, field string }{
		{`{` + base + `,"max_position_embeddings":4096,"tie_word_embeddings":false}`, `"intermediate_size"`},
		{`{` + base + `,"intermediate_size":11008,"tie_word_embeddings":false}`, `"max_position_embeddings"`},
		{`{` + base + `,"intermediate_size":11008,"max_position_embeddings":4096}`, `"tie_word_embeddings"`},
		{`{` + base + `,"intermediate_size":11008,"max_position_embeddings":4096,"tie_word_embeddings":false,"sliding_window":4096}`, `"layer_types"`},
		{`{` + base + `,"max_position_embeddings":4096,"tie_word_embeddings":false,"num_experts":8,"num_experts_per_tok":2}`, `"moe_intermediate_size"`},
		{`{"model_type":"deepseek_v2"}`, `"num_experts_per_tok"`},
		{`{"model_type":"gemma3","vision_config":{"model_type":"llama4_vision_model"}}`, `"vision_config.model_type"`},
		{`{"model_type":"llava","audio_config":{}}`, `"audio_config"`},
	} {
		_, err := ParseConfigJSON([]byte(c.json))
		var ie *input.InputError
		if !errors.As(err, &ie) || !strings.Contains(ie.Message, c.field) {
			t.Errorf("%s: want an error naming %s, got %v", c.json, c.field, err)
			continue
		}
		if strings.Contains(c.json, "mystery") && (!strings.Contains(ie.Message, "mystery") || !strings.Contains(ie.Message, "add ")) {
			t.Errorf("%s: the error should name the model_type and what to add: %s", c.json, ie.Message)
		}
	}
	// The same config with every field: accepted.
	if _, err := ParseConfigJSON([]byte(`{` + base + `,"intermediate_size":11008,"max_position_embeddings":4096,"tie_word_embeddings":false}`)); err != nil {
		t.Errorf("complete config of an unknown type: %v", err)
	}
}

// The catalog's Qwen2.5-VL tower is the one vision.go counts.
func TestCatalogVisionTower(t *testing.T) {
	m := mustModel(t, "Qwen/Qwen2.5-VL-72B-Instruct")
	b, err := jsonMarshal(catalogConfigJSON(m))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseConfigJSON(b)
	if err != nil || p.VisionParams != m.VisionParams {
		t.Errorf("catalog vision tower %d, counted %d (%v)", m.VisionParams, p.VisionParams, err)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// TestVisionTowers2026: Qwen3-VL's tower (with its deepstack mergers) and
// Mistral-3's Pixtral tower and projector, against transformers 5.19's
// parameter count on the meta device for the classes' default configs
// (AutoModelForImageTextToText; TestConfigDifferential re-counts them in the
// venv); an unknown tower names the text-only route.
func TestVisionTowers2026(t *testing.T) {
	for _, c := range []struct {
		mt            string
		params, tower int64
	}{{"qwen3_vl", 12616410352, 566949104}, {"qwen3_vl_moe", 14052070640, 566949104}, {"mistral3", 23340272640, 438958080}} {
		m, err := ParseConfigJSON([]byte(`{"model_type":"` + c.mt + `"}`))
		if err != nil {
			t.Errorf("%s: %v", c.mt, err)
			continue
		}
		if d := float64(m.Params())/float64(c.params) - 1; d > 0.005 || d < -0.005 {
			t.Errorf("%s: params %d, transformers %d", c.mt, m.Params(), c.params)
		}
		if d := float64(m.VisionParams)/float64(c.tower) - 1; d > 0.01 || d < -0.01 {
			t.Errorf("%s: tower %d, transformers %d", c.mt, m.VisionParams, c.tower)
		}
	}
	// The reproduction: Mistral-Small-3.1's config.json was refused.
	if m, err := ParseConfigJSON(readConfig(t, "hub/mistralai--Mistral-Small-3.1-24B-Instruct-2503.json")); err != nil || m.VisionParams == 0 || m.NumLayers != 40 {
		t.Errorf("Mistral-Small-3.1: %v (tower %d, layers %d)", err, m.VisionParams, m.NumLayers)
	}
	_, err := ParseConfigJSON([]byte(`{"model_type":"mistral3","vision_config":{"model_type":"llama4_vision_model"}}`))
	if err == nil || !strings.Contains(err.Error(), `"text_config"`) || !strings.Contains(err.Error(), "language-model-only") {
		t.Errorf("an unknown tower should offer the text-only route, got %v", err)
	}
}
