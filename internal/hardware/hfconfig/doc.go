// Package hfconfig reads a Hugging Face config.json into a Model: the
// architecture (layers, heads, experts, MLA, sliding window, RoPE, vision
// tower, hybrid state mixers), the checkpoint's quantization_config, the
// parameter counts and weight matrices that follow from them, and the
// built-in model catalog written the same way. It follows transformers'
// configuration classes, has no Terraform imports and knows nothing of
// vLLM's memory accounting (package hardware).
package hfconfig
