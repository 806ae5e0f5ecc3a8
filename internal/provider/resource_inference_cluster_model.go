package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

type clusterModel struct {
	ID                    types.String   `tfsdk:"id"`
	Name                  types.String   `tfsdk:"name"`
	AMIID                 types.String   `tfsdk:"ami_id"`
	SubnetID              types.String   `tfsdk:"subnet_id"`
	SubnetIDs             types.List     `tfsdk:"subnet_ids"`
	KeyName               types.String   `tfsdk:"key_name"`
	IAMInstanceProfile    types.String   `tfsdk:"iam_instance_profile"`
	HeadIAMProfile        types.String   `tfsdk:"head_iam_instance_profile"`
	HeadIAMRoleARN        types.String   `tfsdk:"head_iam_role_arn"`
	Tags                  types.Map      `tfsdk:"tags"`
	TagsAll               types.Map      `tfsdk:"tags_all"`
	RayVersion            types.String   `tfsdk:"ray_version"`
	VLLMVersion           types.String   `tfsdk:"vllm_version"`
	PythonPackages        types.List     `tfsdk:"python_packages"`
	HFTokenSSMParameter   types.String   `tfsdk:"hf_token_ssm_parameter"`
	DashboardIngressCIDRs types.Set      `tfsdk:"dashboard_ingress_cidrs"`
	AllowPublicRayPorts   types.Bool     `tfsdk:"allow_public_ray_ports"`
	IdleTimeoutMinutes    types.Int64    `tfsdk:"idle_timeout_minutes"`
	WaitForRay            types.Bool     `tfsdk:"wait_for_ray"`
	Head                  *headModel     `tfsdk:"head"`
	WorkerGroups          []groupModel   `tfsdk:"worker_group"`
	FitCheck              *fitCheckModel `tfsdk:"fit_check"`
	Timeouts              timeouts.Value `tfsdk:"timeouts"`
	AuthToken             types.String   `tfsdk:"auth_token"`
	AuthTokenWO           types.String   `tfsdk:"auth_token_wo"`
	AuthTokenWOVersion    types.Int64    `tfsdk:"auth_token_wo_version"`
	AuthTokenSSMParameter types.String   `tfsdk:"auth_token_ssm_parameter"`
	SecurityGroupID       types.String   `tfsdk:"security_group_id"`
	HeadInstanceID        types.String   `tfsdk:"head_instance_id"`
	HeadPrivateIP         types.String   `tfsdk:"head_private_ip"`
	HeadPublicIP          types.String   `tfsdk:"head_public_ip"`
	DashboardURL          types.String   `tfsdk:"dashboard_url"`
	GCSAddress            types.String   `tfsdk:"gcs_address"`
	InstanceIDs           types.List     `tfsdk:"instance_ids"`
	TotalGPUs             types.Int64    `tfsdk:"total_gpus"`
	HourlyCostUSD         types.Float64  `tfsdk:"hourly_cost_usd"`
}

type headModel struct {
	InstanceType      types.String `tfsdk:"instance_type"`
	RootVolumeSizeGiB types.Int64  `tfsdk:"root_volume_size_gib"`
	RootVolumeType    types.String `tfsdk:"root_volume_type"`
}

type groupModel struct {
	Name              types.String      `tfsdk:"name"`
	InstanceType      types.String      `tfsdk:"instance_type"`
	Count             types.Int64       `tfsdk:"count"`
	MinWorkers        types.Int64       `tfsdk:"min_workers"`
	MaxWorkers        types.Int64       `tfsdk:"max_workers"`
	SpotFallback      types.Bool        `tfsdk:"spot_fallback_to_on_demand"`
	AMIID             types.String      `tfsdk:"ami_id"`
	RootVolumeSizeGiB types.Int64       `tfsdk:"root_volume_size_gib"`
	RootVolumeType    types.String      `tfsdk:"root_volume_type"`
	Spot              *spotModel        `tfsdk:"spot"`
	FallbackTypes     types.List        `tfsdk:"fallback_instance_types"`
	PlacementGroup    types.String      `tfsdk:"placement_group"`
	EFA               types.Bool        `tfsdk:"efa"`
	Reservation       *reservationModel `tfsdk:"capacity_reservation"`
	InstanceIDs       types.List        `tfsdk:"instance_ids"`
	GPUModel          types.String      `tfsdk:"gpu_model"`
	GPUsPerNode       types.Int64       `tfsdk:"gpus_per_node"`
	GPUMemoryGiB      types.Float64     `tfsdk:"gpu_memory_gib"`
	AcceleratorType   types.String      `tfsdk:"accelerator_type"`
	HourlyCostUSD     types.Float64     `tfsdk:"hourly_cost_usd"`
}

type spotModel struct {
	MaxPriceUSD types.String `tfsdk:"max_price_usd"`
}

type fitCheckModel struct {
	Model types.String `tfsdk:"model"`
	engineSettingsModel
}

// publicPortDiags refuses the whole internet on the Ray ports, or warns
// when allow is set.
func publicPortDiags(cidrs []string, allow bool) diag.Diagnostics {
	var diags diag.Diagnostics
	for _, c := range cidrs {
		if !ec2cluster.IsPublicCIDR(c) {
			continue
		}
		if allow {
			diags.AddAttributeWarning(path.Root("dashboard_ingress_cidrs"), "Ray dashboard open to the internet",
				fmt.Sprintf("%s opens port 8265 (the Ray dashboard and Jobs API) to the whole internet. Exposed Ray dashboards were mass-exploited for remote code execution in the ShadowRay attacks (CVE-2023-48022). Token auth is on, but prefer your own CIDR or a VPN.", c))
		} else {
			diags.AddAttributeError(path.Root("dashboard_ingress_cidrs"), "Public Ray port refused",
				fmt.Sprintf("%s would open port 8265 (the Ray dashboard and Jobs API) to the whole internet. Ray ports (8265, 6379, 8000, 10001) exposed this way were exploited in the ShadowRay attacks (CVE-2023-48022). Use your own CIDR (e.g. 203.0.113.7/32), or set allow_public_ray_ports = true to accept the risk.", c))
		}
	}
	return diags
}

func findGroup(groups []groupModel, name string) *groupModel {
	for i := range groups {
		if groups[i].Name.ValueString() == name {
			return &groups[i]
		}
	}
	return nil
}

// sameShape reports whether the group's instances can stay: same type, AMI,
// root volume, market, placement group and network interface. Fallback
// types and the reservation only change later launches.
func sameShape(a, b groupModel) bool {
	return a.InstanceType.Equal(b.InstanceType) && a.AMIID.Equal(b.AMIID) &&
		a.RootVolumeSizeGiB.Equal(b.RootVolumeSizeGiB) && a.RootVolumeType.Equal(b.RootVolumeType) &&
		spotPrice(a.Spot) == spotPrice(b.Spot) && a.PlacementGroup.Equal(b.PlacementGroup) && a.EFA.ValueBool() == b.EFA.ValueBool()
}

func spotPrice(s *spotModel) string {
	if s == nil {
		return "on-demand"
	}
	return "spot:" + s.MaxPriceUSD.ValueString()
}

func (r *inferenceClusterResource) tagsAll(ctx context.Context, tags types.Map, diags *diag.Diagnostics) types.Map {
	if tags.IsUnknown() {
		return types.MapUnknown(types.StringType)
	}
	all := map[string]string{}
	if r.data != nil {
		for k, v := range r.data.AWS.DefaultTags {
			all[k] = v
		}
	}
	var own map[string]string
	diags.Append(tags.ElementsAs(ctx, &own, false)...)
	for k, v := range own {
		all[k] = v
	}
	out, d := types.MapValueFrom(ctx, types.StringType, all)
	diags.Append(d...)
	return out
}

// autoscaled reports whether Ray's autoscaler runs the group.
func (g groupModel) autoscaled() bool { return !g.MaxWorkers.IsNull() }

// baseline is the group's always-on size: count, or min_workers.
func (g groupModel) baseline() int64 {
	if g.autoscaled() {
		return g.MinWorkers.ValueInt64()
	}
	return g.Count.ValueInt64()
}

// autoscalerShape is what the head's autoscaler config holds: per
// autoscaled group its node settings, and the settings of every node it
// launches (tags, versions, the HF token parameter), so that a change of
// any of them replaces the head and reaches the nodes launched later. The
// other node settings (subnet, key, profile, Ray version, packages) replace
// the cluster by themselves.
func autoscalerShape(m clusterModel) string {
	var b strings.Builder
	for _, g := range m.WorkerGroups {
		if g.autoscaled() {
			fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s;", g.Name, g.InstanceType, g.AMIID, g.RootVolumeSizeGiB, g.RootVolumeType,
				spotPrice(g.Spot), g.MinWorkers, g.MaxWorkers, g.SpotFallback, capacityShape(g))
		}
	}
	if b.Len() > 0 {
		fmt.Fprintf(&b, "tags=%s|vllm=%s|hf=%s", m.TagsAll, m.VLLMVersion, m.HFTokenSSMParameter)
	}
	return b.String()
}

// spec maps the model onto the EC2 code's desired cluster. infos are the
// worker instance types as EC2 describes them (vCPUs of autoscaled groups).
func (r *inferenceClusterResource) spec(ctx context.Context, m clusterModel, region string, infos map[string]ec2cluster.InstanceTypeInfo, diags *diag.Diagnostics) ec2cluster.Spec {
	s := ec2cluster.Spec{
		Name:               m.Name.ValueString(),
		SubnetID:           m.SubnetID.ValueString(),
		KeyName:            m.KeyName.ValueString(),
		IAMInstanceProfile: m.IAMInstanceProfile.ValueString(),
		Tags:               map[string]string{},
		// Unknown (not configured) = the default, made by Create.
		HeadIAMInstanceProfile: m.HeadIAMProfile.ValueString(),
		Head: ec2cluster.NodeSpec{
			InstanceType:   m.Head.InstanceType.ValueString(),
			AMI:            m.AMIID.ValueString(),
			RootVolumeGiB:  volumeGiB(m.Head.RootVolumeSizeGiB),
			RootVolumeType: m.Head.RootVolumeType.ValueString(),
		},
		Boot: ec2cluster.BootConfig{
			Cluster:           m.Name.ValueString(),
			Region:            region,
			RayVersion:        m.RayVersion.ValueString(),
			VLLMVersion:       m.VLLMVersion.ValueString(),
			RayTokenParameter: ec2cluster.TokenParameterName(m.Name.ValueString()),
			HFTokenParameter:  m.HFTokenSSMParameter.ValueString(),
		},
		IdleTimeoutMinutes: int(m.IdleTimeoutMinutes.ValueInt64()),
	}
	diags.Append(m.TagsAll.ElementsAs(ctx, &s.Tags, false)...)
	diags.Append(m.PythonPackages.ElementsAs(ctx, &s.Boot.PythonPackages, false)...)
	diags.Append(m.SubnetIDs.ElementsAs(ctx, &s.SubnetIDs, false)...)
	diags.Append(m.DashboardIngressCIDRs.ElementsAs(ctx, &s.DashboardCIDRs, false)...)
	for _, g := range m.WorkerGroups {
		gs := ec2cluster.GroupSpec{
			Name:            g.Name.ValueString(),
			Count:           int(g.Count.ValueInt64()),
			AcceleratorType: g.AcceleratorType.ValueString(),
			NodeSpec: ec2cluster.NodeSpec{
				InstanceType:   g.InstanceType.ValueString(),
				AMI:            g.AMIID.ValueString(),
				RootVolumeGiB:  volumeGiB(g.RootVolumeSizeGiB),
				RootVolumeType: g.RootVolumeType.ValueString(),
			},
		}
		if g.Spot != nil {
			gs.Spot, gs.SpotMaxPrice = true, g.Spot.MaxPriceUSD.ValueString()
		}
		capacitySpec(ctx, g, &gs.NodeSpec, diags)
		if g.autoscaled() {
			gs.Count = 0
			gs.Autoscale = &ec2cluster.Autoscale{Min: int(g.MinWorkers.ValueInt64()), Max: int(g.MaxWorkers.ValueInt64()), SpotFallback: g.SpotFallback.ValueBool()}
			// Ray's CPU resource holds on any of the types: the fewest vCPUs.
			gs.CPUs, gs.GPUs = infos[gs.InstanceType].VCPUs, int(g.GPUsPerNode.ValueInt64())
			for _, t := range gs.FallbackInstanceTypes {
				gs.CPUs = min(gs.CPUs, infos[t].VCPUs)
			}
		}
		s.Groups = append(s.Groups, gs)
	}
	return s
}

// gpuMismatch compares the catalog's GPU count and per-GPU memory with EC2's
// DescribeInstanceTypes; "" when they agree. EC2 reports memory in MiB as
// marketed, the catalog what CUDA reports, so memory may differ up to 10%.
func gpuMismatch(info ec2cluster.InstanceTypeInfo, gpus int, memGiB float64) string {
	ec2GiB := float64(info.GPUMemoryMiB) / 1024
	switch {
	case info.GPUCount != gpus:
		return fmt.Sprintf("the catalog says %d GPUs per node, EC2 DescribeInstanceTypes says %d × %s.", gpus, info.GPUCount, info.GPUName)
	case ec2GiB > 0 && math.Abs(ec2GiB-memGiB)/ec2GiB > 0.10:
		return fmt.Sprintf("the catalog says %.1f GiB per GPU, EC2 DescribeInstanceTypes says %.1f GiB (%d MiB) per %s.", memGiB, ec2GiB, info.GPUMemoryMiB, info.GPUName)
	}
	return ""
}

// fill writes what exists into the model; unknown computed values become
// null so that the model can be saved at any point of a create.
func fill(ctx context.Context, m *clusterModel, cl *ec2cluster.Cluster, diags *diag.Diagnostics) {
	m.ID = m.Name
	m.AuthTokenSSMParameter = stringOrNull(cl.TokenParameter)
	m.SecurityGroupID = stringOrNull(cl.SecurityGroupID)
	if cl.HeadRoleARN != "" {
		m.HeadIAMRoleARN = types.StringValue(cl.HeadRoleARN)
	}
	if cl.HeadProfileARN != "" {
		m.HeadIAMProfile = types.StringValue(cl.HeadProfileARN)
	}
	if cl.Head != nil {
		h := cl.Head
		m.HeadInstanceID = types.StringValue(h.ID)
		m.HeadPrivateIP = stringOrNull(h.PrivateIP)
		m.HeadPublicIP = stringOrNull(h.PublicIP)
		host := h.PublicIP
		if host == "" {
			host = h.PrivateIP
		}
		m.DashboardURL, m.GCSAddress = types.StringNull(), types.StringNull()
		if host != "" {
			m.DashboardURL = types.StringValue(fmt.Sprintf("http://%s:%d", host, ec2cluster.DashboardPort))
		}
		if h.PrivateIP != "" {
			m.GCSAddress = types.StringValue(fmt.Sprintf("%s:%d", h.PrivateIP, ec2cluster.GCSPort))
		}
	}
	for i := range m.WorkerGroups {
		g := &m.WorkerGroups[i]
		g.InstanceIDs = stringListValue(ctx, cl.GroupIDs(g.Name.ValueString()), diags)
	}
	m.InstanceIDs = stringListValue(ctx, cl.InstanceIDs(), diags)
	if m.HeadIAMProfile.IsUnknown() { // the head has the nodes' profile
		m.HeadIAMProfile = m.IAMInstanceProfile
	}
	nullUnknowns(ctx, m)
}

func stringListValue(ctx context.Context, v []string, diags *diag.Diagnostics) types.List {
	if v == nil {
		v = []string{}
	}
	l, d := types.ListValueFrom(ctx, types.StringType, v)
	diags.Append(d...)
	return l
}

// importDetails fills the arguments that only exist in AWS: the head's
// instance type, boot configuration from its user data, volumes, security
// group, tags.
func (r *inferenceClusterResource) importDetails(ctx context.Context, c *ec2cluster.Client, m *clusterModel, cl *ec2cluster.Cluster, diags *diag.Diagnostics) {
	if cl.Head == nil {
		diags.AddError("Cannot import a cluster without a head", fmt.Sprintf("No running instance tagged %s=%s, %s=%s was found; destroy the remains or start the head.", ec2cluster.TagCluster, cl.Name, ec2cluster.TagRole, ec2cluster.RoleHead))
		return
	}
	d, err := c.Describe(ctx, cl)
	if err != nil {
		diags.AddError("Could not read the cluster for import", err.Error())
		return
	}
	h := cl.Head
	m.AMIID = types.StringValue(h.AMI)
	m.SubnetID = types.StringValue(h.SubnetID)
	m.KeyName = stringOrNull(h.KeyName)
	r.importProfiles(ctx, c, m, cl, d, diags)
	m.Head = &headModel{InstanceType: types.StringValue(h.InstanceType), RootVolumeSizeGiB: types.Int64Value(int64(d.Volumes[h.ID].SizeGiB)), RootVolumeType: types.StringValue(d.Volumes[h.ID].Type)}
	m.RayVersion = types.StringValue(d.Boot.RayVersion)
	m.VLLMVersion = types.StringValue(d.Boot.VLLMVersion)
	m.HFTokenSSMParameter = stringOrNull(d.Boot.HFTokenParameter)
	m.PythonPackages = types.ListNull(types.StringType)
	m.SubnetIDs = types.ListNull(types.StringType)
	if as := d.Boot.AutoscalerConfig; as != "" {
		// The head may run in a later subnet (capacity); the config lists
		// them in the configured order.
		if s, err := ec2cluster.ParseAutoscalerConfig(as); err == nil && len(s.SubnetIDs) > 0 {
			m.SubnetID = types.StringValue(s.SubnetIDs[0])
			if len(s.SubnetIDs) > 1 {
				m.SubnetIDs = stringListValue(ctx, s.SubnetIDs[1:], diags)
			}
		}
	}
	if p := d.Boot.PythonPackages; len(p) > 0 {
		m.PythonPackages = stringListValue(ctx, p, diags)
	}
	m.DashboardIngressCIDRs = types.SetNull(types.StringType)
	if len(d.DashboardCIDRs) > 0 {
		var dd diag.Diagnostics
		m.DashboardIngressCIDRs, dd = types.SetValueFrom(ctx, types.StringType, d.DashboardCIDRs)
		diags.Append(dd...)
	}
	public := slices.ContainsFunc(d.DashboardCIDRs, ec2cluster.IsPublicCIDR)
	m.AllowPublicRayPorts = types.BoolValue(public)
	m.WaitForRay = types.BoolValue(true)
	m.SecurityGroupID = stringOrNull(d.SecurityGroupID)
	cl.SecurityGroupID = d.SecurityGroupID
	m.Timeouts = timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType})}

	tags := map[string]string{}
	for k, v := range h.Tags {
		if strings.HasPrefix(k, "rayvllm:") || strings.HasPrefix(k, "aws:") || (k == "Name" && v == cl.Name+"-head") || isRayHeadTag(k) {
			continue
		}
		if r.data != nil && r.data.AWS.DefaultTags[k] == v {
			continue
		}
		tags[k] = v
	}
	m.Tags = types.MapNull(types.StringType)
	if len(tags) > 0 {
		m.Tags, _ = types.MapValueFrom(ctx, types.StringType, tags)
	}
	m.TagsAll = r.tagsAll(ctx, m.Tags, diags)

	names := make([]string, 0, len(cl.Groups))
	for g := range cl.Groups {
		names = append(names, g)
	}
	sort.Strings(names)
	m.WorkerGroups = nil
	for _, g := range names {
		w := cl.Groups[g][0]
		gm := groupModel{
			Name: types.StringValue(g), InstanceType: types.StringValue(w.InstanceType), AMIID: types.StringValue(w.AMI),
			RootVolumeSizeGiB: types.Int64Value(int64(d.Volumes[w.ID].SizeGiB)), RootVolumeType: types.StringValue(d.Volumes[w.ID].Type),
			FallbackTypes: types.ListNull(types.StringType),
		}
		if w.Spot {
			gm.Spot = &spotModel{MaxPriceUSD: types.StringNull()}
		}
		m.WorkerGroups = append(m.WorkerGroups, gm)
	}
	if as := d.Boot.AutoscalerConfig; as != "" {
		if !importAutoscaled(m, as, diags) {
			return
		}
	}
	infos, err := c.DescribeInstanceTypes(ctx, instanceTypes(m.WorkerGroups))
	if err != nil {
		diags.AddError("Could not describe the worker instance types", err.Error())
		return
	}
	for i := range m.WorkerGroups {
		m.WorkerGroups[i].AcceleratorType = types.StringValue(infos[m.WorkerGroups[i].InstanceType.ValueString()].AcceleratorType())
	}
}

func instanceTypes(groups []groupModel) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g.InstanceType.ValueString())
	}
	return out
}

// setCatalog fills the group's catalog-derived outputs from its GPU.
func (g *groupModel) setCatalog(gpu groupGPU) {
	g.GPUModel = types.StringValue(gpu.Model)
	g.GPUsPerNode = types.Int64Value(int64(gpu.PerNode))
	g.GPUMemoryGiB = types.Float64Value(round(gpu.MemoryGiB, 2))
	g.HourlyCostUSD = types.Float64Value(round(gpu.PriceUSDPerHour*float64(g.baseline()), 2))
}

// recomputeCatalog sets the catalog-derived values after an import.
func recomputeCatalog(m *clusterModel, diags *diag.Diagnostics) {
	total, cost := int64(0), 0.0
	for i := range m.WorkerGroups {
		g := &m.WorkerGroups[i]
		gpu, err := lookupGroupGPU(g.InstanceType.ValueString())
		if err != nil {
			diags.AddWarning("Imported worker group has no catalog GPU", err.Error())
			continue
		}
		g.setCatalog(gpu)
		total += int64(gpu.PerNode) * g.Count.ValueInt64()
		cost += gpu.PriceUSDPerHour * float64(g.Count.ValueInt64())
	}
	m.TotalGPUs = types.Int64Value(total)
	m.HourlyCostUSD = types.Float64Value(round(cost, 2))
}

// groupGPU is what the catalog says about a worker instance type.
type groupGPU struct {
	Model           string
	PerNode         int
	MemoryGiB       float64
	PriceUSDPerHour float64
	GPU             catalog.GPU
}

// lookupGroupGPU resolves a worker instance type through the hardware catalog.
func lookupGroupGPU(instanceType string) (groupGPU, error) {
	it, err := catalog.LookupInstance(instanceType)
	if err != nil {
		var ie *input.InputError
		if errors.As(err, &ie) {
			return groupGPU{}, errors.New(ie.Message)
		}
		return groupGPU{}, err
	}
	gpu, err := catalog.LookupGPU(it.GPU)
	if err != nil {
		return groupGPU{}, fmt.Errorf("catalog instance %s names GPU %q that the GPU catalog lacks: %w", it.Name, it.GPU, err)
	}
	return groupGPU{Model: gpu.Name, PerNode: it.GPUCount, MemoryGiB: gpu.MemoryGiB, PriceUSDPerHour: it.PriceUSDPerHour, GPU: gpu}, nil
}

// fitCheck runs the plan-time fit check for one worker group.
func (r *inferenceClusterResource) fitCheck(fc *fitCheckModel, g *groupModel, at path.Path, diags *diag.Diagnostics) {
	gpu, err := lookupGroupGPU(g.InstanceType.ValueString())
	if err != nil {
		return // reported on instance_type already
	}
	fc.checkGroup(groupFit{
		Name: g.Name.ValueString(), Hardware: g.InstanceType.ValueString(), GPU: gpu.GPU, PerNode: gpu.PerNode,
		GPUAttr: at.AtName("instance_type"), EC2Only: true, // suggestions stay within this instance type and EC2
	}, diags)
}

// groupFit is one worker group's GPUs, as both cluster resources know them.
type groupFit struct {
	Name, Hardware string // the group, and what sets its GPU (instance type, product label)
	GPU            catalog.GPU
	PerNode        int
	GPUAttr        path.Path // the attribute that chose the GPU
	EC2Only        bool
}

// checkGroup runs the plan-time fit check (the same engine as
// rayvllm_gpu_fit) of the fit_check block for one worker group.
func (fc *fitCheckModel) checkGroup(g groupFit, diags *diag.Diagnostics) {
	if fc == nil || fc.Model.IsNull() || fc.Model.IsUnknown() || !fc.known() {
		return
	}
	f := fitCheck{
		GPUs: []catalog.GPU{g.GPU}, Misfit: diag.SeverityError,
		Context: fmt.Sprintf("fit_check: worker group %q (%s, %d × %s)", g.Name, g.Hardware, g.PerNode, g.GPU.Name),
		At: func(a string) path.Path {
			switch a {
			case "", "gpu":
				return g.GPUAttr
			case "model":
			case "block_size", "cpu_offload_gb":
				return path.Root("fit_check").AtName("engine_kwargs_json")
			default:
				return path.Root("fit_check").AtName(a)
			}
			return path.Root("fit_check").AtName("model")
		},
	}
	model, err := hfconfig.LookupModel(fc.Model.ValueString())
	if err != nil {
		f.inputError(diags, err)
		return
	}
	if err := hardware.CheckQuantization(model, fc.Quantization.ValueString()); err != nil {
		f.inputError(diags, err)
		return
	}
	tp := int(int64Or(fc.TensorParallelSize, 1))
	if tp > g.PerNode {
		diags.AddAttributeError(path.Root("fit_check").AtName("tensor_parallel_size"), "Tensor parallelism larger than the node",
			fmt.Sprintf("tensor_parallel_size %d needs %d GPUs in one node, but worker group %q (%s) has %d per node.", tp, tp, g.Name, g.Hardware, g.PerNode))
		return
	}
	f.In = hardware.FitInput{Model: model, BlockSize: 16, MaxTensorParallel: g.PerNode, EC2Only: g.EC2Only}
	if attr := fc.fitInput(&f.In); attr != "" {
		fitSkipped(diags, path.Root("fit_check").AtName(attr), fmt.Sprintf("the engine does not model %s %s.", attr, fc.value(attr)))
		return
	}
	f.run(diags)
}

// volumeGiB converts a root volume size, validated to 30-16384 GiB, for the
// EC2 API; 0 (the AMI's size) is unreachable after validation.
func volumeGiB(v types.Int64) int32 {
	n := v.ValueInt64()
	if n < 0 || n > math.MaxInt32 {
		return 0
	}
	return int32(n)
}

// importProfiles recovers the nodes' instance profile (the autoscaler
// config's, a worker's, else the head's) and, when the head has the role
// Create made, that role and profile, so that destroy deletes them.
func (r *inferenceClusterResource) importProfiles(ctx context.Context, c *ec2cluster.Client, m *clusterModel, cl *ec2cluster.Cluster, d *ec2cluster.Details, diags *diag.Diagnostics) {
	head := ec2cluster.ProfileName(cl.Head.ProfileARN)
	nodes := ""
	if as := d.Boot.AutoscalerConfig; as != "" {
		if s, err := ec2cluster.ParseAutoscalerConfig(as); err == nil {
			nodes = s.NodeProfile
		}
	}
	for _, w := range slices.Concat(slices.Concat(slices.Collect(maps.Values(cl.Groups))...), cl.Autoscaled) {
		if nodes == "" && w.ProfileARN != "" {
			nodes = ec2cluster.ProfileName(w.ProfileARN)
		}
	}
	if head != "" && head == ec2cluster.HeadRoleName(cl.Name) {
		arn, err := c.HeadRoleARN(ctx, cl.Name)
		if err != nil {
			diags.AddError("Could not read the head's IAM role for import", err.Error())
			return
		}
		m.HeadIAMRoleARN = stringOrNull(arn)
		m.HeadIAMProfile = types.StringValue(cl.Head.ProfileARN)
	} else {
		if nodes == "" {
			nodes = head
		}
		if head != nodes {
			m.HeadIAMProfile = stringOrNull(head)
		}
	}
	m.IAMInstanceProfile = stringOrNull(nodes)
}

// importAutoscaled adds the autoscaled groups of the head's autoscaler
// config to m.
func importAutoscaled(m *clusterModel, raw string, diags *diag.Diagnostics) bool {
	s, err := ec2cluster.ParseAutoscalerConfig(raw)
	if err != nil {
		diags.AddError("Could not read the autoscaled groups for import", err.Error())
		return false
	}
	m.IdleTimeoutMinutes = types.Int64Null()
	if s.IdleTimeoutMinutes != ec2cluster.DefaultIdleTimeoutMinutes {
		m.IdleTimeoutMinutes = types.Int64Value(int64(s.IdleTimeoutMinutes))
	}
	for _, g := range s.Groups {
		gm := groupModel{
			Name: types.StringValue(g.Name), InstanceType: types.StringValue(g.InstanceType), AMIID: types.StringValue(g.AMI),
			RootVolumeSizeGiB: types.Int64Value(int64(g.RootVolumeGiB)), RootVolumeType: types.StringValue(g.RootVolumeType),
			Count: types.Int64Null(), MinWorkers: types.Int64Value(int64(g.Autoscale.Min)), MaxWorkers: types.Int64Value(int64(g.Autoscale.Max)),
			SpotFallback: types.BoolNull(),
		}
		if g.Autoscale.SpotFallback {
			gm.SpotFallback = types.BoolValue(true)
		}
		importCapacity(&gm, g.NodeSpec)
		if g.Spot {
			gm.Spot = &spotModel{MaxPriceUSD: stringOrNull(g.SpotMaxPrice)}
		}
		m.WorkerGroups = append(m.WorkerGroups, gm)
	}
	return true
}

// isRayHeadTag reports whether k is one of the tags the head of an
// autoscaled cluster carries for Ray's node provider (not the user's).
func isRayHeadTag(k string) bool {
	switch k {
	case ec2cluster.RayTagClusterName, ec2cluster.RayTagNodeKind, ec2cluster.RayTagUserNodeType, ec2cluster.RayTagNodeStatus, ec2cluster.RayTagNodeName:
		return true
	}
	return false
}
