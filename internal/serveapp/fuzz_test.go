package serveapp

import (
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"
)

// FuzzRender renders a vLLM-mode application from hostile values (model
// names and sources with quotes, braces, newlines, JSON and shell
// metacharacters; any extra engine_kwargs object; any numbers the provider's
// validators let through) and checks that the config is valid JSON and
// parses back to the same config, with the model name and source literally
// as given and nothing reported as unmanaged: what the provider sends is
// what it reads back, so a hostile value can neither inject a field nor
// cause endless drift.
func FuzzRender(f *testing.F) {
	f.Add("qwen-7b", "/qwen", "qwen-7b", "Qwen/Qwen2.5-7B-Instruct", "A10G", "fp8", "auto", int64(1), int64(8192), int64(64), 0.9, []byte(`{"enable_prefix_caching":true}`))
	f.Add(`m","accelerator_type":"H100`, "/", `$(touch /tmp/pwned)`, "`id`; rm -rf / #", "", "", "", int64(0), int64(0), int64(0), 0.0, []byte(`{"a":{"b":[1,"\u0000"]}}`))
	f.Add("a\nb", "/x", "\"}]}", "s3://b/k'\"\\", "L4", "awq", "fp8", int64(8), int64(1<<24), int64(1<<20), 1.0, []byte(`not json`))
	f.Add("n", "/r", "m", "", "", "", "", int64(1<<53+1), int64(-1), int64(0), 1e-300, []byte(`{"model":"x","max_model_len":"y"}`))
	f.Fuzz(func(t *testing.T, name, route, modelID, modelSource, accel, quant, kv string, tp, mml, seqs int64, util float64, extra []byte) {
		if math.IsNaN(util) || math.IsInf(util, 0) {
			t.Skip("gpu_memory_utilization is validated to (0, 1]; JSON has no NaN or Inf")
		}
		for _, v := range []string{name, route, modelID, modelSource, accel, quant, kv} {
			if !utf8.ValidString(v) {
				// encoding/json writes invalid UTF-8 as U+FFFD. Terraform
				// strings are always valid UTF-8, so the provider never has one.
				t.Skip("not UTF-8")
			}
		}
		var kw map[string]any
		if json.Unmarshal(extra, &kw) != nil {
			kw = nil
		}
		for _, k := range []string{"quantization", "tensor_parallel_size", "max_model_len", "max_num_seqs", "max_num_batched_tokens", "enable_chunked_prefill", "gpu_memory_utilization", "kv_cache_dtype"} {
			delete(kw, k) // the provider refuses typed engine arguments in engine_kwargs_json
		}
		if len(kw) == 0 {
			kw = nil
		}
		s := Spec{Name: name, RoutePrefix: route, LLM: &LLM{ModelID: modelID, ModelSource: modelSource, AcceleratorType: accel,
			Engine: Engine{Quantization: quant, KVCacheDType: kv, TensorParallelSize: tp, MaxModelLen: mml, MaxNumSeqs: seqs, GPUMemoryUtilization: util, Extra: kw}}}
		want, err := CanonicalValue(Render(s))
		if err != nil {
			t.Fatalf("rendered config is not JSON: %v", err)
		}
		back, unknown, err := Parse([]byte(want))
		if err != nil {
			t.Fatalf("rendered config does not parse: %v\n%s", err, want)
		}
		if len(unknown) > 0 {
			t.Fatalf("parse reports unmanaged fields %v in what Render wrote:\n%s", unknown, want)
		}
		if back.Name != name || back.RoutePrefix != route || back.LLM == nil || back.LLM.ModelID != modelID || back.LLM.ModelSource != modelSource {
			t.Fatalf("values did not round-trip literally: %+v", back)
		}
		got, err := CanonicalValue(Render(back))
		if err != nil || got != want {
			t.Fatalf("round trip changed the config (drift):\nsent %s\nread %s (%v)", want, got, err)
		}
	})
}
