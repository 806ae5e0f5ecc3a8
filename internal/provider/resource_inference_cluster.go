package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

var (
	_ resource.Resource                   = (*inferenceClusterResource)(nil)
	_ resource.ResourceWithConfigure      = (*inferenceClusterResource)(nil)
	_ resource.ResourceWithImportState    = (*inferenceClusterResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*inferenceClusterResource)(nil)
	_ resource.ResourceWithValidateConfig = (*inferenceClusterResource)(nil)
)

// NewInferenceClusterResource is rayvllm_inference_cluster: a Ray head and
// GPU worker groups on EC2 with pinned Ray and vLLM.
func NewInferenceClusterResource() resource.Resource { return &inferenceClusterResource{} }

type inferenceClusterResource struct{ data *ProviderData }

func (r *inferenceClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_inference_cluster"
}

func (r *inferenceClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerData(req.ProviderData, &resp.Diagnostics)
}

// client builds the AWS clients lazily, so that a provider without AWS
// settings still plans the data sources.
func (r *inferenceClusterResource) client(ctx context.Context) (*ec2cluster.Client, error) {
	return r.data.awsClient(ctx)
}

// ValidateConfig holds the checks that span attributes.
func (r *inferenceClusterResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m clusterModel
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
		if g.SpotFallback.ValueBool() && (g.Spot == nil || !g.autoscaled()) {
			resp.Diagnostics.AddAttributeError(at.AtName("spot_fallback_to_on_demand"), "spot_fallback_to_on_demand needs an autoscaled spot group",
				fmt.Sprintf("worker_group %q: spot_fallback_to_on_demand = true needs a spot block and max_workers (Ray's autoscaler launches the fallback).", g.Name.ValueString()))
		}
		capacityDiags(ctx, g, at, &resp.Diagnostics)
	}
	m.FitCheck.requireModel(&resp.Diagnostics)
	if p := m.HFTokenSSMParameter.ValueString(); strings.HasPrefix(p, "hf_") && !strings.Contains(p, "/") {
		resp.Diagnostics.AddAttributeError(path.Root("hf_token_ssm_parameter"), "Looks like a token, not a parameter name",
			"hf_token_ssm_parameter takes the *name* of an SSM SecureString (e.g. /hf/token) that holds the token; the token itself must never be in the configuration.")
	}
	if m.DashboardIngressCIDRs.IsUnknown() || m.AllowPublicRayPorts.IsUnknown() {
		return
	}
	var cidrs []string
	resp.Diagnostics.Append(m.DashboardIngressCIDRs.ElementsAs(ctx, &cidrs, true)...)
	resp.Diagnostics.Append(publicPortDiags(cidrs, m.AllowPublicRayPorts.ValueBool())...)
}

// ModifyPlan fills what is known at plan time (catalog GPU facts, cost,
// fit check) and keeps the instance IDs of groups that do not change.
func (r *inferenceClusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *clusterModel
	if !req.State.Raw.IsNull() {
		state = &clusterModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	plan.TagsAll = r.tagsAll(ctx, plan.Tags, &resp.Diagnostics)

	totalGPUs, cost, costKnown, anyChange := int64(0), 0.0, true, false
	for i := range plan.WorkerGroups {
		g := &plan.WorkerGroups[i]
		at := path.Root("worker_group").AtListIndex(i)
		if g.AMIID.IsUnknown() || g.AMIID.IsNull() {
			g.AMIID = plan.AMIID
		}
		var prior *groupModel
		if state != nil {
			prior = findGroup(state.WorkerGroups, g.Name.ValueString())
		}
		if g.InstanceType.IsUnknown() || g.Count.IsUnknown() || g.MinWorkers.IsUnknown() || g.MaxWorkers.IsUnknown() {
			costKnown = false
			anyChange = true
			continue
		}
		gpu, err := lookupGroupGPU(g.InstanceType.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(at.AtName("instance_type"), "Not a GPU instance type from the catalog", err.Error())
			continue
		}
		g.setCatalog(gpu)
		totalGPUs += int64(gpu.PerNode) * g.baseline()
		cost += gpu.PriceUSDPerHour * float64(g.baseline())
		r.fitCheck(plan.FitCheck, g, at, &resp.Diagnostics)

		switch {
		case prior != nil && sameShape(*prior, *g) && prior.Count.Equal(g.Count) && !prior.InstanceIDs.IsNull():
			g.InstanceIDs, g.AcceleratorType = prior.InstanceIDs, prior.AcceleratorType
		case prior != nil && sameShape(*prior, *g):
			g.InstanceIDs, g.AcceleratorType = types.ListUnknown(types.StringType), prior.AcceleratorType
			anyChange = true
		default:
			g.InstanceIDs, g.AcceleratorType = types.ListUnknown(types.StringType), types.StringUnknown()
			anyChange = true
		}
	}
	plan.TotalGPUs, plan.HourlyCostUSD = types.Int64Unknown(), types.Float64Unknown()
	if costKnown {
		plan.TotalGPUs, plan.HourlyCostUSD = types.Int64Value(totalGPUs), types.Float64Value(round(cost, 2))
	}
	if state != nil {
		if len(state.WorkerGroups) != len(plan.WorkerGroups) {
			anyChange = true
		}
		if anyChange || state.InstanceIDs.IsNull() {
			plan.InstanceIDs = types.ListUnknown(types.StringType)
		} else {
			plan.InstanceIDs = state.InstanceIDs
		}
		if autoscalerShape(*state) != autoscalerShape(plan) {
			// The autoscaler config is in the head's user data.
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("worker_group"))
		}
		if !state.HeadInstanceID.IsNull() && state.HeadInstanceID.ValueString() == "" {
			// Read found no live head: only a new cluster can fix that. The
			// new head's ID is unknown, which is what makes the replacement.
			plan.HeadInstanceID = types.StringUnknown()
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("head_instance_id"))
			resp.Diagnostics.AddWarning("Head node is gone", fmt.Sprintf("The head node of cluster %q is no longer running; the cluster will be replaced.", state.Name.ValueString()))
		}
	}
	if req.Config.Raw.IsFullyKnown() && !resp.Diagnostics.HasError() {
		r.checkUserData(ctx, plan, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// checkUserData refuses at plan what apply would refuse before launching a
// node: user data over EC2's limit. It runs when every input is known; the
// region and what EC2 reports at apply are stood in for by values at least
// as long (ec2cluster.CheckUserDataSize).
func (r *inferenceClusterResource) checkUserData(ctx context.Context, plan clusterModel, diags *diag.Diagnostics) {
	var d diag.Diagnostics
	spec := r.spec(ctx, plan, "ap-southeast-2", nil, &d)
	if d.HasError() {
		return
	}
	if err := ec2cluster.CheckUserDataSize(spec); err != nil {
		diags.AddAttributeError(path.Root("python_packages"), "User data over EC2's limit",
			fmt.Sprintf("%s. EC2 takes at most %d bytes of user data per instance; the head's carries the autoscaled groups' worker scripts, "+
				"and every node's carries python_packages.", err, ec2cluster.MaxUserDataBytes))
	}
}

// crossCheck compares the catalog with EC2's DescribeInstanceTypes and sets
// each group's Ray accelerator type from EC2's GPU name.
func (r *inferenceClusterResource) crossCheck(ctx context.Context, c *ec2cluster.Client, m *clusterModel, diags *diag.Diagnostics) map[string]ec2cluster.InstanceTypeInfo {
	var names []string
	for _, g := range m.WorkerGroups {
		var fallbacks []string
		diags.Append(g.FallbackTypes.ElementsAs(ctx, &fallbacks, true)...)
		names = append(append(names, g.InstanceType.ValueString()), fallbacks...)
	}
	infos, err := c.DescribeInstanceTypes(ctx, names)
	if err != nil {
		diags.AddError("Could not describe the worker instance types", err.Error())
		return nil
	}
	for i := range m.WorkerGroups {
		g := &m.WorkerGroups[i]
		info, ok := infos[g.InstanceType.ValueString()]
		at := path.Root("worker_group").AtListIndex(i).AtName("instance_type")
		if !ok || info.GPUCount == 0 {
			diags.AddAttributeError(at, "No GPUs on this instance type", fmt.Sprintf("EC2 DescribeInstanceTypes reports no GPUs for %s in this region.", g.InstanceType.ValueString()))
			continue
		}
		if msg := gpuMismatch(info, int(g.GPUsPerNode.ValueInt64()), g.GPUMemoryGiB.ValueFloat64()); msg != "" {
			diags.AddAttributeWarning(at, "Catalog and EC2 disagree on "+g.InstanceType.ValueString(), msg+" The outputs use the catalog; please report this.")
		}
		if g.AcceleratorType.IsUnknown() || g.AcceleratorType.IsNull() {
			g.AcceleratorType = types.StringValue(info.AcceleratorType())
		}
		if g.autoscaled() && info.VCPUs < 1 {
			diags.AddAttributeError(at, "No vCPU count for this instance type", fmt.Sprintf("EC2 DescribeInstanceTypes reports no vCPUs for %s; Ray's autoscaler needs them for the node type's resources.", g.InstanceType.ValueString()))
		}
		if g.EFA.ValueBool() && !info.EFA {
			diags.AddAttributeError(path.Root("worker_group").AtListIndex(i).AtName("efa"), "Instance type without EFA",
				fmt.Sprintf("worker_group %q: efa = true, but EC2 DescribeInstanceTypes reports EfaSupported = false for %s in this region. Remove efa or use a type with EFA.", g.Name.ValueString(), g.InstanceType.ValueString()))
		}
	}
	return infos
}

func (r *inferenceClusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, 30*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := r.client(ctx)
	if err != nil {
		resp.Diagnostics.AddError("AWS configuration", err.Error())
		return
	}
	infos := r.crossCheck(ctx, c, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := r.spec(ctx, plan, c.Region, infos, &resp.Diagnostics)
	if p := spec.Boot.HFTokenParameter; p != "" {
		if ok, err := c.ParameterExists(ctx, p); err != nil {
			resp.Diagnostics.AddAttributeWarning(path.Root("hf_token_ssm_parameter"), "Could not check hf_token_ssm_parameter",
				err.Error()+"\nThe nodes will fail to boot if they cannot read it.")
		} else if !ok {
			resp.Diagnostics.AddAttributeError(path.Root("hf_token_ssm_parameter"), "SSM parameter not found",
				fmt.Sprintf("SSM parameter %q does not exist in %s; create it as a SecureString holding the Hugging Face token first.", p, c.Region))
		}
	}
	// auth_token_wo: the user's token, kept in SSM only; else a new one,
	// also exposed in state.
	token := configString(ctx, req.Config, "auth_token_wo", &resp.Diagnostics)
	plan.AuthToken = types.StringNull()
	spec.TokenWriteOnly = token != ""
	if token == "" {
		var err error
		if token, err = ec2cluster.NewToken(); err != nil {
			resp.Diagnostics.AddError("Could not generate the Ray token", err.Error())
		}
		plan.AuthToken = types.StringValue(token)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	save := func(cl *ec2cluster.Cluster) {
		m := plan
		m.WorkerGroups = slices.Clone(plan.WorkerGroups)
		fill(ctx, &m, cl, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	}
	tflog.Info(ctx, "creating Ray cluster on EC2", map[string]any{"name": spec.Name, "groups": len(spec.Groups)})
	cl, err := c.Create(ctx, spec, token, save)
	if err != nil {
		var exists *ec2cluster.ExistsError
		if errors.As(err, &exists) {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Cluster already exists", err.Error())
			return
		}
		resp.Diagnostics.AddError("Could not create the cluster", err.Error()+
			"\nWhat was created is in state and tainted; the next apply replaces it (destroy terminates every instance tagged with the cluster).")
		return
	}
	fill(ctx, &plan, cl, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if plan.WaitForRay.ValueBool() {
		left := retry.TimeLeft(ctx, 30*time.Minute)
		rc, err := r.data.rayClient(plan.DashboardURL.ValueString(), token)
		if err == nil {
			err = c.WaitForRay(ctx, rc, cl, left, 10*time.Second)
		}
		if err != nil {
			resp.Diagnostics.AddError("Ray did not come up", err.Error()+"\nThe cluster is in state and tainted; the next apply replaces it.")
		}
	}
}

func (r *inferenceClusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, err := r.client(ctx)
	if err != nil {
		resp.Diagnostics.AddError("AWS configuration", err.Error())
		return
	}
	name := state.Name.ValueString()
	cl, err := c.FindCluster(ctx, name, state.HeadInstanceID.ValueString())
	if retry.IsNotFound(err) && !state.RayVersion.IsNull() {
		// No instance left: what else the cluster made stays in state (the
		// head gone, so the plan replaces it and destroy deletes them).
		left, lerr := c.Leftovers(ctx, name, state.AuthTokenSSMParameter.ValueString(), !state.HeadIAMRoleARN.IsNull())
		if lerr != nil {
			resp.Diagnostics.AddError("Could not read the cluster", lerr.Error())
			return
		}
		if len(left) > 0 {
			tflog.Warn(ctx, "no instance of the cluster is left; keeping it in state for its other resources", map[string]any{"name": name, "left": left})
			cl, err = &ec2cluster.Cluster{Name: name, Groups: map[string][]ec2cluster.Instance{}}, nil
		}
	}
	if retry.IsNotFound(err) {
		tflog.Warn(ctx, "cluster is gone, removing it from state", map[string]any{"name": name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Could not read the cluster", err.Error())
		return
	}
	importing := state.RayVersion.IsNull()
	if importing {
		r.importDetails(ctx, c, &state, cl, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	if cl.SecurityGroupID == "" {
		cl.SecurityGroupID = state.SecurityGroupID.ValueString()
	}
	cl.TokenParameter = state.AuthTokenSSMParameter.ValueString()
	if cl.TokenParameter == "" {
		cl.TokenParameter = ec2cluster.TokenParameterName(name)
	}
	if state.AuthToken.IsNull() && state.AuthTokenWOVersion.IsNull() { // after import; an auth_token_wo stays out of state
		wo, err := c.TokenIsWriteOnly(ctx, cl.TokenParameter)
		if err != nil {
			resp.Diagnostics.AddError("Could not read the Ray token's tags", err.Error())
			return
		}
		token := ""
		if !wo {
			token, err = c.GetToken(ctx, cl.TokenParameter)
		}
		if err != nil && !retry.IsNotFound(err) {
			resp.Diagnostics.AddError("Could not read the Ray token", err.Error())
			return
		}
		state.AuthToken = stringOrNull(token)
	}
	// Groups that exist but are not in state (strays of a failed update)
	// are added so that the plan shows their removal.
	var extra []string
	for g := range cl.Groups {
		if findGroup(state.WorkerGroups, g) == nil {
			extra = append(extra, g)
		}
	}
	sort.Strings(extra)
	for _, g := range extra {
		w := cl.Groups[g][0]
		state.WorkerGroups = append(state.WorkerGroups, groupModel{
			Name: types.StringValue(g), InstanceType: types.StringValue(w.InstanceType), AMIID: types.StringValue(w.AMI),
			RootVolumeSizeGiB: types.Int64Value(200), RootVolumeType: types.StringValue("gp3"),
			GPUModel: types.StringNull(), GPUsPerNode: types.Int64Null(), GPUMemoryGiB: types.Float64Null(),
			AcceleratorType: types.StringNull(), HourlyCostUSD: types.Float64Null(),
			FallbackTypes: types.ListNull(types.StringType),
		})
	}
	fill(ctx, &state, cl, &resp.Diagnostics)
	// Drift of the security group: a dashboard CIDR removed or added out of
	// band, or any other rule from outside (e.g. 0.0.0.0/0 on the GCS port),
	// shows in dashboard_ingress_cidrs, so that the plan lists it and the
	// apply puts the rules back to exactly the configured ones.
	if sg := state.SecurityGroupID.ValueString(); sg != "" && !importing {
		ingress, err := c.Ingress(ctx, sg)
		if err != nil && !retry.IsNotFound(err) {
			resp.Diagnostics.AddError("Could not read the cluster's security group", err.Error())
			return
		}
		if err == nil {
			var inState []string
			resp.Diagnostics.Append(state.DashboardIngressCIDRs.ElementsAs(ctx, &inState, false)...)
			slices.Sort(inState)
			if read := slices.Sorted(slices.Values(ingress)); !slices.Equal(read, inState) {
				state.DashboardIngressCIDRs = types.SetNull(types.StringType)
				if len(read) > 0 {
					var d diag.Diagnostics
					state.DashboardIngressCIDRs, d = types.SetValueFrom(ctx, types.StringType, read)
					resp.Diagnostics.Append(d...)
				}
			}
		}
	}
	// Drift: a group's count is what is alive, so that terminated, stopped
	// or interrupted workers show as a plan to restore the configured count.
	// An autoscaled group's workers are the autoscaler's (cl.Autoscaled); a
	// worker of it that Terraform's tags name but Ray's autoscaler did not
	// launch is a stray: count shows it, so that the plan removes it.
	for i := range state.WorkerGroups {
		g := &state.WorkerGroups[i]
		n := len(cl.Groups[g.Name.ValueString()])
		if g.autoscaled() && n == 0 {
			continue
		}
		if g.autoscaled() {
			resp.Diagnostics.AddWarning("Stray instances in an autoscaled group", fmt.Sprintf("Worker group %q is scaled by Ray's autoscaler, but %v carry its tags without Ray's (%s=%s): neither Terraform nor the autoscaler launched them. The next apply terminates them.",
				g.Name.ValueString(), cl.GroupIDs(g.Name.ValueString()), ec2cluster.RayTagClusterName, name))
		}
		g.Count = types.Int64Value(int64(n))
	}
	if cl.Head == nil {
		state.HeadInstanceID = types.StringValue("")
	}
	if state.HeadIAMProfile.IsNull() { // state from before head_iam_instance_profile: the head had the nodes' profile
		state.HeadIAMProfile = state.IAMInstanceProfile
	}
	if importing {
		recomputeCatalog(&state, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *inferenceClusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, 30*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := r.client(ctx)
	if err != nil {
		resp.Diagnostics.AddError("AWS configuration", err.Error())
		return
	}
	infos := r.crossCheck(ctx, c, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := r.spec(ctx, plan, c.Region, infos, &resp.Diagnostics)
	replace := map[string]bool{}
	for _, g := range plan.WorkerGroups {
		if prior := findGroup(state.WorkerGroups, g.Name.ValueString()); prior != nil && !sameShape(*prior, g) {
			replace[g.Name.ValueString()] = true
		}
	}
	var oldTags, newTags map[string]string
	resp.Diagnostics.Append(state.TagsAll.ElementsAs(ctx, &oldTags, false)...)
	resp.Diagnostics.Append(plan.TagsAll.ElementsAs(ctx, &newTags, false)...)
	var removed []string
	for k := range oldTags {
		if _, ok := newTags[k]; !ok {
			removed = append(removed, k)
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	save := func(cl *ec2cluster.Cluster) {
		m := plan
		m.WorkerGroups = slices.Clone(plan.WorkerGroups)
		fill(ctx, &m, cl, &resp.Diagnostics)
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	}
	cl, err := c.Update(ctx, spec, state.HeadInstanceID.ValueString(), state.SecurityGroupID.ValueString(), replace, removed, save)
	if err != nil {
		resp.Diagnostics.AddError("Could not update the cluster", err.Error())
		return
	}
	fill(ctx, &plan, cl, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	if plan.WaitForRay.ValueBool() {
		rc, err := r.data.rayClient(plan.DashboardURL.ValueString(), plan.AuthToken.ValueString())
		if err == nil {
			err = c.WaitForRay(ctx, rc, cl, retry.TimeLeft(ctx, 30*time.Minute), 10*time.Second)
		}
		if err != nil {
			resp.Diagnostics.AddError("Ray did not come up", err.Error())
		}
	}
}

func (r *inferenceClusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, 20*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := r.client(ctx)
	if err != nil {
		resp.Diagnostics.AddError("AWS configuration", err.Error())
		return
	}
	if err := c.Destroy(ctx, state.Name.ValueString(), state.SecurityGroupID.ValueString(), state.AuthTokenSSMParameter.ValueString()); err != nil {
		resp.Diagnostics.AddError("Could not delete the cluster", err.Error())
		return
	}
	if !state.HeadIAMRoleARN.IsNull() {
		if err := c.DeleteHeadRole(ctx, state.Name.ValueString()); err != nil {
			resp.Diagnostics.AddError("Could not delete the head's IAM role", err.Error())
		}
	}
}

// ImportState takes the cluster name; Read fills in the rest from AWS.
func (r *inferenceClusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !clusterNameRE.MatchString(req.ID) {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("Import takes the cluster name (the %s tag value), got %q.", ec2cluster.TagCluster, req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
