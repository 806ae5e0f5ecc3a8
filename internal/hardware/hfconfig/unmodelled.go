package hfconfig

import "strings"

// unmodelledTypes are model_types that a config.json of today's models
// carries but whose layers the memory model does not count. Read as another
// type, each would parse into a silently wrong answer (Phi-4-multimodal's
// config looks like Phi-3's) or fail on a field far from the cause, so they
// are refused by name.
var unmodelledTypes = map[string]string{
	// phi4mm/modeling_phi4mm.py (remote code) and transformers'
	// phi4_multimodal: a SigLIP image encoder, a conformer audio encoder and
	// vision and speech LoRA adapters on a Phi-3-style language model.
	"phi4mm":          "Phi-4-multimodal's audio encoder, image encoder and vision/speech LoRA adapters are not modelled",
	"phi4_multimodal": "Phi-4-multimodal's audio encoder, image encoder and vision/speech LoRA adapters are not modelled",
	// gemma3n/configuration_gemma3n.py: per-layer embeddings, AltUp,
	// LAuReL, KV sharing across layers, per-layer MLP widths, audio tower.
	"gemma3n":      "Gemma 3n's per-layer embeddings, AltUp, KV sharing across layers and audio encoder are not modelled",
	"gemma3n_text": "Gemma 3n's per-layer embeddings, AltUp and KV sharing across layers are not modelled",
	// gemma4/configuration_gemma4.py: per-layer inputs, KV sharing,
	// k = v attention, optional experts, audio tower.
	"gemma4":      "Gemma 4's per-layer inputs, KV sharing across layers, k=v attention and audio encoder are not modelled",
	"gemma4_text": "Gemma 4's per-layer inputs, KV sharing across layers and k=v attention are not modelled",
}

// unmodelledErr is the refusal for such a model_type, or nil.
func unmodelledErr(field, t string) error {
	why, ok := unmodelledTypes[t]
	if !ok {
		return nil
	}
	return cfgErr(field, "model_type %q is not modelled: %s, so the fit check cannot count its weights and KV cache (model_types it reads: %s)", t, why, strings.Join(ModelTypes(), ", "))
}
