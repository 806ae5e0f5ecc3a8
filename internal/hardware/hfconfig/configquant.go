package hfconfig

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

func parseQuant(q cfg) (*QuantConfig, error) {
	method, err := q.str("quant_method")
	if err != nil {
		return nil, err
	}
	skip := func(keys ...string) ([]string, error) {
		var all []string
		for _, k := range keys {
			s, err := q.strings(k)
			if err != nil {
				return nil, err
			}
			all = append(all, s...)
		}
		return all, nil
	}
	qc := &QuantConfig{Method: method}
	switch method {
	case "awq":
		if qc.Bits, err = q.int(4, "bits", "w_bit"); err != nil {
			return nil, err
		}
		if qc.GroupSize, err = q.int(128, "group_size", "q_group_size"); err != nil {
			return nil, err
		}
		if qc.ZeroPoint, err = q.bool(true, "zero_point"); err != nil {
			return nil, err
		}
		if v, err := q.str("version"); err != nil {
			return nil, err
		} else if v != "" && !strings.EqualFold(v, "gemm") && !strings.EqualFold(v, "gemv") && !strings.EqualFold(v, "gemv_fast") {
			return nil, cfgErr(q.prefix+"version", "unknown AWQ version %q", v)
		}
		qc.SkipModules, err = skip("modules_to_not_convert")
	case "gptq":
		if qc.Bits, err = q.int(4, "bits"); err != nil {
			return nil, err
		}
		if qc.GroupSize, err = signedGroup(q, 128); err != nil {
			return nil, err
		}
		sym, err := q.bool(true, "sym")
		if err != nil {
			return nil, err
		}
		qc.ZeroPoint = !sym
		if lm, err := q.bool(false, "lm_head"); err != nil {
			return nil, err
		} else if lm {
			return nil, cfgErr(q.prefix+"lm_head", "a quantized lm_head is not modelled")
		}
	case "fp8", "fbgemm_fp8":
		qc.Bits, qc.Float = 8, true
		if bs, ok := q.obj["weight_block_size"]; ok && bs != nil {
			l, ok := bs.([]any)
			if !ok || len(l) != 2 {
				return nil, cfgErr(q.prefix+"weight_block_size", "must be a list of two integers, got %s", short(bs))
			}
			g, ok := l[0].(float64)
			if !ok || g < 1 || g > 1<<16 || g != math.Trunc(g) {
				return nil, cfgErr(q.prefix+"weight_block_size", "must be a list of two positive integers, got %s", short(bs))
			}
			qc.GroupSize = int(g)
		} else if method == "fbgemm_fp8" {
			qc.GroupSize = -1
		}
		qc.SkipModules, err = skip("modules_to_not_convert", "ignored_layers")
	case "compressed-tensors":
		qc, err = parseCompressedTensors(q)
	case "bitsandbytes":
		four, err := q.bool(false, "load_in_4bit")
		if err != nil {
			return nil, err
		}
		eight, err := q.bool(false, "load_in_8bit")
		if err != nil {
			return nil, err
		}
		switch {
		case four:
			qc.Bits, qc.GroupSize = 4, 64
		case eight:
			qc.Bits, qc.GroupSize = 8, -1
		default:
			return nil, cfgErr(q.prefix+"load_in_4bit", "bitsandbytes needs load_in_4bit or load_in_8bit set to true")
		}
		if qc.DoubleQuant, err = q.bool(false, "bnb_4bit_use_double_quant"); err != nil {
			return nil, err
		}
		qc.SkipModules, err = skip("llm_int8_skip_modules")
		if err != nil {
			return nil, err
		}
	case "mxfp4":
		qc.Bits, qc.GroupSize, qc.Float = 4, 32, true
		qc.SkipModules, err = skip("modules_to_not_convert")
	case "modelopt":
		qc, err = parseModelOpt(q)
	case "":
		return nil, cfgErr(q.prefix+"quant_method", "is missing; supported: awq, gptq, fp8, fbgemm_fp8, compressed-tensors, modelopt, bitsandbytes, mxfp4")
	default:
		return nil, cfgErr(q.prefix+"quant_method", "%q is not modelled; supported: awq, gptq, fp8, fbgemm_fp8, compressed-tensors, modelopt, bitsandbytes, mxfp4", method)
	}
	if err != nil {
		return nil, err
	}
	if qc.Bits != 4 && qc.Bits != 8 {
		return nil, cfgErr(q.prefix+"bits", "%d-bit weights are not modelled; 4 or 8", qc.Bits)
	}
	return qc, qc.Validate()
}

func signedGroup(q cfg, def int) (int, error) {
	v, ok := q.obj["group_size"]
	if !ok || v == nil {
		return def, nil
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < -1 || f > 1<<20 || f == 0 {
		return 0, cfgErr(q.prefix+"group_size", "must be -1 (per channel) or a positive integer, got %s", short(v))
	}
	return int(f), nil
}

// parseCompressedTensors reads the first config group's weight scheme
// (llm-compressor's format): num_bits, type (int or float), strategy
// (tensor, channel, group, block) and group_size, plus the ignore list.
func parseCompressedTensors(q cfg) (*QuantConfig, error) {
	groups, ok, err := q.sub("config_groups")
	if err != nil {
		return nil, err
	}
	if !ok || len(groups.obj) == 0 {
		return nil, cfgErr(q.prefix+"config_groups", "is required for compressed-tensors")
	}
	name := ""
	for k := range groups.obj {
		if name == "" || k < name {
			name = k
		}
	}
	g, _, err := groups.sub(name)
	if err != nil {
		return nil, err
	}
	w, ok, err := g.sub("weights")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, cfgErr(g.prefix+"weights", "is required")
	}
	qc := &QuantConfig{Method: "compressed-tensors"}
	if qc.Bits, err = w.int(8, "num_bits"); err != nil {
		return nil, err
	}
	typ, err := w.str("type")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "float":
		qc.Float = true
	case "int", "":
	default:
		return nil, cfgErr(w.prefix+"type", "unknown weight type %q (int or float)", typ)
	}
	strategy, err := w.str("strategy")
	if err != nil {
		return nil, err
	}
	switch strategy {
	case "tensor":
		qc.GroupSize = 0
	case "channel", "":
		qc.GroupSize = -1
	case "group", "tensor_group": // tensor_group: NVFP4's groups of 16 under a per-tensor scale
		if qc.GroupSize, err = w.int(128, "group_size"); err != nil {
			return nil, err
		}
		if qc.GroupSize == 0 {
			return nil, cfgErr(w.prefix+"group_size", "must be positive")
		}
	case "block":
		qc.GroupSize = 128
		if bs, ok := w.obj["block_structure"].([]any); ok && len(bs) == 2 {
			if f, ok := bs[0].(float64); ok && f >= 1 && f < 1<<16 {
				qc.GroupSize = int(f)
			}
		}
	default:
		return nil, cfgErr(w.prefix+"strategy", "unknown strategy %q (tensor, channel, group or block)", strategy)
	}
	sym, err := w.bool(true, "symmetric")
	if err != nil {
		return nil, err
	}
	qc.ZeroPoint = !sym
	if qc.Float && qc.Bits == 4 && qc.GroupSize != 16 && qc.GroupSize != 32 {
		return nil, cfgErr(w.prefix+"group_size", "4-bit float weights come in groups of 16 (NVFP4) or 32 (MXFP4), got %d", qc.GroupSize)
	}
	if qc.SkipModules, err = q.strings("ignore"); err != nil {
		return nil, err
	}
	return qc, nil
}

// parseModelOpt reads NVIDIA ModelOpt's quantization config (config.json's
// quantization_config, or hf_quant_config.json's "quantization" object
// pasted in): quant_algo NVFP4 (4-bit e2m1, an fp8 scale per group_size 16)
// or FP8 (per-tensor scale), and the modules left out (exclude_modules or
// ignore), as vLLM's ModelOptFp8Config/ModelOptNvFp4Config read them
// (vllm/model_executor/layers/quantization/modelopt.py).
func parseModelOpt(q cfg) (*QuantConfig, error) {
	if inner, ok, err := q.sub("quantization"); err != nil {
		return nil, err
	} else if ok {
		q = inner
	}
	algo, err := q.str("quant_algo")
	if err != nil {
		return nil, err
	}
	qc := &QuantConfig{Method: "modelopt", Float: true}
	switch strings.ToUpper(algo) {
	case "NVFP4":
		qc.Bits = 4
		if qc.GroupSize, err = q.int(16, "group_size"); err != nil {
			return nil, err
		}
		if qc.GroupSize != 16 {
			return nil, cfgErr(q.prefix+"group_size", "NVFP4 uses groups of 16, got %d", qc.GroupSize)
		}
	case "FP8":
		qc.Bits = 8
	case "":
		return nil, cfgErr(q.prefix+"quant_algo", "is missing; modelopt checkpoints modelled: NVFP4, FP8")
	default:
		return nil, cfgErr(q.prefix+"quant_algo", "%q is not modelled; modelopt checkpoints modelled: NVFP4, FP8", algo)
	}
	for _, k := range []string{"exclude_modules", "ignore"} {
		s, err := q.strings(k)
		if err != nil {
			return nil, err
		}
		qc.SkipModules = append(qc.SkipModules, s...)
	}
	return qc, nil
}

func (q *QuantConfig) Validate() error {
	switch {
	case q.Bits != 4 && q.Bits != 8:
		return &input.InputError{Attribute: "model_config_json", Message: fmt.Sprintf("quantization_config: %d-bit weights are not supported (4 or 8)", q.Bits)}
	case q.GroupSize > 1<<20 || q.GroupSize < -1:
		return &input.InputError{Attribute: "model_config_json", Message: fmt.Sprintf("quantization_config: group_size %d out of range", q.GroupSize)}
	}
	for _, s := range q.SkipModules {
		if strings.HasPrefix(s, "re:") {
			if _, err := regexp.Compile(strings.TrimPrefix(s, "re:")); err != nil {
				return &input.InputError{Attribute: "model_config_json", Message: fmt.Sprintf("quantization_config: bad regular expression %q in the ignored modules: %v", s, err)}
			}
		}
	}
	return nil
}

// Skips reports whether module path is left unquantized by the checkpoint.
func (q *QuantConfig) Skips(path string) bool {
	for _, s := range q.SkipModules {
		if matchModule(s, path) {
			return true
		}
	}
	return false
}

// matchModule matches a modules_to_not_convert / ignore entry the way the
// quantization configs do: an exact name, a dotted prefix or suffix, a
// "re:" regular expression or a glob with *.
func matchModule(pattern, path string) bool {
	switch {
	case pattern == "":
		return false
	case strings.HasPrefix(pattern, "re:"):
		re, err := regexp.Compile(strings.TrimPrefix(pattern, "re:"))
		return err == nil && re.MatchString(path)
	case strings.Contains(pattern, "*"):
		parts := strings.Split(pattern, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		re, err := regexp.Compile("(^|\\.)" + strings.Join(parts, "[^.]*") + "(\\.|$)")
		return err == nil && re.MatchString(path)
	}
	return path == pattern || strings.HasPrefix(path, pattern+".") || strings.HasSuffix(path, "."+pattern) ||
		strings.Contains("."+path+".", "."+pattern+".")
}
