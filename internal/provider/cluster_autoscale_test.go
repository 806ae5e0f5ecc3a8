package provider

// Acceptance tests of autoscaled worker groups on internal/ec2box: the
// head runs Ray's own autoscaler (v2, AWS node provider), whose EC2 calls
// go to moto; the instances it launches boot in the box from their own
// user data and join Ray by themselves.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/faultproxy"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// autoscaledConfig is boxConfig with one autoscaled group (g5.xlarge: 1 GPU
// and 4 vCPUs in moto's catalog) and a 1-minute idle timeout. spot adds a
// spot block with the on-demand fallback.
func (e *boxEnv) autoscaledConfig(name, ec2URL string, minW, maxW int, spot bool) string {
	cfg := e.boxConfig(name, ec2URL, boxGroup{name: "a10g", instanceType: "g5.xlarge", count: -1})
	grp := fmt.Sprintf("min_workers   = %d\n    max_workers   = %d", minW, maxW)
	if spot {
		grp += "\n    spot_fallback_to_on_demand = true\n    spot {}"
	}
	cfg = strings.Replace(cfg, "count         = -1", grp, 1)
	// The head's IAM role goes to moto too (the box's endpoint forwards to it).
	cfg = strings.Replace(cfg, "    endpoints {\n", fmt.Sprintf("    endpoints {\n      iam = %q\n", ec2URL), 1)
	return strings.Replace(cfg, "  head {\n", "  idle_timeout_minutes = 1\n\n  head {\n", 1)
}

// autoscaled returns the live instances Ray's autoscaler launched for the
// cluster, as moto reports them.
func (e *boxEnv) autoscaled(t *testing.T, name string) []ec2cluster.Instance {
	insts, err := e.c.FindInstances(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	var out []ec2cluster.Instance
	for _, i := range insts {
		if ec2cluster.IsAutoscalerInstance(name, i) && i.Live() {
			out = append(out, i)
		}
	}
	return out
}

// twoGPUTasks needs two workers' resources at once: two tasks of one GPU
// each (a g5.xlarge has one), which print where they ran.
var twoGPUTasks = testPython("two_gpu_tasks.py")

// runJob submits a Python script as a Ray job on the cluster, waits for it
// and returns its RESULT line.
func runJob(ctx context.Context, s *terraform.State, script string, wait time.Duration) (string, error) {
	c, _, err := rayOf(s)
	if err != nil {
		return "", err
	}
	sub, err := c.SubmitJob(ctx, ray.JobSubmitRequest{Entrypoint: "python -c " + shellQuote(script), SubmissionID: acctest.RandomWithPrefix("rayvllm-test")})
	if err != nil {
		return "", err
	}
	var job *ray.JobDetails
	err = retry.Until(ctx, wait, 2*time.Second, func(ctx context.Context) (bool, error) {
		job, err = c.GetJob(ctx, sub.SubmissionID)
		return err == nil && job.Status.Terminal(), err
	})
	logs, _ := c.JobLogs(ctx, sub.SubmissionID)
	if err != nil || job.Status != ray.JobSucceeded {
		return "", fmt.Errorf("job: %v, status %v:\n%s", err, job, tailLines(logs, 40))
	}
	for _, l := range strings.Split(logs, "\n") {
		if strings.HasPrefix(l, "RESULT ") {
			return strings.TrimPrefix(l, "RESULT "), nil
		}
	}
	return "", fmt.Errorf("job printed no RESULT:\n%s", tailLines(logs, 40))
}

// TestAccInferenceCluster_autoscaleFromZero: a group with min 0 / max 2
// starts with no worker; a job needing two GPUs makes Ray's autoscaler
// launch two instances in moto, which boot in the box, join, and run the
// job; after it both are terminated within idle_timeout_minutes (1) + 2.
func TestAccInferenceCluster_autoscaleFromZero(t *testing.T) {
	e2ePreCheck(t)
	e := newBoxEnv(t)
	name := acctest.RandomWithPrefix("asz")
	e.safetyNet(t, name)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(e.checkDestroyed, e.checkBoxEmpty),
		Steps: []resource.TestStep{{
			Config: e.autoscaledConfig(name, e.box.EC2URL(), 0, 2, false),
			Check: resource.ComposeTestCheckFunc(
				resource.TestCheckNoResourceAttr(clusterAddr, "worker_group.0.count"),
				resource.TestCheckResourceAttr(clusterAddr, "worker_group.0.instance_ids.#", "0"),
				resource.TestCheckResourceAttr(clusterAddr, "total_gpus", "0"),
				func(s *terraform.State) error {
					if n := len(e.autoscaled(t, name)); n != 0 {
						return fmt.Errorf("%d workers before any demand, want 0 (min_workers = 0)", n)
					}
					ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
					defer cancel()
					start := time.Now()
					res, err := runJob(ctx, s, twoGPUTasks, 14*time.Minute)
					if err != nil {
						return err
					}
					jobEnd := time.Now()
					var ips []string
					if err := json.Unmarshal([]byte(res), &ips); err != nil {
						return err
					}
					workers := e.autoscaled(t, name)
					var workerIPs []string
					for _, w := range workers {
						workerIPs = append(workerIPs, w.PrivateIP)
						if w.Group != "a10g" || w.Tags[ec2cluster.RayTagUserNodeType] != "a10g" {
							return fmt.Errorf("autoscaled instance %s has tags %v", w.ID, w.Tags)
						}
					}
					slices.Sort(ips)
					if len(workers) != 2 || ips[0] == ips[1] || !slices.Contains(workerIPs, ips[0]) || !slices.Contains(workerIPs, ips[1]) {
						return fmt.Errorf("the two GPU tasks ran on %v; the autoscaler's live instances are at %v (want the two, one task each)", ips, workerIPs)
					}
					t.Logf("scale-up: job of two GPU tasks done in %s on autoscaled workers %v", jobEnd.Sub(start).Round(time.Second), workerIPs)
					var left []ec2cluster.Instance
					err = retry.Until(ctx, 3*time.Minute, 5*time.Second, func(context.Context) (bool, error) {
						left = e.autoscaled(t, name)
						return len(left) == 0, nil
					})
					if err != nil {
						return fmt.Errorf("%d autoscaled workers still live %s after the job (idle_timeout_minutes 1 + 2): %v", len(left), time.Since(jobEnd).Round(time.Second), left)
					}
					t.Logf("scale-down: no worker left %s after the job", time.Since(jobEnd).Round(time.Second))
					return nil
				},
			),
		}},
	})
}

// TestAccInferenceCluster_autoscalerNotDrift: with min_workers 1 the
// autoscaler launches a worker by itself; once it has joined Ray, a plan
// shows no changes (the autoscaler's instances are not drift). Then the
// worker is terminated out of band, as EC2 does to an interrupted spot
// instance: the autoscaler replaces it, the new node joins, and the plan
// is still empty. Destroy leaves none of the autoscaler's instances.
func TestAccInferenceCluster_autoscalerNotDrift(t *testing.T) {
	heavyScenario(t)
	e2ePreCheck(t)
	e := newBoxEnv(t)
	name := acctest.RandomWithPrefix("asd")
	e.safetyNet(t, name)
	cfg := e.autoscaledConfig(name, e.box.EC2URL(), 1, 1, false)
	var first string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(e.checkDestroyed, e.checkBoxEmpty, e.checkNoAutoscaled(t, name)),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: resource.ComposeTestCheckFunc(
					e.waitAutoscaledJoined(t, name, 1, "a10g"),
					func(*terraform.State) error {
						first = e.autoscaled(t, name)[0].ID
						return nil
					},
				),
			},
			{Config: cfg, PlanOnly: true},
			{
				PreConfig: func() {
					if err := e.c.Terminate(t.Context(), []string{first}); err != nil {
						t.Fatal(err)
					}
					t.Logf("terminated the autoscaler's worker %s out of band", first)
				},
				Config: cfg,
				Check: resource.ComposeTestCheckFunc(
					e.waitAutoscaledJoined(t, name, 1, "a10g"),
					func(*terraform.State) error {
						if id := e.autoscaled(t, name)[0].ID; id == first {
							return fmt.Errorf("the terminated worker %s is still the live one", id)
						}
						return nil
					},
				),
			},
			{Config: cfg, PlanOnly: true},
		},
	})
}

// waitAutoscaledJoined waits until n autoscaled instances of nodeType are
// live in moto and alive in Ray at their private IPs.
func (e *boxEnv) waitAutoscaledJoined(t *testing.T, name string, n int, nodeType string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c, _, err := rayOf(s)
		if err != nil {
			return err
		}
		var last error
		err = retry.Until(t.Context(), 10*time.Minute, 5*time.Second, func(ctx context.Context) (bool, error) {
			ws := e.autoscaled(t, name)
			var of []ec2cluster.Instance
			for _, w := range ws {
				if w.Tags[ec2cluster.RayTagUserNodeType] == nodeType {
					of = append(of, w)
				}
			}
			if len(of) != n {
				last = fmt.Errorf("%d live autoscaled %s instances, want %d (all: %d)", len(of), nodeType, n, len(ws))
				return false, last
			}
			nodes, err := c.ListNodes(ctx)
			if err != nil {
				last = err
				return false, err
			}
			alive := map[string]bool{}
			for _, nd := range nodes {
				if nd.Alive() {
					alive[nd.NodeIP] = true
				}
			}
			for _, w := range of {
				if !alive[w.PrivateIP] {
					last = fmt.Errorf("autoscaled %s at %s is not an alive Ray node yet", w.ID, w.PrivateIP)
					return false, last
				}
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("%w (last: %v)", err, last)
		}
		return nil
	}
}

// checkNoAutoscaled is CheckDestroy's part for the autoscaler's instances.
func (e *boxEnv) checkNoAutoscaled(t *testing.T, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if ws := e.autoscaled(t, name); len(ws) > 0 {
			return fmt.Errorf("after destroy the autoscaler's instances %v are live", ws)
		}
		return nil
	}
}

// oneGPUTask needs one worker's GPU.
var oneGPUTask = testPython("one_gpu_task.py")

// TestAccInferenceCluster_spotFallback: EC2 has no spot capacity (the fault
// proxy between the head's autoscaler and moto answers every spot
// RunInstances with InsufficientInstanceCapacity); a job needing a GPU of
// the spot group runs on the instance the autoscaler launched on demand
// instead.
func TestAccInferenceCluster_spotFallback(t *testing.T) {
	heavyScenario(t)
	e2ePreCheck(t)
	e := newBoxEnv(t)
	name := acctest.RandomWithPrefix("asf")
	e.safetyNet(t, name)
	proxy, err := faultproxy.NewOn(e.box.Gateway()+":0", e.moto, 1, faultproxy.Rule{
		Match: `^EC2\.RunInstances$`, Body: `InstanceMarketOptions\.MarketType=spot`, Kinds: []faultproxy.Kind{faultproxy.InsufficientCapacity}, Rate: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	e.box.SetInstanceEC2URL(proxy.URL)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(e.checkDestroyed, e.checkBoxEmpty, e.checkNoAutoscaled(t, name)),
		Steps: []resource.TestStep{{
			Config: e.autoscaledConfig(name, e.box.EC2URL(), 0, 1, true),
			Check: func(s *terraform.State) error {
				ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
				defer cancel()
				res, err := runJob(ctx, s, oneGPUTask, 14*time.Minute)
				if err != nil {
					return fmt.Errorf("%w\nfault proxy: %s", err, proxy.Summary())
				}
				var ip string
				if err := json.Unmarshal([]byte(res), &ip); err != nil {
					return err
				}
				refused := proxy.Counts()[faultproxy.InsufficientCapacity]
				if refused == 0 {
					return fmt.Errorf("the autoscaler made no spot launch (fault proxy: %s)", proxy.Summary())
				}
				for _, w := range e.autoscaled(t, name) {
					if w.PrivateIP != ip {
						continue
					}
					if w.Spot || w.Tags[ec2cluster.TagMarket] != "on-demand-fallback" || w.Tags[ec2cluster.RayTagUserNodeType] != "a10g" {
						return fmt.Errorf("the GPU task ran on %s (spot %v, tags %v), want an on-demand fallback of node type a10g", w.ID, w.Spot, w.Tags)
					}
					t.Logf("spot refused %d times; the task ran on %s, launched on demand as node type %s (%s=%s)", refused, w.ID, w.Tags[ec2cluster.RayTagUserNodeType], ec2cluster.TagMarket, w.Tags[ec2cluster.TagMarket])
					return nil
				}
				return fmt.Errorf("the GPU task ran on %s, which is no live autoscaled instance", ip)
			},
		}},
	})
}

// billedMinutes is, per cluster instance that is not the head, the minutes
// from moto's launch time to its termination time (moto writes "User
// initiated (YYYY-MM-DD HH:MM:SS UTC)" into StateTransitionReason when it
// terminates an instance), for terminated instances only.
func (e *boxEnv) billedMinutes(t *testing.T, name string) (workers int, minutes float64) {
	out, err := e.c.EC2.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + ec2cluster.TagCluster), Values: []string{name}},
		{Name: aws.String("tag:" + ec2cluster.TagRole), Values: []string{ec2cluster.RoleWorker}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			reason := aws.ToString(i.StateTransitionReason)
			lo, hi := strings.Index(reason, "("), strings.LastIndex(reason, ")")
			if i.State == nil || i.State.Name != ec2types.InstanceStateNameTerminated || lo < 0 || hi < lo {
				t.Fatalf("worker %s is %v (%q): not terminated", aws.ToString(i.InstanceId), i.State, reason)
			}
			end, err := time.Parse("2006-01-02 15:04:05 MST", reason[lo+1:hi])
			if err != nil {
				t.Fatalf("worker %s: termination time %q: %v", aws.ToString(i.InstanceId), reason, err)
			}
			workers++
			minutes += end.Sub(aws.ToTime(i.LaunchTime)).Minutes()
		}
	}
	return workers, minutes
}

// TestBenchAutoscaleBilling (make bench-autoscale) runs the same job, two
// one-GPU tasks of benchTaskSeconds each, on a fixed group of two and on an
// autoscaled group (min 0, max 2, idle timeout 1 min), each on a cluster
// created for it; both clusters stay up for the same window after the job
// (2 min: the 1-minute idle timeout plus the autoscaler's reaction)
// before destroy. It reports the GPU instance-minutes billed per job, from
// moto's launch and terminate times, in .tmp/bench-autoscale.md.
func TestBenchAutoscaleBilling(t *testing.T) {
	if os.Getenv("RAYVLLM_BENCH_AUTOSCALE") == "" {
		t.Skip("benchmark: make bench-autoscale")
	}
	e2ePreCheck(t)
	const benchTaskSeconds = 60
	job := strings.Replace(twoGPUTasks, "time.sleep(5)", fmt.Sprintf("time.sleep(%d)", benchTaskSeconds), 1)
	window := 2 * time.Minute
	type row struct {
		mode                string
		workers             int
		minutes, jobSeconds float64
	}
	var rows []row
	for _, mode := range []string{"fixed", "autoscaled"} {
		e := newBoxEnv(t)
		name := acctest.RandomWithPrefix("bas")
		e.safetyNet(t, name)
		cfg := e.autoscaledConfig(name, e.box.EC2URL(), 0, 2, false)
		if mode == "fixed" {
			cfg = e.boxConfig(name, e.box.EC2URL(), boxGroup{name: "a10g", instanceType: "g5.xlarge", count: 2})
		}
		var r row
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			CheckDestroy:             resource.ComposeTestCheckFunc(e.checkDestroyed, e.checkBoxEmpty),
			Steps: []resource.TestStep{{
				Config: cfg,
				Check: func(s *terraform.State) error {
					ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
					defer cancel()
					start := time.Now()
					if _, err := runJob(ctx, s, job, 15*time.Minute); err != nil {
						return err
					}
					r.jobSeconds = time.Since(start).Seconds()
					time.Sleep(window)
					return nil
				},
			}},
		})
		r.mode = mode
		r.workers, r.minutes = e.billedMinutes(t, name)
		rows = append(rows, r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| Worker group | Job (2 × %d s GPU tasks) wall time | GPU instances launched | GPU instance-minutes billed |\n|---|---|---|---|\n", benchTaskSeconds)
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %.0f s | %d | %.1f |\n", r.mode, r.jobSeconds, r.workers, r.minutes)
	}
	fmt.Fprintf(&b, "\nRatio autoscaled / fixed GPU instance-minutes: %.2f (window after the job before destroy: %s; fixed workers launched at apply, autoscaled on demand, idle timeout 1 min).\n",
		rows[1].minutes/rows[0].minutes, window)
	if err := os.WriteFile(repoPath(t, ".tmp/bench-autoscale.md"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
}

// heavyScenario skips a scenario that make test leaves to make test-ec2box
// (RAYVLLM_HEAVY_SCENARIOS=1), to keep CI within its time budget: each boots
// several hosts in the box and waits for Ray's autoscaler.
func heavyScenario(t *testing.T) {
	t.Helper()
	if os.Getenv("RAYVLLM_HEAVY_SCENARIOS") == "" {
		t.Skip("heavy EC2-in-a-box scenario: runs in make test-ec2box (RAYVLLM_HEAVY_SCENARIOS=1), not in make test")
	}
}
