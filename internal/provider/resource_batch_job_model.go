package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/batchjob"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/engineargs"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
)

type batchJobModel struct {
	ID                    types.String      `tfsdk:"id"`
	DashboardURL          types.String      `tfsdk:"dashboard_url"`
	AuthToken             types.String      `tfsdk:"auth_token"`
	AuthTokenWO           types.String      `tfsdk:"auth_token_wo"`
	AuthTokenWOVersion    types.Int64       `tfsdk:"auth_token_wo_version"`
	EnvVarsWO             types.Map         `tfsdk:"env_vars_wo"`
	EnvVarsWOVersion      types.Int64       `tfsdk:"env_vars_wo_version"`
	Entrypoint            types.String      `tfsdk:"entrypoint"`
	VLLM                  types.Object      `tfsdk:"vllm"`
	RuntimeEnv            types.Object      `tfsdk:"runtime_env"`
	EntrypointNumCPUs     types.Float64     `tfsdk:"entrypoint_num_cpus"`
	EntrypointNumGPUs     types.Float64     `tfsdk:"entrypoint_num_gpus"`
	EntrypointMemoryBytes types.Int64       `tfsdk:"entrypoint_memory_bytes"`
	EntrypointResources   types.Map         `tfsdk:"entrypoint_resources"`
	Metadata              types.Map         `tfsdk:"metadata"`
	WaitForCompletion     types.Bool        `tfsdk:"wait_for_completion"`
	ActiveDeadlineSeconds types.Int64       `tfsdk:"active_deadline_seconds"`
	MaxRetries            types.Int64       `tfsdk:"max_retries"`
	LogTailLines          types.Int64       `tfsdk:"log_tail_lines"`
	WorkingDirURI         types.String      `tfsdk:"working_dir_uri"`
	SubmissionID          types.String      `tfsdk:"submission_id"`
	Status                types.String      `tfsdk:"status"`
	Message               types.String      `tfsdk:"message"`
	StartTime             timetypes.RFC3339 `tfsdk:"start_time"`
	EndTime               timetypes.RFC3339 `tfsdk:"end_time"`
	Attempts              types.List        `tfsdk:"attempts"`
	LogTail               types.String      `tfsdk:"log_tail"`
	Metrics               types.Object      `tfsdk:"metrics"`
	Timeouts              timeouts.Value    `tfsdk:"timeouts"`
}

type vllmModel struct {
	ModelSource types.String `tfsdk:"model_source"`
	engineSettingsModel
	EnableChunkedPrefill types.Bool    `tfsdk:"enable_chunked_prefill"`
	KVCacheMemoryBytes   types.Int64   `tfsdk:"kv_cache_memory_bytes"`
	DType                types.String  `tfsdk:"dtype"`
	EnforceEager         types.Bool    `tfsdk:"enforce_eager"`
	BatchSize            types.Int64   `tfsdk:"batch_size"`
	Concurrency          types.Int64   `tfsdk:"concurrency"`
	MaxConcurrentBatches types.Int64   `tfsdk:"max_concurrent_batches"`
	Accelerator          types.String  `tfsdk:"accelerator"`
	AcceleratorType      types.String  `tfsdk:"accelerator_type"`
	NumGPUsPerReplica    types.Float64 `tfsdk:"num_gpus_per_replica"`
	Resume               types.Bool    `tfsdk:"resume"`
	OnRowError           types.String  `tfsdk:"on_row_error"`
	Input                types.Object  `tfsdk:"input"`
	Output               types.Object  `tfsdk:"output"`
	Sampling             types.Object  `tfsdk:"sampling"`
	Endpoint             types.Object  `tfsdk:"endpoint"`
}

type endpointModel struct {
	URL                  types.String `tfsdk:"url"`
	APIKeyEnvVar         types.String `tfsdk:"api_key_env_var"`
	MaxRequestsPerSecond types.Int64  `tfsdk:"max_requests_per_second"`
	MaxRetries           types.Int64  `tfsdk:"max_retries"`
}

type inputModel struct {
	Path               types.String         `tfsdk:"path"`
	Format             types.String         `tfsdk:"format"`
	IDColumn           types.String         `tfsdk:"id_column"`
	PromptColumn       types.String         `tfsdk:"prompt_column"`
	MessagesColumn     types.String         `tfsdk:"messages_column"`
	ApplyChatTemplate  types.Bool           `tfsdk:"apply_chat_template"`
	SamplingColumn     types.String         `tfsdk:"sampling_params_column"`
	ChatTemplate       types.String         `tfsdk:"chat_template"`
	ChatTemplateKwargs jsontypes.Normalized `tfsdk:"chat_template_kwargs_json"`
}

type outputModel struct {
	Path        types.String `tfsdk:"path"`
	Format      types.String `tfsdk:"format"`
	Passthrough types.List   `tfsdk:"passthrough_columns"`
}

type samplingModel struct {
	Temperature types.Float64 `tfsdk:"temperature"`
	TopP        types.Float64 `tfsdk:"top_p"`
	MaxTokens   types.Int64   `tfsdk:"max_tokens"`
	MinTokens   types.Int64   `tfsdk:"min_tokens"`
	Seed        types.Int64   `tfsdk:"seed"`
	Stop        types.List    `tfsdk:"stop"`
	Logprobs    types.Int64   `tfsdk:"logprobs"`
	Structured  types.Object  `tfsdk:"structured_output"`
}

type structuredModel struct {
	JSONSchema jsontypes.Normalized `tfsdk:"json_schema"`
	Regex      types.String         `tfsdk:"regex"`
	Choice     types.List           `tfsdk:"choice"`
}

type runtimeEnvModel struct {
	WorkingDir types.String         `tfsdk:"working_dir"`
	Excludes   types.List           `tfsdk:"excludes"`
	Pip        types.List           `tfsdk:"pip"`
	EnvVars    types.Map            `tfsdk:"env_vars"`
	ExtraJSON  jsontypes.Normalized `tfsdk:"extra_json"`
}

type attemptModel struct {
	SubmissionID types.String      `tfsdk:"submission_id"`
	Status       types.String      `tfsdk:"status"`
	Message      types.String      `tfsdk:"message"`
	StartTime    timetypes.RFC3339 `tfsdk:"start_time"`
	EndTime      timetypes.RFC3339 `tfsdk:"end_time"`
}

type metricsModel struct {
	Rows                  types.Int64   `tfsdk:"rows"`
	FailedRows            types.Int64   `tfsdk:"failed_rows"`
	SkippedRows           types.Int64   `tfsdk:"skipped_rows"`
	InputTokens           types.Int64   `tfsdk:"input_tokens"`
	OutputTokens          types.Int64   `tfsdk:"output_tokens"`
	WallSeconds           types.Float64 `tfsdk:"wall_seconds"`
	OutputTokensPerSecond types.Float64 `tfsdk:"output_tokens_per_second"`
	TotalTokensPerSecond  types.Float64 `tfsdk:"total_tokens_per_second"`
	EngineSeconds         types.Float64 `tfsdk:"engine_seconds"`
	EngineTokensPerSecond types.Float64 `tfsdk:"engine_output_tokens_per_second"`
}

func addVLLMError(diags *diag.Diagnostics, err error) {
	var ie *batchjob.InputError
	if !errors.As(err, &ie) {
		diags.AddAttributeError(path.Root("vllm"), "Invalid vllm configuration", err.Error())
		return
	}
	p := path.Root("vllm")
	for _, part := range strings.Split(ie.Attribute, ".") {
		p = p.AtName(part)
	}
	diags.AddAttributeError(p, "Invalid vllm."+ie.Attribute, ie.Message)
}

// checkFit runs the plan-time fit check when accelerator_type is set and
// fails the plan when vLLM would not start.
func checkFit(c batchjob.Config, diags *diag.Diagnostics) {
	e := c.EngineKwargs
	checkCheckpointQuantization(c.ModelSource, deref(e.Quantization), path.Root("vllm").AtName("quantization"), diags)
	if c.AcceleratorType == "" || c.Endpoint != nil {
		return
	}
	f, run, why := vllmEngine{
		Accelerator: c.AcceleratorType, Model: c.ModelSource, Quantization: deref(e.Quantization), KVCacheDType: deref(e.KVCacheDType),
		TensorParallelSize: deref(e.TensorParallelSize), MaxModelLen: deref(e.MaxModelLen), MaxNumSeqs: deref(e.MaxNumSeqs),
		MaxNumBatchedTokens: deref(e.MaxNumBatchedTokens), GPUMemoryUtilization: deref(e.GPUMemoryUtilization),
		PipelineParallelSize: deref(e.PipelineParallelSize), Extra: e.Extra, Context: hardware.EngineContextBatchJob, // Ray Data LLM builds the engine without a usage context
	}.fitCheck()
	if why != "" {
		fitSkipped(diags, path.Root("vllm"), why)
	}
	if !run {
		return
	}
	f.Hint = "Change the vllm block (quantization, tensor_parallel_size, max_model_len) or accelerator_type."
	f.At = func(a string) path.Path {
		switch a {
		case "":
			return path.Root("vllm")
		case "gpu":
			return path.Root("vllm").AtName("accelerator_type")
		case "model":
			return path.Root("vllm").AtName("model_source")
		case "block_size", "cpu_offload_gb":
			return path.Root("vllm").AtName("engine_kwargs_json")
		}
		return path.Root("vllm").AtName(a)
	}
	f.run(diags)
}

// plannedWorkingDirURI is the package URI of a local working_dir (its
// content hash), a remote working_dir as it is, or null.
func plannedWorkingDirURI(ctx context.Context, obj types.Object) (types.String, error) {
	if obj.IsNull() {
		return types.StringNull(), nil
	}
	if obj.IsUnknown() {
		return types.StringUnknown(), nil
	}
	var m runtimeEnvModel
	if diags := obj.As(ctx, &m, basetypes.ObjectAsOptions{}); diags.HasError() {
		return types.StringNull(), fmt.Errorf("%v", diags)
	}
	switch {
	case m.WorkingDir.IsNull():
		return types.StringNull(), nil
	case !fullyKnown(ctx, m.WorkingDir) || !fullyKnown(ctx, m.Excludes):
		return types.StringUnknown(), nil
	case batchjob.IsURI(m.WorkingDir.ValueString()):
		return m.WorkingDir, nil
	}
	var excludes []string
	if diags := m.Excludes.ElementsAs(ctx, &excludes, false); diags.HasError() {
		return types.StringNull(), fmt.Errorf("%v", diags)
	}
	pkg, err := ray.PackageDir(m.WorkingDir.ValueString(), excludes)
	if err != nil {
		return types.StringNull(), err
	}
	return types.StringValue(pkg.URI), nil
}

// runtimeEnv is the plain form of the runtime_env attribute.
type runtimeEnv struct {
	WorkingDir string
	Excludes   []string
	Pip        []string
	EnvVars    map[string]string
	ExtraJSON  string
}

var typedRuntimeEnvKeys = []string{"working_dir", "excludes", "pip", "env_vars"}

func (e runtimeEnv) extra() (map[string]any, error) {
	if e.ExtraJSON == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(e.ExtraJSON), &m); err != nil || m == nil {
		return nil, fmt.Errorf("want a JSON object of runtime_env fields, e.g. jsonencode({ uv = [\"numpy\"] }): %v", err)
	}
	for _, k := range typedRuntimeEnvKeys {
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%q is set in extra_json; use the runtime_env.%s attribute instead", k, k)
		}
	}
	return m, nil
}

// runtimeEnvFrom converts the attribute; known is false while any part is
// unknown (then env is empty).
func runtimeEnvFrom(ctx context.Context, obj types.Object) (runtimeEnv, bool, diag.Diagnostics) {
	var env runtimeEnv
	if obj.IsUnknown() {
		return env, false, nil
	}
	if obj.IsNull() {
		return env, true, nil
	}
	var m runtimeEnvModel
	diags := obj.As(ctx, &m, basetypes.ObjectAsOptions{})
	if diags.HasError() {
		return env, false, diags
	}
	if !fullyKnown(ctx, obj) {
		return env, false, nil
	}
	env.WorkingDir, env.ExtraJSON = m.WorkingDir.ValueString(), m.ExtraJSON.ValueString()
	diags.Append(m.Excludes.ElementsAs(ctx, &env.Excludes, false)...)
	diags.Append(m.Pip.ElementsAs(ctx, &env.Pip, false)...)
	diags.Append(m.EnvVars.ElementsAs(ctx, &env.EnvVars, false)...)
	if diags.HasError() {
		return env, false, diags
	}
	return env, true, diags
}

// vllmConfig converts the vllm attribute; known is false when it is null
// or not fully known yet.
func vllmConfig(ctx context.Context, obj types.Object) (batchjob.Config, bool, diag.Diagnostics) {
	c, unknown, diags := vllmConfigPartial(ctx, obj)
	return c, unknown != nil && len(unknown) == 0 && !diags.HasError(), diags
}

// unknownAttrs are the attributes of the vllm object (and of its nested
// objects, as "input.path") whose values are not known yet.
func unknownAttrs(ctx context.Context, obj types.Object) map[string]bool {
	u := map[string]bool{}
	for name, v := range obj.Attributes() {
		nested, isObj := v.(types.Object)
		switch {
		case isObj && nested.IsUnknown():
			for sub := range nested.AttributeTypes(ctx) {
				u[name+"."+sub] = true
			}
		case isObj && !nested.IsNull():
			for sub, sv := range nested.Attributes() {
				if !fullyKnown(ctx, sv) {
					u[name+"."+sub] = true
				}
			}
		case !fullyKnown(ctx, v):
			u[name] = true
		}
	}
	return u
}

// vllmConfigPartial converts what is known of the vllm attribute and names
// what is not (unknownAttrs); unknown is nil when the attribute is null or
// wholly unknown.
func vllmConfigPartial(ctx context.Context, obj types.Object) (c batchjob.Config, unknown map[string]bool, diags diag.Diagnostics) {
	if obj.IsNull() || obj.IsUnknown() {
		return c, nil, nil
	}
	unknown = unknownAttrs(ctx, obj)
	var v vllmModel
	opts := basetypes.ObjectAsOptions{UnhandledUnknownAsEmpty: true}
	diags = obj.As(ctx, &v, opts)
	if diags.HasError() {
		return c, nil, diags
	}
	var in inputModel
	var out outputModel
	var s samplingModel
	diags.Append(v.Input.As(ctx, &in, opts)...)
	diags.Append(v.Output.As(ctx, &out, opts)...)
	if !v.Sampling.IsNull() {
		diags.Append(v.Sampling.As(ctx, &s, opts)...)
	}
	if diags.HasError() {
		return c, nil, diags
	}
	extra, _ := engineargs.Parse(v.EngineKwargsJSON.ValueString()) // checked by its validator; null or unknown: none
	c = batchjob.Config{
		ModelSource: v.ModelSource.ValueString(),
		EngineKwargs: batchjob.Engine{
			Quantization: v.Quantization.ValueStringPointer(), TensorParallelSize: v.TensorParallelSize.ValueInt64Pointer(),
			MaxModelLen: v.MaxModelLen.ValueInt64Pointer(), MaxNumSeqs: v.MaxNumSeqs.ValueInt64Pointer(),
			MaxNumBatchedTokens: v.MaxNumBatchedTokens.ValueInt64Pointer(), EnableChunkedPrefill: v.EnableChunkedPrefill.ValueBoolPointer(),
			GPUMemoryUtilization: v.GPUMemoryUtilization.ValueFloat64Pointer(), KVCacheDType: v.KVCacheDType.ValueStringPointer(),
			KVCacheMemoryBytes: v.KVCacheMemoryBytes.ValueInt64Pointer(), DType: v.DType.ValueStringPointer(), EnforceEager: v.EnforceEager.ValueBoolPointer(),
			PipelineParallelSize: v.PipelineParallelSize.ValueInt64Pointer(), EnablePrefixCaching: v.EnablePrefixCaching.ValueBoolPointer(),
			Extra: extra,
		},
		BatchSize: v.BatchSize.ValueInt64Pointer(), Concurrency: v.Concurrency.ValueInt64Pointer(),
		MaxConcurrentBatches: v.MaxConcurrentBatches.ValueInt64Pointer(), Accelerator: v.Accelerator.ValueString(),
		AcceleratorType: v.AcceleratorType.ValueString(), NumGPUsPerReplica: v.NumGPUsPerReplica.ValueFloat64Pointer(),
		Input: batchjob.Input{
			Path: in.Path.ValueString(), Format: in.Format.ValueString(), IDColumn: in.IDColumn.ValueString(),
			PromptColumn: in.PromptColumn.ValueString(), MessagesColumn: in.MessagesColumn.ValueString(), ApplyChatTemplate: in.ApplyChatTemplate.ValueBoolPointer(),
			SamplingParamsColumn: in.SamplingColumn.ValueString(), ChatTemplate: in.ChatTemplate.ValueString(),
		},
		Output: batchjob.Output{Path: out.Path.ValueString(), Format: out.Format.ValueString()},
		SamplingParams: batchjob.Sampling{
			Temperature: s.Temperature.ValueFloat64Pointer(), TopP: s.TopP.ValueFloat64Pointer(),
			MaxTokens: s.MaxTokens.ValueInt64Pointer(), MinTokens: s.MinTokens.ValueInt64Pointer(), Seed: s.Seed.ValueInt64Pointer(),
			Logprobs: s.Logprobs.ValueInt64Pointer(),
		},
		Resume: v.Resume.ValueBool(), OnRowError: v.OnRowError.ValueString(),
	}
	if !v.Endpoint.IsNull() {
		var ep endpointModel
		diags.Append(v.Endpoint.As(ctx, &ep, opts)...)
		c.Endpoint = &batchjob.Endpoint{URL: ep.URL.ValueString(), APIKeyEnvVar: ep.APIKeyEnvVar.ValueString(),
			MaxRequestsPerSecond: ep.MaxRequestsPerSecond.ValueInt64Pointer(), MaxRetries: ep.MaxRetries.ValueInt64Pointer()}
	}
	if !out.Passthrough.IsNull() && !unknown["output.passthrough_columns"] {
		diags.Append(out.Passthrough.ElementsAs(ctx, &c.Output.PassthroughColumns, false)...)
	}
	if !s.Stop.IsNull() && !unknown["sampling.stop"] {
		diags.Append(s.Stop.ElementsAs(ctx, &c.SamplingParams.Stop, false)...)
	}
	if !in.ChatTemplateKwargs.IsNull() && !in.ChatTemplateKwargs.IsUnknown() {
		c.Input.ChatTemplateKwargs, _ = jsonObject(in.ChatTemplateKwargs) // an object: checked by its validator
	}
	if !s.Structured.IsNull() && !unknown["sampling.structured_output"] {
		var so structuredModel
		diags.Append(s.Structured.As(ctx, &so, opts)...)
		c.SamplingParams.StructuredOutputs = &batchjob.Structured{JSON: so.JSONSchema.ValueStringPointer(), Regex: so.Regex.ValueStringPointer()}
		if !so.Choice.IsNull() && !so.Choice.IsUnknown() {
			diags.Append(so.Choice.ElementsAs(ctx, &c.SamplingParams.StructuredOutputs.Choice, false)...)
		}
	}
	return c, unknown, diags
}

// buildRequest renders the job's submission (without its submission ID)
// and uploads the packages it needs.
func (r *batchJobResource) buildRequest(ctx context.Context, c *ray.Client, m *batchJobModel) (ray.JobSubmitRequest, diag.Diagnostics) {
	var diags diag.Diagnostics
	req := ray.JobSubmitRequest{
		EntrypointNumCPUs: m.EntrypointNumCPUs.ValueFloat64Pointer(),
		EntrypointNumGPUs: m.EntrypointNumGPUs.ValueFloat64Pointer(),
		EntrypointMemory:  m.EntrypointMemoryBytes.ValueInt64Pointer(),
		Metadata:          map[string]string{},
	}
	diags.Append(m.EntrypointResources.ElementsAs(ctx, &req.EntrypointResources, false)...)
	var userMeta map[string]string
	diags.Append(m.Metadata.ElementsAs(ctx, &userMeta, false)...)
	for k, v := range userMeta {
		req.Metadata[k] = v
	}
	env, _, d := runtimeEnvFrom(ctx, m.RuntimeEnv)
	diags.Append(d...)
	if diags.HasError() {
		return req, diags
	}
	re, err := env.extra()
	if err != nil {
		diags.AddAttributeError(path.Root("runtime_env").AtName("extra_json"), "Invalid runtime_env.extra_json", err.Error())
		return req, diags
	}
	if re == nil {
		re = map[string]any{}
	}
	if len(env.Pip) > 0 {
		re["pip"] = env.Pip
	}
	if len(env.EnvVars) > 0 {
		re["env_vars"] = env.EnvVars
	}
	if env.WorkingDir != "" {
		if !batchjob.IsURI(env.WorkingDir) {
			pkg, err := ray.PackageDir(env.WorkingDir, env.Excludes)
			if err != nil {
				diags.AddAttributeError(path.Root("runtime_env").AtName("working_dir"), "Cannot package runtime_env.working_dir", err.Error())
				return req, diags
			}
			if pkg.URI != m.WorkingDirURI.ValueString() {
				diags.AddAttributeError(path.Root("runtime_env").AtName("working_dir"), "runtime_env.working_dir changed since the plan",
					fmt.Sprintf("The files in %s hash to %s now but to %s when the plan was made. Plan again.", env.WorkingDir, pkg.URI, m.WorkingDirURI.ValueString()))
				return req, diags
			}
			if err := c.EnsurePackage(ctx, pkg); err != nil {
				diags.AddAttributeError(path.Root("runtime_env").AtName("working_dir"), "Cannot upload runtime_env.working_dir", err.Error())
				return req, diags
			}
		}
		re["working_dir"] = m.WorkingDirURI.ValueString()
	}

	if cfg, known, d := vllmConfig(ctx, m.VLLM); known || d.HasError() {
		diags.Append(d...)
		if diags.HasError() {
			return req, diags
		}
		if err := cfg.Normalize(); err != nil {
			addVLLMError(&diags, err)
			return req, diags
		}
		if req.Entrypoint, err = batchjob.Entrypoint(cfg); err != nil {
			diags.AddAttributeError(path.Root("vllm"), "Cannot render the vllm configuration", err.Error())
			return req, diags
		}
		pkg, err := batchjob.Package()
		if err == nil {
			err = c.EnsurePackage(ctx, pkg)
		}
		if err != nil {
			diags.AddError("Cannot upload the built-in batch script", err.Error())
			return req, diags
		}
		re = batchjob.RuntimeEnv(re, pkg)
		req.Metadata[metadataPrefix+"mode"] = "vllm"
	} else {
		req.Entrypoint = m.Entrypoint.ValueString()
		req.Metadata[metadataPrefix+"mode"] = "custom"
	}
	if len(re) > 0 {
		req.RuntimeEnv = re
	}
	req.Metadata[metadataPrefix+"managed-by"] = "terraform-provider-rayvllm"
	return req, diags
}

// applyJob copies a job's status into the model and its latest attempt.
func applyJob(m *batchJobModel, a *attemptModel, job *ray.JobDetails) {
	m.Status = types.StringValue(string(job.Status))
	m.Message = types.StringValue(ray.ShortMessage(job.MessageText()))
	m.StartTime = timeValue(job.Start())
	m.EndTime = timeValue(job.End())
	if a != nil {
		a.Status, a.Message, a.StartTime, a.EndTime = m.Status, m.Message, m.StartTime, m.EndTime
	}
}

func timeValue(t time.Time) timetypes.RFC3339 {
	if t.IsZero() {
		return timetypes.NewRFC3339Null()
	}
	return timetypes.NewRFC3339TimeValue(t.UTC().Truncate(time.Second))
}

// importJobConfig fills the configuration of an imported job from what Ray
// knows: the entrypoint (or, for a built-in job, the vllm block it was
// rendered from), the user's metadata and runtime_env.
func importJobConfig(ctx context.Context, m *batchJobModel, job *ray.JobDetails) diag.Diagnostics {
	var diags diag.Diagnostics
	if cfg, ok := batchjob.ParseEntrypoint(job.Entrypoint); ok && job.Metadata[metadataPrefix+"mode"] == "vllm" {
		m.VLLM, diags = vllmObject(ctx, cfg)
	} else {
		m.Entrypoint = types.StringValue(job.Entrypoint)
	}
	user := map[string]string{}
	for k, v := range job.Metadata {
		if !strings.HasPrefix(k, metadataPrefix) {
			user[k] = v
		}
	}
	if len(user) > 0 {
		m.Metadata, _ = types.MapValueFrom(ctx, types.StringType, user)
	}
	env := map[string]any{}
	for k, v := range job.RuntimeEnv {
		env[k] = v
	}
	if mods, ok := env["py_modules"].([]any); ok && !m.VLLM.IsNull() {
		var keep []any
		for _, mod := range mods {
			if s, _ := mod.(string); !ray.IsPackageURI(s) {
				keep = append(keep, mod)
			}
		}
		if len(keep) == 0 {
			delete(env, "py_modules")
		} else {
			env["py_modules"] = keep
		}
	}
	if len(env) == 0 {
		return diags
	}
	re := runtimeEnvModel{WorkingDir: types.StringNull(), Excludes: types.ListNull(types.StringType), Pip: types.ListNull(types.StringType),
		EnvVars: types.MapNull(types.StringType), ExtraJSON: jsontypes.NewNormalizedNull()}
	if wd, ok := env["working_dir"].(string); ok {
		re.WorkingDir = types.StringValue(wd)
		m.WorkingDirURI = types.StringValue(wd)
		delete(env, "working_dir")
	}
	if pip, ok := anyStrings(env["pip"]); ok {
		re.Pip, _ = types.ListValueFrom(ctx, types.StringType, pip)
		delete(env, "pip")
	}
	if ev, ok := env["env_vars"].(map[string]any); ok {
		vars := map[string]string{}
		for k, v := range ev {
			vars[k] = fmt.Sprint(v)
		}
		for _, k := range strings.Split(job.Metadata[metadataPrefix+"env_vars_wo"], ",") {
			delete(vars, k) // env_vars_wo values stay out of the state
		}
		re.EnvVars, _ = types.MapValueFrom(ctx, types.StringType, vars)
		delete(env, "env_vars")
	}
	if len(env) > 0 {
		b, _ := json.Marshal(env)
		re.ExtraJSON = jsontypes.NewNormalizedValue(string(b))
	}
	obj, d := types.ObjectValueFrom(ctx, nestedTypes(runtimeEnvAttribute().GetType()), re)
	diags.Append(d...)
	m.RuntimeEnv = obj
	return diags
}

// vllmObject is the vllm attribute for a rendered configuration (import).
func vllmObject(ctx context.Context, c batchjob.Config) (types.Object, diag.Diagnostics) {
	var diags diag.Diagnostics
	vllmTypes := nestedTypes(vllmAttribute().GetType())
	in, d := types.ObjectValueFrom(ctx, nestedTypes(vllmTypes["input"]), inputModel{
		Path: types.StringValue(c.Input.Path), Format: stringOrNull(c.Input.Format), IDColumn: stringOrNull(c.Input.IDColumn),
		PromptColumn: stringOrNull(c.Input.PromptColumn), MessagesColumn: stringOrNull(c.Input.MessagesColumn),
		ApplyChatTemplate: types.BoolPointerValue(c.Input.ApplyChatTemplate), SamplingColumn: stringOrNull(c.Input.SamplingParamsColumn),
		ChatTemplate: stringOrNull(c.Input.ChatTemplate), ChatTemplateKwargs: sameJSON(jsontypes.NewNormalizedNull(), c.Input.ChatTemplateKwargs),
	})
	diags.Append(d...)
	passthrough := types.ListNull(types.StringType)
	if len(c.Output.PassthroughColumns) > 0 {
		passthrough, d = types.ListValueFrom(ctx, types.StringType, c.Output.PassthroughColumns)
		diags.Append(d...)
	}
	out, d := types.ObjectValueFrom(ctx, nestedTypes(vllmTypes["output"]), outputModel{
		Path: types.StringValue(c.Output.Path), Format: stringOrNull(c.Output.Format), Passthrough: passthrough})
	diags.Append(d...)
	samplingType := nestedTypes(vllmTypes["sampling"])
	sampling := types.ObjectNull(samplingType)
	if sp := c.SamplingParams; sp.Temperature != nil || sp.TopP != nil || sp.MaxTokens != nil || sp.MinTokens != nil || sp.Seed != nil || len(sp.Stop) > 0 ||
		sp.Logprobs != nil || sp.StructuredOutputs != nil {
		stop := types.ListNull(types.StringType)
		if len(sp.Stop) > 0 {
			stop, _ = types.ListValueFrom(ctx, types.StringType, sp.Stop)
		}
		structured := types.ObjectNull(nestedTypes(samplingType["structured_output"]))
		if so := sp.StructuredOutputs; so != nil {
			choice := types.ListNull(types.StringType)
			if len(so.Choice) > 0 {
				choice, _ = types.ListValueFrom(ctx, types.StringType, so.Choice)
			}
			schema := jsontypes.NewNormalizedNull()
			if so.JSON != nil {
				schema = jsontypes.NewNormalizedValue(*so.JSON)
			}
			structured, d = types.ObjectValueFrom(ctx, nestedTypes(samplingType["structured_output"]), structuredModel{
				JSONSchema: schema, Regex: types.StringPointerValue(so.Regex), Choice: choice})
			diags.Append(d...)
		}
		sampling, d = types.ObjectValueFrom(ctx, samplingType, samplingModel{
			Temperature: types.Float64PointerValue(sp.Temperature), TopP: types.Float64PointerValue(sp.TopP),
			MaxTokens: types.Int64PointerValue(sp.MaxTokens), MinTokens: types.Int64PointerValue(sp.MinTokens), Seed: types.Int64PointerValue(sp.Seed), Stop: stop,
			Logprobs: types.Int64PointerValue(sp.Logprobs), Structured: structured})
		diags.Append(d...)
	}
	endpoint := types.ObjectNull(nestedTypes(vllmTypes["endpoint"]))
	if ep := c.Endpoint; ep != nil {
		endpoint, d = types.ObjectValueFrom(ctx, nestedTypes(vllmTypes["endpoint"]), endpointModel{URL: types.StringValue(ep.URL),
			APIKeyEnvVar: stringOrNull(ep.APIKeyEnvVar), MaxRequestsPerSecond: types.Int64PointerValue(ep.MaxRequestsPerSecond),
			MaxRetries: types.Int64PointerValue(ep.MaxRetries)})
		diags.Append(d...)
	}
	e := c.EngineKwargs
	resume := types.BoolNull()
	if c.Resume {
		resume = types.BoolValue(true)
	}
	obj, d := types.ObjectValueFrom(ctx, vllmTypes, vllmModel{
		ModelSource: types.StringValue(c.ModelSource), engineSettingsModel: engineSettingsModel{Quantization: types.StringPointerValue(e.Quantization),
			TensorParallelSize: types.Int64PointerValue(e.TensorParallelSize), MaxModelLen: types.Int64PointerValue(e.MaxModelLen),
			MaxNumSeqs: types.Int64PointerValue(e.MaxNumSeqs), MaxNumBatchedTokens: types.Int64PointerValue(e.MaxNumBatchedTokens),
			GPUMemoryUtilization: types.Float64PointerValue(e.GPUMemoryUtilization), KVCacheDType: types.StringPointerValue(e.KVCacheDType),
			PipelineParallelSize: types.Int64PointerValue(e.PipelineParallelSize), EnablePrefixCaching: types.BoolPointerValue(e.EnablePrefixCaching),
			EngineKwargsJSON: sameJSON(jsontypes.NewNormalizedNull(), e.Extra)},
		EnableChunkedPrefill: types.BoolPointerValue(e.EnableChunkedPrefill), KVCacheMemoryBytes: types.Int64PointerValue(e.KVCacheMemoryBytes),
		DType: types.StringPointerValue(e.DType), EnforceEager: types.BoolPointerValue(e.EnforceEager), BatchSize: types.Int64PointerValue(c.BatchSize),
		Concurrency: types.Int64PointerValue(c.Concurrency), MaxConcurrentBatches: types.Int64PointerValue(c.MaxConcurrentBatches),
		Accelerator: stringOrNull(c.Accelerator), AcceleratorType: stringOrNull(c.AcceleratorType),
		NumGPUsPerReplica: types.Float64PointerValue(c.NumGPUsPerReplica), Resume: resume, OnRowError: stringOrNull(c.OnRowError),
		Input: in, Output: out, Sampling: sampling, Endpoint: endpoint,
	})
	diags.Append(d...)
	return obj, diags
}
