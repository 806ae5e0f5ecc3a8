package provider

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
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

// MinRayVersion is the oldest Ray the cluster accepts: older releases lack
// token auth and have public remote-code-execution CVEs (ShadowRay).
const MinRayVersion = "2.54.0"

type clusterModel struct {
	ID                    types.String   `tfsdk:"id"`
	Name                  types.String   `tfsdk:"name"`
	AMIID                 types.String   `tfsdk:"ami_id"`
	SubnetID              types.String   `tfsdk:"subnet_id"`
	KeyName               types.String   `tfsdk:"key_name"`
	IAMInstanceProfile    types.String   `tfsdk:"iam_instance_profile"`
	Tags                  types.Map      `tfsdk:"tags"`
	TagsAll               types.Map      `tfsdk:"tags_all"`
	RayVersion            types.String   `tfsdk:"ray_version"`
	VLLMVersion           types.String   `tfsdk:"vllm_version"`
	PythonPackages        types.List     `tfsdk:"python_packages"`
	HFTokenSSMParameter   types.String   `tfsdk:"hf_token_ssm_parameter"`
	DashboardIngressCIDRs types.Set      `tfsdk:"dashboard_ingress_cidrs"`
	AllowPublicRayPorts   types.Bool     `tfsdk:"allow_public_ray_ports"`
	WaitForRay            types.Bool     `tfsdk:"wait_for_ray"`
	Head                  *headModel     `tfsdk:"head"`
	WorkerGroups          []groupModel   `tfsdk:"worker_group"`
	FitCheck              *fitCheckModel `tfsdk:"fit_check"`
	Timeouts              timeouts.Value `tfsdk:"timeouts"`
	AuthToken             types.String   `tfsdk:"auth_token"`
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
	Name              types.String  `tfsdk:"name"`
	InstanceType      types.String  `tfsdk:"instance_type"`
	Count             types.Int64   `tfsdk:"count"`
	AMIID             types.String  `tfsdk:"ami_id"`
	RootVolumeSizeGiB types.Int64   `tfsdk:"root_volume_size_gib"`
	RootVolumeType    types.String  `tfsdk:"root_volume_type"`
	Spot              *spotModel    `tfsdk:"spot"`
	InstanceIDs       types.List    `tfsdk:"instance_ids"`
	GPUModel          types.String  `tfsdk:"gpu_model"`
	GPUsPerNode       types.Int64   `tfsdk:"gpus_per_node"`
	GPUMemoryGiB      types.Float64 `tfsdk:"gpu_memory_gib"`
	AcceleratorType   types.String  `tfsdk:"accelerator_type"`
	HourlyCostUSD     types.Float64 `tfsdk:"hourly_cost_usd"`
}

type spotModel struct {
	MaxPriceUSD types.String `tfsdk:"max_price_usd"`
}

type fitCheckModel struct {
	Model              types.String `tfsdk:"model"`
	Quantization       types.String `tfsdk:"quantization"`
	TensorParallelSize types.Int64  `tfsdk:"tensor_parallel_size"`
	MaxModelLen        types.Int64  `tfsdk:"max_model_len"`
}

var (
	clusterNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$`)
	groupNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	rayVersionRE  = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)
	vllmVersionRE = regexp.MustCompile(`^\d+\.\d+\.\d+(\.post\d+)?$`)
	pipSpecRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\-\[\],]*((==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_\-]+)*(,(==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_\-]+)*$`)
	ssmNameRE     = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]{1,1000}$`)
)

func (r *inferenceClusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_inference_cluster"
}

func (r *inferenceClusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	computed := func(d string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: d, PlanModifiers: keep}
	}
	volumeType := stringvalidator.OneOf("gp3", "gp2", "io1", "io2")
	resp.Schema = schema.Schema{
		Description: "A Ray cluster on AWS EC2 for vLLM: one head node and GPU worker groups that install pinned Ray and vLLM at boot " +
			"(cloud-init runs the provider's embedded head.sh / worker.sh) and join with Ray token auth. Secure by default: IMDSv2 only, " +
			"encrypted root volumes, Ray ports open only within the cluster security group, the dashboard only from `dashboard_ingress_cidrs`. " +
			"The Ray token is generated, kept in an SSM SecureString that the nodes read with their instance role, and exposed as `auth_token` " +
			"for `rayvllm_vllm_worker` and `rayvllm_batch_job`.",
		Attributes: map[string]schema.Attribute{
			"id": computed("The cluster name."),
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Cluster name, unique in the account and region: 1-63 letters, digits and hyphens. Everything the resource creates carries it as the `rayvllm:cluster` tag.",
				Validators:  []validator.String{stringvalidator.RegexMatches(clusterNameRE, "must be 1-63 letters, digits and hyphens, starting with a letter or digit")},
			},
			"ami_id": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "AMI of the head and (unless a group sets its own) the workers, e.g. an AWS Deep Learning AMI with the NVIDIA driver. It needs bash, curl, systemd and python3 with venv (installed with apt-get or dnf when missing).",
				Validators:  []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`), "must be an AMI ID like ami-0123456789abcdef0")},
			},
			"subnet_id": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Subnet of every node. The cluster security group is created in its VPC. The nodes need outbound internet (or a proxy / VPC endpoints) for pip and SSM.",
				Validators:  []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`), "must be a subnet ID like subnet-0123456789abcdef0")},
			},
			"key_name": schema.StringAttribute{
				Optional: true, PlanModifiers: replace,
				Description: "EC2 key pair for SSH. No SSH ingress is opened; add your own rule or use SSM Session Manager.",
			},
			"iam_instance_profile": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Instance profile name or ARN of every node. Its role must allow `ssm:GetParameter` on `auth_token_ssm_parameter` and `hf_token_ssm_parameter` (and `kms:Decrypt` on their key): the nodes read both tokens at boot.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"tags": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				Description: "Tags on the instances, volumes, security group and token parameter, merged over the provider's `default_tags`.",
			},
			"tags_all": schema.MapAttribute{
				Computed: true, ElementType: types.StringType,
				Description: "`tags` merged over the provider's `default_tags`.",
			},
			"ray_version": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Pinned Ray version installed as `ray[default,serve]==<version>`, e.g. `2.60.0`. Versions below " + MinRayVersion + " are refused: they lack token auth and have public RCE CVEs.",
				Validators:  []validator.String{rayVersionValidator{}},
			},
			"vllm_version": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Pinned vLLM version installed as `vllm==<version>`, e.g. `0.11.0`.",
				Validators:  []validator.String{stringvalidator.RegexMatches(vllmVersionRE, "must be an exact version like 0.11.0 (pinned, no ranges)")},
			},
			"python_packages": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
				Description:   "Extra pip requirements installed into the nodes' venv, e.g. `[\"pandas==2.2.3\"]`. Pin them.",
				Validators:    []validator.List{listvalidator.ValueStringsAre(stringvalidator.RegexMatches(pipSpecRE, "must be a pip requirement like name==1.2.3 (no spaces, URLs or shell characters)"))},
			},
			"hf_token_ssm_parameter": schema.StringAttribute{
				Optional: true, PlanModifiers: replace,
				Description: "Name of an SSM SecureString holding a Hugging Face token, read by the nodes at boot with their instance role and exported as `HF_TOKEN` to Ray. The token itself never enters user data or Terraform state.",
				Validators:  []validator.String{stringvalidator.RegexMatches(ssmNameRE, "must be an SSM parameter name like /hf/token")},
			},
			"dashboard_ingress_cidrs": schema.SetAttribute{
				Optional: true, ElementType: types.StringType,
				Description: "CIDR blocks (IPv4 or IPv6) allowed to reach the Ray dashboard and Jobs API on port 8265. Nothing else is opened to outside the cluster. `0.0.0.0/0` and `::/0` are refused unless `allow_public_ray_ports = true`.",
				Validators:  []validator.Set{setvalidator.ValueStringsAre(cidrValidator{})},
			},
			"allow_public_ray_ports": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				Description: "Allow `0.0.0.0/0` or `::/0` in `dashboard_ingress_cidrs`. Even with Ray token auth this is a warning: exposed Ray dashboards were mass-exploited (ShadowRay, CVE-2023-48022).",
			},
			"wait_for_ray": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Wait after create until the dashboard answers with the token (needs `dashboard_ingress_cidrs` to include this machine).",
			},
			"auth_token": schema.StringAttribute{
				Computed: true, Sensitive: true, PlanModifiers: keep,
				Description: "The cluster's Ray auth token (256 random bits, hex), for `auth_token` of the Ray resources. Stored in state (sensitive) and in `auth_token_ssm_parameter`.",
			},
			"auth_token_ssm_parameter": computed("SSM SecureString that holds the Ray token: `/rayvllm/<name>/ray-auth-token`."),
			"security_group_id":        computed("The cluster security group."),
			"head_instance_id":         computed("Instance ID of the head node."),
			"head_private_ip":          computed("Private IP of the head node."),
			"head_public_ip":           computed("Public IP of the head node; null when the subnet assigns none."),
			"dashboard_url":            computed("Ray dashboard URL: `http://<head public IP, else private IP>:8265`."),
			"gcs_address":              computed("Ray GCS address the workers join: `<head private IP>:6379`."),
			"instance_ids": schema.ListAttribute{
				Computed: true, ElementType: types.StringType,
				Description: "Instance IDs of the head and every live worker.",
			},
			"total_gpus": schema.Int64Attribute{
				Computed: true, Description: "Sum over worker groups of count × GPUs per node.",
			},
			"hourly_cost_usd": schema.Float64Attribute{
				Computed: true,
				Description: "On-demand cost of the worker groups per hour in USD: Σ count × the catalog's us-east-1 Linux on-demand price of the instance type " +
					"(the head and spot discounts are not included).",
			},
		},
		Blocks: map[string]schema.Block{
			"head": schema.SingleNestedBlock{
				Description: "Required. The head node: Ray GCS, dashboard, Jobs API and the batch drivers. It gets no GPU work (`--num-gpus=0`). Changing it replaces the cluster.",
				Validators:  []validator.Object{objectvalidator.IsRequired()},
				Attributes: map[string]schema.Attribute{
					"instance_type": schema.StringAttribute{
						Required: true, PlanModifiers: replace,
						Description: "Instance type of the head, e.g. `m7i.2xlarge`.",
						Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"root_volume_size_gib": schema.Int64Attribute{
						Optional: true, Computed: true, Default: int64default.StaticInt64(100),
						Description:   "Encrypted root volume size in GiB. Default 100 (Ray, vLLM and their CUDA wheels take about 30).",
						Validators:    []validator.Int64{int64validator.Between(30, 16384)},
						PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
					},
					"root_volume_type": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("gp3"),
						Description: "Root volume type: gp3 (default), gp2, io1 or io2.", Validators: []validator.String{volumeType}, PlanModifiers: replace,
					},
				},
			},
			"worker_group": schema.ListNestedBlock{
				Description: "At least one. A group of identical GPU workers, launched with one RunInstances call. Changing `count` adds or terminates workers in place; changing `instance_type`, `ami_id`, the root volume or `spot` replaces the group's instances.",
				Validators:  []validator.List{listvalidator.IsRequired(), listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedBlockObject{
					Attributes: map[string]schema.Attribute{
						"name": schema.StringAttribute{
							Required: true, Description: "Group name, unique in the cluster: 1-32 lower-case letters, digits and hyphens. Tagged `rayvllm:group` and used as a Ray node label.",
							Validators: []validator.String{stringvalidator.RegexMatches(groupNameRE, "must be 1-32 lower-case letters, digits and hyphens")},
						},
						"instance_type": schema.StringAttribute{
							Required: true, Description: "A GPU instance type from the catalog (see `rayvllm_gpus`), e.g. `g6e.xlarge`.",
						},
						"count": schema.Int64Attribute{
							Required: true, Description: "Number of workers, 0-1000.",
							Validators: []validator.Int64{int64validator.Between(0, 1000)},
						},
						"ami_id": schema.StringAttribute{
							Optional: true, Computed: true, Description: "AMI of this group; defaults to the cluster's `ami_id`.",
							Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`), "must be an AMI ID like ami-0123456789abcdef0")},
						},
						"root_volume_size_gib": schema.Int64Attribute{
							Optional: true, Computed: true, Default: int64default.StaticInt64(200),
							Description: "Encrypted root volume size in GiB. Default 200: the venv and the model weights cache live there.",
							Validators:  []validator.Int64{int64validator.Between(30, 16384)},
						},
						"root_volume_type": schema.StringAttribute{
							Optional: true, Computed: true, Default: stringdefault.StaticString("gp3"),
							Description: "Root volume type: gp3 (default), gp2, io1 or io2.", Validators: []validator.String{volumeType},
						},
						"instance_ids": schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "Instance IDs of the live (pending or running) workers, oldest first."},
						"gpu_model":    schema.StringAttribute{Computed: true, Description: "Catalog GPU model of the instance type."},
						"gpus_per_node": schema.Int64Attribute{
							Computed: true, Description: "GPUs per instance, from the catalog (cross-checked with EC2 DescribeInstanceTypes at apply).",
						},
						"gpu_memory_gib": schema.Float64Attribute{
							Computed: true, Description: "Usable memory of one GPU in GiB, from the catalog (as CUDA reports it, not the datasheet number).",
						},
						"accelerator_type": schema.StringAttribute{
							Computed: true, Description: "Ray `accelerator_type` of the group's GPU (from DescribeInstanceTypes), set as the resource `accelerator_type:<type>` and the label `rayvllm.io/accelerator-type` on its nodes.",
						},
						"hourly_cost_usd": schema.Float64Attribute{Computed: true, Description: "count × the catalog's on-demand price of the instance type, USD per hour."},
					},
					Blocks: map[string]schema.Block{
						"spot": schema.SingleNestedBlock{
							Description: "Run the group on one-time spot instances (terminated on interruption; the next plan restores the count).",
							Attributes: map[string]schema.Attribute{
								"max_price_usd": schema.StringAttribute{
									Optional: true, Description: "Maximum price per instance-hour in USD, e.g. `\"1.20\"`. Default: the on-demand price.",
									Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^\d+(\.\d+)?$`), "must be a decimal number of USD like 1.20")},
								},
							},
						},
					},
				},
			},
			"fit_check": schema.SingleNestedBlock{
				Description: "Plan-time check that a model fits each worker group's GPUs, with the same engine and messages as `rayvllm_gpu_fit`. A group it does not fit fails the plan.",
				Attributes: map[string]schema.Attribute{
					"model":                schema.StringAttribute{Optional: true, Description: "Catalog model ID, e.g. `Qwen/Qwen2.5-7B-Instruct`. Required in the block."},
					"quantization":         schema.StringAttribute{Optional: true, Description: "Weight quantization (as in `rayvllm_gpu_fit`). Default: the checkpoint's dtype."},
					"tensor_parallel_size": schema.Int64Attribute{Optional: true, Description: "GPUs per engine. Default 1.", Validators: []validator.Int64{int64validator.AtLeast(1)}},
					"max_model_len":        schema.Int64Attribute{Optional: true, Description: "Context length. Default: the model's.", Validators: []validator.Int64{int64validator.AtLeast(1)}},
				},
			},
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *inferenceClusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	data, ok := req.ProviderData.(*ProviderData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data", fmt.Sprintf("got %T", req.ProviderData))
		return
	}
	r.data = data
}

// client builds the AWS clients lazily, so that a provider without AWS
// settings still plans the data sources.
func (r *inferenceClusterResource) client(ctx context.Context) (*ec2cluster.Client, error) {
	var s ec2cluster.Settings
	if r.data != nil {
		a := r.data.AWS
		s = ec2cluster.Settings{
			Region: a.Region, Profile: a.Profile,
			AssumeRoleARN: a.AssumeRoleARN, AssumeRoleSessionName: a.AssumeRoleSessionName, AssumeRoleExternalID: a.AssumeRoleExternalID,
			EC2Endpoint: a.EC2Endpoint, SSMEndpoint: a.SSMEndpoint, MaxAttempts: a.MaxAttempts, MaxBackoff: a.MaxBackoff,
		}
	}
	cfg, err := ec2cluster.LoadConfig(ctx, s)
	if err != nil {
		return nil, err
	}
	return ec2cluster.NewClient(cfg, s), nil
}

// ValidateConfig holds the checks that span attributes.
func (r *inferenceClusterResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	seen := map[string]int{}
	for i, g := range m.WorkerGroups {
		if g.Name.IsUnknown() || g.Name.IsNull() {
			continue
		}
		if j, dup := seen[g.Name.ValueString()]; dup {
			resp.Diagnostics.AddAttributeError(path.Root("worker_group").AtListIndex(i).AtName("name"), "Duplicate worker group name",
				fmt.Sprintf("worker_group[%d] and worker_group[%d] are both named %q; group names must be unique.", j, i, g.Name.ValueString()))
		}
		seen[g.Name.ValueString()] = i
	}
	if m.FitCheck != nil && m.FitCheck.Model.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("fit_check").AtName("model"), "Missing fit_check.model",
			"The fit_check block needs model, a catalog model ID such as \"Qwen/Qwen2.5-7B-Instruct\".")
	}
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
		if g.InstanceType.IsUnknown() || g.Count.IsUnknown() {
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
		totalGPUs += int64(gpu.PerNode) * g.Count.ValueInt64()
		cost += gpu.PriceUSDPerHour * float64(g.Count.ValueInt64())
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
		if !state.HeadInstanceID.IsNull() && state.HeadInstanceID.ValueString() == "" {
			// Read found no live head: only a new cluster can fix that.
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("head_instance_id"))
			resp.Diagnostics.AddWarning("Head node is gone", fmt.Sprintf("The head node of cluster %q is no longer running; the cluster will be replaced.", state.Name.ValueString()))
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
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
// root volume and market.
func sameShape(a, b groupModel) bool {
	return a.InstanceType.Equal(b.InstanceType) && a.AMIID.Equal(b.AMIID) &&
		a.RootVolumeSizeGiB.Equal(b.RootVolumeSizeGiB) && a.RootVolumeType.Equal(b.RootVolumeType) &&
		spotPrice(a.Spot) == spotPrice(b.Spot)
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

// spec maps the model onto the EC2 code's desired cluster.
func (r *inferenceClusterResource) spec(ctx context.Context, m clusterModel, region string, diags *diag.Diagnostics) ec2cluster.Spec {
	s := ec2cluster.Spec{
		Name:               m.Name.ValueString(),
		SubnetID:           m.SubnetID.ValueString(),
		KeyName:            m.KeyName.ValueString(),
		IAMInstanceProfile: m.IAMInstanceProfile.ValueString(),
		Tags:               map[string]string{},
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
	}
	diags.Append(m.TagsAll.ElementsAs(ctx, &s.Tags, false)...)
	diags.Append(m.PythonPackages.ElementsAs(ctx, &s.Boot.PythonPackages, false)...)
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
		s.Groups = append(s.Groups, gs)
	}
	return s
}

// crossCheck compares the catalog with EC2's DescribeInstanceTypes and sets
// each group's Ray accelerator type from EC2's GPU name.
func (r *inferenceClusterResource) crossCheck(ctx context.Context, c *ec2cluster.Client, m *clusterModel, diags *diag.Diagnostics) {
	var names []string
	for _, g := range m.WorkerGroups {
		names = append(names, g.InstanceType.ValueString())
	}
	infos, err := c.DescribeInstanceTypes(ctx, names)
	if err != nil {
		diags.AddError("Could not describe the worker instance types", err.Error())
		return
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
	}
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
	m.AuthTokenSSMParameter = nullIfEmpty(cl.TokenParameter)
	m.SecurityGroupID = nullIfEmpty(cl.SecurityGroupID)
	if cl.Head != nil {
		h := cl.Head
		m.HeadInstanceID = types.StringValue(h.ID)
		m.HeadPrivateIP = nullIfEmpty(h.PrivateIP)
		m.HeadPublicIP = nullIfEmpty(h.PublicIP)
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
	nullUnknowns(m)
}

func stringListValue(ctx context.Context, v []string, diags *diag.Diagnostics) types.List {
	if v == nil {
		v = []string{}
	}
	l, d := types.ListValueFrom(ctx, types.StringType, v)
	diags.Append(d...)
	return l
}

func nullIfEmpty(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// nullUnknowns replaces the unknown computed values that are left with null.
func nullUnknowns(m *clusterModel) {
	for _, s := range []*types.String{&m.ID, &m.AuthToken, &m.AuthTokenSSMParameter, &m.SecurityGroupID, &m.HeadInstanceID,
		&m.HeadPrivateIP, &m.HeadPublicIP, &m.DashboardURL, &m.GCSAddress} {
		if s.IsUnknown() {
			*s = types.StringNull()
		}
	}
	if m.InstanceIDs.IsUnknown() {
		m.InstanceIDs = types.ListNull(types.StringType)
	}
	if m.HourlyCostUSD.IsUnknown() {
		m.HourlyCostUSD = types.Float64Null()
	}
	if m.TotalGPUs.IsUnknown() {
		m.TotalGPUs = types.Int64Null()
	}
	if m.TagsAll.IsUnknown() {
		m.TagsAll = types.MapNull(types.StringType)
	}
	for i := range m.WorkerGroups {
		g := &m.WorkerGroups[i]
		if g.InstanceIDs.IsUnknown() {
			g.InstanceIDs = types.ListNull(types.StringType)
		}
		if g.AcceleratorType.IsUnknown() {
			g.AcceleratorType = types.StringNull()
		}
		if g.GPUModel.IsUnknown() {
			g.GPUModel = types.StringNull()
		}
		if g.GPUsPerNode.IsUnknown() {
			g.GPUsPerNode = types.Int64Null()
		}
		if g.GPUMemoryGiB.IsUnknown() {
			g.GPUMemoryGiB = types.Float64Null()
		}
		if g.HourlyCostUSD.IsUnknown() {
			g.HourlyCostUSD = types.Float64Null()
		}
		if g.AMIID.IsUnknown() {
			g.AMIID = types.StringNull()
		}
	}
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
	r.crossCheck(ctx, c, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := r.spec(ctx, plan, c.Region, &resp.Diagnostics)
	if p := spec.Boot.HFTokenParameter; p != "" {
		if ok, err := c.ParameterExists(ctx, p); err != nil {
			resp.Diagnostics.AddAttributeWarning(path.Root("hf_token_ssm_parameter"), "Could not check hf_token_ssm_parameter",
				err.Error()+"\nThe nodes will fail to boot if they cannot read it.")
		} else if !ok {
			resp.Diagnostics.AddAttributeError(path.Root("hf_token_ssm_parameter"), "SSM parameter not found",
				fmt.Sprintf("SSM parameter %q does not exist in %s; create it as a SecureString holding the Hugging Face token first.", p, c.Region))
		}
	}
	token, err := ec2cluster.NewToken()
	if err != nil {
		resp.Diagnostics.AddError("Could not generate the Ray token", err.Error())
	}
	if resp.Diagnostics.HasError() {
		return
	}
	plan.AuthToken = types.StringValue(token)
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
		left := time.Until(deadline(ctx))
		if err := ec2cluster.WaitForDashboard(ctx, plan.DashboardURL.ValueString(), token, left, 10*time.Second); err != nil {
			resp.Diagnostics.AddError("Ray did not come up", err.Error())
		}
	}
}

func deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(30 * time.Minute)
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
	if state.AuthToken.IsNull() {
		token, err := c.GetToken(ctx, cl.TokenParameter)
		if err != nil && !retry.IsNotFound(err) {
			resp.Diagnostics.AddError("Could not read the Ray token", err.Error())
			return
		}
		state.AuthToken = nullIfEmpty(token)
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
	for i := range state.WorkerGroups {
		g := &state.WorkerGroups[i]
		g.Count = types.Int64Value(int64(len(cl.Groups[g.Name.ValueString()])))
	}
	if cl.Head == nil {
		state.HeadInstanceID = types.StringValue("")
	}
	if importing {
		recomputeCatalog(&state, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
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
	m.KeyName = nullIfEmpty(h.KeyName)
	m.IAMInstanceProfile = nullIfEmpty(ec2cluster.ProfileName(h.ProfileARN))
	m.Head = &headModel{InstanceType: types.StringValue(h.InstanceType), RootVolumeSizeGiB: types.Int64Value(int64(d.Volumes[h.ID].SizeGiB)), RootVolumeType: types.StringValue(d.Volumes[h.ID].Type)}
	m.RayVersion = types.StringValue(d.Boot["RAYVLLM_RAY_VERSION"])
	m.VLLMVersion = types.StringValue(d.Boot["RAYVLLM_VLLM_VERSION"])
	m.HFTokenSSMParameter = nullIfEmpty(d.Boot["RAYVLLM_HF_TOKEN_PARAMETER"])
	m.PythonPackages = types.ListNull(types.StringType)
	if p := strings.Fields(d.Boot["RAYVLLM_PYTHON_PACKAGES"]); len(p) > 0 {
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
	m.SecurityGroupID = nullIfEmpty(d.SecurityGroupID)
	cl.SecurityGroupID = d.SecurityGroupID
	m.Timeouts = timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType})}

	tags := map[string]string{}
	for k, v := range h.Tags {
		if strings.HasPrefix(k, "rayvllm:") || strings.HasPrefix(k, "aws:") || (k == "Name" && v == cl.Name+"-head") {
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
		}
		if w.Spot {
			gm.Spot = &spotModel{MaxPriceUSD: types.StringNull()}
		}
		m.WorkerGroups = append(m.WorkerGroups, gm)
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
	g.HourlyCostUSD = types.Float64Value(round(gpu.PriceUSDPerHour*float64(g.Count.ValueInt64()), 2))
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
	r.crossCheck(ctx, c, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	spec := r.spec(ctx, plan, c.Region, &resp.Diagnostics)
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

// rayVersionValidator accepts an exact X.Y.Z Ray version at or above MinRayVersion.
type rayVersionValidator struct{}

func (rayVersionValidator) Description(context.Context) string {
	return "an exact Ray version X.Y.Z, at least " + MinRayVersion
}
func (v rayVersionValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (rayVersionValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	m := rayVersionRE.FindStringSubmatch(s)
	if m == nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Ray version", fmt.Sprintf("ray_version must be an exact version like 2.60.0 (pinned), got %q.", s))
		return
	}
	if versionLess(m[1:], strings.Split(MinRayVersion, ".")) {
		resp.Diagnostics.AddAttributeError(req.Path, "Ray version too old",
			fmt.Sprintf("ray_version %s is below %s. Older Ray has no token authentication and public remote-code-execution CVEs (ShadowRay, CVE-2023-48022); use %s or newer.", s, MinRayVersion, MinRayVersion))
	}
}

func versionLess(a, b []string) bool {
	for i := range 3 {
		x, _ := strconv.Atoi(a[i])
		y, _ := strconv.Atoi(b[i])
		if x != y {
			return x < y
		}
	}
	return false
}

// cidrValidator accepts an IPv4 or IPv6 CIDR block.
type cidrValidator struct{}

func (cidrValidator) Description(context.Context) string { return "an IPv4 or IPv6 CIDR block" }
func (v cidrValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (cidrValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if !isCIDR(req.ConfigValue.ValueString()) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid CIDR block",
			fmt.Sprintf("%q is not a CIDR block; use e.g. 203.0.113.7/32 or 2001:db8::/64.", req.ConfigValue.ValueString()))
	}
}

func isCIDR(s string) bool {
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// groupGPU is what the catalog says about a worker instance type.
type groupGPU struct {
	Model           string
	PerNode         int
	MemoryGiB       float64
	PriceUSDPerHour float64
	GPU             hardware.GPU
}

// lookupGroupGPU resolves a worker instance type through the hardware catalog.
func lookupGroupGPU(instanceType string) (groupGPU, error) {
	it, err := hardware.LookupInstance(instanceType)
	if err != nil {
		var ie *hardware.InputError
		if errors.As(err, &ie) {
			return groupGPU{}, errors.New(ie.Message)
		}
		return groupGPU{}, err
	}
	gpu, err := hardware.LookupGPU(it.GPU)
	if err != nil {
		return groupGPU{}, fmt.Errorf("catalog instance %s names GPU %q that the GPU catalog lacks: %w", it.Name, it.GPU, err)
	}
	return groupGPU{Model: gpu.Name, PerNode: it.GPUCount, MemoryGiB: gpu.MemoryGiB, PriceUSDPerHour: it.PriceUSDPerHour, GPU: gpu}, nil
}

// fitCheck runs the fit engine of rayvllm_gpu_fit for one worker group.
func (r *inferenceClusterResource) fitCheck(fc *fitCheckModel, g *groupModel, at path.Path, diags *diag.Diagnostics) {
	if fc == nil || fc.Model.IsNull() || fc.Model.IsUnknown() || fc.Quantization.IsUnknown() || fc.TensorParallelSize.IsUnknown() || fc.MaxModelLen.IsUnknown() {
		return
	}
	gpu, err := lookupGroupGPU(g.InstanceType.ValueString())
	if err != nil {
		return // reported on instance_type already
	}
	model, err := hardware.LookupModel(fc.Model.ValueString())
	if err != nil {
		addFitCheckError(diags, err)
		return
	}
	tp := int(fc.TensorParallelSize.ValueInt64())
	if fc.TensorParallelSize.IsNull() {
		tp = 1
	}
	if tp > gpu.PerNode {
		diags.AddAttributeError(path.Root("fit_check").AtName("tensor_parallel_size"), "Tensor parallelism larger than the node",
			fmt.Sprintf("tensor_parallel_size %d needs %d GPUs in one node, but worker group %q (%s) has %d per node.", tp, tp, g.Name.ValueString(), g.InstanceType.ValueString(), gpu.PerNode))
		return
	}
	in := hardware.FitInput{
		Model: model, GPU: gpu.GPU, TensorParallelSize: tp,
		Quantization: stringOr(fc.Quantization, "none"), KVCacheDType: "auto",
		MaxModelLen: int(fc.MaxModelLen.ValueInt64()), GPUMemoryUtilization: 0.9, BlockSize: 16,
	}
	res, err := hardware.Fit(in)
	if err != nil {
		addFitCheckError(diags, err)
		return
	}
	if !res.Fits {
		summary, detail := misfitError(in, res)
		detail = strings.TrimSuffix(detail, "Set require_fit = false to get the numbers without failing the plan.")
		diags.AddAttributeError(at.AtName("instance_type"), summary,
			fmt.Sprintf("fit_check: worker group %q (%s, %d × %s):\n%s", g.Name.ValueString(), g.InstanceType.ValueString(), gpu.PerNode, gpu.Model, strings.TrimSpace(detail)))
	}
}

func addFitCheckError(diags *diag.Diagnostics, err error) {
	var ie *hardware.InputError
	if errors.As(err, &ie) {
		attr := ie.Attribute
		if attr == "model" || attr == "quantization" || attr == "tensor_parallel_size" || attr == "max_model_len" {
			diags.AddAttributeError(path.Root("fit_check").AtName(attr), "Invalid fit_check."+attr, ie.Message)
			return
		}
		diags.AddAttributeError(path.Root("fit_check"), "Invalid fit_check", ie.Error())
		return
	}
	diags.AddAttributeError(path.Root("fit_check"), "Fit check failed", err.Error())
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
