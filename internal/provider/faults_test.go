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
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/faultproxy"
)

// faultRun is one scenario run with one seed, as it goes into the table.
type faultRun struct {
	Scenario   string
	Seed       uint64
	Requests   int
	Faults     map[faultproxy.Kind]int
	Outcome    string // what the provider did, step by step
	Class      string // the outcome in short, for the summary line
	Orphans    int    // instances tagged with the cluster that state did not account for
	Duplicates int    // Ray jobs beyond one per submission
	// Which of the two counts the scenario measures; the others show "n/a".
	CountsInstances, CountsJobs bool
	Failed                      bool
	Took                        time.Duration

	proxies []*faultproxy.Proxy
}

type faultReport struct {
	mu   sync.Mutex
	runs []faultRun
}

func (r *faultReport) add(run faultRun) {
	r.mu.Lock()
	r.runs = append(r.runs, run)
	r.mu.Unlock()
}

// markdown renders one line per scenario (runs summed over seeds) and one
// per run.
func (r *faultReport) markdown(seeds []uint64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s, seeds %v, command: `%s`.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), seeds, faultCommand())
	kinds := faultproxy.AllKinds
	b.WriteString("| Scenario | Runs | Requests | Faults injected (" + kindList(kinds) + ") | Outcome | Orphaned instances | Duplicate jobs |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	var order []string
	by := map[string][]faultRun{}
	for _, run := range r.runs {
		if _, ok := by[run.Scenario]; !ok {
			order = append(order, run.Scenario)
		}
		by[run.Scenario] = append(by[run.Scenario], run)
	}
	for _, sc := range order {
		runs := by[sc]
		reqs, orphans, dups := 0, 0, 0
		instances, jobs := false, false
		faults := map[faultproxy.Kind]int{}
		outcomes := map[string]int{}
		for _, run := range runs {
			reqs += run.Requests
			instances, jobs = instances || run.CountsInstances, jobs || run.CountsJobs
			orphans += run.Orphans
			dups += run.Duplicates
			for k, n := range run.Faults {
				faults[k] += n
			}
			o := run.Class
			if o == "" {
				o = run.Outcome
			}
			if run.Failed {
				o = "TEST FAILED: " + o
			}
			outcomes[o]++
		}
		var os []string
		for o, n := range outcomes {
			os = append(os, fmt.Sprintf("%d× %s", n, o))
		}
		sort.Strings(os)
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s |\n", sc, len(runs), reqs, kindCounts(kinds, faults), strings.Join(os, "; "), countOrNA(instances, orphans), countOrNA(jobs, dups))
	}
	b.WriteString("\nPer run:\n\n| Scenario | Seed | Requests | Faults | Outcome | Orphans | Duplicates | Time |\n|---|---|---|---|---|---|---|---|\n")
	for _, run := range r.runs {
		o := run.Outcome
		if run.Failed {
			o = "TEST FAILED: " + o
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s |\n", run.Scenario, run.Seed, run.Requests, kindCounts(kinds, run.Faults), o,
			countOrNA(run.CountsInstances, run.Orphans), countOrNA(run.CountsJobs, run.Duplicates), run.Took.Round(time.Second))
	}
	return b.String()
}

func countOrNA(counted bool, n int) string {
	if !counted {
		return "n/a"
	}
	return fmt.Sprint(n)
}

func kindList(kinds []faultproxy.Kind) string {
	var s []string
	for _, k := range kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, " / ")
}

func kindCounts(kinds []faultproxy.Kind, c map[faultproxy.Kind]int) string {
	var s []string
	for _, k := range kinds {
		s = append(s, fmt.Sprint(c[k]))
	}
	return strings.Join(s, " / ")
}

func faultCommand() string {
	if c := os.Getenv("RAYVLLM_FAULTS_COMMAND"); c != "" {
		return c
	}
	return "go test ./internal/provider -run TestAccFaults (RAYVLLM_FAULT_SEEDS=" + os.Getenv("RAYVLLM_FAULT_SEEDS") + ")"
}

func faultSeeds(t *testing.T) []uint64 {
	t.Helper()
	s := os.Getenv("RAYVLLM_FAULT_SEEDS")
	if s == "" {
		s = "1"
	}
	seeds, err := faultproxy.ParseSeeds(s)
	if err != nil || len(seeds) == 0 {
		t.Fatalf("RAYVLLM_FAULT_SEEDS=%q: want a comma-separated list of seeds (%v)", s, err)
	}
	return seeds
}

// faultScenario runs one scenario with one seed and fills run.
type faultScenario struct {
	name string
	run  func(t *testing.T, seed uint64, run *faultRun)
}

func TestAccFaults(t *testing.T) {
	testAccPreCheck(t, needRay, needMoto)
	seeds := faultSeeds(t)
	rep := &faultReport{}
	out := os.Getenv("RAYVLLM_FAULTS_OUT")
	if out == "" {
		out = filepath.Join("..", "..", ".tmp", "faults.md")
	}
	t.Cleanup(func() {
		md := rep.markdown(seeds)
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
						for _, p := range run.proxies {
							run.Requests += p.Requests()
							for k, n := range p.Counts() {
								run.Faults[k] += n
							}
						}
						run.Took = time.Since(start)
						run.Failed = t.Failed()
						rep.add(run)
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
	p, err := faultproxy.New(upstream, seed, rules...)
	if err != nil {
		t.Fatal(err)
	}
	run.proxies = append(run.proxies, p)
	t.Cleanup(func() {
		t.Logf("fault proxy in front of %s: %s", upstream, p.Summary())
		_ = p.Close()
	})
	return p
}
