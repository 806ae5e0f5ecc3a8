package burst

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-cleanhttp"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return d
	}
	return def
}

func envFloat(t *testing.T, name string, def float64) float64 {
	if v := os.Getenv(name); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return f
	}
	return def
}

// TestBurstAgainstServe is the burst benchmark (make bench-burst), not a
// unit test: it deploys the test fixture app with autoscaling on the Ray
// head of .ci/services.sh and sends a steady rate, a 10× spike for 30 s and
// the steady rate again. Requests beyond the queue limit must be rejected
// with 503, never hang or break the connection.
func TestBurstAgainstServe(t *testing.T) {
	if os.Getenv("RAYVLLM_BENCH_BURST") == "" {
		t.Skip("burst benchmark: run it with make bench-burst (sets RAYVLLM_BENCH_BURST=1)")
	}
	addr := os.Getenv("RAY_ADDRESS")
	port, err := strconv.Atoi(os.Getenv("RAYVLLM_TEST_SERVE_PORT"))
	if addr == "" || err != nil {
		t.Fatal("RAY_ADDRESS and RAYVLLM_TEST_SERVE_PORT must be set (source .tmp/services.env after .ci/services.sh start)")
	}
	c, err := ray.New(ray.Config{Address: addr, Token: os.Getenv("RAY_AUTH_TOKEN")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pkg, err := ray.PackageDir(filepath.Join("..", "..", "provider", "testdata", "serve_fixture"), []string{"__pycache__", "*.pyc"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsurePackage(ctx, pkg); err != nil {
		t.Fatal(err)
	}

	// The fixture answers a completion after delay_ms. One replica takes
	// max_ongoing_requests at once; the proxy queues max_queued_requests
	// more and answers 503 beyond that.
	const name = "bench-burst"
	delayMS := envFloat(t, "RAYVLLM_BURST_DELAY_MS", 100)
	auto := map[string]any{"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 2, "upscale_delay_s": 1, "downscale_delay_s": 30}
	app := map[string]any{
		"name": name, "route_prefix": "/" + name, "import_path": "fixture_app:build_app",
		"runtime_env": map[string]any{"working_dir": pkg.URI},
		"args":        map[string]any{"model_id": "burst", "delay_ms": delayMS},
		"deployments": []any{map[string]any{
			"name": "Fixture", "autoscaling_config": auto, "max_ongoing_requests": 4, "max_queued_requests": 8,
			"ray_actor_options": map[string]any{"num_cpus": 0.1},
		}},
	}
	_, _ = c.RemoveServeApplication(ctx, name)
	if _, err := c.DeployServeApplication(ctx, app, ray.DeployOptions{HTTPOptions: map[string]any{"host": "127.0.0.1", "port": port}}); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = c.RemoveServeApplication(context.Background(), name) }()
	var inst *ray.ServeInstance
	_, err = retry.StateWait[*ray.ServeApplication]{
		Pending: []string{ray.ServeAppNotStarted, ray.ServeAppDeploying}, Target: []string{ray.ServeAppRunning},
		Timeout: 5 * time.Minute, PollInterval: time.Second,
		Refresh: func(ctx context.Context) (*ray.ServeApplication, string, error) {
			a, i, err := c.FindServeApplication(ctx, name)
			if err != nil {
				return nil, "", err
			}
			inst = i
			return a, a.Status, a.Failure()
		},
	}.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	url := c.ServeEndpoint(inst.HTTP(), "/"+name) + "/v1/completions"
	body := `{"model":"burst","prompt":"burst test","max_tokens":8}`
	newReq := func(ctx context.Context) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
		if err == nil {
			r.Header.Set("Content-Type", "application/json")
		}
		return r, err
	}
	transport := cleanhttp.DefaultPooledTransport()
	transport.MaxIdleConnsPerHost = 512
	client := &http.Client{Transport: transport}
	probe := ray.SmokeTest{URL: url, Body: body, ExpectBodyContains: `"model":"burst"`, Timeout: time.Minute, Interval: time.Second}
	if err := probe.Run(ctx); err != nil {
		t.Fatal(err)
	}

	p := Profile{
		RatePerSecond: envFloat(t, "RAYVLLM_BURST_RATE", 5),
		Multiplier:    envFloat(t, "RAYVLLM_BURST_MULTIPLIER", 10),
		Before:        envDuration(t, "RAYVLLM_BURST_BEFORE", 30*time.Second),
		Spike:         envDuration(t, "RAYVLLM_BURST_SPIKE", 30*time.Second),
		After:         envDuration(t, "RAYVLLM_BURST_AFTER", 60*time.Second),
	}
	// Replica counts once a second, to show the autoscaler at work.
	var mu sync.Mutex
	var replicas []string
	stop := make(chan struct{})
	begin := time.Now()
	go func() {
		last := ""
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			a, _, err := c.FindServeApplication(ctx, name)
			if err != nil || a.Deployments["Fixture"] == nil {
				continue
			}
			d := a.Deployments["Fixture"]
			now := fmt.Sprintf("%d/%d", d.RunningReplicas(), d.TargetNumReplicas)
			if now != last {
				mu.Lock()
				replicas = append(replicas, fmt.Sprintf("%.0fs: %s", time.Since(begin).Seconds(), now))
				mu.Unlock()
				last = now
			}
		}
	}()
	samples := Run(ctx, client, newReq, p)
	close(stop)
	r := Analyze(samples, p, 5*time.Second, time.Second, 1.1)

	var out strings.Builder
	fmt.Fprintf(&out, "Burst benchmark: fixture app (service time %g ms; max_ongoing_requests 4, max_queued_requests 8, "+
		"autoscaling 1–4 replicas, target_ongoing_requests 2, upscale_delay_s 1, downscale_delay_s 30) on Ray %s, open-loop load.\n\n", delayMS, rayVersion(ctx, c))
	out.WriteString(r.Markdown())
	mu.Lock()
	fmt.Fprintf(&out, "Replicas running/target over time: %s.\n", strings.Join(replicas, ", "))
	mu.Unlock()
	if len(r.Failures) > 0 {
		fmt.Fprintf(&out, "Failures: %s\n", strings.Join(r.Failures, "; "))
	}
	t.Log("\n" + out.String())
	if f := os.Getenv("RAYVLLM_BENCH_OUT"); f != "" {
		if err := os.WriteFile(f, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, ph := range r.Phases {
		if ph.Reset+ph.Hung+ph.Other > 0 {
			t.Errorf("phase %s: %d resets, %d hangs, %d other statuses; rejections must be 503s", ph.Name, ph.Reset, ph.Hung, ph.Other)
		}
	}
}

func rayVersion(ctx context.Context, c *ray.Client) string {
	v, err := c.Version(ctx)
	if err != nil {
		return "?"
	}
	return v.RayVersion
}
