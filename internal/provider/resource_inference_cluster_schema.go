package provider

import (
	"context"
	"maps"
	"net/netip"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
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

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

var (
	clusterNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}$`)
	groupNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	rayVersionRE  = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)
	vllmVersionRE = regexp.MustCompile(`^\d+\.\d+\.\d+(\.post\d+)?$`)
	pipSpecRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\-\[\],]*((==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_\-]+)*(,(==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_\-]+)*$`)
	ssmNameRE     = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]{1,1000}$`)
)

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
			"subnet_ids": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
				Description: "Further subnets of `subnet_id`'s VPC, best one per other availability zone, tried in order when EC2 refuses a launch for the zone's capacity " +
					"(`InsufficientInstanceCapacity`, the type not offered there, no free addresses): the provider's launches move to the next subnet, and Ray's autoscaler gets every subnet (its AWS node provider moves on the same way). " +
					"GPU capacity differs by zone; two or three zones make a first apply far likelier to find it.",
				Validators: []validator.List{
					listvalidator.UniqueValues(), listvalidator.SizeAtMost(8),
					listvalidator.ValueStringsAre(stringvalidator.RegexMatches(regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`), "must be a subnet ID like subnet-0123456789abcdef0")),
				},
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
			"head_iam_instance_profile": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace(), stringplanmodifier.UseStateForUnknown()},
				Description: "Instance profile name or ARN of the head. Default: `iam_instance_profile`, except for a cluster with autoscaled groups, whose head runs Ray's autoscaler: " +
					"then the resource creates the role and instance profile `rayvllm-<name>-head` with least-privilege EC2 permissions conditioned on the cluster tag " +
					"(launch, tag and terminate only instances tagged `rayvllm:cluster=<name>`, pass only the nodes' role; see the costs and scaling guide) and deletes them on destroy. " +
					"A profile given here needs those permissions as well as the nodes'.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"head_iam_role_arn": computed("ARN of the head's IAM role when the resource created it (autoscaled clusters without `head_iam_instance_profile`); null otherwise."),
			"tags": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				Description: "Tags on the instances, volumes, security group and token parameter, merged over the provider's `default_tags`.",
			},
			"tags_all": schema.MapAttribute{
				Computed: true, ElementType: types.StringType,
				Description: "`tags` merged over the provider's `default_tags`.",
			},
			"ray_version": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: []planmodifier.String{testedVersion(versions.Tested.Ray), stringplanmodifier.RequiresReplace()},
				Description: "Pinned Ray version installed as `ray[default,serve]==<version>`. Default: the provider's tested version set, `" + versions.Tested.Ray +
					"`, when the cluster is created (a later provider release with another set does not replace it). Versions below " + ray.MinRayVersion + " are refused: they lack token auth and have public RCE CVEs.",
				Validators: []validator.String{rayVersionValidator()},
			},
			"vllm_version": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: []planmodifier.String{testedVersion(versions.Tested.VLLM), stringplanmodifier.RequiresReplace()},
				Description: "Pinned vLLM version installed as `vllm==<version>`. Default: the provider's tested version set, `" + versions.Tested.VLLM +
					"` (the release Ray " + versions.Tested.Ray + "'s `llm` extra pins), when the cluster is created.",
				Validators: []validator.String{stringvalidator.RegexMatches(vllmVersionRE, "must be an exact version like "+versions.Tested.VLLM+" (pinned, no ranges)")},
			},
			"python_packages": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplace()},
				Description: "Extra pip requirements installed into the nodes' venv, e.g. `[\"pandas==2.2.3\"]`. Pin them. They travel in every node's user data " +
					"(and the head's carries each autoscaled group's), which EC2 limits to 16,384 bytes even gzip-compressed: the plan fails when the list would exceed it.",
				Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.RegexMatches(pipSpecRE, "must be a pip requirement like name==1.2.3 (no spaces, URLs or shell characters)"))},
			},
			"hf_token_ssm_parameter": schema.StringAttribute{
				Optional: true, PlanModifiers: replace,
				Description: "Name of an SSM SecureString holding a Hugging Face token, read by the nodes at boot with their instance role and exported as `HF_TOKEN` to Ray. The token itself never enters user data or Terraform state.",
				Validators:  []validator.String{stringvalidator.RegexMatches(ssmNameRE, "must be an SSM parameter name like /hf/token")},
			},
			"dashboard_ingress_cidrs": schema.SetAttribute{
				Optional: true, ElementType: types.StringType,
				Description: "CIDR blocks (IPv4 or IPv6) allowed to reach the Ray dashboard and Jobs API on port 8265. Nothing else is opened to outside the cluster. `0.0.0.0/0` and `::/0` are refused unless `allow_public_ray_ports = true`.",
				Validators:  []validator.Set{setvalidator.ValueStringsAre(cidrValidator())},
			},
			"allow_public_ray_ports": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				Description: "Allow `0.0.0.0/0` or `::/0` in `dashboard_ingress_cidrs`. Even with Ray token auth this is a warning: exposed Ray dashboards were mass-exploited (ShadowRay, CVE-2023-48022).",
			},
			"idle_timeout_minutes": schema.Int64Attribute{
				Optional: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
				Description: "Autoscaled groups: minutes a worker may stay idle (no Ray tasks or actors) before Ray's autoscaler terminates it, 1-1440. Default: Ray's, 5.",
				Validators:  []validator.Int64{int64validator.Between(1, 1440)},
			},
			"wait_for_ray": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Wait after create, and after an update, until every instance is an alive Ray node in the dashboard's node list (read with the token; needs `dashboard_ingress_cidrs` to include this machine). " +
					"A node whose bootstrap fails fails the apply with the end of its console (EC2 `GetConsoleOutput`, which needs `ec2:GetConsoleOutput`) in the error.",
			},
			"auth_token": schema.StringAttribute{
				Computed: true, Sensitive: true, PlanModifiers: keep,
				Description: "The cluster's Ray auth token (256 random bits, hex), for `auth_token` of the Ray resources. Stored in state (sensitive) and in `auth_token_ssm_parameter`; null when `auth_token_wo` is set.",
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
				Description: "On-demand cost of the worker groups per hour in USD: Σ count (autoscaled groups: min_workers, what runs without work) × the catalog's us-east-1 Linux on-demand price of the instance type " +
					"(the head and spot discounts are not included).",
			},
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true, Update: true, Delete: true,
				CreateDescription: "How long create waits for the instances and, with `wait_for_ray`, for the Ray dashboard, e.g. `\"45m\"`. Default 30m.",
				UpdateDescription: "How long update waits for changed worker groups. Default 30m.",
				DeleteDescription: "How long destroy waits until every instance is terminated. Default 20m."}),
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
				Description: "At least one. A group of identical GPU workers, launched with one RunInstances call. Changing `count` adds or terminates workers in place; changing `instance_type`, `ami_id`, the root volume, `spot`, `placement_group` or `efa` replaces the group's instances (`fallback_instance_types` and `capacity_reservation` apply to later launches; a worker on a fallback type stays).",
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
							Optional: true, Description: "Number of workers, 0-1000, for a fixed-size group that Terraform launches. Exactly one of `count` and `max_workers`.",
							Validators: []validator.Int64{int64validator.Between(0, 1000), int64validator.ExactlyOneOf(path.MatchRelative().AtParent().AtName("max_workers"))},
						},
						"min_workers": schema.Int64Attribute{
							Optional: true, Description: "Autoscaled groups: the fewest workers Ray's autoscaler keeps, 0-1000 (default 0: no GPU runs while there is no work). Needs `max_workers`.",
							Validators: []validator.Int64{int64validator.Between(0, 1000), int64validator.AlsoRequires(path.MatchRelative().AtParent().AtName("max_workers"))},
						},
						"max_workers": schema.Int64Attribute{
							Optional: true, Description: "Makes the group autoscaled: Ray's autoscaler on the head launches up to this many workers (1-1000) for pending Ray demand and terminates them after `idle_timeout_minutes` without work. " +
								"Terraform launches none of them and does not count them as drift. Changing the autoscaling settings of a cluster replaces it (the head's autoscaler config is in its user data).",
							Validators: []validator.Int64{int64validator.Between(1, 1000)},
						},
						"spot_fallback_to_on_demand": schema.BoolAttribute{
							Optional: true, Description: "Autoscaled spot groups: when EC2 refuses a spot launch for capacity or price (InsufficientInstanceCapacity, SpotMaxPriceTooLow, ...), the autoscaler launches the same node on demand instead (tagged `rayvllm:market = on-demand-fallback`), so that the work runs. Without it the autoscaler retries spot until capacity returns.",
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
						"hourly_cost_usd": schema.Float64Attribute{Computed: true, Description: "count (autoscaled: min_workers) × the catalog's on-demand price of the instance type, USD per hour."},
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
				Attributes:  clusterFitCheckAttributes(),
			},
		},
	}
	if wg, ok := resp.Schema.Blocks["worker_group"].(schema.ListNestedBlock); ok { // the maps are shared
		maps.Copy(wg.NestedObject.Attributes, groupCapacityAttributes())
		maps.Copy(wg.NestedObject.Blocks, groupCapacityBlocks())
	}
	maps.Copy(resp.Schema.Attributes, authTokenWOAttributes(
		"The cluster's Ray auth token, instead of a generated one: kept only in `auth_token_ssm_parameter`, and `auth_token` stays null. "+
			"Read it back with the `rayvllm_cluster_token` ephemeral resource. The nodes read the token at boot, so a new version replaces the cluster.",
		int64planmodifier.RequiresReplace()))
}

func isCIDR(s string) bool {
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// testedVersion plans an unset version as the one the cluster already has,
// or on create as the tested set's: a provider release that moves the
// tested set does not replace running clusters.
type testedVersion string

func (d testedVersion) Description(context.Context) string {
	return "unset: the cluster's current version, or " + string(d) + " on create"
}
func (d testedVersion) MarkdownDescription(ctx context.Context) string { return d.Description(ctx) }
func (d testedVersion) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if !req.ConfigValue.IsNull() {
		return
	}
	if !req.StateValue.IsNull() && !req.StateValue.IsUnknown() {
		resp.PlanValue = req.StateValue
		return
	}
	resp.PlanValue = types.StringValue(string(d))
}

// clusterFitCheckAttributes are fit_check's: the model and the engine
// settings, as the worker and the batch job take them.
func clusterFitCheckAttributes() map[string]schema.Attribute {
	a := enginePlace{Defaults: map[string]string{
		"quantization":         "Default: the checkpoint's own.",
		"tensor_parallel_size": "At most the group's GPUs per node. Default 1.",
		"max_model_len":        "Default: the model's.",
	}}.resourceAttributes()
	a["model"] = schema.StringAttribute{Optional: true, Description: "Catalog model ID, e.g. `Qwen/Qwen2.5-7B-Instruct`. Required in the block."}
	return a
}
