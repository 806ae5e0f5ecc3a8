package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/faultproxy"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// rayBackgroundFaults are the seeded faults on every Ray request that no
// scenario-specific rule took: throttling, unavailability, resets, latency.
func rayBackgroundFaults(rate float64) faultproxy.Rule {
	return faultproxy.Rule{Kinds: []faultproxy.Kind{faultproxy.TooManyRequests, faultproxy.Unavailable, faultproxy.Reset, faultproxy.Latency},
		Rate: rate, Latency: 300 * time.Millisecond}
}

// jobsWithPrefix lists the Ray jobs whose submission id starts with prefix.
func jobsWithPrefix(ctx context.Context, c *ray.Client, prefix string) ([]ray.JobDetails, error) {
	jobs, err := c.ListJobs(ctx)
	if err != nil {
		return nil, err
	}
	var out []ray.JobDetails
	for _, j := range jobs {
		if j.SubmissionID != nil && strings.HasPrefix(*j.SubmissionID, prefix) {
			out = append(out, j)
		}
	}
	return out, nil
}

// Scenario 2: the answer to the job submission is dropped after Ray took
// the job. The provider must find the job instead of submitting a second one.
func faultsBatchJobDropped(t *testing.T, seed uint64, run *faultRun) {
	direct := batchJobRay(t)
	p := newFaultProxy(t, os.Getenv("RAY_ADDRESS"), seed, run,
		faultproxy.Rule{Match: `^POST /api/jobs/$`, Kinds: []faultproxy.Kind{faultproxy.DropResponse}, Rate: 1, Max: 1},
		rayBackgroundFaults(0.2))
	config := fmt.Sprintf(`
provider "rayvllm" {
  dashboard_url = %q
}

resource "rayvllm_batch_job" "dropped" {
  entrypoint = "echo fault seed %d run %d"
}
`, p.URL, seed, time.Now().UnixNano())
	var id string
	run.CountsJobs = true
	run.Outcome = "apply failed"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGoneFrom(direct),
		Steps: []resource.TestStep{{
			Config: config,
			Check: func(s *terraform.State) error {
				rs := s.RootModule().Resources["rayvllm_batch_job.dropped"]
				id = rs.Primary.ID
				if got := rs.Primary.Attributes["status"]; got != "SUCCEEDED" {
					return fmt.Errorf("status %s, want SUCCEEDED", got)
				}
				if drops := p.Counts()[faultproxy.DropResponse]; drops != 1 {
					return fmt.Errorf("the proxy dropped %d submission answers, want 1", drops)
				}
				jobs, err := jobsWithPrefix(context.Background(), direct, id)
				if err != nil {
					return err
				}
				run.Duplicates = max(0, len(jobs)-1)
				run.Outcome = fmt.Sprintf("apply ok, %d Ray job(s)", len(jobs))
				run.Class = fmt.Sprintf("apply ok, %d Ray job", len(jobs))
				if len(jobs) != 1 {
					return fmt.Errorf("Ray has %d jobs for submission %s, want exactly 1", len(jobs), id)
				}
				return nil
			},
		}},
	})
}

// batchJobGoneFrom is batchJobGone with a given client.
func batchJobGoneFrom(c *ray.Client) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, rs := range s.RootModule().Resources {
			if rs.Type != "rayvllm_batch_job" {
				continue
			}
			jobs, err := jobsWithPrefix(context.Background(), c, rs.Primary.ID)
			if err != nil {
				return err
			}
			if len(jobs) > 0 {
				return fmt.Errorf("Ray still lists job %s (%s) after destroy", *jobs[0].SubmissionID, jobs[0].Status)
			}
		}
		return nil
	}
}

// armCheck is a plan check that runs f: it arms a fault between the plan
// and the apply of a step.
type armCheck func()

func (a armCheck) CheckPlan(context.Context, plancheck.CheckPlanRequest, *plancheck.CheckPlanResponse) {
	a()
}

// Scenario 3: a worker is updated; the answer to its write of the Serve
// application list is dropped, and before the provider can react someone
// changes another application's config directly on the cluster. The other
// application must keep that change.
func faultsServeConcurrentChange(t *testing.T, seed uint64, run *faultRun) {
	e := testAccServe(t)
	sfx := acctest.RandString(6)
	managed, other := "tfacc-fault-a-"+sfx, "tfacc-fault-other-"+sfx
	e.unmanagedApp(t, other) // deployed directly, Terraform never manages it
	p := newFaultProxy(t, os.Getenv("RAY_ADDRESS"), seed, run,
		faultproxy.Rule{Match: `^GET /api/serve/`, Kinds: []faultproxy.Kind{faultproxy.TooManyRequests, faultproxy.Unavailable, faultproxy.Reset, faultproxy.Latency}, Rate: 0.15, Latency: 300 * time.Millisecond})
	config := func(maxOngoing int) string {
		return fmt.Sprintf(`
provider "rayvllm" {
  dashboard_url = %q
}
`, p.URL) + e.fixtureWorker("a", managed, fmt.Sprintf(`  deployments = [{ name = "Fixture", num_replicas = 1, num_cpus = 0.05, max_ongoing_requests = %d }]`, maxOngoing))
	}
	var changed sync.Once
	var changeErr error
	outside := func() {
		changed.Do(func() {
			// What someone with the Serve CLI does: read, change, write back.
			ctx := context.Background()
			a, _, err := e.client.FindServeApplication(ctx, other)
			if err != nil {
				changeErr = err
				return
			}
			var app map[string]any
			if err := json.Unmarshal(a.DeployedAppConfig, &app); err != nil {
				changeErr = err
				return
			}
			app["deployments"].([]any)[0].(map[string]any)["graceful_shutdown_timeout_s"] = 7
			_, changeErr = e.client.DeployServeApplication(ctx, app, ray.DeployOptions{})
		})
	}
	otherChanged := func() error {
		if changeErr != nil {
			return fmt.Errorf("the outside change failed: %w", changeErr)
		}
		a, _, err := e.client.FindServeApplication(context.Background(), other)
		if err != nil {
			return fmt.Errorf("the other application did not survive: %w", err)
		}
		if !regexp.MustCompile(`"graceful_shutdown_timeout_s":\s*7\b`).Match(a.DeployedAppConfig) {
			return fmt.Errorf("the other application lost the change made outside Terraform: %s", a.DeployedAppConfig)
		}
		return nil
	}
	run.Outcome = "apply failed"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if err := e.gone(managed)(); err != nil {
				return err
			}
			return otherChanged()
		},
		Steps: []resource.TestStep{
			{Config: config(4)},
			{
				Config: config(6),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("rayvllm_vllm_worker.a", plancheck.ResourceActionUpdate),
					armCheck(func() {
						p.OnForwarded(func(ev faultproxy.Event) {
							if ev.Fault == faultproxy.DropResponse {
								outside()
							}
						})
						_ = p.SetRules(
							faultproxy.Rule{Match: `^PUT /api/serve/applications/$`, Kinds: []faultproxy.Kind{faultproxy.DropResponse}, Rate: 1, Max: 1},
							faultproxy.Rule{Match: `^GET /api/serve/`, Kinds: []faultproxy.Kind{faultproxy.TooManyRequests, faultproxy.Unavailable, faultproxy.Reset, faultproxy.Latency}, Rate: 0.15, Latency: 300 * time.Millisecond})
					}),
				}},
				Check: checkFunc(func() error {
					if p.Counts()[faultproxy.DropResponse] != 1 {
						return fmt.Errorf("the proxy dropped %d Serve writes, want 1", p.Counts()[faultproxy.DropResponse])
					}
					a, _, err := e.client.FindServeApplication(context.Background(), managed)
					if err != nil {
						return err
					}
					if !regexp.MustCompile(`"max_ongoing_requests":\s*6\b`).Match(a.DeployedAppConfig) {
						return fmt.Errorf("the managed application was not updated: %s", a.DeployedAppConfig)
					}
					if err := otherChanged(); err != nil {
						run.Outcome = "update ok, other app's change LOST"
						return err
					}
					run.Outcome = "update ok, other app kept its outside change"
					run.Class = run.Outcome
					return nil
				}),
			},
		},
	})
}

// dedicatedRay is a Ray head of this test's own, started by head.sh in its
// local mode like .ci/services.sh does, that the test may restart without
// disturbing the shared head. It keeps its ports and token across restarts.
type dedicatedRay struct {
	root    string
	dir     string
	token   string
	env     []string
	address string
	cmd     *exec.Cmd
}

func startDedicatedRay(t *testing.T) *dedicatedRay {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join(root, ".tmp"), "fr") //nolint:usetesting // Ray puts unix sockets under it: t.TempDir() paths are too long
	if err != nil {
		t.Fatal(err)
	}
	token, err := ec2cluster.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{}
	for _, k := range []string{"gcs", "dash", "client", "agent", "metrics"} {
		ports[k] = freePort(t)
	}
	d := &dedicatedRay{root: root, dir: dir, token: token, address: fmt.Sprintf("http://127.0.0.1:%d", ports["dash"])}
	d.env = append(os.Environ(),
		"PATH="+filepath.Join(root, ".venv", "bin")+":"+os.Getenv("PATH"),
		"RAY_AUTH_TOKEN="+token, "RAYVLLM_MODE=local", "RAYVLLM_HOME="+dir, "RAYVLLM_VENV="+filepath.Join(root, ".venv"),
		"RAYVLLM_RAY_VERSION=2.60.0", "RAYVLLM_CLUSTER=faults", "RAYVLLM_NODE_IP=127.0.0.1", "RAYVLLM_DASHBOARD_HOST=127.0.0.1",
		fmt.Sprintf("RAYVLLM_GCS_PORT=%d", ports["gcs"]), fmt.Sprintf("RAYVLLM_DASHBOARD_PORT=%d", ports["dash"]),
		fmt.Sprintf("RAYVLLM_CLIENT_PORT=%d", ports["client"]), "RAYVLLM_NUM_CPUS=2", "RAYVLLM_TEMP_DIR="+filepath.Join(dir, "ray"),
		fmt.Sprintf("RAYVLLM_EXTRA_RAY_ARGS=--dashboard-agent-listen-port=%d --metrics-export-port=%d --min-worker-port=0 --max-worker-port=0", ports["agent"], ports["metrics"]),
	)
	t.Cleanup(func() {
		d.stop()
		_ = os.RemoveAll(dir)
	})
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// start runs head.sh in its own process group and waits for the dashboard.
func (d *dedicatedRay) start() error {
	log, err := os.OpenFile(filepath.Join(d.dir, "ray.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(d.root, "internal", "ec2cluster", "scripts", "head.sh"))
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = d.dir, d.env, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return err
	}
	d.cmd = cmd
	go func() { _ = cmd.Wait(); _ = log.Close() }()
	c, err := ray.New(ray.Config{Address: d.address, Token: d.token, RetryMax: 1})
	if err != nil {
		return err
	}
	// Generous: the machine may be shared and loaded.
	err = retry.Until(context.Background(), 5*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		_, err := c.Version(ctx)
		return err == nil, err
	})
	if err != nil {
		b, _ := os.ReadFile(filepath.Join(d.dir, "ray.log"))
		return fmt.Errorf("dedicated Ray head did not come up: %w\n%s", err, tailLines(string(b), 30))
	}
	return nil
}

// stop kills the head's process group (ray start --block keeps Ray's
// daemons in it), then, by PID, any process that still runs out of this
// head's own directory, and waits until they are gone.
func (d *dedicatedRay) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	pgid := d.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = retry.Until(context.Background(), 30*time.Second, 200*time.Millisecond, func(context.Context) (bool, error) {
		return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH), nil
	})
	for _, pid := range pidsUsing(d.dir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = retry.Until(context.Background(), 30*time.Second, 200*time.Millisecond, func(context.Context) (bool, error) {
		return len(pidsUsing(d.dir)) == 0, nil
	})
	d.cmd = nil
}

// pidsUsing lists the live processes whose command line names dir.
func pidsUsing(dir string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// Scenario 5: the Ray head restarts while the provider waits for a job. Ray
// without GCS fault tolerance forgets the job; the apply must say so and end.
func faultsHeadRestart(t *testing.T, seed uint64, run *faultRun) {
	if testing.Short() {
		t.Skip("starts a Ray head of its own")
	}
	d := startDedicatedRay(t)
	p := newFaultProxy(t, d.address, seed, run, rayBackgroundFaults(0.1))
	pidFile := filepath.Join(d.dir, "job.pid")
	t.Cleanup(func() {
		// The job's driver runs in a session of its own; make sure it is gone.
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err == nil && strings.HasPrefix(string(cmdline), "sleep\x00300") {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	// The seed decides how long the head stays down: 0, 15 or 30 s, the
	// latter longer than the Ray client's own retries (1+2+4+8 s).
	down := time.Duration(seed%3) * 15 * time.Second
	var restarted sync.Once
	var restartDone = make(chan struct{})
	var restartErr error
	p.OnForwarded(func(ev faultproxy.Event) {
		if strings.HasPrefix(ev.Key, "GET /api/jobs/rayvllm-") && ev.Status == 200 {
			restarted.Do(func() {
				go func() {
					defer close(restartDone)
					// Let the job start, then restart the head.
					_ = retry.Until(context.Background(), 30*time.Second, 200*time.Millisecond, func(context.Context) (bool, error) {
						_, err := os.Stat(pidFile)
						return err == nil, nil
					})
					t.Logf("restarting the dedicated Ray head, down for %s", down)
					d.stop()
					time.Sleep(down)
					if restartErr = d.start(); restartErr == nil {
						t.Logf("dedicated Ray head is back")
					}
				}()
			})
		}
	})
	config := fmt.Sprintf(`
provider "rayvllm" {
  dashboard_url = %q
  auth_token    = %q
}

resource "rayvllm_batch_job" "lost" {
  entrypoint = "echo $$ > %s; exec sleep 300"
}
`, p.URL, d.token, pidFile)
	start := time.Now()
	run.CountsJobs = true
	run.Outcome = "no error"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: regexp.MustCompile(`(?s)Ray job lost.*` + phrase("the Ray head restarted while the provider waited for it")),
		}},
	})
	took := time.Since(start)
	select {
	case <-restartDone:
	case <-time.After(6 * time.Minute):
		t.Fatal("the head restart never finished")
	}
	if restartErr != nil {
		t.Fatalf("restarting the head: %v", restartErr)
	}
	// "Does not hang": the apply ends soon after the head is back.
	if took > down+3*time.Minute {
		t.Errorf("the apply took %s with the head down for %s", took, down)
	}
	// The provider reports the job; it does not resubmit it behind the
	// user's back (the next apply does, as the resource is tainted).
	jobs, err := jobsWithPrefix(context.Background(), d.client(t), "rayvllm-")
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) > 0 {
		run.Duplicates = len(jobs)
		t.Errorf("the restarted head has %d jobs from the provider, want 0 until the next apply", len(jobs))
	}
	if !t.Failed() {
		run.Outcome = fmt.Sprintf("apply failed: job reported lost (head down %s, apply ended after %s)", down, took.Round(time.Second))
		run.Class = "apply failed: job reported lost, no hang"
	}
}

func (d *dedicatedRay) client(t *testing.T) *ray.Client {
	c, err := ray.New(ray.Config{Address: d.address, Token: d.token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
