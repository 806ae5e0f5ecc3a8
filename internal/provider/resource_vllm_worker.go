package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
)

var (
	_ resource.Resource                     = (*vllmWorkerResource)(nil)
	_ resource.ResourceWithConfigure        = (*vllmWorkerResource)(nil)
	_ resource.ResourceWithImportState      = (*vllmWorkerResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*vllmWorkerResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*vllmWorkerResource)(nil)
	_ resource.ResourceWithConfigValidators = (*vllmWorkerResource)(nil)
)

// NewVLLMWorkerResource is rayvllm_vllm_worker: one Ray Serve application.
func NewVLLMWorkerResource() resource.Resource { return &vllmWorkerResource{} }

type vllmWorkerResource struct{ pd *ProviderData }

const (
	defaultWorkerCreateTimeout = 30 * time.Minute
	defaultWorkerUpdateTimeout = 30 * time.Minute
	defaultWorkerDeleteTimeout = 10 * time.Minute
)

func (r *vllmWorkerResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vllm_worker"
}

func (r *vllmWorkerResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("model_id"), path.MatchRoot("import_path")),
	}
}

func (r *vllmWorkerResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.pd = providerData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks what the attribute validators cannot: relations
// inside the JSON attributes and the nested lists.
func (r *vllmWorkerResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m vllmWorkerModel
	if !req.Config.Raw.IsFullyKnown() {
		return
	}
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	checkAutoscaling(&resp.Diagnostics, path.Root("autoscaling"), m.Autoscaling)
	if m.Accelerator.ValueString() == "cpu" && !m.AcceleratorType.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("accelerator_type"), "GPU type on a CPU engine",
			fmt.Sprintf("accelerator_type %q names a GPU, but accelerator = \"cpu\" runs the engine on CPUs (Ray Serve LLM rejects the pair); remove accelerator_type or set accelerator = \"gpu\".", m.AcceleratorType.ValueString()))
	}
	if wo := m.writeOnlyEnv(); len(wo) > 0 && !m.RuntimeEnvJSON.IsNull() {
		var env struct {
			EnvVars map[string]any `json:"env_vars"`
		}
		_ = json.Unmarshal([]byte(m.RuntimeEnvJSON.ValueString()), &env)
		for k := range wo {
			if _, ok := env.EnvVars[k]; ok {
				resp.Diagnostics.AddAttributeError(path.Root("env_vars_wo"), "Environment variable set twice",
					fmt.Sprintf("%q is in env_vars_wo and in runtime_env_json's env_vars; keep it in one of them (env_vars_wo keeps it out of the state).", k))
			}
		}
	}
	if !m.WorkingDir.IsNull() && !m.RuntimeEnvJSON.IsNull() {
		env := map[string]any{}
		_ = json.Unmarshal([]byte(m.RuntimeEnvJSON.ValueString()), &env)
		if _, ok := env["working_dir"]; ok {
			resp.Diagnostics.AddAttributeError(path.Root("runtime_env_json"), "Two working directories",
				"runtime_env_json has a working_dir key and the working_dir attribute is set; keep only one.")
		}
	}
	seen := map[string]bool{}
	for i, d := range m.Deployments {
		p := path.Root("deployments").AtListIndex(i)
		if seen[d.Name.ValueString()] {
			resp.Diagnostics.AddAttributeError(p.AtName("name"), "Duplicate deployment", fmt.Sprintf("deployment %q is listed twice; list each deployment once.", d.Name.ValueString()))
		}
		seen[d.Name.ValueString()] = true
		if !d.NumReplicas.IsNull() && d.Autoscaling != nil {
			resp.Diagnostics.AddAttributeError(p.AtName("num_replicas"), "num_replicas with autoscaling",
				"Serve takes either a fixed num_replicas or an autoscaling block for a deployment, not both.")
		}
		checkAutoscaling(&resp.Diagnostics, p.AtName("autoscaling"), d.Autoscaling)
	}
}

// client returns the Ray client of the resource, version-checked.
func (r *vllmWorkerResource) client(ctx context.Context, m *vllmWorkerModel) (*ray.Client, error) {
	token := m.AuthToken.ValueString()
	if wo := m.AuthTokenWO.ValueString(); wo != "" { // set only in create and update
		token = wo
	}
	c, err := r.pd.rayClient(m.DashboardURL.ValueString(), token)
	if err != nil {
		return nil, err
	}
	if _, err := c.CheckVersion(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (r *vllmWorkerResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan, state vllmWorkerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	hasState := !req.State.Raw.IsNull()
	if hasState {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}

	if plan.RoutePrefix.IsUnknown() && !plan.Name.IsUnknown() {
		plan.RoutePrefix = types.StringValue("/" + plan.Name.ValueString())
	}
	planDashboardURL(ctx, r.pd, req, resp, &plan.DashboardURL)
	switch {
	case plan.WorkingDir.IsNull():
		plan.WorkingDirURI = types.StringNull()
	case plan.WorkingDir.IsUnknown():
		plan.WorkingDirURI = types.StringUnknown()
	default:
		pkg, err := packageWorkingDir(plan.WorkingDir.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("working_dir"), "Cannot package working_dir", err.Error())
			return
		}
		plan.WorkingDirURI = types.StringValue(pkg.URI)
	}

	woKnown := plan.loadWriteOnly(ctx, req.Config, &resp.Diagnostics)
	if req.Config.Raw.IsFullyKnown() && woKnown && !plan.RoutePrefix.IsUnknown() && !plan.WorkingDirURI.IsUnknown() {
		s, err := plan.spec()
		if err != nil {
			resp.Diagnostics.AddError("Invalid configuration", err.Error())
			return
		}
		desired, err := serveapp.CanonicalRedacted(serveapp.Render(s), plan.writeOnlyNames())
		if err != nil {
			resp.Diagnostics.AddError("Cannot render the Serve config", err.Error())
			return
		}
		if hasState && state.ConfigJSON.ValueString() == desired {
			plan.ConfigJSON = state.ConfigJSON
		} else {
			plan.ConfigJSON = jsontypes.NewNormalizedValue(desired)
		}
		if s.LLM != nil {
			r.fitCheck(&resp.Diagnostics, &plan, s.LLM)
		}
	} else {
		plan.ConfigJSON = jsontypes.NewNormalizedUnknown()
	}
	// Nothing the cluster runs changes: keep what was read, so that a
	// change of smoke_test, timeouts or auth_token alone shows no noise. A
	// new env_vars_wo_version may redeploy with new values that config_json
	// does not show.
	if hasState && plan.ConfigJSON.Equal(state.ConfigJSON) && plan.EnvVarsWOVersion.Equal(state.EnvVarsWOVersion) {
		plan.Status, plan.StatusMessage, plan.LastDeployedTime = state.Status, state.StatusMessage, state.LastDeployedTime
		plan.DeploymentStatuses = state.DeploymentStatuses
		if plan.EndpointBaseURL.Equal(state.EndpointBaseURL) {
			plan.EndpointURL = state.EndpointURL
		}
	}
	plan.AuthTokenWO, plan.EnvVarsWO = types.StringNull(), types.MapNull(types.StringType) // never in a plan
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func (r *vllmWorkerResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan vllmWorkerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, defaultWorkerCreateTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	plan.loadWriteOnly(ctx, req.Config, &resp.Diagnostics)
	c, err := r.client(ctx, &plan)
	if err != nil {
		resp.Diagnostics.AddError("Cannot reach the Ray cluster", err.Error())
		return
	}
	if plan.DashboardURL.IsUnknown() || plan.DashboardURL.IsNull() {
		plan.DashboardURL = types.StringValue(c.Address())
	}
	if ok, putErr := r.deploy(ctx, c, &plan, true, &resp.Diagnostics); !ok {
		// A write whose answer was lost may still have happened: keep an
		// application that runs our config in the state (tainted), never
		// orphan it. One that was there before is not ours to keep.
		if putErr == nil || errors.Is(putErr, ray.ErrServeAppExists) {
			return
		}
		if app, _, err := c.FindServeApplication(ctx, plan.Name.ValueString()); err == nil && app.HasConfig() && !plan.ConfigJSON.IsUnknown() {
			if cur, err := serveapp.RedactedJSON(app.DeployedAppConfig, plan.writeOnlyNames()); err == nil && cur == plan.ConfigJSON.ValueString() {
				plan.ID = types.StringValue(c.Address() + "#" + plan.Name.ValueString())
				r.refreshComputed(ctx, c, &plan, &resp.Diagnostics)
				resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
			}
		}
		return
	}
	// The application exists from here on: record it before waiting, so
	// that a failed wait leaves a tainted resource, not an orphan.
	plan.ID = types.StringValue(c.Address() + "#" + plan.Name.ValueString())
	r.refreshComputed(ctx, c, &plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.waitAndSmokeTest(ctx, c, &plan, timeout, &resp.Diagnostics)
	r.refreshComputed(ctx, c, &plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *vllmWorkerResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state vllmWorkerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, defaultWorkerUpdateTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	plan.loadWriteOnly(ctx, req.Config, &resp.Diagnostics)
	c, err := r.client(ctx, &plan)
	if err != nil {
		resp.Diagnostics.AddError("Cannot reach the Ray cluster", err.Error())
		return
	}
	if plan.DashboardURL.IsUnknown() || plan.DashboardURL.IsNull() {
		plan.DashboardURL = state.DashboardURL
	}
	plan.ID = state.ID
	if ok, _ := r.deploy(ctx, c, &plan, false, &resp.Diagnostics); !ok {
		return
	}
	r.waitAndSmokeTest(ctx, c, &plan, timeout, &resp.Diagnostics)
	r.refreshComputed(ctx, c, &plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// deploy uploads working_dir and writes the application into the
// cluster's list, unless the cluster already runs exactly this config.
// It sets plan.ConfigJSON to what the cluster was given and returns the
// error of the write itself when it got that far.
func (r *vllmWorkerResource) deploy(ctx context.Context, c *ray.Client, plan *vllmWorkerModel, create bool, diags *diag.Diagnostics) (bool, error) {
	if !plan.WorkingDir.IsNull() {
		pkg, err := packageWorkingDir(plan.WorkingDir.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root("working_dir"), "Cannot package working_dir", err.Error())
			return false, nil
		}
		if err := c.EnsurePackage(ctx, pkg); err != nil {
			diags.AddAttributeError(path.Root("working_dir"), "Cannot upload working_dir", err.Error())
			return false, nil
		}
		plan.WorkingDirURI = types.StringValue(pkg.URI)
	} else {
		plan.WorkingDirURI = types.StringNull()
	}
	s, err := plan.spec()
	if err != nil {
		diags.AddError("Invalid configuration", err.Error())
		return false, nil
	}
	app := serveapp.Render(s)
	desired, err := serveapp.CanonicalValue(app)
	if err != nil {
		diags.AddError("Cannot render the Serve config", err.Error())
		return false, nil
	}
	view, err := serveapp.CanonicalRedacted(app, plan.writeOnlyNames())
	if err != nil {
		diags.AddError("Cannot render the Serve config", err.Error())
		return false, nil
	}
	if !plan.ConfigJSON.IsUnknown() && plan.ConfigJSON.ValueString() != view {
		diags.AddError("Provider bug: the Serve config changed between plan and apply", fmt.Sprintf("planned %s\napplying %s", plan.ConfigJSON.ValueString(), view))
		return false, nil
	}
	plan.ConfigJSON = jsontypes.NewNormalizedValue(view)
	if !create {
		if live, _, err := c.FindServeApplication(ctx, s.Name); err == nil && live.HasConfig() {
			if cur, err := serveapp.Canonical(live.DeployedAppConfig); err == nil && cur == desired {
				tflog.Info(ctx, "Serve application already runs the planned config; not rewriting the list", map[string]any{"app": s.Name})
				return true, nil
			}
		}
	}
	var httpOpts map[string]any
	if h := plan.HTTPOptions; h != nil {
		httpOpts = map[string]any{}
		if !h.Host.IsNull() {
			httpOpts["host"] = h.Host.ValueString()
		}
		if !h.Port.IsNull() {
			httpOpts["port"] = h.Port.ValueInt64()
		}
	}
	warnings, err := c.DeployServeApplication(ctx, app, ray.DeployOptions{HTTPOptions: httpOpts, MustNotExist: create})
	for _, w := range warnings {
		diags.AddAttributeWarning(path.Root("http_options"), "Serve HTTP options not applied", w)
	}
	if err != nil {
		diags.AddError(fmt.Sprintf("Cannot deploy Serve application %q", s.Name), err.Error())
		return false, err
	}
	return true, nil
}

// waitAndSmokeTest waits for RUNNING, failing on DEPLOY_FAILED or
// UNHEALTHY with Serve's message, then runs the smoke test.
func (r *vllmWorkerResource) waitAndSmokeTest(ctx context.Context, c *ray.Client, m *vllmWorkerModel, timeout time.Duration, diags *diag.Diagnostics) {
	name := m.Name.ValueString()
	_, err := retry.StateWait[*ray.ServeApplication]{
		Pending:        []string{ray.ServeAppNotStarted, ray.ServeAppDeploying},
		Target:         []string{ray.ServeAppRunning},
		Timeout:        timeout,
		Delay:          500 * time.Millisecond,
		PollInterval:   2 * time.Second,
		NotFoundChecks: 3,
		Refresh: func(ctx context.Context) (*ray.ServeApplication, string, error) {
			app, _, err := c.FindServeApplication(ctx, name)
			if err != nil {
				return nil, "", err
			}
			tflog.Debug(ctx, "Serve application status", map[string]any{"app": name, "status": app.Status})
			return app, app.Status, app.Failure()
		},
	}.Wait(ctx)
	if err != nil {
		var appErr *ray.ServeAppError
		var timeoutErr *retry.TimeoutError
		switch {
		case errors.As(err, &appErr):
			diags.AddError(fmt.Sprintf("Serve application %q failed: %s", name, appErr.Status), "Serve's message:\n"+appErr.Message)
		case errors.As(err, &timeoutErr):
			diags.AddError(fmt.Sprintf("Serve application %q is not RUNNING after %s", name, timeout),
				fmt.Sprintf("Its last status was %s. Large models take long to download and load; raise the timeouts, or look at the replica logs under /tmp/ray/session_latest/logs/serve on the cluster.", timeoutErr.LastState))
		default:
			diags.AddError(fmt.Sprintf("Waiting for Serve application %q", name), err.Error())
		}
		return
	}
	if m.SmokeTest == nil {
		return
	}
	r.refreshComputed(ctx, c, m, diags)
	st := m.SmokeTest
	headers := map[string]string{}
	if !st.Headers.IsNull() {
		diags.Append(st.Headers.ElementsAs(ctx, &headers, false)...)
	}
	target := strings.TrimRight(m.EndpointURL.ValueString(), "/") + st.Path.ValueString()
	if m.EndpointBaseURL.IsNull() {
		var err error
		if target, err = r.pd.serveProbeURL(m.DashboardURL.ValueString(), target); err != nil {
			diags.AddAttributeError(path.Root("smoke_test"), "Cannot reach the Serve proxy", err.Error())
			return
		}
	}
	probe := ray.SmokeTest{
		URL:                target,
		Method:             st.Method.ValueString(),
		Body:               st.Body.ValueString(),
		Headers:            headers,
		ExpectedStatus:     int(int64Or(st.ExpectedStatus, 200)),
		ExpectBodyContains: st.ExpectBodyContains.ValueString(),
		Timeout:            time.Duration(int64Or(st.TimeoutSeconds, 60)) * time.Second,
	}
	if err := probe.Run(ctx); err != nil {
		diags.AddAttributeError(path.Root("smoke_test"), fmt.Sprintf("Smoke test of Serve application %q failed", name), err.Error())
	}
}

// refreshComputed reads the application's live status into m.
func (r *vllmWorkerResource) refreshComputed(ctx context.Context, c *ray.Client, m *vllmWorkerModel, diags *diag.Diagnostics) {
	app, inst, err := c.FindServeApplication(ctx, m.Name.ValueString())
	if err != nil {
		diags.AddWarning("Cannot read the Serve application's status", err.Error())
		for _, v := range []*types.String{&m.Status, &m.StatusMessage, &m.EndpointURL} {
			if v.IsUnknown() {
				*v = types.StringValue("")
			}
		}
		if m.LastDeployedTime.IsUnknown() {
			m.LastDeployedTime = timetypes.NewRFC3339Null()
		}
		if m.DeploymentStatuses.IsUnknown() {
			m.DeploymentStatuses = types.MapNull(types.ObjectType{AttrTypes: deploymentStatusAttrTypes})
		}
		return
	}
	diags.Append(m.applyLive(c, inst, app)...)
}

func (r *vllmWorkerResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m vllmWorkerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.client(ctx, &m)
	if err != nil {
		resp.Diagnostics.AddError("Cannot reach the Ray cluster", err.Error())
		return
	}
	app, inst, err := c.FindServeApplication(ctx, m.Name.ValueString())
	if retry.IsNotFound(err) || err == nil && app.Status == ray.ServeAppDeleting {
		tflog.Warn(ctx, "Serve application is gone from the cluster; removing it from state", map[string]any{"app": m.Name.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the Serve application", err.Error())
		return
	}
	if !app.HasConfig() {
		resp.Diagnostics.AddError("Serve application not managed through the REST API",
			fmt.Sprintf("Application %q on %s has no declarative config (source %q); it was deployed with serve.run or is still starting. Terraform can only manage applications deployed through the REST API.", app.Name, c.Address(), app.Source))
		return
	}
	woNames := writeOnlyNamesIn(m.ConfigJSON)
	live, err := serveapp.RedactedJSON(app.DeployedAppConfig, woNames)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the Serve application's config", err.Error())
		return
	}
	spec, unmanaged, err := serveapp.Parse(app.DeployedAppConfig)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the Serve application's config", err.Error())
		return
	}
	if len(unmanaged) > 0 {
		tflog.Info(ctx, "Serve application has fields without an attribute; config_json shows them and the next apply removes them", map[string]any{"fields": unmanaged})
	}
	// Values of env_vars_wo stay out of runtime_env_json (and the state).
	if vars, ok := spec.RuntimeEnv["env_vars"].(map[string]any); ok && len(woNames) > 0 {
		for k := range woNames {
			delete(vars, k)
		}
		if len(vars) == 0 {
			delete(spec.RuntimeEnv, "env_vars")
		}
	}
	m.applySpec(spec)
	m.ConfigJSON = jsontypes.NewNormalizedValue(live)
	if m.ID.IsNull() || m.ID.ValueString() == "" {
		m.ID = types.StringValue(c.Address() + "#" + m.Name.ValueString())
	}
	resp.Diagnostics.Append(m.applyLive(c, inst, app)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (r *vllmWorkerResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m vllmWorkerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := m.Timeouts.Delete(ctx, defaultWorkerDeleteTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := r.client(ctx, &m)
	if err != nil {
		resp.Diagnostics.AddError("Cannot reach the Ray cluster", err.Error())
		return
	}
	name := m.Name.ValueString()
	found, err := c.RemoveServeApplication(ctx, name)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Cannot delete Serve application %q", name), err.Error())
		return
	}
	if !found {
		return
	}
	err = retry.Until(ctx, timeout, time.Second, func(ctx context.Context) (bool, error) {
		_, _, err := c.FindServeApplication(ctx, name)
		if retry.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("Serve application %q is not gone after %s", name, timeout), err.Error())
	}
}

func (r *vllmWorkerResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	i := strings.LastIndex(req.ID, "#")
	if i <= 0 || i == len(req.ID)-1 {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("got %q; want <dashboard_url>#<application name>, e.g. http://127.0.0.1:8265#qwen", req.ID))
		return
	}
	addr, name := req.ID[:i], req.ID[i+1:]
	norm, err := normalizeDashboardURL(addr)
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	if !appNameRE.MatchString(name) {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("application name %q: must start with a letter or digit and hold only letters, digits, '.', '_' and '-'", name))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), norm+"#"+name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("dashboard_url"), addr)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}
