package provider

// Fault-injection acceptance tests (issue #7): the provider talks to the real
// services (moto, Ray) through internal/faultproxy on loopback. Each scenario
// runs once per seed in RAYVLLM_FAULT_SEEDS (default "1", the fixed CI set;
// `make test-faults` runs several), and the harness writes the measured table
// to .tmp/faults.md (RAYVLLM_FAULTS_OUT overrides the path).

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/acctest"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/faultproxy"
)

// faultRun is one scenario run with one seed, as it goes into the table
// (internal/acctest holds the harness).
type faultRun = acctest.FaultRun

// faultScenario runs one scenario with one seed and fills run.
type faultScenario struct {
	name string
	run  func(t *testing.T, seed uint64, run *faultRun)
}

func TestAccFaults(t *testing.T) {
	acctest.PreCheck(t, acctest.NeedRay, acctest.NeedMoto)
	seeds := acctest.FaultSeeds(t)
	rep := &acctest.FaultReport{}
	out := os.Getenv("RAYVLLM_FAULTS_OUT")
	if out == "" {
		out = filepath.Join("..", "..", ".tmp", "faults.md")
	}
	t.Cleanup(func() {
		md := rep.Markdown(seeds)
		t.Log("\n" + md)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err == nil {
			_ = os.WriteFile(out, []byte(md), 0o644)
		}
	})
	for _, sc := range faultScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			for _, seed := range seeds {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					run := faultRun{Scenario: sc.name, Seed: seed, Faults: map[faultproxy.Kind]int{}}
					start := time.Now()
					defer func() {
						run.Collect()
						run.Took = time.Since(start)
						run.Failed = t.Failed()
						rep.Add(run)
					}()
					sc.run(t, seed, &run)
				})
			}
		})
	}
}

func faultScenarios() []faultScenario {
	return []faultScenario{
		{"S1 cluster with 3 groups under 30% faults", faultsClusterUnderFaults},
		{"S2 batch job, submission answer dropped", faultsBatchJobDropped},
		{"S3 vllm_worker update while another app changes", faultsServeConcurrentChange},
		{"S4 SIGKILL of terraform after RunInstances (instances boot in ec2box)", faultsKillAfterRunInstances},
		{"S5 Ray head restart during wait_for_completion", faultsHeadRestart},
		{"S6 worker boot fails: pinned Ray not installable (ec2box)", faultsWorkerBootFails},
	}
}

// newFaultProxy starts a proxy for the test; its counts go into run.
func newFaultProxy(t *testing.T, upstream string, seed uint64, run *faultRun, rules ...faultproxy.Rule) *faultproxy.Proxy {
	t.Helper()
	return acctest.NewFaultProxy(t, upstream, seed, run, rules...)
}
