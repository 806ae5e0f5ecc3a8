package hardware

import "fmt"

// rayAcceleratorGPUs maps Ray accelerator types (ray.util.accelerators, the
// names rayvllm_vllm_worker and rayvllm_batch_job schedule on) onto the GPU
// catalog, largest part first. Ray's "A100" label covers the 40 and 80 GB
// parts.
var rayAcceleratorGPUs = map[string][]string{
	"T4": {"T4"}, "A10G": {"A10G"}, "A10": {"A10G"}, "L4": {"L4"}, "L40S": {"L40S"},
	"A100": {"A100-80GB", "A100-40GB"}, "A100-40G": {"A100-40GB"}, "A100-80G": {"A100-80GB"},
	"H100": {"H100-80GB-SXM"}, "H200": {"H200"}, "B200": {"B200"},
	"AMD-Instinct-MI300X-OAM": {"MI300X"}, "AMD-Instinct-MI300X-HF": {"MI300X"},
}

// AcceleratorGPUs resolves a Ray accelerator type, or else a GPU catalog
// name or alias, to the catalog GPUs it may land on, largest first. It
// returns an error when neither catalog knows the name.
func AcceleratorGPUs(name string) ([]GPU, error) {
	names, ok := rayAcceleratorGPUs[name]
	if !ok {
		g, err := LookupGPU(name)
		if err != nil {
			return nil, err
		}
		return []GPU{g}, nil
	}
	gpus := make([]GPU, 0, len(names))
	for _, n := range names {
		g, err := LookupGPU(n)
		if err != nil {
			return nil, fmt.Errorf("ray accelerator %q maps to %q, which the GPU catalog lacks: %w", name, n, err)
		}
		gpus = append(gpus, g)
	}
	return gpus, nil
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
