package provider

// TestAccBatchJob_nodeLoss: the spot-preemption story through Terraform. Two
// more nodes join the test Ray head (`ray start --address ... --block` on
// loopback, each with its own CPU, a custom resource and temp dir); the job
// runs the built-in script (rayvllm_batch.run) with the tests' stand-in
// engine (internal/batchjob/testscripts/standin.py, engine replicas pinned to the two
// nodes by the custom resource), shipped as the job's working_dir. One
// node's raylet is SIGKILLed mid-run. The job finishes on the other node or
// fails; the next step applies resume = true; either way every input id
// ends with exactly one output row.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

var nodeWaits sync.Map

// startRayNode joins one more node to the test head; it is killed (its
// process group) when the test ends.
func startRayNode(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	if _, waits := nodeWaits.LoadOrStore(t, true); !waits {
		// Registered before the first node's kill, so it runs after every
		// node of the test is killed: a killed node stays alive in the GCS
		// until its health checks fail, and later tests' tasks die with it.
		t.Cleanup(func() { waitRayNodes(t, 0); nodeWaits.Delete(t) })
	}
	temp, err := os.MkdirTemp("", "rv"+name+"-") //nolint:usetesting // Ray puts unix sockets under it: t.TempDir() paths are too long
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(temp) })
	log, err := os.OpenFile(filepath.Join(temp, "ray-start.log"), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(repoPath(t, ".venv/bin/ray"), "start", "--address", os.Getenv("RAYVLLM_TEST_GCS_ADDRESS"), "--block", // #nosec G204 -- test
		"--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--num-gpus", "0", "--resources", `{"rayvllm_test_worker": 2}`,
		"--temp-dir", temp, "--min-worker-port", "0", "--max-worker-port", "0",
		"--dashboard-agent-listen-port", strconv.Itoa(freePort(t)), "--metrics-export-port", strconv.Itoa(freePort(t)),
		"--dashboard-agent-grpc-port", strconv.Itoa(freePort(t)), "--runtime-env-agent-port", strconv.Itoa(freePort(t)))
	cmd.Env = append(os.Environ(), "RAY_AUTH_MODE=token")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = log.Close()
	})
	return cmd
}

// descendant finds a process named comm below pid (via /proc).
func descendant(pid int, comm string) int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	name := map[int]string{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")) // #nosec G304 -- /proc
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		name[p] = s[open+1 : closing]
		fields := strings.Fields(s[closing+1:])
		if len(fields) > 1 {
			parent[p], _ = strconv.Atoi(fields[1])
		}
	}
	for p, n := range name {
		if n != comm {
			continue
		}
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				return p
			}
		}
	}
	return 0
}

func nodeLossHCL(workDir, in, out string, resume bool) string {
	cfg := map[string]any{
		"model_source": "stand-in", "engine_kwargs": map[string]any{}, "batch_size": 16, "concurrency": 2,
		"standin_resources": map[string]any{"rayvllm_test_worker": 1}, "standin_seconds_per_row": 0.03, "resume": resume,
		"max_concurrent_batches": 1,
		"input":                  map[string]any{"path": in, "format": "jsonl", "id_column": "id", "prompt_column": "prompt", "apply_chat_template": false},
		"output":                 map[string]any{"path": out, "format": "jsonl"},
		"sampling_params":        map[string]any{"max_tokens": 8},
	}
	b, _ := json.Marshal(cfg)
	return fmt.Sprintf(`
resource "rayvllm_batch_job" "e2e" {
  entrypoint          = %s
  entrypoint_num_cpus = 0
  wait_for_completion = %t
  runtime_env = {
    working_dir = %s
    excludes    = ["*_test.py", "testdata", "*.go", "__pycache__"]
    env_vars    = { RAYVLLM_SHARD_ROWS = "32" }
  }
}
`, hcl("python testscripts/standin.py '"+string(b)+"'"), resume, hcl(workDir))
}

func TestAccBatchJob_nodeLoss(t *testing.T) {
	e2ePreCheck(t)
	if os.Getenv("RAYVLLM_TEST_GCS_ADDRESS") == "" {
		e2eSkip(t, "RAYVLLM_TEST_GCS_ADDRESS is not set: source .tmp/services.env")
	}
	nodes := []*exec.Cmd{startRayNode(t, "node0"), startRayNode(t, "node1")}
	waitNodes := exec.Command(repoPath(t, ".venv/bin/python"), "-c", testPython("wait_nodes.py")) // #nosec G204 -- test
	waitNodes.Env = append(os.Environ(), "RAY_AUTH_MODE=token")
	if b, err := waitNodes.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, tailLines(string(b), 10))
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "prompts.jsonl"), filepath.Join(dir, "out")
	const n = 600
	writePrompts(t, in, e2ePrompts(t, n))
	rows := func() ([]e2eRow, error) { return readOutput(out) }
	work := repoPath(t, "internal/batchjob")
	var firstStatus string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				Config: nodeLossHCL(work, in, out, false),
				Check: func(s *terraform.State) error {
					status, err := killMidRun(t, s, rows, "a node was killed", func(committed int) error {
						raylet := descendant(nodes[0].Process.Pid, "raylet")
						if raylet == 0 {
							return fmt.Errorf("no raylet below ray start (pid %d)", nodes[0].Process.Pid)
						}
						if err := syscall.Kill(raylet, syscall.SIGKILL); err != nil {
							return err
						}
						t.Logf("SIGKILLed raylet %d with %d rows committed", raylet, committed)
						return nil
					})
					if err != nil {
						return err
					}
					firstStatus = status
					t.Logf("after the node loss the job ended %s", status)
					return nil
				},
			},
			{
				// Resume: processes what the first run did not commit (nothing
				// when it finished).
				Config: nodeLossHCL(work, in, out, true),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
					func(*terraform.State) error {
						got, err := rows()
						if err != nil {
							return err
						}
						seen := map[int]int{}
						for _, r := range got {
							seen[r.ID]++
						}
						var bad bytes.Buffer
						for id := 0; id < n; id++ {
							if seen[id] != 1 {
								fmt.Fprintf(&bad, " %d:%d", id, seen[id])
							}
						}
						if bad.Len() > 0 || len(got) != n {
							return fmt.Errorf("after the node loss (first run %s) and resume: %d rows for %d ids; ids without exactly one row:%s", firstStatus, len(got), len(seen), bad.String())
						}
						return nil
					},
				),
			},
		},
	})
}
