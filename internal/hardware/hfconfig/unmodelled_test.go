package hfconfig

import (
	"strings"
	"testing"
)

// TestUnmodelledTypesRefused: the 2026 model types the fit check does not
// count are refused by name, not read as a look-alike (Phi-4-multimodal's
// config parses as a Phi-3 otherwise).
func TestUnmodelledTypesRefused(t *testing.T) {
	for _, c := range []string{
		`{"model_type":"phi4mm","architectures":["Phi4MMForCausalLM"],"hidden_size":3072,"num_hidden_layers":32,"num_attention_heads":24,"num_key_value_heads":8,"vocab_size":200064,"intermediate_size":8192,"max_position_embeddings":131072,"tie_word_embeddings":true,"embd_layer":{"image_embd_layer":{}}}`,
		`{"model_type":"phi4_multimodal"}`,
		`{"model_type":"gemma3n"}`,
		`{"model_type":"gemma4","text_config":{"model_type":"gemma4_text"}}`,
		`{"architectures":["Foo"],"text_config":{"model_type":"gemma4_text"},"tie_word_embeddings":true}`,
	} {
		_, err := ParseConfigJSON([]byte(c))
		if err == nil || !strings.Contains(err.Error(), "is not modelled") || !strings.Contains(err.Error(), "model_type") {
			t.Errorf("%s: want a refusal naming model_type, got %v", c, err)
		}
	}
}
