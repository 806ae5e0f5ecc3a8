package serveapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ptr[T any](v T) *T { return &v }

// vllmSpec is a production-like vLLM mode application.
func vllmSpec() Spec {
	return Spec{
		Name:        "qwen-7b",
		RoutePrefix: "/qwen",
		RuntimeEnv:  map[string]any{"env_vars": map[string]any{"HF_HUB_ENABLE_HF_TRANSFER": "1"}},
		LLM: &LLM{
			ModelID:         "qwen-7b",
			ModelSource:     "Qwen/Qwen2.5-7B-Instruct",
			AcceleratorType: "A10G",
			Engine: Engine{
				Quantization:         "fp8",
				TensorParallelSize:   1,
				MaxModelLen:          8192,
				MaxNumSeqs:           64,
				MaxNumBatchedTokens:  4096,
				EnableChunkedPrefill: ptr(true),
				GPUMemoryUtilization: 0.92,
				KVCacheDType:         "fp8",
				Extra:                map[string]any{"enable_prefix_caching": true},
			},
			Deployment: Deployment{
				MaxOngoingRequests: 64,
				MaxQueuedRequests:  256,
				Autoscaling: &Autoscaling{
					MinReplicas: 1, MaxReplicas: 4, InitialReplicas: ptr(int64(2)),
					TargetOngoingRequests: 32,
					UpscaleDelaySeconds:   ptr(15.0), DownscaleDelaySeconds: ptr(300.0),
				},
			},
		},
	}
}

// cpuSpec serves a model on vLLM's CPU backend.
func cpuSpec() Spec {
	return Spec{
		Name: "tiny", RoutePrefix: "/tiny",
		LLM: &LLM{
			ModelID: "tiny", ModelSource: "/models/tiny", Accelerator: "cpu",
			Engine:     Engine{MaxModelLen: 512, Extra: map[string]any{"kv_cache_memory_bytes": 268435456.0, "enforce_eager": true, "dtype": "float32"}},
			Deployment: Deployment{NumReplicas: 1},
		},
	}
}

func genericSpec() Spec {
	return Spec{
		Name:        "fixture",
		RoutePrefix: "/fixture",
		RuntimeEnv:  map[string]any{"working_dir": "gcs://_ray_pkg_0123456789abcdef0123456789abcdef.zip"},
		ImportPath:  "fixture_app:build_app",
		Args:        map[string]any{"model_id": "m", "delay_ms": 5.0},
		Deployments: []Deployment{{
			Name: "Fixture", MaxOngoingRequests: 4, MaxQueuedRequests: 8,
			Autoscaling: &Autoscaling{MinReplicas: 1, MaxReplicas: 3, TargetOngoingRequests: 2, UpscaleDelaySeconds: ptr(1.0), DownscaleDelaySeconds: ptr(10.0)},
			NumCPUs:     ptr(0.1),
			UserConfig:  map[string]any{"greeting": "hi"},
		}, {
			Name: "Other", NumReplicas: 2, NumGPUs: ptr(0.5),
		}},
	}
}

func canonical(t *testing.T, v any) string {
	t.Helper()
	s, err := CanonicalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRenderVLLMGolden pins the rendered vLLM mode config: the field names
// and nesting that Ray Serve LLM 2.60 reads.
func TestRenderVLLMGolden(t *testing.T) {
	got, err := json.MarshalIndent(Render(vllmSpec()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "golden_vllm_app.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("rendered config differs from %s:\n%s", golden, got)
	}
}

func TestRenderLeavesDefaultsOut(t *testing.T) {
	app := Render(Spec{Name: "m", RoutePrefix: "/m", LLM: &LLM{ModelID: "Qwen/Qwen2.5-0.5B-Instruct"}})
	want := `{"args":{"llm_configs":[{"model_loading_config":{"model_id":"Qwen/Qwen2.5-0.5B-Instruct"}}]},"import_path":"ray.serve.llm:build_openai_app","name":"m","route_prefix":"/m"}`
	if got := canonical(t, app); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Typed engine arguments win over the same key in Extra.
	app = Render(Spec{Name: "m", RoutePrefix: "/m", LLM: &LLM{ModelID: "x", Engine: Engine{MaxModelLen: 10, Extra: map[string]any{"max_model_len": 99, "seed": 1}}}})
	if got := canonical(t, app); !strings.Contains(got, `"engine_kwargs":{"max_model_len":10,"seed":1}`) {
		t.Fatalf("typed max_model_len should win: %s", got)
	}
	if got := canonical(t, Render(cpuSpec())); !strings.Contains(got, `"accelerator_config":{"kind":"cpu"}`) {
		t.Fatalf("accelerator cpu should render accelerator_config: %s", got)
	}
}

func TestParseRoundTrip(t *testing.T) {
	for name, spec := range map[string]Spec{"vllm": vllmSpec(), "cpu": cpuSpec(), "generic": genericSpec()} {
		t.Run(name, func(t *testing.T) {
			raw, _ := json.Marshal(Render(spec))
			back, unknown, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(unknown) != 0 {
				t.Fatalf("unexpected unmanaged fields %v", unknown)
			}
			if a, b := canonical(t, Render(back)), canonical(t, Render(spec)); a != b {
				t.Fatalf("round trip changed the config:\n%s\n%s", a, b)
			}
			// Serve may print 1.0 as 1 and the other way round.
			c, err := Canonical([]byte(strings.ReplaceAll(string(raw), `"num_cpus":0.1`, `"num_cpus":1e-1`)))
			if err != nil || c != canonical(t, Render(spec)) {
				t.Fatalf("Canonical is not number-insensitive: %v\n%s", err, c)
			}
		})
	}
}

func TestParseReportsUnmanagedFields(t *testing.T) {
	raw := `{"name":"a","route_prefix":"/a","import_path":"m:app","logging_config":{"log_level":"DEBUG"},
	  "deployments":[{"name":"D","num_replicas":2,"graceful_shutdown_timeout_s":5,"ray_actor_options":{"num_cpus":1,"memory":1e9}}]}`
	s, unknown, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"deployments[0].graceful_shutdown_timeout_s", "deployments[0].ray_actor_options.memory", "logging_config"}
	if !reflect.DeepEqual(unknown, want) {
		t.Fatalf("unknown = %v, want %v", unknown, want)
	}
	if s.Deployments[0].NumReplicas != 2 || *s.Deployments[0].NumCPUs != 1 || s.ImportPath != "m:app" {
		t.Fatalf("parsed %+v", s)
	}
	if _, _, err := Parse([]byte(`[1]`)); err == nil {
		t.Fatal("a JSON array is not an application config")
	}
}

// venvPython is the project's Python with ray[serve] 2.60 (.ci/venv.sh).
func venvPython(t *testing.T) string {
	t.Helper()
	py, err := filepath.Abs(filepath.Join("..", "..", ".venv", "bin", "python"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no project venv at %s (make venv creates it): %v", py, err)
	}
	return py
}

func validateWithRay(t *testing.T, py string, apps ...map[string]any) (string, bool) {
	t.Helper()
	doc, err := json.Marshal(map[string]any{"applications": apps})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join("testdata", "validate_config.py"))
	cmd.Stdin = bytes.NewReader(doc)
	cmd.Env = append(os.Environ(), "RAY_USAGE_STATS_ENABLED=0")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running %s: %v", py, err)
	}
	return strings.TrimSpace(string(out)), err == nil
}

// TestRayAcceptsRenderedConfig runs Ray's own Pydantic models
// (ServeDeploySchema and Ray Serve LLM's LLMConfig) over rendered configs,
// without vLLM, and checks that they reject a broken one.
func TestRayAcceptsRenderedConfig(t *testing.T) {
	py := venvPython(t)
	minimal := Render(Spec{Name: "small", RoutePrefix: "/small", LLM: &LLM{ModelID: "Qwen/Qwen2.5-0.5B-Instruct", Deployment: Deployment{NumReplicas: 1}}})
	if out, ok := validateWithRay(t, py, Render(vllmSpec()), Render(genericSpec()), minimal, Render(cpuSpec())); !ok {
		t.Fatalf("Ray rejected the rendered config: %s", out)
	}

	bad := vllmSpec()
	bad.LLM.Deployment.Autoscaling.MinReplicas = 5 // above max_replicas 4
	if out, ok := validateWithRay(t, py, Render(bad)); ok || !strings.Contains(out, "deployment config") {
		t.Fatalf("Ray should reject min_replicas > max_replicas, got %q", out)
	}
	bad = vllmSpec()
	bad.LLM.AcceleratorType = "A10X"
	if out, ok := validateWithRay(t, py, Render(bad)); ok || !strings.Contains(out, "Unsupported accelerator type") {
		t.Fatalf("Ray should reject an unknown accelerator_type, got %q", out)
	}
	bad = cpuSpec()
	bad.LLM.AcceleratorType = "A10G"
	if out, ok := validateWithRay(t, py, Render(bad)); ok || !strings.Contains(out, "CPU-only") {
		t.Fatalf("Ray should reject accelerator_type with accelerator_config kind cpu, got %q", out)
	}
	g := genericSpec()
	g.Deployments[0].NumReplicas = 2 // together with autoscaling
	if out, ok := validateWithRay(t, py, Render(g)); ok {
		t.Fatalf("Ray should reject num_replicas with autoscaling_config, got %q", out)
	}
}

// FuzzParse: any JSON the dashboard returns is parsed without a panic, and
// a parsed config renders back to valid JSON.
func FuzzParse(f *testing.F) {
	for _, s := range []Spec{vllmSpec(), genericSpec()} {
		b, _ := json.Marshal(Render(s))
		f.Add(b)
	}
	for _, s := range []string{`{}`, `{"import_path":"ray.serve.llm:build_openai_app"}`, `{"import_path":"ray.serve.llm:build_openai_app","args":{"llm_configs":[1,{}]}}`,
		`{"deployments":[null,{"autoscaling_config":[]}],"args":7}`, `{"args":{"llm_configs":"x"},"import_path":"ray.serve.llm:build_openai_app"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, _, err := Parse(raw)
		if err != nil {
			return
		}
		if _, err := CanonicalValue(Render(s)); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	})
}
