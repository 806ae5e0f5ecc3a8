package provider

import (
	"fmt"
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

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
)

// benchT lets resource.Test run inside a benchmark.
type benchT struct{ *testing.B }

func (benchT) Parallel() {}

// BenchmarkInferenceClusterApply measures `terraform apply` (plan + apply)
// of a head and one worker group of 1, 8 and 32 workers against moto, and
// the AWS API calls the provider made for it; each size runs benchRuns times
// and the median is reported. `make bench-cluster` runs it and writes the
// table to .tmp/bench-cluster.md.
func BenchmarkInferenceClusterApply(b *testing.B) {
	testAccPreCheck(b, needMoto) // make bench-cluster
	const benchRuns = 3
	sizes := []int{1, 8, 32}
	type sample struct {
		seconds, apiSeconds      float64
		ec2Calls, runs, ssmCalls int
	}
	samples := map[int][]sample{}
	for _, n := range sizes {
		for run := 1; run <= benchRuns; run++ {
			b.Run(fmt.Sprintf("workers=%d/run=%d", n, run), func(b *testing.B) {
				resetMoto(b)
				e := newAWSEnv(b)
				name := acctest.RandomWithPrefix("bench")
				var start time.Time
				var before map[string]int
				var beforeAPI time.Duration
				var r sample
				resource.Test(benchT{b}, resource.TestCase{
					ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
					CheckDestroy:             e.checkDestroyed,
					Steps: []resource.TestStep{{
						PreConfig: func() { before, beforeAPI, start = ec2cluster.CallCounts(), ec2cluster.CallTime(), time.Now() },
						Config:    e.config(name, group{"a10g", "g5.xlarge", n, ""}),
						Check: func(*terraform.State) error {
							r.seconds = time.Since(start).Seconds()
							r.apiSeconds = (ec2cluster.CallTime() - beforeAPI).Seconds()
							for k, v := range ec2cluster.CallCounts() {
								d := v - before[k]
								switch {
								case strings.HasPrefix(k, "EC2."):
									r.ec2Calls += d
									if k == "EC2.RunInstances" {
										r.runs += d
									}
								case strings.HasPrefix(k, "SSM."):
									r.ssmCalls += d
								}
							}
							if got := len(e.liveByGroup(b, name)["a10g"]); got != n {
								return fmt.Errorf("%d workers running, want %d", got, n)
							}
							return nil
						},
					}},
				})
				b.ReportMetric(r.seconds, "apply-s")
				b.ReportMetric(float64(r.ec2Calls), "ec2-calls")
				samples[n] = append(samples[n], r)
			})
		}
	}
	median := func(n int) sample {
		s := slices.Clone(samples[n])
		sort.Slice(s, func(i, j int) bool { return s[i].seconds < s[j].seconds })
		return s[len(s)/2]
	}
	for _, n := range sizes {
		if len(samples[n]) != benchRuns {
			return
		}
	}
	base := median(1).seconds
	var sb strings.Builder
	fmt.Fprintf(&sb, "| workers | instances (with head) | apply time, median of %d (s) | min–max (s) | × time of 1 worker | of which waiting for the AWS API (s) | EC2 API calls | of which RunInstances | SSM API calls |\n", benchRuns)
	sb.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range sizes {
		m := median(n)
		lo, hi := m.seconds, m.seconds
		for _, s := range samples[n] {
			lo, hi = min(lo, s.seconds), max(hi, s.seconds)
		}
		fmt.Fprintf(&sb, "| %d | %d | %.2f | %.2f–%.2f | %.2f | %.2f | %d | %d | %d |\n", n, n+1, m.seconds, lo, hi, m.seconds/base, m.apiSeconds, m.ec2Calls, m.runs, m.ssmCalls)
	}
	ratio := median(32).seconds / base
	fmt.Fprintf(&sb, "\nTarget: 32 workers in at most 2× the apply time of 1: %.2f× (%s).\n", ratio, map[bool]string{true: "met", false: "NOT met"}[ratio <= 2])
	if err := os.MkdirAll(filepath.Join("..", "..", ".tmp"), 0o755); err == nil {
		_ = os.WriteFile(filepath.Join("..", "..", ".tmp", "bench-cluster.md"), []byte(sb.String()), 0o644)
	}
	b.Log("\n" + sb.String())
}

// resetMoto empties moto between benchmark sizes so that each starts from the
// same state (moto keeps terminated instances and scans them on every
// DescribeInstances). Only with RAYVLLM_BENCH_RESET_MOTO=1, which make
// bench-cluster sets on its own moto: it would wipe other tests' objects.
func resetMoto(b *testing.B) {
	if os.Getenv("RAYVLLM_BENCH_RESET_MOTO") != "1" {
		return
	}
	resp, err := http.Post(os.Getenv("RAYVLLM_TEST_MOTO_URL")+"/moto-api/reset", "application/json", nil)
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("moto reset: HTTP %d", resp.StatusCode)
	}
}
