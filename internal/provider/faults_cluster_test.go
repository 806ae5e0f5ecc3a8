package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/faultproxy"
)

// tfCLI runs the real terraform binary with the provider that `make
// install` put into the filesystem mirror (TF_CLI_CONFIG_FILE), in a
// working directory of its own. terraform-plugin-testing cannot SIGKILL
// terraform, so the cluster scenarios drive the CLI themselves.
type tfCLI struct {
	t   *testing.T
	bin string
	dir string
	env []string
	mu  sync.Mutex
	cmd *exec.Cmd
}

func newTFCLI(t *testing.T, config string, env ...string) *tfCLI {
	t.Helper()
	testAccPreCheck(t, needMirror)
	bin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	c := &tfCLI{t: t, bin: bin, dir: t.TempDir(), env: append(append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"), env...)}
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := c.run("init"); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}
	return c
}

// start starts terraform with args; the caller waits.
func (c *tfCLI) start(args ...string) (*exec.Cmd, *strings.Builder) {
	c.t.Helper()
	args = append([]string{args[0], "-no-color", "-input=false"}, args[1:]...)
	cmd := exec.Command(c.bin, args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &syncWriter{b: &out}, &syncWriter{b: &out}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.cmd = cmd
	c.mu.Unlock()
	return cmd, &out
}

type syncWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (c *tfCLI) run(args ...string) (string, error) {
	c.t.Helper()
	cmd, out := c.start(args...)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(10 * time.Minute):
		_ = cmd.Process.Kill()
		werr := <-done
		return out.String(), fmt.Errorf("terraform %s ran longer than 10 minutes (hang), killed: %v", args[0], werr)
	}
}

// tfClusterState is what the cluster scenarios read from `terraform show -json`.
type tfClusterState struct {
	InState     bool
	Tainted     bool
	InstanceIDs []string
}

func (c *tfCLI) clusterState() tfClusterState {
	c.t.Helper()
	out, err := exec.Command(c.bin, "-chdir="+c.dir, "show", "-json").Output()
	if err != nil {
		c.t.Fatalf("terraform show -json: %v", err)
	}
	var doc struct {
		Values *struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Tainted bool           `json:"tainted"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		c.t.Fatalf("terraform show -json: %v", err)
	}
	var s tfClusterState
	if doc.Values == nil {
		return s
	}
	for _, r := range doc.Values.RootModule.Resources {
		if r.Address != clusterAddr {
			continue
		}
		s.InState, s.Tainted = true, r.Tainted
		ids, _ := r.Values["instance_ids"].([]any)
		for _, id := range ids {
			s.InstanceIDs = append(s.InstanceIDs, fmt.Sprint(id))
		}
		// A tainted create may hold a head and groups whose IDs are not
		// yet in instance_ids; count those too.
		if h, ok := r.Values["head_instance_id"].(string); ok && h != "" && !slices.Contains(s.InstanceIDs, h) {
			s.InstanceIDs = append(s.InstanceIDs, h)
		}
		groups, _ := r.Values["worker_group"].([]any)
		for _, g := range groups {
			gm, _ := g.(map[string]any)
			gids, _ := gm["instance_ids"].([]any)
			for _, id := range gids {
				if !slices.Contains(s.InstanceIDs, fmt.Sprint(id)) {
					s.InstanceIDs = append(s.InstanceIDs, fmt.Sprint(id))
				}
			}
		}
	}
	sort.Strings(s.InstanceIDs)
	return s
}

// faultClusterConfig is a cluster with three worker groups whose EC2 and
// SSM traffic goes through endpoint (the fault proxy).
func (e *awsEnv) faultClusterConfig(name, endpoint string) string {
	return fmt.Sprintf(`
terraform {
  required_providers {
    rayvllm = { source = "rayvllm/rayvllm" }
  }
}

provider "rayvllm" {
  aws {
    default_tags        = { owner = "fault-test" }
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
  ray_version             = "2.60.0"
  vllm_version            = "0.11.0"
  hf_token_ssm_parameter  = %[6]q
  dashboard_ingress_cidrs = ["203.0.113.0/24"]
  wait_for_ray            = false

  head {
    instance_type = "m5.xlarge"
  }
  worker_group {
    name          = "a10g"
    instance_type = "g5.xlarge"
    count         = 2
  }
  worker_group {
    name          = "l4"
    instance_type = "g6.xlarge"
    count         = 1
  }
  worker_group {
    name          = "l40s"
    instance_type = "g6e.xlarge"
    count         = 1
  }
}
`, endpoint, name, e.ami, e.subnet, e.profile, e.hfParam)
}

// faultClusterWant is the config's live instances per head/group.
var faultClusterWant = map[string]int{"head": 1, "a10g": 2, "l4": 1, "l40s": 1}

// taggedIDs lists the instances tagged with the cluster that are not
// terminated, straight from moto (not through the proxy).
func (e *awsEnv) taggedIDs(t *testing.T, name string) []string {
	t.Helper()
	insts, err := e.c.FindInstances(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range insts {
		ids = append(ids, i.ID)
	}
	sort.Strings(ids)
	return ids
}

// leftovers reports the cluster's security groups and token parameter.
func (e *awsEnv) leftovers(name string) []string {
	ctx := context.Background()
	var out []string
	sgs, err := e.c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + ec2cluster.TagCluster), Values: []string{name}}}})
	if err != nil {
		return []string{"describing security groups: " + err.Error()}
	}
	for _, g := range sgs.SecurityGroups {
		out = append(out, "security group "+aws.ToString(g.GroupId))
	}
	if _, err := e.c.GetToken(ctx, ec2cluster.TokenParameterName(name)); err == nil {
		out = append(out, "token parameter "+ec2cluster.TokenParameterName(name))
	}
	return out
}

// firstError is the first "Error: ..." line of terraform's output.
func firstError(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(strings.TrimLeft(l, "│ ")); strings.HasPrefix(l, "Error: ") {
			return strings.TrimPrefix(l, "Error: ")
		}
	}
	return ""
}

// checkApplied compares state with what is tagged in moto after a
// successful apply, and counts the orphans.
func (e *awsEnv) checkApplied(t *testing.T, cli *tfCLI, name string, run *faultRun) {
	t.Helper()
	e.checkStateMatchesTags(t, cli, name, run)
	live := e.liveByGroup(t, name)
	for g, n := range faultClusterWant {
		if len(live[g]) != n {
			t.Errorf("after apply, %s has %d live instances, want %d", g, len(live[g]), n)
		}
	}
}

// checkStateMatchesTags checks, after a successful apply, that state holds
// exactly the instances tagged with the cluster in moto and is not tainted;
// a tagged instance that state lacks counts as an orphan.
func (e *awsEnv) checkStateMatchesTags(t *testing.T, cli *tfCLI, name string, run *faultRun) {
	t.Helper()
	st := cli.clusterState()
	tagged := e.taggedIDs(t, name)
	for _, id := range tagged {
		if !slices.Contains(st.InstanceIDs, id) {
			run.Orphans++
		}
	}
	if !slices.Equal(st.InstanceIDs, tagged) {
		t.Errorf("after apply, state has instances %v but moto has %v tagged %s=%s", st.InstanceIDs, tagged, ec2cluster.TagCluster, name)
	}
	if st.Tainted {
		t.Errorf("after a successful apply the cluster is still tainted")
	}
}

// destroyAll runs terraform destroy (retrying failed destroys, as a user
// would) and checks that nothing tagged with the cluster is left.
func (e *awsEnv) destroyAll(t *testing.T, cli *tfCLI, name string, run *faultRun) {
	t.Helper()
	var err error
	var out string
	for try := 1; try <= 3; try++ {
		if out, err = cli.run("destroy", "-auto-approve"); err == nil {
			break
		}
		t.Logf("destroy %d failed: %s", try, firstError(out))
	}
	if err != nil {
		t.Errorf("terraform destroy failed three times: %v\n%s", err, out)
	}
	if left := e.taggedIDs(t, name); len(left) > 0 {
		run.Orphans += len(left)
		t.Errorf("after destroy, %d instances tagged with the cluster are not terminated: %v", len(left), left)
	}
	if left := e.leftovers(name); len(left) > 0 {
		t.Errorf("after destroy: %v", left)
	}
}

// safetyNet terminates whatever a failed scenario left in moto.
func (e *awsEnv) safetyNet(t *testing.T, name string) {
	t.Cleanup(func() { _ = e.c.Destroy(context.Background(), name, "", "") })
}

// Scenario 1: a cluster with three groups is created while 30% of the EC2
// and SSM requests fail. The apply succeeds, or fails clearly with the
// cluster tainted; then apply and destroy converge without orphans.
func faultsClusterUnderFaults(t *testing.T, seed uint64, run *faultRun) {
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("faults")
	e.safetyNet(t, name)
	// Every request has a 30% chance of a fault. On the calls that change
	// something, half of the faults are the ambiguous one (carried out,
	// answer dropped), the case that duplicates or orphans things.
	writes := faultproxy.Rule{Match: `\.(RunInstances|TerminateInstances|CreateSecurityGroup|DeleteSecurityGroup|AuthorizeSecurityGroupIngress|RevokeSecurityGroupIngress|CreateTags|DeleteTags|PutParameter|DeleteParameter)$`,
		Kinds: append(slices.Clone(faultproxy.AllKinds[:5]), faultproxy.DropResponse, faultproxy.DropResponse, faultproxy.DropResponse, faultproxy.DropResponse, faultproxy.DropResponse),
		Rate:  0.3, Latency: 200 * time.Millisecond}
	p := newFaultProxy(t, os.Getenv("AWS_ENDPOINT_URL_EC2"), seed, run,
		writes, faultproxy.Rule{Kinds: faultproxy.AllKinds, Rate: 0.3, Latency: 200 * time.Millisecond})
	cli := newTFCLI(t, e.faultClusterConfig(name, p.URL), "AWS_ENDPOINT_URL_EC2="+p.URL, "AWS_ENDPOINT_URL_SSM="+p.URL)

	run.CountsInstances = true
	out, err := cli.run("apply", "-auto-approve")
	var outcome []string
	if err == nil {
		outcome = append(outcome, "apply ok")
		run.Class = "apply ok, re-apply no change"
	} else {
		st := cli.clusterState()
		msg := firstError(out)
		t.Logf("first apply failed: %s\n%s", msg, tailLines(out, 20))
		switch {
		case msg == "" || strings.Contains(out, "panic:"):
			t.Errorf("the failed apply has no clear error:\n%s", out)
		case st.InState && !st.Tainted:
			t.Errorf("the failed apply left the cluster in state without tainting it")
		case !st.InState && len(e.taggedIDs(t, name)) > 0:
			t.Errorf("the failed apply left instances %v that state does not have", e.taggedIDs(t, name))
		}
		what := "nothing created"
		if st.InState {
			what = "tainted"
		}
		outcome = append(outcome, fmt.Sprintf("apply failed (%s): %q", what, msg))
		run.Class = "apply failed with a clear error (" + what + "), converged on apply again"
	}
	// Apply again, under the same faults, until it succeeds (at most 3 times).
	applied := err == nil
	for try := 1; try <= 3 && (err != nil || try == 1); try++ {
		out, err = cli.run("apply", "-auto-approve")
		if err != nil {
			t.Logf("apply again (%d) failed: %s\n%s", try, firstError(out), tailLines(out, 12))
			outcome = append(outcome, fmt.Sprintf("re-apply failed: %q", firstError(out)))
		}
	}
	if err != nil {
		t.Fatalf("apply did not converge under faults:\n%s", out)
	}
	summary := regexp.MustCompile(`Apply complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed`).FindStringSubmatch(out)
	switch {
	case applied && summary != nil && summary[1]+summary[2]+summary[3] == "000":
		outcome = append(outcome, "re-apply no-op")
	case summary != nil:
		outcome = append(outcome, fmt.Sprintf("re-apply ok (%s added, %s changed, %s destroyed)", summary[1], summary[2], summary[3]))
		if applied {
			run.Class = "apply ok, re-apply changed something"
		}
	default:
		outcome = append(outcome, "re-apply ok")
	}
	e.checkApplied(t, cli, name, run)
	e.destroyAll(t, cli, name, run)
	outcome = append(outcome, "destroy ok")
	run.Outcome = strings.Join(outcome, " → ")
}

// childPIDs lists the direct children of pid (terraform's provider plugins).
func childPIDs(pid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		n, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}
