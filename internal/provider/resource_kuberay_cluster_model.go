package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/kuberay"
)

type kubeClusterModel struct {
	ID                 types.String     `tfsdk:"id"`
	Namespace          types.String     `tfsdk:"namespace"`
	Name               types.String     `tfsdk:"name"`
	RayVersion         types.String     `tfsdk:"ray_version"`
	Image              types.String     `tfsdk:"image"`
	IdleTimeoutMinutes types.Int64      `tfsdk:"idle_timeout_minutes"`
	WaitForRay         types.Bool       `tfsdk:"wait_for_ray"`
	Head               *kubeHeadModel   `tfsdk:"head"`
	WorkerGroups       []kubeGroupModel `tfsdk:"worker_group"`
	FitCheck           *fitCheckModel   `tfsdk:"fit_check"`
	Timeouts           timeouts.Value   `tfsdk:"timeouts"`
	AuthToken          types.String     `tfsdk:"auth_token"`
	AuthTokenWO        types.String     `tfsdk:"auth_token_wo"`
	AuthTokenWOVersion types.Int64      `tfsdk:"auth_token_wo_version"`
	AuthTokenSecret    types.String     `tfsdk:"auth_token_secret"`
	DashboardURL       types.String     `tfsdk:"dashboard_url"`
	TotalGPUs          types.Int64      `tfsdk:"total_gpus"`
}

type kubeHeadModel struct {
	CPU          types.Int64   `tfsdk:"cpu"`
	MemoryGiB    types.Float64 `tfsdk:"memory_gib"`
	NodeSelector types.Map     `tfsdk:"node_selector"`
}

type kubeGroupModel struct {
	Name         types.String  `tfsdk:"name"`
	Count        types.Int64   `tfsdk:"count"`
	MinWorkers   types.Int64   `tfsdk:"min_workers"`
	MaxWorkers   types.Int64   `tfsdk:"max_workers"`
	GPUsPerNode  types.Int64   `tfsdk:"gpus_per_node"`
	CPU          types.Int64   `tfsdk:"cpu"`
	MemoryGiB    types.Float64 `tfsdk:"memory_gib"`
	GPUProduct   types.String  `tfsdk:"gpu_product"`
	GPU          types.String  `tfsdk:"gpu"`
	NodeSelector types.Map     `tfsdk:"node_selector"`
	Tolerations  types.List    `tfsdk:"tolerations"`
	GPUModel     types.String  `tfsdk:"gpu_model"`
	GPUMemoryGiB types.Float64 `tfsdk:"gpu_memory_gib"`
}

var tolerationType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"key": types.StringType, "operator": types.StringType, "value": types.StringType, "effect": types.StringType}}

type tolerationModel struct {
	Key      types.String `tfsdk:"key"`
	Operator types.String `tfsdk:"operator"`
	Value    types.String `tfsdk:"value"`
	Effect   types.String `tfsdk:"effect"`
}

func (m *kubeClusterModel) tokenSecret() string { return m.Name.ValueString() + "-ray-token" }

// autoscaled groups have max_workers; fixed ones count.
func (g *kubeGroupModel) autoscaled() bool { return !g.MaxWorkers.IsNull() }

// baseline is what runs without work: count, or min_workers.
func (g *kubeGroupModel) baseline() int64 {
	if g.autoscaled() {
		return g.MinWorkers.ValueInt64()
	}
	return g.Count.ValueInt64()
}

// catalogGPU is the group's GPU: gpu, else the product label's value, which
// GPU feature discovery writes as the product name with '-' for spaces
// (the catalog's aliases hold those names). ok is false when neither names
// a catalog GPU.
func (g *kubeGroupModel) catalogGPU() (gpu catalog.GPU, attr string, ok bool) {
	if s := g.GPU.ValueString(); s != "" {
		gpu, err := catalog.LookupGPU(s)
		return gpu, "gpu", err == nil
	}
	if s := g.GPUProduct.ValueString(); s != "" {
		gpu, err := catalog.LookupGPU(s)
		return gpu, "gpu_product", err == nil
	}
	return catalog.GPU{}, "", false
}

// spec maps the model onto the RayCluster it stands for.
func (m *kubeClusterModel) spec(ctx context.Context, diags *diag.Diagnostics) kuberay.Spec {
	s := kuberay.Spec{
		Namespace: m.Namespace.ValueString(), Name: m.Name.ValueString(),
		Image: m.Image.ValueString(), RayVersion: m.RayVersion.ValueString(), TokenSecret: m.tokenSecret(),
		IdleTimeoutSeconds: m.IdleTimeoutMinutes.ValueInt64() * 60,
		Head:               kuberay.Pod{CPU: kubeHeadCPU, MemoryGiB: kubeHeadMemoryGiB},
	}
	if h := m.Head; h != nil {
		s.Head = kuberay.Pod{CPU: int64Or(h.CPU, kubeHeadCPU), MemoryGiB: float64Or(h.MemoryGiB, kubeHeadMemoryGiB), NodeSelector: stringMap(ctx, h.NodeSelector, diags)}
	}
	for _, g := range m.WorkerGroups {
		kg := kuberay.Group{
			Name: g.Name.ValueString(), GPUs: int64Or(g.GPUsPerNode, 1),
			Pod: kuberay.Pod{CPU: int64Or(g.CPU, kubeWorkerCPU), MemoryGiB: float64Or(g.MemoryGiB, kubeWorkerMemoryGiB), NodeSelector: stringMap(ctx, g.NodeSelector, diags)},
		}
		if g.autoscaled() {
			kg.MinReplicas, kg.MaxReplicas, kg.Replicas = g.MinWorkers.ValueInt64(), g.MaxWorkers.ValueInt64(), g.MinWorkers.ValueInt64()
		} else {
			kg.MinReplicas, kg.MaxReplicas, kg.Replicas = g.Count.ValueInt64(), g.Count.ValueInt64(), g.Count.ValueInt64()
		}
		if p := g.GPUProduct.ValueString(); p != "" {
			if kg.NodeSelector == nil {
				kg.NodeSelector = map[string]string{}
			}
			kg.NodeSelector[kuberay.GPUProductLabel] = p
		}
		var tols []tolerationModel
		if !g.Tolerations.IsNull() && !g.Tolerations.IsUnknown() {
			diags.Append(g.Tolerations.ElementsAs(ctx, &tols, false)...)
		}
		for _, t := range tols {
			kg.Tolerations = append(kg.Tolerations, kuberay.Toleration{Key: t.Key.ValueString(), Operator: t.Operator.ValueString(), Value: t.Value.ValueString(), Effect: t.Effect.ValueString()})
		}
		s.Groups = append(s.Groups, kg)
	}
	return s
}

func stringMap(ctx context.Context, m types.Map, diags *diag.Diagnostics) map[string]string {
	if m.IsNull() || m.IsUnknown() {
		return nil
	}
	out := map[string]string{}
	diags.Append(m.ElementsAs(ctx, &out, false)...)
	return out
}

// setLive maps a live RayCluster onto the model, keeping the prior form
// (an absent head block, a default left unset) where the live value equals
// it, so that only real drift shows.
func (m *kubeClusterModel) setLive(live kuberay.Spec) {
	m.Namespace, m.Name = types.StringValue(live.Namespace), types.StringValue(live.Name)
	m.ID = types.StringValue(live.Namespace + "/" + live.Name)
	m.DashboardURL = types.StringValue(kubeRayScheme + "://" + live.Namespace + "/" + live.Name)
	m.AuthTokenSecret = stringOrNull(live.TokenSecret)
	m.Image, m.RayVersion = types.StringValue(live.Image), types.StringValue(live.RayVersion)
	if live.IdleTimeoutSeconds > 0 || !m.IdleTimeoutMinutes.IsNull() {
		m.IdleTimeoutMinutes = types.Int64Value(live.IdleTimeoutSeconds / 60)
	}
	if m.Head != nil || live.Head.CPU != kubeHeadCPU || live.Head.MemoryGiB != kubeHeadMemoryGiB || len(live.Head.NodeSelector) > 0 {
		h := kubeHeadModel{}
		if m.Head != nil {
			h = *m.Head
		}
		h.CPU = keepDefaultInt(h.CPU, live.Head.CPU, kubeHeadCPU)
		h.MemoryGiB = keepDefaultFloat(h.MemoryGiB, live.Head.MemoryGiB, kubeHeadMemoryGiB)
		h.NodeSelector = liveMap(h.NodeSelector, live.Head.NodeSelector)
		m.Head = &h
	}
	prior := map[string]kubeGroupModel{}
	for _, g := range m.WorkerGroups {
		prior[g.Name.ValueString()] = g
	}
	m.WorkerGroups = nil
	total := int64(0)
	for _, lg := range live.Groups {
		g, had := prior[lg.Name]
		g.Name = types.StringValue(lg.Name)
		if lg.MinReplicas < lg.MaxReplicas || (had && g.autoscaled()) {
			g.Count, g.MinWorkers, g.MaxWorkers = types.Int64Null(), keepDefaultInt(g.MinWorkers, lg.MinReplicas, 0), types.Int64Value(lg.MaxReplicas)
		} else {
			g.Count, g.MinWorkers, g.MaxWorkers = types.Int64Value(lg.Replicas), types.Int64Null(), types.Int64Null()
		}
		g.GPUsPerNode = types.Int64Value(lg.GPUs)
		g.CPU = keepDefaultInt(g.CPU, lg.CPU, kubeWorkerCPU)
		g.MemoryGiB = keepDefaultFloat(g.MemoryGiB, lg.MemoryGiB, kubeWorkerMemoryGiB)
		sel := map[string]string{}
		for k, v := range lg.NodeSelector {
			sel[k] = v
		}
		g.GPUProduct = stringOrNull(sel[kuberay.GPUProductLabel])
		delete(sel, kuberay.GPUProductLabel)
		g.NodeSelector = liveMap(g.NodeSelector, sel)
		var tols []tolerationModel
		for _, t := range lg.Tolerations {
			tols = append(tols, tolerationModel{Key: stringOrNull(t.Key), Operator: stringOrNull(t.Operator), Value: stringOrNull(t.Value), Effect: stringOrNull(t.Effect)})
		}
		g.Tolerations = types.ListNull(tolerationType)
		if len(tols) > 0 {
			g.Tolerations, _ = types.ListValueFrom(context.Background(), tolerationType, tols)
		}
		g.setCatalog()
		total += lg.GPUs * g.baseline()
		m.WorkerGroups = append(m.WorkerGroups, g)
	}
	m.TotalGPUs = types.Int64Value(total)
}

func (g *kubeGroupModel) setCatalog() {
	if gpu, _, ok := g.catalogGPU(); ok {
		g.GPUModel, g.GPUMemoryGiB = types.StringValue(gpu.Name), types.Float64Value(gpu.MemoryGiB)
	} else {
		g.GPUModel, g.GPUMemoryGiB = types.StringNull(), types.Float64Null()
	}
}

// keepDefaultInt is the live value, or null when the prior value was null
// (the default) and the live value is the default.
func keepDefaultInt(prior types.Int64, live, def int64) types.Int64 {
	if prior.IsNull() && live == def {
		return prior
	}
	return types.Int64Value(live)
}

func keepDefaultFloat(prior types.Float64, live, def float64) types.Float64 {
	if prior.IsNull() && live == def {
		return prior
	}
	return types.Float64Value(live)
}

func liveMap(prior types.Map, live map[string]string) types.Map {
	if len(live) == 0 && prior.IsNull() {
		return types.MapNull(types.StringType) // also for a zero Map after import
	}
	v, _ := types.MapValueFrom(context.Background(), types.StringType, live)
	return v
}

// checkGroups runs the plan-time checks that need the whole group: the
// fit check of each GPU group, and that fit_check can name its GPU.
func (m *kubeClusterModel) checkGroups(diags *diag.Diagnostics) {
	for i := range m.WorkerGroups {
		g := &m.WorkerGroups[i]
		at := path.Root("worker_group").AtListIndex(i)
		if g.GPUsPerNode.IsUnknown() || g.GPU.IsUnknown() || g.GPUProduct.IsUnknown() || int64Or(g.GPUsPerNode, 1) == 0 || m.FitCheck == nil {
			continue
		}
		gpu, attr, ok := g.catalogGPU()
		if !ok && attr == "gpu" {
			continue // the gpu validator reported it
		}
		if !ok {
			what := "neither gpu nor gpu_product is set"
			if attr == "gpu_product" {
				what = fmt.Sprintf("gpu_product %q is not a GPU in the catalog", g.GPUProduct.ValueString())
				attr = "gpu"
			} else {
				attr = "gpu_product"
			}
			diags.AddAttributeError(at.AtName(attr), "The fit check needs the group's GPU",
				fmt.Sprintf("worker_group %q: %s. Set gpu_product to the nodes' %s label value (e.g. NVIDIA-L4), or gpu to a catalog name (see rayvllm_gpus), or remove fit_check.",
					g.Name.ValueString(), what, kuberay.GPUProductLabel))
			continue
		}
		hw := "gpu " + gpu.Name
		if attr == "gpu_product" {
			hw = kuberay.GPUProductLabel + "=" + g.GPUProduct.ValueString()
		}
		m.FitCheck.checkGroup(groupFit{Name: g.Name.ValueString(), Hardware: hw, GPU: gpu, PerNode: int(int64Or(g.GPUsPerNode, 1)), GPUAttr: at.AtName(attr)}, diags)
	}
}
