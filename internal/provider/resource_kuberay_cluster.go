package provider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/kuberay"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

var (
	_ resource.Resource                   = (*kubeRayClusterResource)(nil)
	_ resource.ResourceWithConfigure      = (*kubeRayClusterResource)(nil)
	_ resource.ResourceWithImportState    = (*kubeRayClusterResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*kubeRayClusterResource)(nil)
	_ resource.ResourceWithValidateConfig = (*kubeRayClusterResource)(nil)
)

// NewKubeRayClusterResource is rayvllm_kuberay_cluster: a RayCluster on
// Kubernetes through the KubeRay operator.
func NewKubeRayClusterResource() resource.Resource { return &kubeRayClusterResource{} }

type kubeRayClusterResource struct{ data *ProviderData }

func (r *kubeRayClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_kuberay_cluster"
}

func (r *kubeRayClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerData(req.ProviderData, &resp.Diagnostics)
}

func (r *kubeRayClusterResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m kubeClusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	bounds := make([]groupBounds, len(m.WorkerGroups))
	for i, g := range m.WorkerGroups {
		bounds[i] = groupBounds{g.Name, g.MinWorkers, g.MaxWorkers}
	}
	checkGroupBounds(bounds, &resp.Diagnostics)
	for i, g := range m.WorkerGroups {
		at := path.Root("worker_group").AtListIndex(i)
		if g.GPUsPerNode.ValueInt64() == 0 && !g.GPUsPerNode.IsNull() && !g.GPUsPerNode.IsUnknown() && (!g.GPUProduct.IsNull() || !g.GPU.IsNull()) {
			attr := "gpu_product"
			if g.GPUProduct.IsNull() {
				attr = "gpu"
			}
			resp.Diagnostics.AddAttributeError(at.AtName(attr), "A GPU for a CPU group",
				fmt.Sprintf("worker_group %q has gpus_per_node = 0 but sets %s; remove %s, or give the group GPUs.", g.Name.ValueString(), attr, attr))
		}
	}
	m.FitCheck.requireModel(&resp.Diagnostics)
}

// ModifyPlan fills the image, the catalog facts and the GPU total, and runs
// the fit check.
func (r *kubeRayClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan kubeClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.Image.IsUnknown() && !plan.RayVersion.IsUnknown() {
		plan.Image = types.StringValue(kuberay.Image(plan.RayVersion.ValueString()))
	}
	if !plan.Namespace.IsUnknown() && !plan.Name.IsUnknown() {
		plan.ID = types.StringValue(plan.Namespace.ValueString() + "/" + plan.Name.ValueString())
		plan.DashboardURL = types.StringValue(kubeRayScheme + "://" + plan.ID.ValueString())
		plan.AuthTokenSecret = types.StringValue(plan.tokenSecret())
	}
	total, known := int64(0), true
	for i := range plan.WorkerGroups {
		g := &plan.WorkerGroups[i]
		if g.GPUsPerNode.IsUnknown() {
			g.GPUsPerNode = types.Int64Value(1)
		}
		g.setCatalog()
		if g.Count.IsUnknown() || g.MinWorkers.IsUnknown() {
			known = false
		}
		total += g.GPUsPerNode.ValueInt64() * g.baseline()
	}
	plan.TotalGPUs = types.Int64Unknown()
	if known {
		plan.TotalGPUs = types.Int64Value(total)
	}
	plan.checkGroups(&resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// client is the API server's client, or nil with the error reported.
func (r *kubeRayClusterResource) client(diags *diag.Diagnostics) *kuberay.Client {
	c, err := r.data.kubeClient()
	if err != nil {
		diags.AddError("Cannot reach Kubernetes", err.Error())
	}
	return c
}

func (r *kubeRayClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan kubeClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, 30*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := r.client(&resp.Diagnostics)
	if c == nil {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	// auth_token_wo: the user's token, kept in the Secret only; else a new one.
	token := configString(ctx, req.Config, "auth_token_wo", &resp.Diagnostics)
	plan.AuthToken = types.StringNull()
	if token == "" {
		var err error
		if token, err = ec2cluster.NewToken(); err != nil {
			resp.Diagnostics.AddError("Could not generate the Ray token", err.Error())
			return
		}
		plan.AuthToken = types.StringValue(token)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if err := c.ApplySecret(ctx, spec.Namespace, spec.TokenSecret, token, plan.AuthToken.IsNull()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("namespace"), "Could not create the token Secret", fmt.Sprintf("Secret %s/%s: %v. %s", spec.Namespace, spec.TokenSecret, err, kuberay.Hint(err)))
		return
	}
	if _, err := c.Create(ctx, spec.Render()); err != nil {
		_ = c.DeleteSecret(ctx, spec.Namespace, spec.TokenSecret)
		resp.Diagnostics.AddError("Could not create the RayCluster", fmt.Sprintf("RayCluster %s/%s: %v. %s", spec.Namespace, spec.Name, err, kuberay.Hint(err)))
		return
	}
	tflog.Info(ctx, "created RayCluster", map[string]any{"namespace": spec.Namespace, "name": spec.Name})
	// The ID goes to state before the wait: a failed wait leaves a tainted
	// resource that destroy removes, not an orphan.
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if plan.WaitForRay.ValueBool() {
		if err := c.WaitReady(ctx, spec.Namespace, spec.Name); err != nil {
			resp.Diagnostics.AddError("The RayCluster did not become ready", err.Error())
		}
	}
}

func (r *kubeRayClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state kubeClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c := r.client(&resp.Diagnostics)
	if c == nil {
		return
	}
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	rc, err := c.Find(ctx, ns, name)
	if retry.IsNotFound(err) {
		tflog.Warn(ctx, "RayCluster is gone; removing it from state", map[string]any{"namespace": ns, "name": name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Could not read the RayCluster", err.Error())
		return
	}
	state.setLive(kuberay.Parse(rc))
	if state.WaitForRay.IsNull() {
		state.WaitForRay = types.BoolValue(true)
	}
	if state.AuthToken.IsNull() && state.AuthTokenWOVersion.IsNull() && state.AuthTokenSecret.ValueString() != "" { // after import
		token, wo, err := c.Token(ctx, ns, state.AuthTokenSecret.ValueString())
		if err != nil {
			resp.Diagnostics.AddError("Could not read the Ray token", err.Error())
			return
		}
		if !wo {
			state.AuthToken = stringOrNull(token)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update resizes groups in place; every other change replaces the cluster.
func (r *kubeRayClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan kubeClusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, 30*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := r.client(&resp.Diagnostics)
	if c == nil {
		return
	}
	spec := plan.spec(ctx, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if _, err := c.Update(ctx, spec.Render()); err != nil {
		resp.Diagnostics.AddError("Could not update the RayCluster", fmt.Sprintf("RayCluster %s/%s: %v", spec.Namespace, spec.Name, err))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if plan.WaitForRay.ValueBool() {
		if err := c.WaitReady(ctx, spec.Namespace, spec.Name); err != nil {
			resp.Diagnostics.AddError("The RayCluster did not become ready", err.Error())
		}
	}
}

func (r *kubeRayClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state kubeClusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, 20*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := r.client(&resp.Diagnostics)
	if c == nil {
		return
	}
	ns, name := state.Namespace.ValueString(), state.Name.ValueString()
	if err := c.Delete(ctx, ns, name); err != nil {
		resp.Diagnostics.AddError("Could not delete the RayCluster", err.Error())
		return
	}
	if err := c.WaitGone(ctx, ns, name); err != nil {
		resp.Diagnostics.AddError("The RayCluster's pods did not go", err.Error())
		return
	}
	if err := c.DeleteSecret(ctx, ns, state.tokenSecret()); err != nil {
		resp.Diagnostics.AddError("Could not delete the token Secret", err.Error())
	}
}

// ImportState takes <namespace>/<name>.
func (r *kubeRayClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ns, name, ok := strings.Cut(req.ID, "/")
	if !ok || kuberay.ValidName(ns, 63) != "" || kuberay.ValidName(name, 40) != "" {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("Import takes <namespace>/<RayCluster name>, e.g. ml/llm; got %q.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("namespace"), ns)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
