// Package serveapp renders one Ray Serve application config
// (serve/schema.py ServeApplicationSchema) from typed settings, in two modes:
//
//   - vLLM mode: Ray Serve LLM's OpenAI app, import_path
//     ray.serve.llm:build_openai_app, whose args are LLMServingArgs with one
//     LLMConfig (ray/llm/_internal/serve/core/configs/llm_config.py);
//   - generic mode: any import_path with args and per-deployment overrides
//     (serve/schema.py DeploymentSchema).
//
// It also parses a config back (Parse), for import and drift detection.
// The field names are those of Ray 2.60.0 (RayVersion); Ray validates them
// with the Pydantic models named above, which serveapp_test.go runs.
package serveapp

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// RayVersion is the Ray release whose schemas the field names come from:
// the tested set's (internal/versions).
var RayVersion = versions.Tested.Ray

// LLMImportPath is Ray Serve LLM's OpenAI-compatible app builder.
const LLMImportPath = "ray.serve.llm:build_openai_app"

// Spec is one Serve application.
type Spec struct {
	Name        string
	RoutePrefix string
	// RuntimeEnv is the application's runtime_env (working_dir, pip,
	// env_vars, ...); nil for none.
	RuntimeEnv map[string]any
	// LLM selects vLLM mode; nil selects generic mode.
	LLM *LLM
	// Generic mode.
	ImportPath  string
	Args        map[string]any
	Deployments []Deployment
}

// LLM is one model served by Ray Serve LLM on vLLM.
type LLM struct {
	ModelID         string // the name clients use ("model" in requests)
	ModelSource     string // Hugging Face id, local path or s3:// / gs:// mirror; "" = ModelID
	AcceleratorType string // Ray accelerator type, e.g. "A10G", "L4", "H100"; "" = any GPU
	// Accelerator is accelerator_config.kind: "gpu", "cpu" (vLLM's CPU
	// backend, one Ray CPU per engine worker) or "" (left out: Ray infers it,
	// GPUs unless the placement bundles say otherwise).
	Accelerator string
	Engine      Engine
	// Deployment holds the LLM server's deployment options; Name is unused.
	Deployment Deployment
}

// Engine holds the vLLM engine arguments (vllm/engine/arg_utils.py
// EngineArgs) rendered into LLMConfig.engine_kwargs. Zero values are left
// out, so that vLLM's defaults apply.
type Engine struct {
	Quantization         string
	TensorParallelSize   int64
	MaxModelLen          int64
	MaxNumSeqs           int64
	MaxNumBatchedTokens  int64
	EnableChunkedPrefill *bool
	GPUMemoryUtilization float64
	KVCacheDType         string
	PipelineParallelSize int64
	EnablePrefixCaching  *bool
	// Extra engine_kwargs, merged under the typed ones.
	Extra map[string]any
}

// Deployment is the subset of DeploymentSchema the provider manages.
// Zero values and nil pointers are left out, so that Serve's defaults (or
// the values in the application's code) apply.
type Deployment struct {
	Name               string
	NumReplicas        int64
	MaxOngoingRequests int64
	// MaxQueuedRequests: -1 is no limit (Serve's default); 0 is left out.
	MaxQueuedRequests int64
	Autoscaling       *Autoscaling
	NumCPUs           *float64
	NumGPUs           *float64
	UserConfig        map[string]any
}

// Autoscaling is AutoscalingConfig (serve/config.py).
type Autoscaling struct {
	MinReplicas           int64
	MaxReplicas           int64
	InitialReplicas       *int64
	TargetOngoingRequests float64 // 0 = Serve's default (2)
	UpscaleDelaySeconds   *float64
	DownscaleDelaySeconds *float64
}

// Render returns the ServeApplicationSchema object for s.
func Render(s Spec) map[string]any {
	app := map[string]any{
		"name":         s.Name,
		"route_prefix": s.RoutePrefix,
	}
	if len(s.RuntimeEnv) > 0 {
		app["runtime_env"] = s.RuntimeEnv
	}
	if s.LLM != nil {
		app["import_path"] = LLMImportPath
		app["args"] = map[string]any{"llm_configs": []any{renderLLM(*s.LLM)}}
		return app
	}
	app["import_path"] = s.ImportPath
	if len(s.Args) > 0 {
		app["args"] = s.Args
	}
	if len(s.Deployments) > 0 {
		deps := make([]any, 0, len(s.Deployments))
		for _, d := range s.Deployments {
			m := renderDeployment(d)
			m["name"] = d.Name
			deps = append(deps, m)
		}
		app["deployments"] = deps
	}
	return app
}

func renderLLM(l LLM) map[string]any {
	loading := map[string]any{"model_id": l.ModelID}
	if l.ModelSource != "" {
		loading["model_source"] = l.ModelSource
	}
	cfg := map[string]any{"model_loading_config": loading}
	if l.AcceleratorType != "" {
		cfg["accelerator_type"] = l.AcceleratorType
	}
	if l.Accelerator != "" {
		cfg["accelerator_config"] = map[string]any{"kind": l.Accelerator}
	}
	kw := map[string]any{}
	for k, v := range l.Engine.Extra {
		kw[k] = v
	}
	e := l.Engine
	setStr(kw, "quantization", e.Quantization)
	setInt(kw, "tensor_parallel_size", e.TensorParallelSize)
	setInt(kw, "max_model_len", e.MaxModelLen)
	setInt(kw, "max_num_seqs", e.MaxNumSeqs)
	setInt(kw, "max_num_batched_tokens", e.MaxNumBatchedTokens)
	if e.EnableChunkedPrefill != nil {
		kw["enable_chunked_prefill"] = *e.EnableChunkedPrefill
	}
	if e.GPUMemoryUtilization != 0 {
		kw["gpu_memory_utilization"] = e.GPUMemoryUtilization
	}
	setStr(kw, "kv_cache_dtype", e.KVCacheDType)
	setInt(kw, "pipeline_parallel_size", e.PipelineParallelSize)
	if e.EnablePrefixCaching != nil {
		kw["enable_prefix_caching"] = *e.EnablePrefixCaching
	}
	if len(kw) > 0 {
		cfg["engine_kwargs"] = kw
	}
	if d := renderDeployment(l.Deployment); len(d) > 0 {
		cfg["deployment_config"] = d
	}
	return cfg
}

func renderDeployment(d Deployment) map[string]any {
	m := map[string]any{}
	setInt(m, "num_replicas", d.NumReplicas)
	setInt(m, "max_ongoing_requests", d.MaxOngoingRequests)
	setInt(m, "max_queued_requests", d.MaxQueuedRequests)
	if a := d.Autoscaling; a != nil {
		ac := map[string]any{"min_replicas": a.MinReplicas, "max_replicas": a.MaxReplicas}
		if a.InitialReplicas != nil {
			ac["initial_replicas"] = *a.InitialReplicas
		}
		if a.TargetOngoingRequests != 0 {
			ac["target_ongoing_requests"] = a.TargetOngoingRequests
		}
		if a.UpscaleDelaySeconds != nil {
			ac["upscale_delay_s"] = *a.UpscaleDelaySeconds
		}
		if a.DownscaleDelaySeconds != nil {
			ac["downscale_delay_s"] = *a.DownscaleDelaySeconds
		}
		m["autoscaling_config"] = ac
	}
	opts := map[string]any{}
	if d.NumCPUs != nil {
		opts["num_cpus"] = *d.NumCPUs
	}
	if d.NumGPUs != nil {
		opts["num_gpus"] = *d.NumGPUs
	}
	if len(opts) > 0 {
		m["ray_actor_options"] = opts
	}
	if d.UserConfig != nil {
		m["user_config"] = d.UserConfig
	}
	return m
}

func setInt(m map[string]any, k string, v int64) {
	if v != 0 {
		m[k] = v
	}
}

func setStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// Canonical re-encodes JSON with sorted keys and numbers as float64 prints
// them, so that two configs that Serve treats the same compare equal (Serve
// returns 1 it was sent as 1.0, and the other way round).
func Canonical(raw []byte) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// CanonicalValue is Canonical for a Go value.
func CanonicalValue(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return Canonical(b)
}

// Parse reads a deployed_app_config back into a Spec. The Spec renders to
// the same canonical JSON, except for fields the provider does not manage,
// which are listed in the returned slice (e.g. "deployments[0].graceful_shutdown_timeout_s").
func Parse(raw []byte) (Spec, []string, error) {
	var app map[string]any
	if err := json.Unmarshal(raw, &app); err != nil {
		return Spec{}, nil, fmt.Errorf("the application config is not a JSON object: %w", err)
	}
	p := parser{}
	s := Spec{
		Name:        p.str(app, "name", ""),
		RoutePrefix: p.str(app, "route_prefix", ""),
		ImportPath:  p.str(app, "import_path", ""),
		RuntimeEnv:  p.obj(app, "runtime_env", ""),
	}
	args := p.obj(app, "args", "")
	if s.ImportPath == LLMImportPath {
		s.ImportPath = ""
		s.LLM = p.llm(args)
	} else {
		s.Args = args
		if deps, ok := app["deployments"].([]any); ok {
			for i, d := range deps {
				dm, _ := d.(map[string]any)
				at := fmt.Sprintf("deployments[%d].", i)
				dep := p.deployment(dm, at)
				dep.Name = p.str(dm, "name", at)
				p.rest(dm, at)
				s.Deployments = append(s.Deployments, dep)
			}
			delete(app, "deployments")
		}
	}
	p.rest(app, "")
	sort.Strings(p.unknown)
	return s, p.unknown, nil
}

// parser takes known keys out of maps and records what is left.
type parser struct{ unknown []string }

func (p *parser) str(m map[string]any, k, at string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	delete(m, k)
	s, ok := v.(string)
	if !ok {
		p.unknown = append(p.unknown, at+k)
	}
	return s
}

func (p *parser) obj(m map[string]any, k, at string) map[string]any {
	v, ok := m[k]
	if !ok {
		return nil
	}
	delete(m, k)
	o, ok := v.(map[string]any)
	if !ok && v != nil {
		p.unknown = append(p.unknown, at+k)
	}
	return o
}

func (p *parser) int(m map[string]any, k, at string) int64 {
	v, ok := m[k]
	if !ok {
		return 0
	}
	delete(m, k)
	f, ok := v.(float64)
	if !ok || f != float64(int64(f)) {
		p.unknown = append(p.unknown, at+k)
		return 0
	}
	return int64(f)
}

func (p *parser) float(m map[string]any, k, at string) *float64 {
	v, ok := m[k]
	if !ok {
		return nil
	}
	delete(m, k)
	f, ok := v.(float64)
	if !ok {
		p.unknown = append(p.unknown, at+k)
		return nil
	}
	return &f
}

func (p *parser) rest(m map[string]any, at string) {
	for k := range m {
		p.unknown = append(p.unknown, at+k)
	}
}

func (p *parser) deployment(m map[string]any, at string) Deployment {
	d := Deployment{
		NumReplicas:        p.int(m, "num_replicas", at),
		MaxOngoingRequests: p.int(m, "max_ongoing_requests", at),
		MaxQueuedRequests:  p.int(m, "max_queued_requests", at),
	}
	if ac := p.obj(m, "autoscaling_config", at); ac != nil {
		aat := at + "autoscaling_config."
		a := &Autoscaling{
			MinReplicas:           p.int(ac, "min_replicas", aat),
			MaxReplicas:           p.int(ac, "max_replicas", aat),
			UpscaleDelaySeconds:   p.float(ac, "upscale_delay_s", aat),
			DownscaleDelaySeconds: p.float(ac, "downscale_delay_s", aat),
		}
		if _, ok := ac["initial_replicas"]; ok {
			n := p.int(ac, "initial_replicas", aat)
			a.InitialReplicas = &n
		}
		if t := p.float(ac, "target_ongoing_requests", aat); t != nil {
			a.TargetOngoingRequests = *t
		}
		p.rest(ac, aat)
		d.Autoscaling = a
	}
	if opts := p.obj(m, "ray_actor_options", at); opts != nil {
		oat := at + "ray_actor_options."
		d.NumCPUs = p.float(opts, "num_cpus", oat)
		d.NumGPUs = p.float(opts, "num_gpus", oat)
		p.rest(opts, oat)
	}
	if uc, ok := m["user_config"]; ok {
		d.UserConfig, _ = uc.(map[string]any)
		if d.UserConfig == nil {
			p.unknown = append(p.unknown, at+"user_config")
		}
		delete(m, "user_config")
	}
	return d
}

func (p *parser) llm(args map[string]any) *LLM {
	l := &LLM{}
	list, _ := args["llm_configs"].([]any)
	delete(args, "llm_configs")
	p.rest(args, "args.")
	if len(list) != 1 {
		p.unknown = append(p.unknown, fmt.Sprintf("args.llm_configs (%d models; the provider manages exactly one)", len(list)))
		if len(list) == 0 {
			return l
		}
	}
	cfg, _ := list[0].(map[string]any)
	at := "args.llm_configs[0]."
	loading := p.obj(cfg, "model_loading_config", at)
	l.ModelID = p.str(loading, "model_id", at+"model_loading_config.")
	l.ModelSource = p.str(loading, "model_source", at+"model_loading_config.")
	p.rest(loading, at+"model_loading_config.")
	l.AcceleratorType = p.str(cfg, "accelerator_type", at)
	if ac := p.obj(cfg, "accelerator_config", at); ac != nil {
		l.Accelerator = p.str(ac, "kind", at+"accelerator_config.")
		p.rest(ac, at+"accelerator_config.")
	}
	if kw := p.obj(cfg, "engine_kwargs", at); kw != nil {
		kat := at + "engine_kwargs."
		e := Engine{
			Quantization:         p.str(kw, "quantization", kat),
			TensorParallelSize:   p.int(kw, "tensor_parallel_size", kat),
			MaxModelLen:          p.int(kw, "max_model_len", kat),
			MaxNumSeqs:           p.int(kw, "max_num_seqs", kat),
			MaxNumBatchedTokens:  p.int(kw, "max_num_batched_tokens", kat),
			KVCacheDType:         p.str(kw, "kv_cache_dtype", kat),
			PipelineParallelSize: p.int(kw, "pipeline_parallel_size", kat),
		}
		for k, f := range map[string]**bool{"enable_chunked_prefill": &e.EnableChunkedPrefill, "enable_prefix_caching": &e.EnablePrefixCaching} {
			if v, ok := kw[k].(bool); ok {
				*f = &v
				delete(kw, k)
			}
		}
		if g := p.float(kw, "gpu_memory_utilization", kat); g != nil {
			e.GPUMemoryUtilization = *g
		}
		if len(kw) > 0 {
			e.Extra = kw
		}
		l.Engine = e
	}
	if dc := p.obj(cfg, "deployment_config", at); dc != nil {
		dat := at + "deployment_config."
		l.Deployment = p.deployment(dc, dat)
		p.rest(dc, dat)
	}
	p.rest(cfg, at)
	return l
}

// AcceleratorTypes are the accelerator_type values Ray Serve LLM 2.60
// accepts (ray.util.accelerators, the AcceleratorType enum of
// llm/_internal/serve/core/configs/accelerators.py); "A10" is read as "A10G".
var AcceleratorTypes = []string{
	"V100", "P100", "T4", "P4", "K80", "A10G", "A10", "L4", "L40S", "A100", "A100-40G", "A100-80G",
	"H100", "H200", "H20", "B200", "B300", "GB200", "GB300", "RTX-PRO-6000",
	"Intel-GPU-Max-1550", "Intel-GPU-Max-1100", "Intel-GAUDI",
	"AMD-Instinct-MI100", "AMD-Instinct-MI250X", "AMD-Instinct-MI250X-MI250", "AMD-Instinct-MI210",
	"AMD-Instinct-MI300A", "AMD-Instinct-MI300X-OAM", "AMD-Instinct-MI300X-HF", "AMD-Instinct-MI308X",
	"AMD-Instinct-MI325X-OAM", "AMD-Instinct-MI350X-OAM", "AMD-Instinct-MI355X-OAM",
	"AMD-Radeon-R9-200-HD-7900", "AMD-Radeon-HD-7900", "aws-neuron-core",
	"TPU-V2", "TPU-V3", "TPU-V4", "TPU-V5P", "TPU-V5LITEPOD", "TPU-V6E", "TPU-V7X",
	"Ascend910B", "Ascend910B4", "MXC500", "MXC550", "FURIOSA_RNGD",
	"M1", "M1-Pro", "M1-Max", "M1-Ultra", "M2", "M2-Pro", "M2-Max", "M2-Ultra", "M3", "M3-Pro", "M3-Max",
	"Apple-Silicon", "MOBILINT_ARIES", "MOBILINT_REGULUS",
}

// CheckRoutePrefix applies Serve's route_prefix rules
// (serve/schema.py _route_prefix_format).
func CheckRoutePrefix(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q must start with \"/\", e.g. \"/%s\"", p, p)
	case len(p) > 1 && strings.HasSuffix(p, "/"):
		return fmt.Errorf("%q must not end with \"/\" (only the root prefix \"/\" may), e.g. %q", p, strings.TrimRight(p, "/"))
	case strings.ContainsAny(p, "{}"):
		return fmt.Errorf("%q must not contain \"{\" or \"}\": Serve route prefixes have no wildcards", p)
	}
	return nil
}
