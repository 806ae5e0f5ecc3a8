package provider

// Acceptance tests on internal/ec2box ("EC2 in a box"): every instance the
// cluster launches in moto boots as a network-namespace host that runs its
// own user data, so the head and worker scripts, IMDSv2, SSM, the pinned Ray,
// token auth across nodes, labels and resources are exercised for real. See
// docs/reliability.md ("EC2 in a box") for what is simulated.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2box"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// boxEnv is moto (awsEnv) plus the box that boots its instances.
type boxEnv struct {
	*awsEnv
	box  *ec2box.Box
	moto string
}

// newBoxEnv starts a box whose default image has the test venv baked in.
func newBoxEnv(t *testing.T) *boxEnv {
	t.Helper()
	e := newAWSEnv(t)
	b := ec2box.New(t, repoPath(t, ".venv"), ec2box.Options{})
	return &boxEnv{awsEnv: e, box: b, moto: os.Getenv("RAYVLLM_TEST_MOTO_URL")}
}

// boxGroup is a worker group of boxConfig.
type boxGroup struct {
	name, instanceType string
	count              int
	ami                string // "" = the cluster's
}

// boxConfig is a cluster in the box's subnet that waits for Ray, with the
// provider's EC2 calls going to ec2 (the box's endpoint, or a fault proxy
// in front of it).
func (e *boxEnv) boxConfig(name, ec2 string, groups ...boxGroup) string {
	var gs strings.Builder
	for _, g := range groups {
		ami := ""
		if g.ami != "" {
			ami = fmt.Sprintf("ami_id = %q", g.ami)
		}
		fmt.Fprintf(&gs, "  worker_group {\n    name          = %q\n    instance_type = %q\n    count         = %d\n    %s\n  }\n", g.name, g.instanceType, g.count, ami)
	}
	return fmt.Sprintf(`
terraform {
  required_providers {
    rayvllm = { source = "rayvllm/rayvllm" }
  }
}

provider "rayvllm" {
  aws {
    max_backoff_seconds = 2
    endpoints {
      ec2 = %[1]q
      ssm = %[1]q
    }
  }
}

resource "rayvllm_inference_cluster" "test" {
  name                    = %[2]q
  ami_id                  = %[3]q
  subnet_id               = %[4]q
  iam_instance_profile    = %[5]q
  ray_version             = %[6]q
  vllm_version            = %[7]q
  dashboard_ingress_cidrs = [%[8]q]

  head {
    instance_type = "m5.large"
  }
%[9]s
  timeouts = {
    create = "10m"
    update = "10m"
  }
}
`, ec2, name, e.ami, e.box.SubnetID(), e.profile, versions.Tested.Ray, versions.Tested.VLLM, e.box.CIDR(), gs.String())
}

// rayOf is a client for the cluster's dashboard, from state.
func rayOf(s *terraform.State) (*ray.Client, string, error) {
	rs, ok := s.RootModule().Resources[clusterAddr]
	if !ok {
		return nil, "", fmt.Errorf("%s is not in state", clusterAddr)
	}
	url, token := rs.Primary.Attributes["dashboard_url"], rs.Primary.Attributes["auth_token"]
	c, err := ray.New(ray.Config{Address: url, Token: token})
	return c, url, err
}

// checkRayNodes checks, within a minute (a terminated node leaves Ray when
// its raylet has stopped), that Ray's alive nodes are exactly the cluster's
// live instances: the head without CPUs or GPUs for tasks, each worker with
// its group's labels, GPUs and accelerator_type resource. want is the live
// count per group.
func (e *boxEnv) checkRayNodes(t *testing.T, name string, want map[string]int, accel map[string]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c, _, err := rayOf(s)
		if err != nil {
			return err
		}
		var last error
		_ = retry.Until(context.Background(), time.Minute, 2*time.Second, func(ctx context.Context) (bool, error) {
			last = e.compareRayNodes(ctx, t, c, name, want, accel)
			return last == nil, last
		})
		if last == nil && len(e.box.Hosts()) != len(e.box.Namespaces()) {
			last = fmt.Errorf("the box has %d hosts but %d namespaces", len(e.box.Hosts()), len(e.box.Namespaces()))
		}
		return last
	}
}

func (e *boxEnv) compareRayNodes(ctx context.Context, t *testing.T, c *ray.Client, name string, want map[string]int, accel map[string]string) error {
	live := e.liveByGroup(t, name)
	byIP := map[string]string{} // private IP → head or group
	for g, insts := range live {
		if g != "head" && len(insts) != want[g] {
			return fmt.Errorf("moto: group %s has %d live instances, want %d", g, len(insts), want[g])
		}
		for _, i := range insts {
			byIP[i.PrivateIP] = g
		}
	}
	nodes, err := c.ListNodes(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		if !n.Alive() {
			continue
		}
		g, ok := byIP[n.NodeIP]
		if !ok {
			return fmt.Errorf("Ray node %s at %s is alive but no live instance has that IP (left over)", n.NodeID, n.NodeIP)
		}
		seen[n.NodeIP] = true
		if g == "head" {
			if !n.IsHeadNode || n.ResourcesTotal["GPU"] != 0 || n.ResourcesTotal["CPU"] != 0 {
				return fmt.Errorf("head node %s: is_head %v, resources %v; want the head with no CPU or GPU for tasks", n.NodeIP, n.IsHeadNode, n.ResourcesTotal)
			}
			continue
		}
		it := catalogGPU(t, e.groupType(t, name, g))
		wantLabels := map[string]string{"rayvllm.io/group": g, "rayvllm.io/accelerator-type": accel[g]}
		for k, v := range wantLabels {
			if n.Labels[k] != v {
				return fmt.Errorf("worker %s of %s: label %s=%q, want %q (labels %v)", n.NodeIP, g, k, n.Labels[k], v, n.Labels)
			}
		}
		if n.ResourcesTotal["GPU"] != float64(it.GPUCount) || n.ResourcesTotal["accelerator_type:"+accel[g]] != 1 {
			return fmt.Errorf("worker %s of %s: resources %v, want GPU %d and accelerator_type:%s 1", n.NodeIP, g, n.ResourcesTotal, it.GPUCount, accel[g])
		}
	}
	for ip, g := range byIP {
		if !seen[ip] {
			return fmt.Errorf("%s instance at %s is not an alive Ray node", g, ip)
		}
	}
	return nil
}

// groupType is the instance type of a live instance of the group.
func (e *boxEnv) groupType(t *testing.T, name, group string) string {
	for _, i := range e.liveByGroup(t, name)[group] {
		return i.InstanceType
	}
	return ""
}

// pinnedTasks is a Ray job whose driver (on the head) runs one task per
// worker group, pinned with the group's node label, and one GPU task per
// accelerator type, and prints where each ran.
var pinnedTasks = testPython("pinned_tasks.py")

// checkPinnedTasks runs pinnedTasks on the cluster and checks that each
// task ran on a node of its group / accelerator type.
func (e *boxEnv) checkPinnedTasks(t *testing.T, name string, accel map[string]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c, _, err := rayOf(s)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var groups, types []string
		for g, a := range accel {
			groups, types = append(groups, g), append(types, a)
		}
		sort.Strings(groups)
		sort.Strings(types)
		// `python` resolves through the PATH of the head's unit: the venv.
		entry := fmt.Sprintf("python -c %s %s %s", shellQuote(pinnedTasks), strings.Join(groups, ","), strings.Join(types, ","))
		sub, err := c.SubmitJob(ctx, ray.JobSubmitRequest{Entrypoint: entry, SubmissionID: acctest.RandomWithPrefix("pinned-tasks")})
		if err != nil {
			return err
		}
		var job *ray.JobDetails
		err = retry.Until(ctx, 4*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
			job, err = c.GetJob(ctx, sub.SubmissionID)
			return err == nil && job.Status.Terminal(), err
		})
		logs, _ := c.JobLogs(ctx, sub.SubmissionID)
		if err != nil || job.Status != ray.JobSucceeded {
			return fmt.Errorf("pinned-task job: %v, status %v:\n%s", err, job, tailLines(logs, 30))
		}
		var res map[string]string
		for _, l := range strings.Split(logs, "\n") {
			if strings.HasPrefix(l, "RESULT ") {
				if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "RESULT ")), &res); err != nil {
					return err
				}
			}
		}
		live := e.liveByGroup(t, name)
		ipsOf := func(group string) []string {
			var ips []string
			for _, i := range live[group] {
				ips = append(ips, i.PrivateIP)
			}
			return ips
		}
		for g, a := range accel {
			if ip := res["group:"+g]; !slices.Contains(ipsOf(g), ip) {
				return fmt.Errorf("the task pinned to group %s ran on %q, not on one of %v (result %v)", g, ip, ipsOf(g), res)
			}
			if ip := res["gpu:"+a]; !slices.Contains(ipsOf(g), ip) {
				return fmt.Errorf("the GPU task for %s ran on %q, not on one of %v (result %v)", a, ip, ipsOf(g), res)
			}
		}
		t.Logf("pinned tasks ran on %v", res)
		return nil
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// checkTokenRequired checks that the head's dashboard refuses a request
// without the token.
func checkTokenRequired(s *terraform.State) error {
	_, url, err := rayOf(s)
	if err != nil {
		return err
	}
	for _, p := range []string{"/api/v0/nodes", "/api/jobs/"} {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url + p)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			return fmt.Errorf("GET %s without the token: HTTP %d, want 401 or 403", url+p, resp.StatusCode)
		}
	}
	return nil
}

// checkBoxEmpty is CheckDestroy's part for the box: no namespace and no
// process of any instance is left (within the shutdown grace).
func (e *boxEnv) checkBoxEmpty(s *terraform.State) error {
	var ns []string
	_ = retry.Until(context.Background(), 45*time.Second, 500*time.Millisecond, func(context.Context) (bool, error) {
		ns = e.box.Namespaces()
		return len(ns) == 0 && e.box.Processes() == 0, nil
	})
	if len(ns) > 0 || e.box.Processes() > 0 {
		return fmt.Errorf("after destroy the box still has namespaces %v with %d processes", ns, e.box.Processes())
	}
	return e.box.Err()
}

// checkBatchOnWorkers checks that the batch job's engine actors (Ray
// Data's MapWorker actors) ran on the cluster's workers, not on the head.
func (e *boxEnv) checkBatchOnWorkers(t *testing.T, name string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		_, url, err := rayOf(s)
		if err != nil {
			return err
		}
		token := s.RootModule().Resources[clusterAddr].Primary.Attributes["auth_token"]
		c, _, _ := rayOf(s)
		nodes, err := c.ListNodes(context.Background())
		if err != nil {
			return err
		}
		ipOf := map[string]string{}
		for _, n := range nodes {
			ipOf[n.NodeID] = n.NodeIP
		}
		req, _ := http.NewRequest(http.MethodGet, url+"/api/v0/actors?limit=10000", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		var out struct {
			Data struct {
				Result struct {
					Result []struct {
						ClassName string `json:"class_name"`
						NodeID    string `json:"node_id"`
					} `json:"result"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return err
		}
		workers := map[string]bool{}
		for g, insts := range e.liveByGroup(t, name) {
			for _, i := range insts {
				workers[i.PrivateIP] = g != "head"
			}
		}
		engines := 0
		var where []string
		for _, a := range out.Data.Result.Result {
			where = append(where, a.ClassName+"@"+ipOf[a.NodeID])
			if !strings.HasPrefix(a.ClassName, "MapWorker") {
				continue
			}
			engines++
			if !workers[ipOf[a.NodeID]] {
				return fmt.Errorf("engine actor %s ran on %s, which is not a worker (actors: %v)", a.ClassName, ipOf[a.NodeID], where)
			}
		}
		if engines == 0 {
			return fmt.Errorf("no MapWorker actor found; actors: %v", where)
		}
		t.Logf("batch job actors: %v", where)
		return nil
	}
}

// TestAccInferenceCluster_bootsRealCluster applies a cluster whose every
// instance boots in the box: a head and two GPU worker groups (CPU hosts
// that declare their GPUs), then scales a group 2 → 3 → 1 and runs a
// built-in batch job with the tiny model on the workers. At most four hosts
// run at a time.
func TestAccInferenceCluster_bootsRealCluster(t *testing.T) {
	py := e2ePreCheck(t)
	e := newBoxEnv(t)
	name := acctest.RandomWithPrefix("box")
	e.safetyNet(t, name)
	model := tinyModel(t, py)
	// Instances see the host's files outside their own /tmp, /etc, /opt…
	shared := repoPath(t, filepath.Join(".tmp", "ec2box-e2e", name))
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(shared) })
	input, output := filepath.Join(shared, "prompts.jsonl"), filepath.Join(shared, "out")
	const prompts, maxTokens = 40, 8
	writePrompts(t, input, e2ePrompts(t, prompts))
	accel := map[string]string{"a10g": "A10G", "l4": "L4"}
	cfg := func(a10g, l4 int) string {
		return e.boxConfig(name, e.box.EC2URL(), boxGroup{name: "a10g", instanceType: "g5.xlarge", count: a10g}, boxGroup{name: "l4", instanceType: "g6.xlarge", count: l4})
	}
	batch := strings.Replace(e2eBatchHCL(model, input, output, maxTokens, false), `resource "rayvllm_batch_job" "e2e" {`,
		`resource "rayvllm_batch_job" "e2e" {
  dashboard_url = rayvllm_inference_cluster.test.dashboard_url
  auth_token    = rayvllm_inference_cluster.test.auth_token`, 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             resource.ComposeTestCheckFunc(e.checkDestroyed, e.checkBoxEmpty),
		Steps: []resource.TestStep{
			{
				Config: cfg(2, 1),
				Check: resource.ComposeTestCheckFunc(
					e.checkRayNodes(t, name, map[string]int{"a10g": 2, "l4": 1}, accel),
					e.checkPinnedTasks(t, name, accel),
					checkTokenRequired,
				),
			},
			{
				Config: cfg(3, 0),
				Check:  e.checkRayNodes(t, name, map[string]int{"a10g": 3}, accel),
			},
			{
				Config: cfg(1, 1) + batch,
				Check: resource.ComposeTestCheckFunc(
					e.checkRayNodes(t, name, map[string]int{"a10g": 1, "l4": 1}, accel),
					resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
					checkBatchOutput(py, model, output, prompts, maxTokens, prompts, 0),
					e.checkBatchOnWorkers(t, name),
				),
			},
		},
	})
}
