package batchjob

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func ptr[T any](v T) *T { return &v }

// goldenConfig uses every field, so that the golden files pin the whole
// rendering. pytest feeds testdata/golden_config.json to Ray's own
// vLLMEngineProcessorConfig validation.
func goldenConfig() Config {
	return Config{
		ModelSource: "Qwen/Qwen2.5-7B-Instruct",
		EngineKwargs: Engine{
			Quantization: ptr("fp8"), TensorParallelSize: ptr(int64(2)), MaxModelLen: ptr(int64(8192)),
			MaxNumSeqs: ptr(int64(128)), MaxNumBatchedTokens: ptr(int64(8192)), EnableChunkedPrefill: ptr(true),
			GPUMemoryUtilization: ptr(0.9), KVCacheDType: ptr("fp8"), KVCacheMemoryBytes: ptr(int64(8 << 30)),
			DType: ptr("bfloat16"), EnforceEager: ptr(false),
		},
		BatchSize: ptr(int64(64)), Concurrency: ptr(int64(2)), MaxConcurrentBatches: ptr(int64(4)),
		Accelerator: AcceleratorGPU, AcceleratorType: "L4", NumGPUsPerReplica: ptr(2.0),
		Input: Input{Path: "s3://bucket/prompts/it's.parquet", IDColumn: "request_id", MessagesColumn: "messages",
			ChatTemplate: "{% for m in messages %}{{ m['content'] }}{% endfor %}", ChatTemplateKwargs: map[string]any{"enable_thinking": false}},
		Output: Output{Path: "s3://bucket/out/run-1", Format: "parquet"},
		SamplingParams: Sampling{Temperature: ptr(0.2), TopP: ptr(0.95), MaxTokens: ptr(int64(256)), MinTokens: ptr(int64(1)), Seed: ptr(int64(7)), Stop: []string{"</s>", "\n\nUser:"},
			Logprobs: ptr(int64(2)), StructuredOutputs: &Structured{JSON: ptr(`{"type":"object","properties":{"a":{"type":"integer"}}}`)}},
		Resume:     true,
		OnRowError: OnRowErrorSkip,
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/batchjob -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/batchjob -update rewrites it):\n got: %s\nwant: %s", name, got, want)
	}
}

func TestGoldenRendering(t *testing.T) {
	c := goldenConfig()
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if c.Input.Format != "parquet" {
		t.Fatalf("input format inferred as %q", c.Input.Format)
	}
	j, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, []byte(j), "", "  ")
	golden(t, "golden_config.json", append(pretty.Bytes(), '\n'))

	ep, err := Entrypoint(c)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "golden_entrypoint.txt", []byte(ep+"\n"))

	pkg, err := Package()
	if err != nil {
		t.Fatal(err)
	}
	env := RuntimeEnv(map[string]any{"env_vars": map[string]string{"HF_HOME": "/mnt/hf"}, "pip": []string{"vllm==0.11.0"}}, pkg)
	envJSON, _ := json.MarshalIndent(env, "", "  ")
	// The package URI is a hash of the script: stable in the golden file
	// only up to script edits, so it is replaced by a placeholder there and
	// checked separately below.
	golden(t, "golden_runtime_env.json", append(bytes.ReplaceAll(envJSON, []byte(pkg.URI), []byte("gcs://_ray_pkg_<sha256 of the script package>.zip")), '\n'))

	// /bin/sh (which Ray runs the entrypoint with) hands the script the JSON unchanged.
	out, err := exec.Command("/bin/sh", "-c", strings.Replace(ep, entrypointPrefix, "printf %s ", 1)).Output()
	if err != nil || string(out) != j {
		t.Fatalf("the shell turned the config into %q (%v), want %q", out, err, j)
	}

	back, ok := ParseEntrypoint(ep)
	if !ok {
		t.Fatal("ParseEntrypoint failed on a rendered entrypoint")
	}
	j2, _ := back.JSON()
	if j2 != j {
		t.Fatalf("round trip:\n%s\n%s", j2, j)
	}
}

func TestPackageHoldsTheScript(t *testing.T) {
	p1, err := Package()
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := Package()
	if p1.URI != p2.URI || !strings.HasPrefix(p1.URI, "gcs://_ray_pkg_") {
		t.Fatalf("package URI %q / %q", p1.URI, p2.URI)
	}
	zr, err := zip.NewReader(bytes.NewReader(p1.Data), int64(len(p1.Data)))
	if err != nil {
		t.Fatal(err)
	}
	// Every product module beside the script (not the tests) is shipped.
	var want, got []string
	mods, _ := filepath.Glob("rayvllm_*.py")
	for _, m := range mods {
		if !strings.HasSuffix(m, "_test.py") {
			want = append(want, m)
		}
	}
	for _, zf := range zr.File {
		got = append(got, zf.Name)
	}
	sort.Strings(got)
	if len(want) < 5 || !slices.Equal(got, want) {
		t.Fatalf("package files %v, want the modules %v", got, want)
	}
	for _, zf := range zr.File {
		f, _ := zf.Open()
		data, _ := io.ReadAll(f)
		onDisk, err := os.ReadFile(zf.Name)
		if err != nil || !bytes.Equal(data, onDisk) {
			t.Fatalf("the package does not hold %s as it is in the repository (%v)", zf.Name, err)
		}
	}
	env := RuntimeEnv(map[string]any{"py_modules": []any{"s3://b/mine.zip"}}, p1)
	if mods := env["py_modules"].([]any); len(mods) != 2 || mods[1] != p1.URI {
		t.Fatalf("user py_modules must be kept: %v", mods)
	}
}

func TestNormalize(t *testing.T) {
	base := func() Config {
		return Config{ModelSource: "m", Input: Input{Path: "/data/in.jsonl", PromptColumn: "prompt"}, Output: Output{Path: "/data/out"}}
	}
	c := base()
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if c.Input.Format != "jsonl" || c.Output.Format != "jsonl" || c.Input.IDColumn != "" {
		t.Fatalf("defaults: %+v", c)
	}
	for _, tc := range []struct {
		change func(*Config)
		attr   string
		msg    string
	}{
		{func(c *Config) { c.Input.Path = "/data/in" }, "input.format", "jsonl, parquet, csv"},
		{func(c *Config) { c.Input.Path = "in.jsonl" }, "input.path", "absolute path"},
		{func(c *Config) { c.Output.Path = "out" }, "output.path", "absolute path"},
		{func(c *Config) { c.Input.MessagesColumn = "m" }, "input", "exactly one"},
		{func(c *Config) { c.Input.PromptColumn = "" }, "input", "exactly one"},
		{func(c *Config) { c.Output.Path = "/data/in.jsonl" }, "output.path", "cannot be the input path"},
		{func(c *Config) { c.Output.Path = "/" }, "output.path", "root directory"},
		{func(c *Config) { c.NumGPUsPerReplica = ptr(1.5) }, "num_gpus_per_replica", "(0, 1]"},
		{func(c *Config) { c.EngineKwargs.TensorParallelSize = ptr(int64(4)); c.NumGPUsPerReplica = ptr(2.0) }, "num_gpus_per_replica", "exactly 4 GPUs"},
		{func(c *Config) {
			c.EngineKwargs.TensorParallelSize, c.EngineKwargs.PipelineParallelSize, c.NumGPUsPerReplica = ptr(int64(2)), ptr(int64(2)), ptr(2.0)
		}, "num_gpus_per_replica", "pipeline_parallel_size = 2 each replica needs exactly 4 GPUs"},
		{func(c *Config) { c.Accelerator = AcceleratorCPU; c.AcceleratorType = "L4" }, "accelerator_type", "remove accelerator_type"},
		{func(c *Config) { c.Accelerator = AcceleratorCPU; c.NumGPUsPerReplica = ptr(1.0) }, "num_gpus_per_replica", "reserves no GPUs"},
		{func(c *Config) { c.OnRowError = "ignore" }, "on_row_error", "must be one of fail, skip"},
		{func(c *Config) {
			c.Input.PromptColumn = ""
			c.Input.MessagesColumn = "m"
			c.Input.ApplyChatTemplate = ptr(false)
		}, "input.apply_chat_template", "prompt_column"},
	} {
		c := base()
		tc.change(&c)
		err := c.Normalize()
		ie, ok := err.(*InputError)
		if !ok || ie.Attribute != tc.attr || !strings.Contains(ie.Message, tc.msg) {
			t.Errorf("want %s error mentioning %q, got %v", tc.attr, tc.msg, err)
		}
	}
	c = base()
	c.Input.Path, c.Output.Path = "gs://b/in.csv.gz", "s3://b/out/"
	if err := c.Normalize(); err != nil || c.Input.Format != "csv" {
		t.Fatalf("URIs: %v %+v", err, c.Input)
	}
}

func TestParseEntrypointRejectsOthers(t *testing.T) {
	for _, ep := range []string{"python train.py", entrypointPrefix + "'{unterminated", entrypointPrefix + "notquoted", entrypointPrefix + "'not json'"} {
		if _, ok := ParseEntrypoint(ep); ok {
			t.Errorf("ParseEntrypoint(%q) succeeded", ep)
		}
	}
}

func TestParseMetrics(t *testing.T) {
	logs := "Running entrypoint\nrayvllm-metrics: {\"rows\": 1}\nnoise\nrayvllm-metrics: {\"rows\": 5, \"failed_rows\": 1, \"skipped_rows\": 2, \"input_tokens\": 10, \"output_tokens\": 20, \"wall_seconds\": 4.0, \"output_tokens_per_second\": 5.0, \"total_tokens_per_second\": 7.5}\nbye\n"
	m, ok := ParseMetrics(logs)
	if !ok || *m != (Metrics{Rows: 5, FailedRows: 1, SkippedRows: 2, InputTokens: 10, OutputTokens: 20, WallSeconds: 4, OutputTokensPerSecond: 5, TotalTokensPerSecond: 7.5}) {
		t.Fatalf("got %+v %v", m, ok)
	}
	m, ok = ParseMetrics(`rayvllm-metrics: {"rows": 2, "output_tokens": 30, "wall_seconds": 9.0, "engine_seconds": 1.5, "engine_output_tokens_per_second": 20.0}`)
	if !ok || m.EngineSeconds == nil || *m.EngineSeconds != 1.5 || m.EngineOutputTokensPerSecond == nil || *m.EngineOutputTokensPerSecond != 20 {
		t.Fatalf("engine metrics: got %+v %v", m, ok)
	}
	if _, ok := ParseMetrics("no metrics here\n"); ok {
		t.Fatal("found metrics in logs without any")
	}
	// A progress bar redrawn with \r and no newline, then the metrics line.
	m, ok = ParseMetrics("Project: 100%|##| 3.00/3.00 [00:00<00:00]\r\x1b[A\x1b[A  rayvllm-metrics: {\"rows\": 0, \"skipped_rows\": 3}\n")
	if !ok || m.Rows != 0 || m.SkippedRows != 3 {
		t.Fatalf("metrics after a progress bar: got %+v %v", m, ok)
	}
}

// The script's error line is found when the workers' progress output follows
// it, and only the script's own prefix counts.
func TestScriptError(t *testing.T) {
	logs := "start\nrayvllm_batch: input.id_column 'id': 1 row(s) have a null id\n" +
		strings.Repeat("(pid=1) Project: 0%|  | 0.00/7.00\r(pid=1) Project: 100%|##| 7.00/7.00\n", 60)
	if got, want := ScriptError(logs), "rayvllm_batch: input.id_column 'id': 1 row(s) have a null id"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := ScriptError("Traceback (most recent call last):\nValueError: boom\n"); got != "" {
		t.Fatalf("found a script error in logs without one: %q", got)
	}
}

// NormalizeKnown runs every check whose attributes are known: a directory
// input without a format is refused while accelerator_type is unknown, and
// nothing is guessed about an unknown path.
func TestNormalizeKnown(t *testing.T) {
	c := Config{ModelSource: "m", Input: Input{Path: "s3://b/prompts/", PromptColumn: "p"}, Output: Output{Path: "s3://b/out"}}
	err := c.NormalizeKnown(map[string]bool{"accelerator_type": true})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Attribute != "input.format" {
		t.Fatalf("directory input with accelerator_type unknown: got %v, want the input.format error", err)
	}
	c = Config{ModelSource: "m", Input: Input{PromptColumn: "p"}, Output: Output{Path: "/out"}}
	if err := c.NormalizeKnown(map[string]bool{"input.path": true}); err != nil {
		t.Fatalf("unknown input path: %v", err)
	}
	c = Config{ModelSource: "m", Input: Input{PromptColumn: "p", MessagesColumn: "m"}, Output: Output{Path: "/out"}}
	if err := c.NormalizeKnown(map[string]bool{"input.path": true}); !errors.As(err, &ie) || ie.Attribute != "input" {
		t.Fatalf("two prompt columns with an unknown path: got %v", err)
	}
	if err := c.NormalizeKnown(map[string]bool{"input.path": true, "input.messages_column": true}); err != nil {
		t.Fatalf("unknown messages_column: %v", err)
	}
}
