package hardware

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// checkFinite fails on a NaN or infinite float anywhere in a result struct:
// the provider prints these numbers, and Terraform cannot hold NaN or Inf.
func checkFinite(t *testing.T, what string, v any) {
	t.Helper()
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Float64, reflect.Float32:
			if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
				t.Fatalf("%s%s = %v", what, path, f)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		case reflect.Pointer:
			if !v.IsNil() {
				walk(path, v.Elem())
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(path, v.Index(i))
			}
		}
	}
	walk("", reflect.ValueOf(v))
}

// inputError fails unless err is an *InputError that names an attribute and
// says what is wrong.
func inputError(t *testing.T, err error) {
	t.Helper()
	var ie *input.InputError
	if !errors.As(err, &ie) || ie.Attribute == "" || ie.Message == "" {
		t.Fatalf("error %q (%T) is not an InputError naming an attribute", err, err)
	}
}

// FuzzParseConfigJSON feeds arbitrary bytes to the config.json parser. It
// must never panic; it either returns an InputError for model_config_json
// (or one of its fields) or a model whose fit on an H100 is all finite
// numbers.
func FuzzParseConfigJSON(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("hfconfig", "testdata", "configs", "*.json"))
	hybrid, _ := filepath.Glob(filepath.Join("hfconfig", "testdata", "configs", "hybrid", "*.json"))
	files = append(files, hybrid...)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{"hidden_size":1,"num_attention_heads":1,"num_hidden_layers":1,"vocab_size":1,"num_key_value_heads":0}`,
		`{"text_config":null,"quantization_config":{"quant_method":"mxfp4","modules_to_not_convert":["model.layers.*.self_attn"]}}`, "", "null", "[]", "{}", `{"num_hidden_layers": 1e400}`, `{"hidden_size": -1}`,
		`{"text_config": null}`, `{"quantization_config": {"quant_method": "awq", "bits": 0}}`} {
		f.Add([]byte(s))
	}
	h100, err := catalog.LookupGPU("H100")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := hfconfig.ParseConfigJSON(data)
		if err != nil {
			var ie *input.InputError
			if !errors.As(err, &ie) || ie.Attribute != "model_config_json" || ie.Message == "" {
				t.Fatalf("error %q (%T) is not a model_config_json InputError", err, err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parser accepted a model that fails validation: %v", err)
		}
		_, _ = m.Params(), m.ActiveParams()
		if _, err := KVCacheBytesPerToken(m, "auto", 1); err != nil {
			t.Fatalf("parsed model rejected by KVCacheBytesPerToken: %v", err)
		}
		r, err := Fit(FitInput{Model: m, GPU: h100, MaxModelLen: min(m.MaxPositionEmbeddings, 4096)})
		if err != nil {
			inputError(t, err)
			return
		}
		checkFinite(t, "fit", r)
	})
}

// FuzzFitSizing drives Fit and Size with every input the rayvllm_gpu_fit and
// rayvllm_batch_sizing data sources pass through, including the values their
// validators would refuse (the functions are also called by provider
// functions and resources). No panic; an error is an InputError naming the
// attribute; a result is all finite numbers and never claims a fit with a
// negative KV cache.
func FuzzFitSizing(f *testing.F) {
	f.Add(uint8(0), uint8(0), 0.0, 1, "", "auto", 0, 0.9, 0, 0, 0, int64(1000), 512, 256, "throughput", 0, 0.0, 0.0, 0.0)
	f.Add(uint8(3), uint8(2), 0.0, 2, "awq", "fp8", 4096, 0.5, 8192, 64, 32, int64(1e6), 2000, 100, "latency", 8, 0.0, 0.9, 2.5)
	f.Add(uint8(7), uint8(1), 24.0, 4, "fp8", "auto", 1, 1.0, 1, 1, 1, int64(1), 1, 1, "throughput", 0, 1.5, 0.01, 1.0)
	f.Add(uint8(1), uint8(0), 1e-300, 3, "gptq", "int8", -1, 2.0, -5, -1, 7, int64(-1), -1, 0, "bogus", -1, math.NaN(), math.Inf(1), -1.0)
	models, gpus := hfconfig.Models(), catalog.GPUs()
	f.Fuzz(func(t *testing.T, mi, gi uint8, memGiB float64, tp int, quant, kv string, mml int, util float64, mbt, seqs, block int,
		numReq int64, in, out int, objective string, nGPUs int, sla, target, price float64) {
		g := gpus[int(gi)%len(gpus)]
		if memGiB != 0 { // a custom GPU, as with gpu_memory_gib
			g = catalog.GPU{Name: "custom", MemoryGiB: memGiB, BandwidthGBps: g.BandwidthGBps, BF16TFLOPS: g.BF16TFLOPS, FP8TFLOPS: g.FP8TFLOPS}
		}
		fin := FitInput{Model: models[int(mi)%len(models)], GPU: g, TensorParallelSize: tp, Quantization: quant, KVCacheDType: kv,
			MaxModelLen: mml, GPUMemoryUtilization: util, MaxNumBatchedTokens: mbt, MaxNumSeqs: seqs, BlockSize: block}
		r, err := Fit(fin)
		if err != nil {
			inputError(t, err)
		} else {
			checkFinite(t, "fit", r)
			if r.Fits == (r.ShortfallGiB > 0) || (r.Fits && r.KVCacheGiB <= 0) {
				t.Fatalf("inconsistent result: fits=%v, shortfall %v GiB, KV cache %v GiB", r.Fits, r.ShortfallGiB, r.KVCacheGiB)
			}
		}
		s, err := Size(SizingInput{Fit: fin, Workload: Workload{NumRequests: numReq, MeanInputTokens: in, MeanOutputTokens: out},
			Objective: objective, GPUs: nGPUs, SLAHours: sla, TargetKVCacheUtilization: target, PricePerGPUHourUSD: price})
		if err != nil {
			inputError(t, err)
			return
		}
		checkFinite(t, "sizing", s)
		if s.HoursToComplete < 0 || s.BatchSize < 0 || s.Concurrency < 0 {
			t.Fatalf("negative sizing output: %+v", s)
		}
	})
}
