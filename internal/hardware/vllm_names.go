package hardware

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// VLLMQuantizations are vLLM's quantization method names: the union of
// QuantizationMethods (vllm/model_executor/layers/quantization/__init__.py)
// over the releases from 0.8 to 0.32, so that a name the installed release
// takes is never refused. Which of them the fit engine models is
// FromVLLMNames' business.
var VLLMQuantizations = []string{
	"aqlm", "auto-round", "auto_awq", "auto_gptq", "awq", "awq_marlin", "bitblas", "bitsandbytes", "compressed-tensors",
	"deepgemm_fp8", "deepspeedfp", "experts_int8", "fbgemm_fp8", "fp8", "fp8_per_block", "fp8_per_channel", "fp8_per_tensor",
	"gguf", "gpt_oss_mxfp4", "gptq", "gptq_bitblas", "gptq_marlin", "gptq_marlin_24", "hqq", "inc", "int8_per_channel_weight_only",
	"ipex", "marlin", "modelopt", "modelopt_fp4", "modelopt_mixed", "modelopt_mxfp8", "moe_wna16", "mxfp4", "mxfp8",
	"neuron_quant", "nvfp4_per_token", "ptpc_fp8", "qqq", "quark", "torchao", "tpu_int8",
}

// SizingQuantizations are the quantization values only the sizing places
// (rayvllm_gpu_fit, rayvllm_batch_sizing, gpu_fit) take: a dtype (`none`
// is the checkpoint's own) or the bit width of a pre-quantized checkpoint
// (`int8`, `int4`) without naming its format. vLLM has no such method.
var SizingQuantizations = []string{"none", "fp32", "fp16", "bf16", "int8", "int4"}

// checkpointOnly are the vLLM methods that read a checkpoint quantized in
// that format (its config.json's quantization_config); vLLM refuses them on
// an unquantized checkpoint. The others quantize while loading (fp8,
// bitsandbytes, experts_int8, the online shorthands) or are not judged.
var checkpointOnly = []string{"aqlm", "auto-round", "auto_awq", "auto_gptq", "awq", "awq_marlin", "bitblas", "compressed-tensors",
	"gguf", "gpt_oss_mxfp4", "gptq", "gptq_bitblas", "gptq_marlin", "gptq_marlin_24", "int4", "int8", "marlin", "modelopt",
	"modelopt_fp4", "modelopt_mixed", "modelopt_mxfp8", "moe_wna16", "mxfp4", "qqq", "quark"}

// inFlight are the modelled methods vLLM applies to an unquantized checkpoint.
var inFlight = []string{"fp8", "bitsandbytes"}

// CheckQuantization checks a quantization value (vLLM's name or a sizing
// one, as given) against the checkpoint the way vLLM's ModelConfig does: a
// format that must be in the checkpoint has to be there, and a quantized
// checkpoint runs only as what it is. An error names what to use instead.
func CheckQuantization(m hfconfig.Model, q string) error {
	q = strings.TrimSpace(q)
	if q == "" || slices.Contains(SizingQuantizations[:4], q) {
		return nil // dtypes: resolvePrecision checks them against the GPU
	}
	if m.Quantization == nil {
		if slices.Contains(checkpointOnly, q) && q != "int4" && q != "int8" {
			return &input.InputError{Attribute: "quantization", Message: fmt.Sprintf("%s is not quantized (its config.json has no quantization_config), "+
				"and vLLM loads %s only from a checkpoint quantized that way. Valid for this checkpoint: leave quantization unset, or %s (vLLM quantizes "+
				"while loading); for %s weights name a checkpoint quantized with it instead (e.g. %s-%s).", m.ID, q, strings.Join(quoteAll(inFlight), " or "),
				q, m.ID, strings.ToUpper(quantFamilyName(q)))}
		}
		return nil
	}
	own := m.Quantization.Method
	if quantFamilyName(own) == quantFamilyName(q) || q == "int4" && m.Quantization.Bits == 4 || q == "int8" && m.Quantization.Bits == 8 {
		return nil
	}
	return &input.InputError{Attribute: "quantization", Message: fmt.Sprintf("%s is already a %s-quantized checkpoint, and vLLM refuses quantization %q for it "+
		"(it must match the checkpoint's quantization_config). Valid: leave quantization unset (vLLM reads %q from the checkpoint).", m.ID, own, q, own)}
}

func quantFamilyName(q string) string {
	switch {
	case strings.Contains(q, "awq"):
		return "awq"
	case strings.Contains(q, "gptq"):
		return "gptq"
	}
	return q
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return q
}

// VLLMKVCacheDTypes are the kv_cache_dtype values vLLM accepts
// (vllm/config/cache.py CacheDType).
var VLLMKVCacheDTypes = []string{"auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2"}

// vLLM's quantization and KV cache dtype names as the fit engine knows them
// ("" is vLLM's default); a name missing here is one the engine does not model.
var (
	vllmQuantization = map[string]string{"": "none", "awq": "awq", "awq_marlin": "awq", "gptq": "gptq", "gptq_marlin": "gptq",
		"fp8": "fp8", "bitsandbytes": "bitsandbytes", "compressed-tensors": "none",
		// the sizing-only values (SizingQuantizations) are the engine's own names
		"none": "none", "fp32": "fp32", "fp16": "fp16", "bf16": "bf16", "int8": "int8", "int4": "int4"}
	vllmKVCacheDType = map[string]string{"": "auto", "auto": "auto", "bfloat16": "auto", "fp8": "fp8", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8"}
)

// FromVLLMNames maps vLLM's quantization and kv_cache_dtype names onto
// FitInput's. ok is false, with the attribute the engine cannot model, when
// one of them has no counterpart.
func FromVLLMNames(quantization, kvCacheDType string) (quant, kv, unmodelled string, ok bool) {
	if quant, ok = vllmQuantization[quantization]; !ok {
		return "", "", "quantization", false
	}
	if kv, ok = vllmKVCacheDType[kvCacheDType]; !ok {
		return "", "", "kv_cache_dtype", false
	}
	return quant, kv, "", true
}
