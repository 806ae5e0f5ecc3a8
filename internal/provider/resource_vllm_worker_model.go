package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
)

type vllmWorkerModel struct {
	ID           types.String `tfsdk:"id"`
	DashboardURL types.String `tfsdk:"dashboard_url"`
	AuthToken    types.String `tfsdk:"auth_token"`
	// Write-only: null in the plan and state, filled from the
	// configuration by loadWriteOnly.
	AuthTokenWO        types.String      `tfsdk:"auth_token_wo"`
	AuthTokenWOVersion types.Int64       `tfsdk:"auth_token_wo_version"`
	EnvVarsWO          types.Map         `tfsdk:"env_vars_wo"`
	EnvVarsWOVersion   types.Int64       `tfsdk:"env_vars_wo_version"`
	Name               types.String      `tfsdk:"name"`
	RoutePrefix        types.String      `tfsdk:"route_prefix"`
	HTTPOptions        *httpOptionsModel `tfsdk:"http_options"`
	EndpointBaseURL    types.String      `tfsdk:"endpoint_base_url"`
	WorkingDir         types.String      `tfsdk:"working_dir"`
	WorkingDirURI      types.String      `tfsdk:"working_dir_uri"`
	RuntimeEnvJSON     types.String      `tfsdk:"runtime_env_json"`

	ModelID         types.String `tfsdk:"model_id"`
	ModelSource     types.String `tfsdk:"model_source"`
	AcceleratorType types.String `tfsdk:"accelerator_type"`
	Accelerator     types.String `tfsdk:"accelerator"`
	engineSettingsModel
	EnableChunkedPrefill types.Bool        `tfsdk:"enable_chunked_prefill"`
	NumReplicas          types.Int64       `tfsdk:"num_replicas"`
	MaxOngoingRequests   types.Int64       `tfsdk:"max_ongoing_requests"`
	MaxQueuedRequests    types.Int64       `tfsdk:"max_queued_requests"`
	Autoscaling          *autoscalingModel `tfsdk:"autoscaling"`
	RequireFit           types.Bool        `tfsdk:"require_fit"`

	ImportPath  types.String         `tfsdk:"import_path"`
	ArgsJSON    jsontypes.Normalized `tfsdk:"args_json"`
	Deployments []deploymentModel    `tfsdk:"deployments"`

	SmokeTest *smokeTestModel `tfsdk:"smoke_test"`
	Timeouts  timeouts.Value  `tfsdk:"timeouts"`

	Status             types.String         `tfsdk:"status"`
	StatusMessage      types.String         `tfsdk:"status_message"`
	EndpointURL        types.String         `tfsdk:"endpoint_url"`
	LastDeployedTime   timetypes.RFC3339    `tfsdk:"last_deployed_time"`
	DeploymentStatuses types.Map            `tfsdk:"deployment_statuses"`
	ConfigJSON         jsontypes.Normalized `tfsdk:"config_json"`
}

type httpOptionsModel struct {
	Host types.String `tfsdk:"host"`
	Port types.Int64  `tfsdk:"port"`
}

type autoscalingModel struct {
	MinReplicas           types.Int64   `tfsdk:"min_replicas"`
	MaxReplicas           types.Int64   `tfsdk:"max_replicas"`
	InitialReplicas       types.Int64   `tfsdk:"initial_replicas"`
	TargetOngoingRequests types.Float64 `tfsdk:"target_ongoing_requests"`
	UpscaleDelaySeconds   types.Float64 `tfsdk:"upscale_delay_seconds"`
	DownscaleDelaySeconds types.Float64 `tfsdk:"downscale_delay_seconds"`
}

type deploymentModel struct {
	Name               types.String         `tfsdk:"name"`
	NumReplicas        types.Int64          `tfsdk:"num_replicas"`
	MaxOngoingRequests types.Int64          `tfsdk:"max_ongoing_requests"`
	MaxQueuedRequests  types.Int64          `tfsdk:"max_queued_requests"`
	Autoscaling        *autoscalingModel    `tfsdk:"autoscaling"`
	NumCPUs            types.Float64        `tfsdk:"num_cpus"`
	NumGPUs            types.Float64        `tfsdk:"num_gpus"`
	UserConfigJSON     jsontypes.Normalized `tfsdk:"user_config_json"`
}

type smokeTestModel struct {
	Path               types.String `tfsdk:"path"`
	Method             types.String `tfsdk:"method"`
	Body               types.String `tfsdk:"body"`
	Headers            types.Map    `tfsdk:"headers"`
	ExpectedStatus     types.Int64  `tfsdk:"expected_status"`
	ExpectBodyContains types.String `tfsdk:"expect_body_contains"`
	TimeoutSeconds     types.Int64  `tfsdk:"timeout_seconds"`
}

func checkAutoscaling(diags *diag.Diagnostics, p path.Path, a *autoscalingModel) {
	if a == nil {
		return
	}
	lo, hi := a.MinReplicas.ValueInt64(), a.MaxReplicas.ValueInt64()
	if lo > hi {
		diags.AddAttributeError(p.AtName("min_replicas"), "min_replicas above max_replicas",
			fmt.Sprintf("min_replicas is %d and max_replicas %d; min_replicas must not exceed max_replicas.", lo, hi))
	}
	if !a.InitialReplicas.IsNull() {
		if n := a.InitialReplicas.ValueInt64(); n < lo || n > hi {
			diags.AddAttributeError(p.AtName("initial_replicas"), "initial_replicas out of range",
				fmt.Sprintf("initial_replicas is %d; it must lie between min_replicas (%d) and max_replicas (%d).", n, lo, hi))
		}
	}
}

// spec renders the model into a Serve application spec. workingDirURI is
// the package URI of working_dir ("" for none).
func (m *vllmWorkerModel) spec() (serveapp.Spec, error) {
	s := serveapp.Spec{Name: m.Name.ValueString(), RoutePrefix: m.routePrefix()}
	var err error
	if s.RuntimeEnv, err = jsonObject(asNormalized(m.RuntimeEnvJSON)); err != nil {
		return s, fmt.Errorf("runtime_env_json: %w", err)
	}
	if uri := m.WorkingDirURI.ValueString(); uri != "" {
		if s.RuntimeEnv == nil {
			s.RuntimeEnv = map[string]any{}
		}
		s.RuntimeEnv["working_dir"] = uri
	}
	if wo := m.writeOnlyEnv(); len(wo) > 0 {
		if s.RuntimeEnv == nil {
			s.RuntimeEnv = map[string]any{}
		}
		vars, _ := s.RuntimeEnv["env_vars"].(map[string]any)
		if vars == nil {
			vars = map[string]any{}
		}
		for k, v := range wo {
			vars[k] = v
		}
		s.RuntimeEnv["env_vars"] = vars
	}
	if !m.ImportPath.IsNull() {
		s.ImportPath = m.ImportPath.ValueString()
		if s.Args, err = jsonObject(m.ArgsJSON); err != nil {
			return s, fmt.Errorf("args_json: %w", err)
		}
		for _, d := range m.Deployments {
			uc, err := jsonObject(d.UserConfigJSON)
			if err != nil {
				return s, fmt.Errorf("deployments %q user_config_json: %w", d.Name.ValueString(), err)
			}
			s.Deployments = append(s.Deployments, serveapp.Deployment{
				Name:               d.Name.ValueString(),
				NumReplicas:        d.NumReplicas.ValueInt64(),
				MaxOngoingRequests: d.MaxOngoingRequests.ValueInt64(),
				MaxQueuedRequests:  d.MaxQueuedRequests.ValueInt64(),
				Autoscaling:        d.Autoscaling.spec(),
				NumCPUs:            d.NumCPUs.ValueFloat64Pointer(),
				NumGPUs:            d.NumGPUs.ValueFloat64Pointer(),
				UserConfig:         uc,
			})
		}
		return s, nil
	}
	extra, err := jsonObject(m.EngineKwargsJSON)
	if err != nil {
		return s, fmt.Errorf("engine_kwargs_json: %w", err)
	}
	s.LLM = &serveapp.LLM{
		ModelID:         m.ModelID.ValueString(),
		ModelSource:     m.ModelSource.ValueString(),
		AcceleratorType: m.AcceleratorType.ValueString(),
		Accelerator:     m.Accelerator.ValueString(),
		Engine: serveapp.Engine{
			Quantization:         m.Quantization.ValueString(),
			TensorParallelSize:   m.TensorParallelSize.ValueInt64(),
			MaxModelLen:          m.MaxModelLen.ValueInt64(),
			MaxNumSeqs:           m.MaxNumSeqs.ValueInt64(),
			MaxNumBatchedTokens:  m.MaxNumBatchedTokens.ValueInt64(),
			EnableChunkedPrefill: m.EnableChunkedPrefill.ValueBoolPointer(),
			GPUMemoryUtilization: m.GPUMemoryUtilization.ValueFloat64(),
			KVCacheDType:         m.KVCacheDType.ValueString(),
			PipelineParallelSize: m.PipelineParallelSize.ValueInt64(),
			EnablePrefixCaching:  m.EnablePrefixCaching.ValueBoolPointer(),
			Extra:                extra,
		},
		Deployment: serveapp.Deployment{
			NumReplicas:        m.NumReplicas.ValueInt64(),
			MaxOngoingRequests: m.MaxOngoingRequests.ValueInt64(),
			MaxQueuedRequests:  m.MaxQueuedRequests.ValueInt64(),
			Autoscaling:        m.Autoscaling.spec(),
		},
	}
	return s, nil
}

func (m *vllmWorkerModel) routePrefix() string {
	if m.RoutePrefix.IsNull() || m.RoutePrefix.IsUnknown() {
		return "/" + m.Name.ValueString()
	}
	return m.RoutePrefix.ValueString()
}

func (a *autoscalingModel) spec() *serveapp.Autoscaling {
	if a == nil {
		return nil
	}
	return &serveapp.Autoscaling{
		MinReplicas:           a.MinReplicas.ValueInt64(),
		MaxReplicas:           a.MaxReplicas.ValueInt64(),
		InitialReplicas:       a.InitialReplicas.ValueInt64Pointer(),
		TargetOngoingRequests: a.TargetOngoingRequests.ValueFloat64(),
		UpscaleDelaySeconds:   a.UpscaleDelaySeconds.ValueFloat64Pointer(),
		DownscaleDelaySeconds: a.DownscaleDelaySeconds.ValueFloat64Pointer(),
	}
}

func autoscalingFromSpec(a *serveapp.Autoscaling) *autoscalingModel {
	if a == nil {
		return nil
	}
	return &autoscalingModel{
		MinReplicas:           types.Int64Value(a.MinReplicas),
		MaxReplicas:           types.Int64Value(a.MaxReplicas),
		InitialReplicas:       types.Int64PointerValue(a.InitialReplicas),
		TargetOngoingRequests: float64OrNull(a.TargetOngoingRequests),
		UpscaleDelaySeconds:   types.Float64PointerValue(a.UpscaleDelaySeconds),
		DownscaleDelaySeconds: types.Float64PointerValue(a.DownscaleDelaySeconds),
	}
}

// applySpec sets the configurable attributes from a config read from the
// cluster. JSON attributes keep their text when it means the same.
func (m *vllmWorkerModel) applySpec(s serveapp.Spec) {
	m.RoutePrefix = types.StringValue(s.RoutePrefix)
	env := map[string]any{}
	for k, v := range s.RuntimeEnv {
		env[k] = v
	}
	m.WorkingDirURI = types.StringNull()
	if wd, ok := env["working_dir"].(string); ok && ray.IsPackageURI(wd) {
		m.WorkingDirURI = types.StringValue(wd)
		delete(env, "working_dir")
	}
	m.RuntimeEnvJSON = sameJSON(asNormalized(m.RuntimeEnvJSON), env).StringValue
	if s.LLM == nil {
		m.ImportPath = types.StringValue(s.ImportPath)
		m.ArgsJSON = sameJSON(m.ArgsJSON, s.Args)
		var deps []deploymentModel
		for i, d := range s.Deployments {
			prior := jsontypes.NewNormalizedNull()
			if i < len(m.Deployments) {
				prior = m.Deployments[i].UserConfigJSON
			}
			deps = append(deps, deploymentModel{
				Name:               types.StringValue(d.Name),
				NumReplicas:        int64OrNull(d.NumReplicas),
				MaxOngoingRequests: int64OrNull(d.MaxOngoingRequests),
				MaxQueuedRequests:  int64OrNull(d.MaxQueuedRequests),
				Autoscaling:        autoscalingFromSpec(d.Autoscaling),
				NumCPUs:            types.Float64PointerValue(d.NumCPUs),
				NumGPUs:            types.Float64PointerValue(d.NumGPUs),
				UserConfigJSON:     sameJSON(prior, d.UserConfig),
			})
		}
		m.Deployments = deps
		return
	}
	l := s.LLM
	m.ImportPath, m.ArgsJSON, m.Deployments = types.StringNull(), jsontypes.NewNormalizedNull(), nil
	m.ModelID = types.StringValue(l.ModelID)
	m.ModelSource = stringOrNull(l.ModelSource)
	m.AcceleratorType = stringOrNull(l.AcceleratorType)
	m.Accelerator = stringOrNull(l.Accelerator)
	e := l.Engine
	m.Quantization = stringOrNull(e.Quantization)
	m.TensorParallelSize = int64OrNull(e.TensorParallelSize)
	m.MaxModelLen = int64OrNull(e.MaxModelLen)
	m.MaxNumSeqs = int64OrNull(e.MaxNumSeqs)
	m.MaxNumBatchedTokens = int64OrNull(e.MaxNumBatchedTokens)
	m.EnableChunkedPrefill = types.BoolPointerValue(e.EnableChunkedPrefill)
	m.GPUMemoryUtilization = float64OrNull(e.GPUMemoryUtilization)
	m.KVCacheDType = stringOrNull(e.KVCacheDType)
	m.PipelineParallelSize = int64OrNull(e.PipelineParallelSize)
	m.EnablePrefixCaching = types.BoolPointerValue(e.EnablePrefixCaching)
	m.EngineKwargsJSON = sameJSON(m.EngineKwargsJSON, e.Extra)
	d := l.Deployment
	m.NumReplicas = int64OrNull(d.NumReplicas)
	m.MaxOngoingRequests = int64OrNull(d.MaxOngoingRequests)
	m.MaxQueuedRequests = int64OrNull(d.MaxQueuedRequests)
	m.Autoscaling = autoscalingFromSpec(d.Autoscaling)
}

// applyLive sets the computed attributes from the cluster's answer.
func (m *vllmWorkerModel) applyLive(c *ray.Client, inst *ray.ServeInstance, app *ray.ServeApplication) diag.Diagnostics {
	var diags diag.Diagnostics
	m.Status = types.StringValue(app.Status)
	m.StatusMessage = types.StringValue(app.Message)
	m.LastDeployedTime = timetypes.NewRFC3339TimeValue(time.Unix(0, int64(app.LastDeployedTimeS*1e9)).UTC().Truncate(time.Second))
	route := m.routePrefix()
	if app.RoutePrefix != nil {
		route = *app.RoutePrefix
	}
	if base := m.EndpointBaseURL.ValueString(); base != "" {
		m.EndpointURL = types.StringValue(strings.TrimRight(base, "/") + route)
	} else {
		m.EndpointURL = types.StringValue(c.ServeEndpoint(inst.HTTP(), route))
		if in, ok := kubeServeURL(m.DashboardURL.ValueString(), m.EndpointURL.ValueString()); ok {
			m.EndpointURL = types.StringValue(in)
		}
	}
	statuses := map[string]attr.Value{}
	for name, d := range app.Deployments {
		v, d2 := types.ObjectValue(deploymentStatusAttrTypes, map[string]attr.Value{
			"status":           types.StringValue(d.Status),
			"message":          types.StringValue(d.Message),
			"target_replicas":  types.Int64Value(int64(d.TargetNumReplicas)),
			"running_replicas": types.Int64Value(int64(d.RunningReplicas())),
		})
		diags.Append(d2...)
		statuses[name] = v
	}
	mv, d2 := types.MapValue(types.ObjectType{AttrTypes: deploymentStatusAttrTypes}, statuses)
	diags.Append(d2...)
	m.DeploymentStatuses = mv
	return diags
}

func packageWorkingDir(dir string) (ray.Package, error) {
	return ray.PackageDir(dir, []string{"__pycache__", "*.pyc"})
}

// fitCheck runs the plan-time fit check when accelerator_type is set: it
// fails the plan (or warns, with require_fit = false) when vLLM would not
// start, and warns when max_num_seqs full-length sequences do not fit the
// predicted KV cache, or when it cannot check.
func (r *vllmWorkerResource) fitCheck(diags *diag.Diagnostics, m *vllmWorkerModel, l *serveapp.LLM) {
	source := l.ModelSource
	if source == "" {
		source = l.ModelID
	}
	checkCheckpointQuantization(source, l.Engine.Quantization, path.Root("quantization"), diags)
	if l.AcceleratorType == "" {
		return
	}
	f, run, why := vllmEngine{
		Accelerator: l.AcceleratorType, Model: source, Quantization: l.Engine.Quantization, KVCacheDType: l.Engine.KVCacheDType,
		TensorParallelSize: l.Engine.TensorParallelSize, MaxModelLen: l.Engine.MaxModelLen, MaxNumSeqs: l.Engine.MaxNumSeqs,
		MaxNumBatchedTokens: l.Engine.MaxNumBatchedTokens, GPUMemoryUtilization: l.Engine.GPUMemoryUtilization,
		PipelineParallelSize: l.Engine.PipelineParallelSize, Extra: l.Engine.Extra, Context: hardware.EngineContextWorker, // Ray Serve LLM: the OpenAI server's usage context
	}.fitCheck()
	if why != "" {
		fitSkipped(diags, path.Root("accelerator_type"), why)
	}
	if !run {
		return
	}
	if !m.RequireFit.IsNull() && !m.RequireFit.ValueBool() {
		f.Misfit = diag.SeverityWarning
	}
	f.Hint = requireFitHint
	f.At = func(a string) path.Path {
		switch a {
		case "", "gpu":
			return path.Root("accelerator_type")
		case "model":
			return path.Root("model_source")
		case "block_size", "cpu_offload_gb":
			return path.Root("engine_kwargs_json")
		}
		return path.Root(a)
	}
	f.run(diags)
}

// loadWriteOnly fills the write-only values from the configuration (the
// plan and the state hold them null). It returns false when one is not
// known yet.
func (m *vllmWorkerModel) loadWriteOnly(ctx context.Context, cfg tfsdk.Config, diags *diag.Diagnostics) bool {
	diags.Append(cfg.GetAttribute(ctx, path.Root("auth_token_wo"), &m.AuthTokenWO)...)
	diags.Append(cfg.GetAttribute(ctx, path.Root("env_vars_wo"), &m.EnvVarsWO)...)
	_, known := configStringMap(ctx, cfg, "env_vars_wo", diags)
	return known && !m.AuthTokenWO.IsUnknown()
}

// writeOnlyEnv is env_vars_wo as loaded by loadWriteOnly.
func (m *vllmWorkerModel) writeOnlyEnv() map[string]string {
	var env map[string]string
	if !m.EnvVarsWO.IsNull() && !m.EnvVarsWO.IsUnknown() {
		_ = m.EnvVarsWO.ElementsAs(context.Background(), &env, false)
	}
	return env
}

// writeOnlyNames are the env var names whose values config_json hides
// entirely.
func (m *vllmWorkerModel) writeOnlyNames() map[string]bool {
	names := map[string]bool{}
	for k := range m.writeOnlyEnv() {
		names[k] = true
	}
	return names
}

// writeOnlyNamesIn reads those names back from a config_json in state: the
// env vars shown as the write-only marker.
func writeOnlyNamesIn(configJSON jsontypes.Normalized) map[string]bool {
	var app struct {
		RuntimeEnv struct {
			EnvVars map[string]any `json:"env_vars"`
		} `json:"runtime_env"`
	}
	names := map[string]bool{}
	if json.Unmarshal([]byte(configJSON.ValueString()), &app) == nil {
		for k, v := range app.RuntimeEnv.EnvVars {
			if v == serveapp.WriteOnlyMarker {
				names[k] = true
			}
		}
	}
	return names
}

// asNormalized reads a sensitive JSON string attribute as JSON. Such
// attributes stay plain strings in the schema: the framework logs the values
// of custom types at TRACE when it calls their semantic equality.
func asNormalized(s types.String) jsontypes.Normalized {
	switch {
	case s.IsUnknown():
		return jsontypes.NewNormalizedUnknown()
	case s.IsNull():
		return jsontypes.NewNormalizedNull()
	}
	return jsontypes.NewNormalizedValue(s.ValueString())
}
