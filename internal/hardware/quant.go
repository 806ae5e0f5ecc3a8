package hardware

import (
	"fmt"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// precision is the resolved numeric format of one engine.
type precision struct {
	DTypeBytes float64               // activations, unquantized weights, KV cache "auto"
	Quant      *hfconfig.QuantConfig // weight quantization; nil = unquantized
	Label      string                // for messages
}

// Quantization formats a user may ask for on an unquantized checkpoint.
// vLLM quantizes fp8 and bitsandbytes in flight; int8, int4, awq and gptq
// stand for a pre-quantized checkpoint of the same model in that format
// (e.g. Qwen/Qwen2.5-7B-Instruct-AWQ), which is what vLLM loads.
func userQuant(q string) *hfconfig.QuantConfig {
	switch q {
	case "fp8":
		// Fp8LinearMethod (vllm/model_executor/layers/quantization/fp8.py):
		// fp8 e4m3 weights, one fp32 scale per tensor.
		return &hfconfig.QuantConfig{Method: "fp8", Bits: 8, GroupSize: 0, Float: true}
	case "int8":
		// W8A8-INT8 (compressed-tensors): int8 weights, fp32 scale per channel.
		return &hfconfig.QuantConfig{Method: "int8", Bits: 8, GroupSize: -1}
	case "int4", "awq":
		return &hfconfig.QuantConfig{Method: "awq", Bits: 4, GroupSize: 128, ZeroPoint: true}
	case "gptq":
		return &hfconfig.QuantConfig{Method: "gptq", Bits: 4, GroupSize: 128}
	case "bitsandbytes":
		// vLLM's in-flight bitsandbytes: nf4, blocks of 64, compressed statistics.
		return &hfconfig.QuantConfig{Method: "bitsandbytes", Bits: 4, GroupSize: 64, DoubleQuant: true}
	}
	return nil
}

func quantFamily(method string) string {
	switch method {
	case "awq", "awq_marlin", "gptq", "gptq_marlin", "int4":
		return "int4"
	case "fp8", "fbgemm_fp8":
		return "fp8"
	}
	return method
}

// resolvePrecision combines the checkpoint with the requested quantization
// the way vLLM's ModelConfig does: a pre-quantized checkpoint can only be
// run as what it is.
func resolvePrecision(m hfconfig.Model, q string, g catalog.GPU) (precision, error) {
	q = strings.ToLower(strings.TrimSpace(q)) // "AWQ" is awq, as GPU names are case-insensitive
	if q == "" {
		q = "none"
	}
	if !contains(Quantizations, q) {
		return precision{}, &input.InputError{Attribute: "quantization", Message: fmt.Sprintf("unknown quantization %q%s; valid: %s", q, input.DidYouMean(q, Quantizations), strings.Join(Quantizations, ", "))}
	}
	p := precision{DTypeBytes: 2, Quant: m.Quantization, Label: "bf16"}
	if m.TorchDType == "float16" || !g.SupportsBF16() {
		p.Label = "fp16"
	}
	if m.Quantization != nil {
		p.Label = m.Quantization.Method
	}
	switch q {
	case "none":
	case "fp32", "fp16", "bf16":
		if m.Quantization != nil && q == "fp32" {
			return p, &input.InputError{Attribute: "quantization", Message: fmt.Sprintf("%s is a %s-quantized checkpoint; it cannot run in fp32. Valid: none, fp16, bf16", m.ID, m.Quantization.Method)}
		}
		if q == "bf16" && !g.SupportsBF16() {
			return p, &input.InputError{Attribute: "quantization", Message: fmt.Sprintf("%s (%s) has no bf16 support (vLLM needs compute capability 8.0); use fp16", g.Name, g.Architecture)}
		}
		if q == "fp32" {
			p.DTypeBytes = 4
		}
		if m.Quantization == nil {
			p.Label = q
		}
	default:
		want := userQuant(q)
		if m.Quantization != nil {
			if quantFamily(m.Quantization.Method) != quantFamily(want.Method) && m.Quantization.Method != q {
				return p, &input.InputError{Attribute: "quantization", Message: fmt.Sprintf("%s is already a %s-quantized checkpoint; vLLM cannot re-quantize it to %s. Valid: none (run it as it is), fp16 or bf16", m.ID, m.Quantization.Method, q)}
			}
			return p, nil
		}
		if !g.SupportsMarlin() && (q == "fp8" || q == "gptq" || q == "bitsandbytes") {
			// fp8 needs native fp8 (sm89+) or the Marlin weight-only path
			// (sm80+); gptq_marlin and bitsandbytes also need sm80 in vLLM.
			return p, &input.InputError{Attribute: "quantization", Message: fmt.Sprintf("vLLM's %s kernels need compute capability 8.0 or newer; %s is %s. Valid here: none, fp16, fp32, int8, int4, awq", q, g.Name, g.Architecture)}
		}
		p.Quant, p.Label = want, q
	}
	return p, nil
}

// bytesPerParam is the stored size of one quantized weight of a matrix with
// in input features, scales and zero points included:
//   - fp8: 1 byte + an fp32 scale per tensor, per channel (4/in) or per
//     128×128 block (4/16384).
//   - int8: 1 byte + an fp32 scale per output channel.
//   - awq/gptq: bits/8 + an fp16 scale per group (2/g) + a packed zero point
//     per group when asymmetric (bits/8/g). GPTQ Marlin drops the zeros of
//     symmetric checkpoints (gptq_marlin.py).
//   - bitsandbytes nf4: 0.5 + absmax per 64-block: fp32 (4/64), or with
//     double quantization an 8-bit absmax plus an fp32 per 256 blocks.
//   - mxfp4: 0.5 + an e8m0 scale per 32 values.
func bytesPerParam(q *hfconfig.QuantConfig, in int) float64 {
	bits := float64(q.Bits) / 8
	group := float64(q.GroupSize)
	if q.GroupSize <= 0 {
		group = float64(max(in, 1))
	}
	if q.Float && q.Bits == 4 && q.GroupSize > 0 {
		// MXFP4 (e8m0 scale per 32) and NVFP4 (fp8 scale per 16; its two
		// fp32 per-tensor scales are negligible): one byte of scale per group.
		return 0.5 + 1/group
	}
	switch q.Method {
	case "bitsandbytes":
		if q.Bits == 8 {
			return 1 + 4/float64(max(in, 1))
		}
		if q.DoubleQuant {
			return 0.5 + 1.0/64 + 4.0/(64*256)
		}
		return 0.5 + 4.0/64
	case "awq", "gptq", "int4":
		b := bits + 2/group
		if q.ZeroPoint {
			b += bits / group
		}
		return b
	}
	if q.Bits == 4 {
		// compressed-tensors W4A16 (pack-quantized): as gptq.
		b := bits + 2/group
		if q.ZeroPoint {
			b += bits / group
		}
		return b
	}
	if q.GroupSize > 0 && (q.Float || q.Method == "fp8") {
		return 1 + 4/(group*group)
	}
	if q.GroupSize == 0 {
		return 1
	}
	return 1 + 4/group
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
