package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/batchjob"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// batchJobRay is a client for checking the cluster behind Terraform's back.
func batchJobRay(t *testing.T) *ray.Client {
	t.Helper()
	c, err := ray.New(ray.Config{Address: os.Getenv("RAY_ADDRESS"), Token: os.Getenv("RAY_AUTH_TOKEN")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func init() {
	batchJobPollInterval = 500 * time.Millisecond
}

// phrase matches text that Terraform may have wrapped onto several lines.
func phrase(s string) string {
	return strings.Join(strings.Fields(regexp.QuoteMeta(s)), `\s+`)
}

// planOnly plans config without TF_ACC: with pattern, the plan must fail
// with an error that matches it; without, it must plan.
func planOnly(t *testing.T, config, pattern string) {
	t.Helper()
	step := resource.TestStep{Config: config, PlanOnly: true, ExpectNonEmptyPlan: pattern == ""}
	if pattern != "" {
		step.ExpectError = regexp.MustCompile(pattern)
	}
	resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: []resource.TestStep{step}})
}

// hcl quotes s as an HCL string.
func hcl(s string) string {
	b, _ := json.Marshal(s)
	return strings.NewReplacer("${", "$${", "%{", "%%{").Replace(string(b))
}

// batchJobGone checks after destroy that Ray no longer lists any attempt.
func batchJobGone(t *testing.T) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c := batchJobRay(t)
		jobs, err := c.ListJobs(context.Background())
		if err != nil {
			return err
		}
		for _, rs := range s.RootModule().Resources {
			if rs.Type != "rayvllm_batch_job" {
				continue
			}
			for _, j := range jobs {
				if j.SubmissionID != nil && strings.HasPrefix(*j.SubmissionID, rs.Primary.ID) {
					return fmt.Errorf("Ray still lists job %s (%s) after destroy", *j.SubmissionID, j.Status)
				}
			}
		}
		return nil
	}
}

// expectTainted checks that the prior state of a plan has addr tainted.
type expectTainted string

func (e expectTainted) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if req.Plan.PriorState == nil || req.Plan.PriorState.Values == nil {
		resp.Error = errors.New("plan has no prior state")
		return
	}
	for _, r := range req.Plan.PriorState.Values.RootModule.Resources {
		if r.Address == string(e) {
			if !r.Tainted {
				resp.Error = fmt.Errorf("%s is not tainted", e)
			}
			return
		}
	}
	resp.Error = fmt.Errorf("%s is not in the state", e)
}

func TestAccBatchJob_succeeds(t *testing.T) {
	testAccPreCheck(t, needRay)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	out := filepath.Join(dir, "result.txt")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	// Prints 12 lines, writes a file, and prints a metrics line the way the
	// built-in script does.
	// It sleeps first: Ray writes its "Running entrypoint" line to the log
	// after starting the command, and a command that prints at once can
	// come before it.
	script := testPython("job_main.py")
	if err := os.WriteFile(filepath.Join(src, "main.py"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	config := func(lines int) string {
		return fmt.Sprintf(`
resource "rayvllm_batch_job" "test" {
  entrypoint          = "python main.py %[1]s"
  entrypoint_num_cpus = 0.5
  metadata            = { team = "acc" }
  log_tail_lines      = %[3]d
  runtime_env = {
    working_dir = %[2]s
    env_vars    = { GREETING = "world" }
  }
}
`, out, hcl(src), lines)
	}
	name := "rayvllm_batch_job.test"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				Config: config(3),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("status"), knownvalue.StringExact("SUCCEEDED")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("message"), knownvalue.StringExact("Job finished successfully.")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("log_tail"), knownvalue.StringExact("line 9\n"+
						`rayvllm-metrics: {"rows": 3, "failed_rows": 2, "skipped_rows": 1, "input_tokens": 30, "output_tokens": 60, "wall_seconds": 2.0, "output_tokens_per_second": 30.0, "total_tokens_per_second": 45.0, "engine_seconds": 1.5, "engine_output_tokens_per_second": 40.0}`+
						"\ndone")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("submission_id"), knownvalue.StringRegexp(regexp.MustCompile(`^rayvllm-[0-9a-f]{12}-[0-9a-f]{8}$`))),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("working_dir_uri"), knownvalue.StringRegexp(regexp.MustCompile(`^gcs://_ray_pkg_[0-9a-f]{32}\.zip$`))),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("start_time"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT`))),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("end_time"), knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT`))),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("attempts"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"status": knownvalue.StringExact("SUCCEEDED")}),
					})),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("metrics"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"rows": knownvalue.Int64Exact(3), "failed_rows": knownvalue.Int64Exact(2), "skipped_rows": knownvalue.Int64Exact(1), "input_tokens": knownvalue.Int64Exact(30),
						"output_tokens": knownvalue.Int64Exact(60), "wall_seconds": knownvalue.Float64Exact(2),
						"output_tokens_per_second": knownvalue.Float64Exact(30), "total_tokens_per_second": knownvalue.Float64Exact(45),
						"engine_seconds": knownvalue.Float64Exact(1.5), "engine_output_tokens_per_second": knownvalue.Float64Exact(40),
					})),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("dashboard_url"), knownvalue.StringExact(strings.TrimRight(os.Getenv("RAY_ADDRESS"), "/"))),
				},
				Check: func(*terraform.State) error {
					b, err := os.ReadFile(out)
					if err != nil || string(b) != "hello world" {
						return fmt.Errorf("the job should have written %q to %s, got %q (%v)", "hello world", out, b, err)
					}
					return nil
				},
			},
			{
				// log_tail_lines only changes the report: an in-place update.
				Config: config(1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("log_tail"), knownvalue.StringExact("done")),
				},
			},
			{
				ResourceName:      name,
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					rs := s.RootModule().Resources[name]
					return rs.Primary.Attributes["dashboard_url"] + "#" + rs.Primary.ID, nil
				},
				// Ray does not report the entrypoint's resources; a local
				// working_dir comes back as its package URI; the log tail
				// length is a local setting.
				ImportStateVerifyIgnore: []string{"entrypoint_num_cpus", "runtime_env", "log_tail_lines", "log_tail", "timeouts"},
			},
			{
				// A changed file in working_dir is a different job.
				PreConfig: func() {
					if err := os.WriteFile(filepath.Join(src, "extra.txt"), []byte("x"), 0o644); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(name, plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("status"), knownvalue.StringExact("SUCCEEDED")),
				},
			},
		},
	})
}

func TestAccBatchJob_failsAndIsTainted(t *testing.T) {
	testAccPreCheck(t, needRay)
	config := fmt.Sprintf(`
resource "rayvllm_batch_job" "fail" {
  entrypoint     = "echo preparing %d; echo 'ValueError: no such table' >&2; exit 3"
  log_tail_lines = 5
}
`, time.Now().UnixNano())
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: regexp.MustCompile(`(?s)` + phrase("ended FAILED after 1 attempt(s): Job entrypoint command failed with exit code 3") +
					`.*` + phrase("Last 5 lines of the job's log:") + `.*ValueError: no such table`),
			},
			{
				Config:   config,
				PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPreRefresh: []plancheck.PlanCheck{
					expectTainted("rayvllm_batch_job.fail"),
					plancheck.ExpectResourceAction("rayvllm_batch_job.fail", plancheck.ResourceActionDestroyBeforeCreate),
				}},
			},
		},
	})
}

func TestAccBatchJob_maxRetries(t *testing.T) {
	testAccPreCheck(t, needRay)
	marker := filepath.Join(t.TempDir(), "first-attempt-ran")
	name := "rayvllm_batch_job.retry"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
resource "rayvllm_batch_job" "retry" {
  entrypoint  = "if [ -e %[1]s ]; then echo second attempt ok; else touch %[1]s; echo first attempt fails; exit 1; fi"
  max_retries = 2
}
`, marker),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(name, tfjsonpath.New("status"), knownvalue.StringExact("SUCCEEDED")),
				statecheck.ExpectKnownValue(name, tfjsonpath.New("log_tail"), knownvalue.StringRegexp(regexp.MustCompile(`(?m)^second attempt ok$`))),
				statecheck.ExpectKnownValue(name, tfjsonpath.New("submission_id"), knownvalue.StringRegexp(regexp.MustCompile(`^rayvllm-[0-9a-f]{12}-[0-9a-f]{8}-retry-1$`))),
				statecheck.ExpectKnownValue(name, tfjsonpath.New("attempts"), knownvalue.ListExact([]knownvalue.Check{
					knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"status":        knownvalue.StringExact("FAILED"),
						"message":       knownvalue.StringExact("Job entrypoint command failed with exit code 1"),
						"submission_id": knownvalue.StringRegexp(regexp.MustCompile(`^rayvllm-[0-9a-f]{12}-[0-9a-f]{8}$`)),
					}),
					knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"status":        knownvalue.StringExact("SUCCEEDED"),
						"submission_id": knownvalue.StringRegexp(regexp.MustCompile(`-retry-1$`)),
					}),
				})),
			},
		}},
	})
}

func TestAccBatchJob_destroyStopsRunningJob(t *testing.T) {
	testAccPreCheck(t, needRay)
	pidFile := filepath.Join(t.TempDir(), "pid")
	var pid int
	name := "rayvllm_batch_job.long"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: resource.ComposeTestCheckFunc(batchJobGone(t), func(*terraform.State) error {
			if pid == 0 {
				return errors.New("the job never wrote its PID")
			}
			// Ray sends SIGTERM, then SIGKILL after a grace period; the
			// provider waits for STOPPED before deleting.
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("the job's process %d still exists after destroy (kill -0: %v)", pid, err)
			}
			return nil
		}),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
resource "rayvllm_batch_job" "long" {
  entrypoint          = "echo $$ > %s; exec sleep 600"
  wait_for_completion = false
}
`, pidFile),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(name, tfjsonpath.New("status"), knownvalue.StringRegexp(regexp.MustCompile(`^(PENDING|RUNNING)$`))),
			},
			Check: func(*terraform.State) error {
				return retry.Until(context.Background(), time.Minute, 200*time.Millisecond, func(context.Context) (bool, error) {
					b, err := os.ReadFile(pidFile)
					if err != nil || len(strings.TrimSpace(string(b))) == 0 {
						return false, err
					}
					pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
					if err != nil {
						return false, retry.Stop(err)
					}
					return syscall.Kill(pid, 0) == nil, nil
				})
			},
		}},
	})
}

func TestAccBatchJob_driftRecreates(t *testing.T) {
	testAccPreCheck(t, needRay)
	var id string
	name := "rayvllm_batch_job.drift"
	config := fmt.Sprintf(`
resource "rayvllm_batch_job" "drift" {
  entrypoint = "echo drift %d"
}
`, time.Now().UnixNano())
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					id = s.RootModule().Resources[name].Primary.Attributes["submission_id"]
					return nil
				},
			},
			{
				PreConfig: func() {
					if err := batchJobRay(t).RemoveJob(context.Background(), id, time.Second); err != nil {
						t.Fatalf("deleting %s behind Terraform's back: %v", id, err)
					}
				},
				Config:   config,
				PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(name, plancheck.ResourceActionCreate),
				}},
			},
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("message"), knownvalue.StringExact("Job finished successfully.")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("status"), knownvalue.StringExact("SUCCEEDED")),
				},
			},
		},
	})
}

func TestAccBatchJob_activeDeadline(t *testing.T) {
	testAccPreCheck(t, needRay)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
resource "rayvllm_batch_job" "deadline" {
  entrypoint              = "echo started %d; sleep 600"
  active_deadline_seconds = 2
  max_retries             = 1
}
`, time.Now().UnixNano()),
			ExpectError: regexp.MustCompile(`(?s)` + phrase("ended STOPPED: it ran longer than active_deadline_seconds = 2, so the provider stopped it") + `.*started`),
		}},
	})
}

func TestAccBatchJob_wrongToken(t *testing.T) {
	testAccPreCheck(t, needRay)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
resource "rayvllm_batch_job" "x" {
  entrypoint = "echo never runs"
  auth_token = "not-the-token"
}
`,
			ExpectError: regexp.MustCompile(`(?s)Ray dashboard refused the auth token.*` + phrase("HTTP 403 (Forbidden: Invalid authentication token)") +
				`.*` + phrase("the auth token was rejected: set auth_token")),
		}},
	})
}

func TestAccBatchJob_unreachableDashboard(t *testing.T) {
	testAccPreCheck(t, needRay)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	_ = l.Close()
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
resource "rayvllm_batch_job" "x" {
  dashboard_url = %q
  entrypoint    = "echo never runs"
}
`, addr),
			ExpectError: regexp.MustCompile(`(?s)` + phrase("cannot reach the Ray dashboard at "+addr) + `.*connection refused`),
		}},
	})
}

// The built-in mode end to end, short of vLLM (which CI cannot run): the
// provider uploads the script package, Ray runs it, and the script reads
// the input with Ray Data on the cluster. The input lacks the configured
// prompt column, so the script fails with its own message, which must reach
// the apply error.
func TestAccBatchJob_builtinShipsTheScript(t *testing.T) {
	testAccPreCheck(t, needRay)
	dir := t.TempDir()
	input := filepath.Join(dir, "prompts.jsonl")
	if err := os.WriteFile(input, []byte("{\"id\": 1, \"prompt\": \"hi\"}\n{\"id\": 2, \"prompt\": \"ho\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	builtin := fmt.Sprintf(`
resource "rayvllm_batch_job" "builtin" {
  vllm = {
    model_source  = "Qwen/Qwen2.5-0.5B-Instruct"
    max_model_len = 2048
    input         = { path = %q, prompt_column = "question" }
    output        = { path = %q }
    sampling      = { max_tokens = 16, temperature = 0 }
  }
}
`, input, filepath.Join(dir, "out"))
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				Config: builtin,
				ExpectError: regexp.MustCompile(`(?s)ended FAILED.*exit code 2.*` +
					phrase("rayvllm_batch: bad configuration: input "+input+" has no column question; its columns are id, prompt")),
			},
			{
				// Ray ran the provider's module from the uploaded package.
				PreConfig: func() {
					jobs, err := batchJobRay(t).ListJobs(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					for _, j := range jobs {
						if !strings.Contains(j.Entrypoint, input) {
							continue
						}
						mods, _ := j.RuntimeEnv["py_modules"].([]any)
						if !strings.HasPrefix(j.Entrypoint, "python -m rayvllm_batch --config-json '") || len(mods) != 1 ||
							!strings.HasPrefix(fmt.Sprint(mods[0]), "gcs://_ray_pkg_") || j.Metadata["rayvllm.mode"] != "vllm" {
							t.Fatalf("unexpected built-in job: entrypoint %q runtime_env %v metadata %v", j.Entrypoint, j.RuntimeEnv, j.Metadata)
						}
						return
					}
					t.Fatal("no job with the built-in entrypoint found")
				},
				Config:   builtin,
				PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPreRefresh: []plancheck.PlanCheck{
					expectTainted("rayvllm_batch_job.builtin"),
				}},
			},
		},
	})
}

// A model that fits plans fine; the same fit check as rayvllm_gpu_fit.
// An engine that no node of the cluster can hold (the test head has no
// GPU, so no H100) fails the job at start, naming the attribute, instead of
// waiting for the create timeout.
func TestAccBatchJob_noNodeForTheEngine(t *testing.T) {
	testAccPreCheck(t, needRay)
	dir := t.TempDir()
	input := filepath.Join(dir, "prompts.jsonl")
	if err := os.WriteFile(input, []byte("{\"id\": 1, \"prompt\": \"hi\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
resource "rayvllm_batch_job" "x" {
  vllm = {
    model_source     = "Qwen/Qwen2.5-0.5B-Instruct"
    accelerator_type = "H100"
    max_model_len    = 2048
    input            = { path = %q, prompt_column = "prompt" }
    output           = { path = %q }
    sampling         = { max_tokens = 16 }
  }
  timeouts = { create = "5m" }
}
`, input, filepath.Join(dir, "out")),
			ExpectError: regexp.MustCompile(`(?s)ended FAILED.*exit code 4.*` + phrase("rayvllm_batch: no node can run the engine: "+
				"vllm.accelerator_type 'H100': no node of the Ray cluster has that accelerator")),
		}},
	})
}

func TestAccBatchJob_fitCheckPasses(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
resource "rayvllm_batch_job" "x" {
  vllm = {
    model_source     = "Qwen/Qwen2.5-7B-Instruct"
    accelerator_type = "A10G"
    max_model_len    = 8192
    input            = { path = "/in.csv", prompt_column = "p" }
    output           = { path = "/out" }
    sampling         = { max_tokens = 512 }
  }
}
`,
			PlanOnly: true, ExpectNonEmptyPlan: true,
		}},
	})
}

// Values that are only known at apply (here from terraform_data) plan
// without errors.
func TestAccBatchJob_unknownValuesPlan(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
resource "terraform_data" "later" {
  input = "value"
}

resource "rayvllm_batch_job" "x" {
  vllm = {
    model_source     = "Qwen/Qwen2.5-7B-Instruct"
    accelerator_type = "A10G"
    input            = { path = "/data/${terraform_data.later.output}.jsonl", prompt_column = "p" }
    output           = { path = "/out" }
    sampling         = { stop = [terraform_data.later.output], max_tokens = 256 }
  }
  runtime_env = {
    env_vars = { TOKEN = terraform_data.later.output }
    excludes = [terraform_data.later.output]
    pip      = [terraform_data.later.output]
  }
}
`,
			PlanOnly: true, ExpectNonEmptyPlan: true,
		}},
	})
}

func TestAccBatchJob_invalidConfig(t *testing.T) {
	for name, tc := range map[string]struct{ config, err string }{
		"both modes": {`entrypoint = "x"
  vllm = { model_source = "m", input = { path = "/in.jsonl", prompt_column = "p" }, output = { path = "/out" } }`,
			`(?s)These attributes cannot be configured together.*\[entrypoint,vllm\]|(?s)Exactly one of these attributes must be configured`},
		"neither mode":       {`metadata = { a = "b" }`, `(?s)No attribute specified when one \(and only one\) of \[.*entrypoint.*\] is\s+required|Exactly one of these attributes must be configured`},
		"relative input":     {`vllm = { model_source = "m", input = { path = "in.jsonl", prompt_column = "p" }, output = { path = "/out" } }`, `(?s)vllm\.input\.path.*must be an absolute path`},
		"unknown format":     {`vllm = { model_source = "m", input = { path = "/data/in", prompt_column = "p" }, output = { path = "/out" } }`, `(?s)Invalid vllm\.input\.format.*cannot tell the format`},
		"two prompt columns": {`vllm = { model_source = "m", input = { path = "/in.csv", prompt_column = "p", messages_column = "m" }, output = { path = "/out" } }`, `(?s)Invalid vllm\.input.*set exactly one of prompt_column and messages_column`},
		"bad format":         {`vllm = { model_source = "m", input = { path = "/in.xml", format = "xml", prompt_column = "p" }, output = { path = "/out" } }`, `(?s)vllm\.input\.format.*value must be one of:\s+\["jsonl"\s+"parquet"\s+"csv"\s+"openai_batch"\]`},
		"retries no wait":    {"entrypoint = \"x\"\n  wait_for_completion = false\n  max_retries = 1", `max_retries needs wait_for_completion`},
		"deadline no wait":   {"entrypoint = \"x\"\n  wait_for_completion = false\n  active_deadline_seconds = 5", `active_deadline_seconds needs wait_for_completion`},
		"reserved metadata":  {"entrypoint = \"x\"\n  metadata = { \"rayvllm.mode\" = \"x\" }", `Reserved metadata key`},
		"extra_json dup":     {"entrypoint = \"x\"\n  runtime_env = { extra_json = jsonencode({ pip = [\"a\"] }) }", `(?s)"pip" is set in extra_json; use the runtime_env\.pip attribute`},
		"gpus per replica":   {`vllm = { model_source = "m", tensor_parallel_size = 2, num_gpus_per_replica = 1, input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" } }`, `(?s)vllm\.num_gpus_per_replica.*exactly 2 GPUs`},
		"does not fit": {`vllm = { model_source = "meta-llama/Llama-3.1-70B", accelerator_type = "L4", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" }, sampling = { max_tokens = 16 } }`,
			`(?s)meta-llama/Llama-3\.1-70B does not fit on L4.*GiB short per GPU.*Would fit:.*` + phrase("Change the vllm block")},
		"tp does not divide heads": {`vllm = { model_source = "Qwen/Qwen2.5-7B-Instruct", accelerator_type = "A10G", tensor_parallel_size = 3, input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" }, sampling = { max_tokens = 16 } }`,
			`(?s)Invalid vllm\.tensor_parallel_size`},
		"cpu with gpu type": {`vllm = { model_source = "m", accelerator = "cpu", accelerator_type = "L4", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" } }`,
			`(?s)vllm\.accelerator_type.*accelerator = "cpu" runs the engines on CPUs`},
		"bad accelerator": {`vllm = { model_source = "m", accelerator = "tpu", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" } }`,
			`(?s)vllm\.accelerator.*value must be one of: \["gpu" "cpu"\]`},
		"kv_cache_dtype as in the worker": {`vllm = { model_source = "m", kv_cache_dtype = "fp16", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" } }`,
			`(?s)vllm\.kv_cache_dtype value must be one of:.*"fp8_e5m2"\], got: "fp16"`},
		"bad on_row_error": {`vllm = { model_source = "m", on_row_error = "ignore", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" } }`,
			`(?s)vllm\.on_row_error value must be one of: \["fail" "skip"\]`},
		"missing max_tokens": {`vllm = { model_source = "m", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" } }`,
			`(?s)Missing vllm\.sampling\.max_tokens.*` + phrase("default of 16 tokens would cut every answer at 16")},
		"missing working_dir": {"entrypoint = \"x\"\n  runtime_env = { working_dir = \"/nonexistent/dir\" }", `(?s)Cannot package runtime_env\.working_dir.*/nonexistent/dir`},
	} {
		t.Run(name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      "resource \"rayvllm_batch_job\" \"x\" {\n  " + tc.config + "\n}\n",
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.err),
				}},
			})
		})
	}
}

// The resource's fit error is rayvllm_gpu_fit's, except for the advice
// about require_fit, which the resource does not have.
func TestCheckFitSameMessageAsDataSource(t *testing.T) {
	maxLen := int64(8192)
	c := batchjob.Config{ModelSource: "meta-llama/Llama-3.1-70B", AcceleratorType: "L4", EngineKwargs: batchjob.Engine{MaxModelLen: &maxLen}}
	var diags diag.Diagnostics
	checkFit(c, &diags)
	if diags.ErrorsCount() != 1 {
		t.Fatalf("want one error, got %v", diags)
	}
	model, _ := hfconfig.LookupModel(c.ModelSource)
	gpu, _ := catalog.LookupGPU("L4")
	in := hardware.FitInput{Model: model, GPU: gpu, TensorParallelSize: 1, Quantization: "none", KVCacheDType: "auto", MaxModelLen: 8192, GPUMemoryUtilization: 0.9}
	res, err := hardware.Fit(in)
	if err != nil || res.Fits {
		t.Fatalf("the data source's engine says fits=%v err=%v", res.Fits, err)
	}
	wantSummary, wantDetail := misfitError(in, res, requireFitHint)
	got := diags.Errors()[0]
	shared, _, _ := strings.Cut(wantDetail, "Set require_fit")
	// The suggestions name the job's attribute: a Ray accelerator_type, not a catalog gpu.
	shared = strings.Replace(shared, `gpu = "B200" (`, `accelerator_type = "B200" (B200, `, 1)
	if got.Summary() != wantSummary || !strings.HasPrefix(got.Detail(), shared) || strings.Contains(got.Detail(), "require_fit") {
		t.Fatalf("got %q / %q\nwant %q / %q (without the require_fit advice)", got.Summary(), got.Detail(), wantSummary, wantDetail)
	}
	t.Logf("%s\n%s", got.Summary(), got.Detail())
}

func TestCheckFitSkipsWhatTheEngineCannotModel(t *testing.T) {
	notModelled := "experts_int8"
	for name, c := range map[string]batchjob.Config{
		"model path":   {ModelSource: "/models/my-finetune", AcceleratorType: "L4"},
		"experts_int8": {ModelSource: "Qwen/Qwen2.5-7B-Instruct", AcceleratorType: "L4", EngineKwargs: batchjob.Engine{Quantization: &notModelled}},
	} {
		var diags diag.Diagnostics
		checkFit(c, &diags)
		if diags.HasError() || diags.WarningsCount() != 1 || !strings.Contains(diags.Warnings()[0].Detail(), "did not run") {
			t.Errorf("%s: want one 'did not run' warning, got %v", name, diags)
		}
	}
	// A Ray accelerator type outside the GPU catalog has nothing to check
	// against, and no change to ask for: no warning.
	for _, c := range []batchjob.Config{{ModelSource: "Qwen/Qwen2.5-7B-Instruct"}, {ModelSource: "Qwen/Qwen2.5-7B-Instruct", AcceleratorType: "TPU-V5P"}} {
		var diags diag.Diagnostics
		checkFit(c, &diags)
		if len(diags) != 0 {
			t.Errorf("%q: want no diagnostics, got %v", c.AcceleratorType, diags)
		}
	}
}
