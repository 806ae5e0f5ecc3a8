package acctest

// The fault-injection harness (issue #7): the provider talks to the real
// services through internal/faultproxy on loopback; each scenario runs once
// per seed of RAYVLLM_FAULT_SEEDS and its counts go into a markdown table.

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/faultproxy"
)

// FaultRun is one fault-injection scenario run with one seed, as it goes into the table.
type FaultRun struct {
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

	Proxies []*faultproxy.Proxy // NewFaultProxy adds each; Collect sums them
}

// FaultReport collects the runs of all scenarios for the table.
type FaultReport struct {
	mu   sync.Mutex
	runs []FaultRun
}

func (r *FaultReport) Add(run FaultRun) {
	r.mu.Lock()
	r.runs = append(r.runs, run)
	r.mu.Unlock()
}

// Markdown renders one line per scenario (runs summed over seeds) and one
// per run.
func (r *FaultReport) Markdown(seeds []uint64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s, seeds %v, command: `%s`.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), seeds, FaultCommand())
	kinds := faultproxy.AllKinds
	b.WriteString("| Scenario | Runs | Requests | Faults injected (" + kindList(kinds) + ") | Outcome | Orphaned instances | Duplicate jobs |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	var order []string
	by := map[string][]FaultRun{}
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

// FaultCommand is the command quoted with the table.
func FaultCommand() string {
	if c := os.Getenv("RAYVLLM_FAULTS_COMMAND"); c != "" {
		return c
	}
	return "go test ./internal/provider -run TestAccFaults (RAYVLLM_FAULT_SEEDS=" + os.Getenv("RAYVLLM_FAULT_SEEDS") + ")"
}

// FaultSeeds are the seeds of RAYVLLM_FAULT_SEEDS (default 1).
func FaultSeeds(t testing.TB) []uint64 {
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

// Collect adds the requests and faults of the run's proxies into its counts.
func (run *FaultRun) Collect() {
	for _, p := range run.Proxies {
		run.Requests += p.Requests()
		for k, n := range p.Counts() {
			run.Faults[k] += n
		}
	}
}

// NewFaultProxy starts a proxy for the test; its counts go into run.
func NewFaultProxy(t testing.TB, upstream string, seed uint64, run *FaultRun, rules ...faultproxy.Rule) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(upstream, seed, rules...)
	if err != nil {
		t.Fatal(err)
	}
	run.Proxies = append(run.Proxies, p)
	t.Cleanup(func() {
		t.Logf("fault proxy in front of %s: %s", upstream, p.Summary())
		_ = p.Close()
	})
	return p
}
