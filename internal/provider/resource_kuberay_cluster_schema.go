package provider

import (
	"context"
	"maps"
	"regexp"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/float64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/kuberay"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Pod defaults: a head that runs the batch drivers and the dashboard, and
// workers sized like a one-GPU cloud node.
const (
	kubeHeadCPU, kubeHeadMemoryGiB     = 4, 16
	kubeWorkerCPU, kubeWorkerMemoryGiB = 8, 32
)

func (r *kubeRayClusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replaceInt := []planmodifier.Int64{int64planmodifier.RequiresReplace()}
	computed := func(d string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: d, PlanModifiers: keep}
	}
	name := func(d string, maxLen int) []validator.String {
		return []validator.String{stringvalidator.LengthBetween(1, maxLen), stringvalidator.RegexMatches(dnsLabelRE, "must be "+d+": lower-case letters, digits and '-', starting and ending with a letter or digit")}
	}
	resp.Schema = schema.Schema{
		Description: "A Ray cluster on Kubernetes through the KubeRay operator: a `RayCluster` with a head and GPU worker groups (`nvidia.com/gpu` resources, node selectors on the GPU product label), " +
			"Ray token auth from a Secret the provider creates, and Ray's in-tree autoscaler for groups with `max_workers`. The same plan-time fit check as `rayvllm_inference_cluster`. " +
			"Its `dashboard_url` (`kuberay://<namespace>/<name>`) goes to `rayvllm_batch_job` and `rayvllm_vllm_worker`, which reach the head through the API server's port-forward: no dashboard is exposed. " +
			"KubeRay must be installed in the cluster; the provider's `kubernetes` block says how to reach the API server.",
		Attributes: map[string]schema.Attribute{
			"id": computed("`<namespace>/<name>`."),
			"namespace": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Description: "Kubernetes namespace of the RayCluster and its token Secret; it must exist.",
				Validators: name("a DNS label of 1-63 characters", 63),
			},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "RayCluster name, 1-40 characters (KubeRay derives the pod and Service names from it). The token Secret is `<name>-ray-token`.",
				Validators:  name("a DNS label of 1-40 characters", 40),
			},
			"ray_version": schema.StringAttribute{
				Optional: true, Computed: true,
				PlanModifiers: []planmodifier.String{testedVersion(versions.Tested.Ray), stringplanmodifier.RequiresReplace()},
				Description:   "Ray version the image runs (the RayCluster's `rayVersion`). Default: the tested version, " + versions.Tested.Ray + ".",
				Validators:    []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^\d+\.\d+\.\d+$`), "must be a Ray release like "+versions.Tested.Ray)},
			},
			"image": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
				Description: "Container image of every Ray pod. Default: Ray's LLM image of `ray_version`, `rayproject/ray-llm:<ray_version>-py311-cu128` (Ray with the vLLM its `llm` extra pins, CUDA 12.8). A custom image needs Ray `ray_version` and vLLM.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"idle_timeout_minutes": schema.Int64Attribute{
				Optional: true, PlanModifiers: replaceInt,
				Description: "Autoscaled groups: minutes a worker may stay idle before Ray's autoscaler removes its pod, 1-1440. Default: KubeRay's, 1.",
				Validators:  []validator.Int64{int64validator.Between(1, 1440)},
			},
			"wait_for_ray": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Wait after create and update until KubeRay reports the cluster ready (every pod running and passing its Ray health probe). A pod that cannot be scheduled or started fails the apply with the scheduler's or kubelet's reason.",
			},
			"auth_token": schema.StringAttribute{
				Computed: true, Sensitive: true, PlanModifiers: keep,
				Description: "The cluster's Ray auth token (256 random bits, hex), for `auth_token` of the Ray resources. Stored in state (sensitive) and in the Secret `auth_token_secret`; null when `auth_token_wo` is set.",
			},
			"auth_token_secret": computed("Kubernetes Secret (in `namespace`) whose key `token` holds the Ray token; every Ray container reads it as `RAY_AUTH_TOKEN`."),
			"dashboard_url":     computed("`kuberay://<namespace>/<name>`: the Ray resources reach the head's dashboard through the API server's port-forward (as `kubectl port-forward`)."),
			"total_gpus":        schema.Int64Attribute{Computed: true, Description: "Sum over worker groups of `count` (autoscaled: `min_workers`) × `gpus_per_node`."},
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true, Update: true, Delete: true,
				CreateDescription: "How long create waits, with `wait_for_ray`, for the cluster to be ready, e.g. `\"30m\"` (GPU nodes that a node autoscaler adds and large images take minutes). Default 30m.",
				UpdateDescription: "How long update waits for resized groups. Default 30m.",
				DeleteDescription: "How long destroy waits until the RayCluster and its pods are gone. Default 20m."}),
		},
		Blocks: map[string]schema.Block{
			"head": schema.SingleNestedBlock{
				Description: "The head pod: Ray GCS, dashboard, Jobs API and the batch drivers. It gets no GPU work (`num-gpus` 0). Without the block: " +
					"4 CPUs and 16 GiB. Changing it replaces the cluster.",
				Attributes: map[string]schema.Attribute{
					"cpu":           podCPU(kubeHeadCPU),
					"memory_gib":    podMemory(kubeHeadMemoryGiB),
					"node_selector": nodeSelector(),
				},
			},
			"worker_group": schema.ListNestedBlock{
				Description: "At least one. A KubeRay worker group of identical pods. Changing `count`, `min_workers` or `max_workers` resizes it in place; any other change replaces the cluster (KubeRay does not roll running pods).",
				Validators:  []validator.List{listvalidator.IsRequired(), listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedBlockObject{
					Attributes: map[string]schema.Attribute{
						"name": schema.StringAttribute{
							Required: true, PlanModifiers: replace, Description: "Group name, unique in the cluster: 1-32 lower-case letters, digits and hyphens (KubeRay's `groupName`).",
							Validators: name("1-32 lower-case letters, digits and hyphens", 32),
						},
						"count": schema.Int64Attribute{
							Optional: true, Description: "Number of workers, 0-1000, for a fixed-size group. Exactly one of `count` and `max_workers`.",
							Validators: []validator.Int64{int64validator.Between(0, 1000), int64validator.ExactlyOneOf(path.MatchRelative().AtParent().AtName("max_workers"))},
						},
						"min_workers": schema.Int64Attribute{
							Optional: true, Description: "Autoscaled groups: the fewest workers Ray's autoscaler keeps, 0-1000 (default 0). Needs `max_workers`.",
							Validators: []validator.Int64{int64validator.Between(0, 1000), int64validator.AlsoRequires(path.MatchRelative().AtParent().AtName("max_workers"))},
						},
						"max_workers": schema.Int64Attribute{
							Optional: true, Description: "Makes the group autoscaled: Ray's in-tree autoscaler (a sidecar of the head) adds up to this many pods (1-1000) for pending Ray demand and removes them after `idle_timeout_minutes` idle.",
							Validators: []validator.Int64{int64validator.Between(1, 1000)},
						},
						"gpus_per_node": schema.Int64Attribute{
							Optional: true, Computed: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown(), int64planmodifier.RequiresReplace()},
							Description: "GPUs per worker pod (`nvidia.com/gpu` limit), 0-16. Default 1; 0 for a CPU group.",
							Validators:  []validator.Int64{int64validator.Between(0, 16)},
						},
						"cpu":        podCPU(kubeWorkerCPU),
						"memory_gib": podMemory(kubeWorkerMemoryGiB),
						"gpu_product": schema.StringAttribute{
							Optional: true, PlanModifiers: replace,
							Description: "Value of the `" + kuberay.GPUProductLabel + "` node label (NVIDIA GPU feature discovery), e.g. `NVIDIA-A100-SXM4-80GB` or `NVIDIA-L4`: the pods get it as a node selector, and the fit check reads the GPU from it.",
							Validators:  []validator.String{stringvalidator.LengthBetween(1, 63)},
						},
						"gpu": schema.StringAttribute{
							Optional: true, PlanModifiers: replace,
							Description: "GPU catalog name of the group's nodes (see `rayvllm_gpus`), e.g. `L4`, for the fit check when the nodes are chosen by `node_selector` instead of `gpu_product`.",
							Validators:  []validator.String{catalogGPUValidator()},
						},
						"node_selector": nodeSelector(),
						"tolerations": schema.ListNestedAttribute{
							Optional: true, PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
							Description: "Tolerations of the pods, e.g. of the `nvidia.com/gpu` taint that GPU node groups often carry.",
							NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
								"key":      schema.StringAttribute{Optional: true, Description: "Taint key, e.g. `nvidia.com/gpu`; empty with `Exists` tolerates every taint."},
								"operator": schema.StringAttribute{Optional: true, Description: "`Equal` (default) or `Exists`.", Validators: []validator.String{stringvalidator.OneOf("Equal", "Exists")}},
								"value":    schema.StringAttribute{Optional: true, Description: "Taint value, with `Equal`."},
								"effect":   schema.StringAttribute{Optional: true, Description: "`NoSchedule`, `PreferNoSchedule` or `NoExecute`; empty matches all.", Validators: []validator.String{stringvalidator.OneOf("NoSchedule", "PreferNoSchedule", "NoExecute")}},
							}},
						},
						"gpu_model":      schema.StringAttribute{Computed: true, Description: "Catalog GPU model, from `gpu` or `gpu_product`; null when neither names a catalog GPU."},
						"gpu_memory_gib": schema.Float64Attribute{Computed: true, Description: "Usable memory of one GPU in GiB, from the catalog (as CUDA reports it)."},
					},
				},
			},
			"fit_check": schema.SingleNestedBlock{
				Description: "Plan-time check that a model fits each GPU worker group, with the same engine and messages as `rayvllm_gpu_fit` and `rayvllm_inference_cluster`. A group it does not fit fails the plan; each GPU group needs `gpu` or a catalog `gpu_product`.",
				Attributes:  clusterFitCheckAttributes(),
			},
		},
	}
	maps.Copy(resp.Schema.Attributes, authTokenWOAttributes(
		"The cluster's Ray auth token, instead of a generated one: kept only in the Secret `auth_token_secret`, and `auth_token` stays null. "+
			"The pods read the token at start, so a new version replaces the cluster.",
		int64planmodifier.RequiresReplace()))
}

func podCPU(def int64) schema.Int64Attribute {
	return schema.Int64Attribute{
		Optional: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
		Description: "CPU cores of the pod (request and limit; Ray's `num-cpus`), 1-512. Default " + strconv.FormatInt(def, 10) + ".",
		Validators:  []validator.Int64{int64validator.Between(1, 512)},
	}
}

func podMemory(def float64) schema.Float64Attribute {
	return schema.Float64Attribute{
		Optional: true, PlanModifiers: []planmodifier.Float64{float64planmodifier.RequiresReplace()},
		Description: "Memory of the pod in GiB (request and limit; Ray's object store takes 30% of it by default), 1-4096. Default " + strconv.FormatFloat(def, 'f', -1, 64) + ".",
		Validators:  []validator.Float64{float64validator.Between(1, 4096)},
	}
}

func nodeSelector() schema.MapAttribute {
	return schema.MapAttribute{
		Optional: true, ElementType: types.StringType, PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
		Description: "Node labels the pods must match, e.g. `{ \"cloud.google.com/gke-accelerator\" = \"nvidia-l4\" }`.",
	}
}

// catalogGPUValidator accepts a GPU catalog name or alias.
func catalogGPUValidator() validator.String {
	return stringCheck{desc: "a GPU catalog name such as L4", summary: "Unknown GPU", check: func(s string) string {
		if _, err := catalog.LookupGPU(s); err != nil {
			return err.Error()
		}
		return ""
	}}
}
