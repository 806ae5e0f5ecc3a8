package provider

// Fault scenarios on internal/ec2box: the cluster's instances really boot,
// so a launch the provider lost or a boot that failed shows as a real host
// (and Ray node) or as its console.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2box"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/faultproxy"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// boxFaultGroups is the scenarios' cluster: head + 3 workers, 4 hosts.
var (
	boxFaultGroups = []boxGroup{{name: "a10g", instanceType: "g5.xlarge", count: 2}, {name: "l4", instanceType: "g6.xlarge", count: 1}}
	boxFaultWant   = map[string]int{"head": 1, "a10g": 2, "l4": 1}
	boxFaultAccel  = map[string]string{"a10g": "A10G", "l4": "L4"}
)

// checkBoxApplied is checkApplied for the box: state and moto agree, and
// Ray's alive nodes are exactly the live instances (an instance that was
// launched but lost would be a Ray node no state knows).
func (e *boxEnv) checkBoxApplied(t *testing.T, cli *tfCLI, name string, want map[string]int, run *faultRun) {
	t.Helper()
	e.checkStateMatchesTags(t, cli, name, run)
	workers := map[string]int{}
	for g, n := range want {
		if g != "head" {
			workers[g] = n
		}
	}
	c, err := ray.New(ray.Config{Address: cli.attr("dashboard_url"), Token: cli.attr("auth_token")})
	if err != nil {
		t.Fatal(err)
	}
	var last error
	_ = retry.Until(context.Background(), time.Minute, 2*time.Second, func(ctx context.Context) (bool, error) {
		last = e.compareRayNodes(ctx, t, c, name, workers, boxFaultAccel)
		return last == nil, last
	})
	if last != nil {
		t.Errorf("Ray after the applies: %v", last)
	}
}

// destroyBox is destroyAll plus: no host of the box is left.
func (e *boxEnv) destroyBox(t *testing.T, cli *tfCLI, name string, run *faultRun) {
	t.Helper()
	e.destroyAll(t, cli, name, run)
	if err := e.checkBoxEmpty(nil); err != nil {
		t.Error(err)
	}
}

// Scenario 4: terraform is killed with SIGKILL in the middle of a cluster
// create, right after EC2 carried out a RunInstances (before the provider
// has its answer). The instances launched so far boot. The next apply must
// report the instances tagged with the cluster (the cluster refuses to
// create over them and says how to import them); after the import, apply
// leaves exactly the configured Ray nodes, and destroy leaves no instance
// and no host.
func faultsKillAfterRunInstances(t *testing.T, seed uint64, run *faultRun) {
	e := newBoxEnv(t)
	name := acctest.RandomWithPrefix("faults")
	e.safetyNet(t, name)
	p := newFaultProxy(t, e.box.EC2URL(), seed, run)
	cli := newTFCLI(t, e.boxConfig(name, p.URL, boxFaultGroups...))

	// Kill after the k-th RunInstances: 1 is the head, 2-3 the worker groups.
	k := int(seed%3) + 1
	var (
		mu       sync.Mutex
		launches int
		plugins  []int
		killed   = make(chan struct{})
	)
	p.OnForwarded(func(ev faultproxy.Event) {
		if ev.Key != "EC2.RunInstances" || ev.Status != 200 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		launches++
		if launches != k {
			return
		}
		cli.mu.Lock()
		cmd := cli.cmd
		cli.mu.Unlock()
		plugins = childPIDs(cmd.Process.Pid)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		// EC2 has carried the launch out; its answer reaches the provider
		// only once terraform is dead.
		_ = retry.Until(context.Background(), 30*time.Second, 10*time.Millisecond, func(context.Context) (bool, error) { return !alive(cmd.Process.Pid), nil })
		close(killed)
	})
	cmd, out := cli.start("apply", "-auto-approve")
	werr := cmd.Wait()
	select {
	case <-killed: // the hook closes it once terraform is reaped
	case <-time.After(time.Minute):
		t.Fatalf("terraform finished before the %d. RunInstances (%v):\n%s", k, werr, out.String())
	}
	p.OnForwarded(nil)
	// The provider plugin loses terraform; it must stop on its own.
	var outlived []int
	for _, pid := range plugins {
		_ = retry.Until(context.Background(), 60*time.Second, 200*time.Millisecond, func(context.Context) (bool, error) { return !alive(pid), nil })
		if alive(pid) {
			outlived = append(outlived, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if len(outlived) > 0 {
		t.Errorf("provider processes %v were still running a minute after terraform was killed", outlived)
	}
	// A launch the provider sent just before it stopped may still be in
	// EC2's hands.
	if !p.WaitIdle(time.Minute) {
		t.Errorf("requests of the killed apply were still in flight a minute later")
	}
	tagged := e.taggedIDs(t, name)
	if len(tagged) == 0 {
		t.Fatalf("no instance is tagged with the cluster after %d RunInstances", k)
	}
	// The lost launches are real hosts by now.
	_ = retry.Until(context.Background(), 30*time.Second, 500*time.Millisecond, func(context.Context) (bool, error) { return len(e.box.Hosts()) == len(tagged), nil })
	t.Logf("killed terraform after RunInstances #%d; %d instances tagged: %v; %d booted", k, len(tagged), tagged, len(e.box.Hosts()))
	if len(e.box.Hosts()) != len(tagged) {
		t.Errorf("%d instances tagged but %d booted in the box", len(tagged), len(e.box.Hosts()))
	}

	run.CountsInstances = true
	outcome := []string{fmt.Sprintf("killed after RunInstances #%d (%d tagged and booted)", k, len(tagged))}
	res, err := cli.run("apply", "-auto-approve")
	switch {
	case err == nil:
		outcome = append(outcome, "next apply adopted them")
		run.Class = "next apply adopted the tagged instances"
	case regexp.MustCompile(`already\s+exist`).MatchString(res):
		flat := strings.Join(strings.Fields(res), " ")
		for _, id := range tagged {
			if !strings.Contains(flat, id) {
				t.Errorf("the refusal does not name tagged instance %s:\n%s", id, res)
			}
		}
		if !strings.Contains(flat, "terraform import") {
			t.Errorf("the refusal does not say how to import:\n%s", res)
		}
		if now := e.taggedIDs(t, name); !slices.Equal(now, tagged) {
			t.Errorf("the refused apply changed the tagged instances: %v → %v", tagged, now)
		}
		outcome = append(outcome, "next apply reported them")
		if imp, err := cli.run("import", clusterAddr, name); err != nil {
			t.Fatalf("terraform import as the error says: %v\n%s", err, imp)
		}
		if res, err := cli.run("apply", "-auto-approve"); err != nil {
			t.Fatalf("apply after the import: %v\n%s", err, res)
		}
		outcome = append(outcome, "import + apply ok, Ray nodes = instances")
		run.Class = "next apply refused, listing every tagged instance; import + apply converged, every Ray node accounted for"
	default:
		t.Fatalf("the apply after the kill neither adopted nor reported the tagged instances: %v\n%s", err, res)
	}
	e.checkBoxApplied(t, cli, name, boxFaultWant, run)
	e.destroyBox(t, cli, name, run)
	outcome = append(outcome, "destroy ok, no host left")
	run.Outcome = strings.Join(outcome, " → ")
}

// otherAMI is an AMI of moto's other than the cluster's.
func (e *boxEnv) otherAMI(t *testing.T) string {
	t.Helper()
	imgs, err := e.c.EC2.DescribeImages(t.Context(), &ec2.DescribeImagesInput{Filters: []ec2types.Filter{{Name: aws.String("root-device-type"), Values: []string{"ebs"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range imgs.Images {
		if id := aws.ToString(i.ImageId); id != e.ami {
			return id
		}
	}
	t.Fatal("moto has only one AMI")
	return ""
}

// Scenario 6: a worker's boot fails. Its group runs an image without the
// pinned Ray and without a package index (as a pin that its index lacks
// would), so pip fails and the bootstrap exits. The apply fails, naming
// the worker, with the end of its console (pip's error and the bootstrap's
// failure line) in the error; the cluster is in state and tainted with every
// launched instance; destroy leaves nothing.
func faultsWorkerBootFails(t *testing.T, seed uint64, run *faultRun) {
	e := newBoxEnv(t)
	bad := e.otherAMI(t)
	e.box.SetImage(bad, ec2box.Image{})
	name := acctest.RandomWithPrefix("faults")
	e.safetyNet(t, name)
	p := newFaultProxy(t, e.box.EC2URL(), seed, run)
	// The good group first or second, by seed.
	groups := []boxGroup{{name: "good", instanceType: "g5.xlarge", count: 1}, {name: "bad", instanceType: "g6.xlarge", count: 1, ami: bad}}
	if seed%2 == 0 {
		groups[0], groups[1] = groups[1], groups[0]
	}
	cli := newTFCLI(t, e.boxConfig(name, p.URL, groups...))
	run.CountsInstances = true
	start := time.Now()
	res, err := cli.run("apply", "-auto-approve")
	took := time.Since(start)
	if err == nil {
		t.Fatalf("the apply succeeded although the bad group's worker cannot install Ray:\n%s", res)
	}
	var badID string
	for _, i := range e.liveByGroup(t, name)["bad"] {
		badID = i.ID
	}
	flat := strings.Join(strings.Fields(strings.ReplaceAll(res, "│", " ")), " ")
	for _, want := range []string{"Ray did not come up", badID, `group "bad"`, "failed to boot", ec2cluster.BootFailedMarker, "No matching distribution found for ray"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the error lacks %q:\n%s", want, res)
		}
	}
	st := cli.clusterState()
	tagged := e.taggedIDs(t, name)
	for _, id := range tagged {
		if !slices.Contains(st.InstanceIDs, id) {
			run.Orphans++
		}
	}
	switch {
	case !st.InState:
		t.Errorf("the failed apply left no cluster in state; moto has %v tagged", tagged)
	case !st.Tainted:
		t.Errorf("the failed apply left the cluster in state without tainting it")
	case !slices.Equal(st.InstanceIDs, tagged):
		t.Errorf("state has instances %v but moto has %v tagged", st.InstanceIDs, tagged)
	}
	run.Class = "apply failed naming the worker, with its console tail; tainted, every instance in state"
	e.destroyBox(t, cli, name, run)
	run.Outcome = fmt.Sprintf("apply failed after %s with the worker's console tail (tainted, %d instances in state) → destroy ok, no host left", took.Round(time.Second), len(st.InstanceIDs))
	if os.Getenv("RAYVLLM_SHOW_BOOT_ERROR") != "" {
		t.Logf("the error:\n%s", res)
	}
}

// attr is a string attribute of the cluster in state.
func (c *tfCLI) attr(key string) string {
	c.t.Helper()
	out, err := exec.Command(c.bin, "-chdir="+c.dir, "show", "-json").Output()
	if err != nil {
		c.t.Fatalf("terraform show -json: %v", err)
	}
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		c.t.Fatalf("terraform show -json: %v", err)
	}
	for _, r := range doc.Values.RootModule.Resources {
		if r.Address == clusterAddr {
			v, _ := r.Values[key].(string)
			return v
		}
	}
	return ""
}
