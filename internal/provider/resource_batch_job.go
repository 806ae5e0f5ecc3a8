package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/batchjob"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

var (
	_ resource.Resource                     = (*batchJobResource)(nil)
	_ resource.ResourceWithConfigure        = (*batchJobResource)(nil)
	_ resource.ResourceWithImportState      = (*batchJobResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*batchJobResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*batchJobResource)(nil)
	_ resource.ResourceWithConfigValidators = (*batchJobResource)(nil)
)

// NewBatchJobResource is rayvllm_batch_job: one Ray job submitted through
// the dashboard's Jobs API, built-in (vllm) or custom (entrypoint).
func NewBatchJobResource() resource.Resource { return &batchJobResource{} }

type batchJobResource struct{ data *ProviderData }

const (
	defaultCreateTimeout = 24 * time.Hour
	defaultDeleteTimeout = 10 * time.Minute
	// metadataPrefix marks the job metadata keys the provider adds.
	metadataPrefix = "rayvllm."
)

// batchJobPollInterval is how often a waiting apply asks Ray for the status.
var batchJobPollInterval = 2 * time.Second

// batchJobOutageGrace is how long a waiting apply rides out a dashboard that
// does not answer (a head restarting, a proxy in front of it failing) before
// it gives up with the job's fate unknown.
var batchJobOutageGrace = 5 * time.Minute

func (r *batchJobResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_batch_job"
}

func (r *batchJobResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = batchJobSchema(ctx)
}

func (r *batchJobResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(path.MatchRoot("vllm"), path.MatchRoot("entrypoint"))}
}

func (r *batchJobResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerData(req.ProviderData, &resp.Diagnostics)
}

func (r *batchJobResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg batchJobModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !cfg.WaitForCompletion.IsNull() && !cfg.WaitForCompletion.IsUnknown() && !cfg.WaitForCompletion.ValueBool() {
		if !cfg.ActiveDeadlineSeconds.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("active_deadline_seconds"), "active_deadline_seconds needs wait_for_completion",
				"The provider enforces active_deadline_seconds while it waits for the job; with wait_for_completion = false nobody would. Remove one of the two.")
		}
		if cfg.MaxRetries.ValueInt64() > 0 {
			resp.Diagnostics.AddAttributeError(path.Root("max_retries"), "max_retries needs wait_for_completion",
				"The provider resubmits a FAILED job while it waits for it; with wait_for_completion = false it cannot. Set max_retries = 0 or wait_for_completion = true.")
		}
	}
	if !cfg.Metadata.IsUnknown() {
		for k := range cfg.Metadata.Elements() {
			if strings.HasPrefix(k, metadataPrefix) {
				resp.Diagnostics.AddAttributeError(path.Root("metadata").AtMapKey(k), "Reserved metadata key",
					fmt.Sprintf("metadata key %q starts with %q, which the provider uses for its own keys; choose another name.", k, metadataPrefix))
			}
		}
	}
	// Per attribute: a known mistake is reported at plan even while other
	// attributes wait for other resources (a module's cluster outputs).
	c, unknown, diags := vllmConfigPartial(ctx, cfg.VLLM)
	resp.Diagnostics.Append(diags...)
	if unknown != nil && !diags.HasError() {
		if err := c.NormalizeKnown(unknown); err != nil {
			addVLLMError(&resp.Diagnostics, err)
		}
		requireMaxTokens(c, unknown, &resp.Diagnostics)
	}
	env, known, diags := runtimeEnvFrom(ctx, cfg.RuntimeEnv)
	resp.Diagnostics.Append(diags...)
	if wo, woKnown := configStringMap(ctx, req.Config, "env_vars_wo", &resp.Diagnostics); known && woKnown {
		for k := range wo {
			if _, dup := env.EnvVars[k]; dup {
				resp.Diagnostics.AddAttributeError(path.Root("env_vars_wo"), "Environment variable set twice",
					fmt.Sprintf("%q is in env_vars_wo and in runtime_env.env_vars; keep it in one of them (env_vars_wo keeps it out of the state).", k))
			}
		}
	}
	if known {
		if _, err := env.extra(); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("runtime_env").AtName("extra_json"), "Invalid runtime_env.extra_json", err.Error())
		}
	}
}

func (r *batchJobResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan batchJobModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *batchJobModel
	if !req.State.Raw.IsNull() {
		state = &batchJobModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}

	planDashboardURL(ctx, r.data, req, resp, &plan.DashboardURL)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("dashboard_url"), plan.DashboardURL)...)
	uri, err := plannedWorkingDirURI(ctx, plan.RuntimeEnv)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("runtime_env").AtName("working_dir"), "Cannot package runtime_env.working_dir", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("working_dir_uri"), uri)...)
	if state != nil && !uri.IsUnknown() && !uri.Equal(state.WorkingDirURI) {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("working_dir_uri"))
	}
	if state != nil && !plan.LogTailLines.Equal(state.LogTailLines) {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("log_tail"), types.StringUnknown())...)
	}
	// The vllm block forces replacement, so the fit check only matters
	// when the job is (re)created.
	if cfg, unknown, d := vllmConfigPartial(ctx, plan.VLLM); unknown != nil && !d.HasError() {
		if state == nil && !anyUnknown(unknown, fitAttrs...) {
			checkFit(cfg, &resp.Diagnostics)
		}
		if (state == nil || !plan.VLLM.Equal(state.VLLM)) && !anyUnknown(unknown, "output.path", "resume") {
			warnOverwrite(cfg, &resp.Diagnostics)
		}
	}
}

// warnOverwrite says at plan what a run with resume = false deletes: the
// committed output an earlier run left. A local path is read on the
// machine that runs the plan; a URI is not read.
func warnOverwrite(c batchjob.Config, diags *diag.Diagnostics) {
	if c.Resume {
		return
	}
	at := path.Root("vllm").AtName("resume")
	keep := "Set vllm.resume = true to keep it and process only the rows not yet committed, or set vllm.output.path to a new path."
	got, err := batchjob.CommittedOutput(c.Output.Path)
	switch {
	case errors.Is(err, batchjob.ErrNotLocal):
		diags.AddAttributeWarning(at, "Committed output not checked",
			fmt.Sprintf("vllm.output.path %s is not on this machine, so the plan cannot tell whether it holds committed output. "+
				"With resume = false (overwrite) the apply deletes whatever earlier runs committed there and under %s.errors. %s",
				c.Output.Path, strings.TrimRight(c.Output.Path, "/"), keep))
	case err != nil:
		diags.AddAttributeWarning(at, "Committed output not checked", fmt.Sprintf("Cannot read vllm.output.path %s: %v. "+
			"With resume = false (overwrite) the apply deletes whatever earlier runs committed there. %s", c.Output.Path, err, keep))
	case got.Any():
		rows := ""
		if got.Rows != nil {
			rows = fmt.Sprintf(" holding %d rows (its _SUCCESS manifest)", *got.Rows)
		}
		diags.AddAttributeWarning(at, "Apply will delete committed output",
			fmt.Sprintf("vllm.output.path %s holds %d committed pieces%s from an earlier run. With resume = false (overwrite) "+
				"this apply deletes them, and the errors output, before it writes anything. %s", c.Output.Path, got.Pieces, rows, keep))
	}
}

// requireMaxTokens refuses a vllm block without sampling.max_tokens: vLLM's
// SamplingParams default is 16 tokens (vllm/sampling_params.py), so every
// answer would be cut at 16 without a word.
func requireMaxTokens(c batchjob.Config, unknown map[string]bool, diags *diag.Diagnostics) {
	// An OpenAI batch line carries its own max_tokens (unset: up to the context, as in vLLM's server).
	if c.SamplingParams.MaxTokens != nil || unknown["sampling.max_tokens"] || c.Input.Format == batchjob.FormatOpenAIBatch || unknown["input.format"] {
		return
	}
	diags.AddAttributeError(path.Root("vllm").AtName("sampling").AtName("max_tokens"), "Missing vllm.sampling.max_tokens",
		"vllm.sampling.max_tokens is required: unset, vLLM's SamplingParams default of 16 tokens would cut every answer at 16. "+
			"Set the most tokens one answer may have, e.g. sampling = { max_tokens = 512 }; vLLM also stops where prompt plus output reach max_model_len.")
}

// fitAttrs are the vllm attributes the fit check reads.
var fitAttrs = []string{"accelerator_type", "model_source", "quantization", "kv_cache_dtype", "tensor_parallel_size",
	"max_model_len", "max_num_seqs", "max_num_batched_tokens", "gpu_memory_utilization"}

func anyUnknown(unknown map[string]bool, attrs ...string) bool {
	for _, a := range attrs {
		if unknown[a] {
			return true
		}
	}
	return false
}

func (r *batchJobResource) client(m *batchJobModel) (*ray.Client, error) {
	url := ""
	if !m.DashboardURL.IsUnknown() {
		url = m.DashboardURL.ValueString()
	}
	token := m.AuthToken.ValueString()
	if wo := m.AuthTokenWO.ValueString(); wo != "" { // set only in create and update
		token = wo
	}
	return r.data.rayClient(url, token)
}

// connect returns a version-checked client, reporting problems on dashboard_url.
func (r *batchJobResource) connect(ctx context.Context, m *batchJobModel, diags *diag.Diagnostics) *ray.Client {
	c, err := r.client(m)
	if err == nil {
		_, err = c.CheckVersion(ctx)
	}
	if err != nil {
		var ae *ray.AuthError
		summary := "Cannot use the Ray cluster"
		msg := err.Error()
		if errors.As(err, &ae) {
			summary = "Ray dashboard refused the auth token"
			if m.AuthTokenWO.IsNull() && !m.AuthTokenWOVersion.IsNull() {
				msg += "\nauth_token_wo is sent only when the job is submitted; refresh and destroy use the provider's auth_token or RAY_AUTH_TOKEN."
			}
		}
		diags.AddAttributeError(path.Root("dashboard_url"), summary, msg)
		return nil
	}
	return c
}

func (r *batchJobResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan batchJobModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("auth_token_wo"), &plan.AuthTokenWO)...)
	envWO, _ := configStringMap(ctx, req.Config, "env_vars_wo", &resp.Diagnostics)
	c := r.connect(ctx, &plan, &resp.Diagnostics)
	if c == nil {
		return
	}
	if plan.DashboardURL.IsUnknown() || plan.DashboardURL.IsNull() {
		plan.DashboardURL = types.StringValue(c.Address())
	}
	jobReq, d := r.buildRequest(ctx, c, &plan)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	base, err := ray.SubmissionBase("rayvllm", jobReq)
	if err != nil {
		resp.Diagnostics.AddError("Cannot derive the submission ID", err.Error())
		return
	}
	// After the ID (in state) is derived, so that nothing of the values is in
	// it; the names go into the job's metadata for import.
	withWriteOnlyEnv(&jobReq, envWO)
	plan.ID = types.StringValue(base)
	plan.LogTail = types.StringValue("")
	plan.Metrics = types.ObjectNull(metricsAttrTypes())

	var attempts []attemptModel
	var logs string
	run := ray.JobRun{
		Base: base, AttemptKey: metadataPrefix + "attempt", Wait: plan.WaitForCompletion.ValueBool(),
		MaxAttempts:    1 + int(plan.MaxRetries.ValueInt64()),
		ActiveDeadline: time.Duration(plan.ActiveDeadlineSeconds.ValueInt64()) * time.Second,
		PollInterval:   batchJobPollInterval, OutageGrace: batchJobOutageGrace,
		Submitted: func(a *ray.Attempt) {
			if a.Existing {
				resp.Diagnostics.AddWarning("Ray job already existed",
					fmt.Sprintf("Ray already had a job with submission ID %s (the same request, submitted by an earlier or interrupted apply). "+
						"The provider uses that job instead of submitting a second one.", a.SubmissionID))
			}
			attempts = append(attempts, attemptModel{SubmissionID: types.StringValue(a.SubmissionID), Status: types.StringValue(string(ray.JobPending)),
				Message: types.StringValue(""), StartTime: timetypes.NewRFC3339Null(), EndTime: timetypes.NewRFC3339Null()})
			plan.SubmissionID = types.StringValue(a.SubmissionID)
			// The ID is in the state before the wait: a failed or interrupted
			// wait leaves a tainted resource, never an orphaned job.
			resp.Diagnostics.Append(r.setState(ctx, &resp.State, &plan, attempts)...)
		},
		Ended: func(a *ray.Attempt, err error) {
			if a.Job != nil {
				applyJob(&plan, &attempts[len(attempts)-1], a.Job)
			}
			var lost *ray.LostJobError
			if errors.As(err, &lost) {
				plan.Status = types.StringValue(string(ray.JobLost))
				plan.Message = types.StringValue(ray.ShortMessage(err.Error()))
				attempts[len(attempts)-1].Status, attempts[len(attempts)-1].Message = plan.Status, plan.Message
			} else {
				logs = r.refreshLogs(ctx, c, &plan, a.SubmissionID)
			}
			resp.Diagnostics.Append(r.setState(ctx, &resp.State, &plan, attempts)...)
		},
	}
	a, err := c.RunJob(ctx, jobReq, run)
	var submitErr *ray.SubmitError
	var lost *ray.LostJobError
	switch {
	case errors.As(err, &submitErr):
		resp.Diagnostics.AddError("Cannot submit the Ray job", err.Error())
		if submitErr.Ambiguous {
			// Ray may have the job after all: keep its ID in the state
			// (tainted), so that the next apply removes it if it exists.
			attempts = append(attempts, attemptModel{SubmissionID: types.StringValue(submitErr.ID), Status: types.StringNull(),
				Message: types.StringValue("submission outcome unknown: " + err.Error()), StartTime: timetypes.NewRFC3339Null(), EndTime: timetypes.NewRFC3339Null()})
			plan.SubmissionID = types.StringValue(submitErr.ID)
		}
		if len(attempts) > 0 { // keep earlier attempts in the state, tainted
			resp.Diagnostics.Append(r.setState(ctx, &resp.State, &plan, attempts)...)
		}
		return
	case errors.As(err, &lost):
		resp.Diagnostics.AddError("Ray job lost", fmt.Sprintf("%v on %s. The resource is tainted; the next apply submits the job again.", err, c.Address()))
		return
	case err != nil:
		resp.Diagnostics.AddError("Error waiting for the Ray job", fmt.Sprintf(
			"Ray job %s on %s: %v. The job may still be running; the resource is tainted, so the next apply stops and replaces it.%s",
			a.SubmissionID, c.Address(), err, tailSuffix(logs, plan.LogTailLines)))
		return
	case !run.Wait:
		if a.Job != nil {
			applyJob(&plan, &attempts[len(attempts)-1], a.Job)
		}
		resp.Diagnostics.Append(r.setState(ctx, &resp.State, &plan, attempts)...)
		return
	}
	switch a.Job.Status {
	case ray.JobSucceeded:
	case ray.JobFailed:
		msg := plan.Message.ValueString()
		if e := batchjob.ScriptError(logs); e != "" {
			msg += "\n\n" + e
		}
		resp.Diagnostics.AddError("Ray job failed", fmt.Sprintf("Ray job %s on %s ended FAILED after %d attempt(s): %s%s",
			a.SubmissionID, c.Address(), a.N, msg, tailSuffix(logs, plan.LogTailLines)))
	default: // STOPPED
		why := "it was stopped outside Terraform"
		if a.StoppedForDeadline {
			why = fmt.Sprintf("it ran longer than active_deadline_seconds = %d, so the provider stopped it", plan.ActiveDeadlineSeconds.ValueInt64())
		}
		resp.Diagnostics.AddError("Ray job stopped", fmt.Sprintf("Ray job %s on %s ended STOPPED: %s (Ray: %s).%s",
			a.SubmissionID, c.Address(), why, plan.Message.ValueString(), tailSuffix(logs, plan.LogTailLines)))
	}
}

func tailSuffix(logs string, lines types.Int64) string {
	t := ray.Tail(logs, int(lines.ValueInt64()))
	if t == "" {
		return ""
	}
	return fmt.Sprintf("\n\nLast %d lines of the job's log:\n%s", lines.ValueInt64(), t)
}

// refreshLogs fetches the job's log into log_tail and metrics and returns
// it. A failure to read the log is not fatal: the status matters more.
func (r *batchJobResource) refreshLogs(ctx context.Context, c *ray.Client, m *batchJobModel, id string) string {
	logs, err := c.JobLogs(ctx, id)
	if err != nil {
		tflog.Warn(ctx, "cannot read the Ray job's log", map[string]any{"submission_id": id, "error": err.Error()})
		if m.LogTail.IsUnknown() {
			m.LogTail = types.StringValue("")
		}
		if m.Metrics.IsUnknown() {
			m.Metrics = types.ObjectNull(metricsAttrTypes())
		}
		return ""
	}
	m.LogTail = types.StringValue(ray.Tail(logs, int(m.LogTailLines.ValueInt64())))
	m.Metrics = types.ObjectNull(metricsAttrTypes())
	if mt, ok := batchjob.ParseMetrics(logs); ok {
		m.Metrics, _ = types.ObjectValueFrom(context.Background(), metricsAttrTypes(), metricsModel{
			Rows: types.Int64Value(mt.Rows), FailedRows: types.Int64Value(mt.FailedRows), SkippedRows: types.Int64Value(mt.SkippedRows),
			InputTokens: types.Int64Value(mt.InputTokens), OutputTokens: types.Int64Value(mt.OutputTokens),
			WallSeconds: types.Float64Value(mt.WallSeconds), OutputTokensPerSecond: types.Float64Value(mt.OutputTokensPerSecond),
			TotalTokensPerSecond: types.Float64Value(mt.TotalTokensPerSecond),
			EngineSeconds:        types.Float64PointerValue(mt.EngineSeconds), EngineTokensPerSecond: types.Float64PointerValue(mt.EngineOutputTokensPerSecond),
		})
	}
	return logs
}

func (r *batchJobResource) setState(ctx context.Context, st interface {
	Set(context.Context, any) diag.Diagnostics
}, m *batchJobModel, attempts []attemptModel) diag.Diagnostics {
	var diags diag.Diagnostics
	m.Attempts, diags = types.ListValueFrom(ctx, types.ObjectType{AttrTypes: attemptAttrTypes()}, attempts)
	nullUnknowns(ctx, m)
	diags.Append(st.Set(ctx, m)...)
	return diags
}

func (r *batchJobResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state batchJobModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c := r.connect(ctx, &state, &resp.Diagnostics)
	if c == nil {
		return
	}
	id := state.SubmissionID.ValueString()
	job, err := c.GetJob(ctx, id)
	if retry.IsNotFound(err) {
		tflog.Warn(ctx, "Ray job is gone; removing it from the state", map[string]any{"submission_id": id})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the Ray job", err.Error())
		return
	}
	var attempts []attemptModel
	resp.Diagnostics.Append(state.Attempts.ElementsAs(ctx, &attempts, false)...)
	if len(attempts) == 0 || attempts[len(attempts)-1].SubmissionID.ValueString() != id {
		attempts = append(attempts, attemptModel{SubmissionID: types.StringValue(id)})
	}
	applyJob(&state, &attempts[len(attempts)-1], job)
	if state.WaitForCompletion.IsNull() { // after import
		state.WaitForCompletion = types.BoolValue(true)
		state.MaxRetries = types.Int64Value(0)
		state.LogTailLines = types.Int64Value(50)
	}
	if state.Entrypoint.IsNull() && state.VLLM.IsNull() {
		resp.Diagnostics.Append(importJobConfig(ctx, &state, job)...)
	}
	r.refreshLogs(ctx, c, &state, id)
	resp.Diagnostics.Append(r.setState(ctx, &resp.State, &state, attempts)...)
}

// Update changes only how the provider supervises or reports the job
// (wait_for_completion, max_retries, active_deadline_seconds,
// log_tail_lines, auth_token, timeouts): everything that changes what runs
// forces a replacement instead.
func (r *batchJobResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state batchJobModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("auth_token_wo"), &plan.AuthTokenWO)...)
	if plan.LogTail.IsUnknown() {
		if c := r.connect(ctx, &plan, &resp.Diagnostics); c != nil {
			r.refreshLogs(ctx, c, &plan, plan.SubmissionID.ValueString())
		}
		if resp.Diagnostics.HasError() {
			return
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *batchJobResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state batchJobModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := r.connect(ctx, &state, &resp.Diagnostics)
	if c == nil {
		return
	}
	var attempts []attemptModel
	resp.Diagnostics.Append(state.Attempts.ElementsAs(ctx, &attempts, false)...)
	ids := []string{state.SubmissionID.ValueString()}
	for i := len(attempts) - 1; i >= 0; i-- {
		if id := attempts[i].SubmissionID.ValueString(); id != ids[0] {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if err := c.RemoveJob(ctx, id, time.Second); err != nil {
			resp.Diagnostics.AddError("Cannot delete the Ray job", fmt.Sprintf("Ray job %s on %s: %v", id, c.Address(), err))
			return
		}
	}
}

// ImportState takes <dashboard_url>#<submission_id>.
func (r *batchJobResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	url, id, ok := strings.Cut(req.ID, "#")
	if !ok || url == "" || id == "" || strings.Contains(id, "#") {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf(
			"want <dashboard_url>#<submission_id>, e.g. http://127.0.0.1:8265#rayvllm-0123abcd; got %q", req.ID))
		return
	}
	if _, err := normalizeDashboardURL(url); err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("submission_id"), id)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("dashboard_url"), url)...)
}
