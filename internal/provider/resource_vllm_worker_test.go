package provider

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
)

// serveEnv is the Ray head of .ci/services.sh with its Serve port.
type serveEnv struct {
	client     *ray.Client
	port       int
	fixtureDir string
}

// fixtureCompletion is what testdata/serve_fixture/fixture_app.py answers:
// words "w%02x" of the first 4 bytes of a sha256 chain seeded by the prompt.
func fixtureCompletion(prompt string, maxTokens int) string {
	var words []string
	seed := []byte(prompt)
	for len(words) < maxTokens {
		sum := sha256.Sum256(seed)
		seed = sum[:]
		for _, b := range sum[:4] {
			words = append(words, fmt.Sprintf("w%02x", b))
		}
	}
	return strings.Join(words[:maxTokens], " ")
}

// fixtureWorker is a generic-mode worker running the test fixture app.
func (e serveEnv) fixtureWorker(label, name, body string) string {
	return fmt.Sprintf(`
resource "rayvllm_vllm_worker" %q {
  name         = %q
  import_path  = "fixture_app:build_app"
  working_dir  = %q
  args_json    = jsonencode({ model_id = %q })
  http_options = { host = "127.0.0.1", port = %d }
%s
}
`, label, name, e.fixtureDir, name+"-model", e.port, body)
}

// unmanagedApp deploys an application that Terraform does not manage and
// returns a check that it is still there with the same config.
func (e serveEnv) unmanagedApp(t *testing.T, name string) func() error {
	t.Helper()
	ctx := context.Background()
	pkg, err := packageWorkingDir(e.fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.EnsurePackage(ctx, pkg); err != nil {
		t.Fatal(err)
	}
	app := map[string]any{"name": name, "route_prefix": "/" + name, "import_path": "fixture_app:build_app",
		"runtime_env": map[string]any{"working_dir": pkg.URI}, "args": map[string]any{"model_id": "unmanaged"},
		"deployments": []any{map[string]any{"name": "Fixture", "num_replicas": 1, "ray_actor_options": map[string]any{"num_cpus": 0.05}}}}
	if _, err := e.client.DeployServeApplication(ctx, app, ray.DeployOptions{HTTPOptions: map[string]any{"host": "127.0.0.1", "port": e.port}, MustNotExist: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.client.RemoveServeApplication(context.Background(), name) })
	want, _ := serveapp.CanonicalValue(app)
	return func() error {
		a, _, err := e.client.FindServeApplication(context.Background(), name)
		if err != nil {
			return fmt.Errorf("the unmanaged application %s did not survive: %w", name, err)
		}
		got, _ := serveapp.Canonical(a.DeployedAppConfig)
		if got != want {
			return fmt.Errorf("the unmanaged application %s was altered:\n got %s\nwant %s", name, got, want)
		}
		return nil
	}
}

func checkFunc(f func() error) resource.TestCheckFunc {
	return func(*terraform.State) error { return f() }
}

func (e serveEnv) gone(names ...string) func() error {
	return func() error {
		for _, n := range names {
			if a, _, err := e.client.FindServeApplication(context.Background(), n); !retry.IsNotFound(err) {
				if err != nil {
					return err
				}
				return fmt.Errorf("application %s is still on the cluster (%s)", n, a.Status)
			}
		}
		return nil
	}
}

func deploymentStatus(addr, dep, field string, v knownvalue.Check) statecheck.StateCheck { //nolint:unparam // dep: the fixture app has one deployment today
	return statecheck.ExpectKnownValue(addr, tfjsonpath.New("deployment_statuses").AtMapKey(dep).AtMapKey(field), v)
}

// TestAccVLLMWorker_lifecycle covers create -> RUNNING -> smoke test, an
// in-place update of replicas and autoscaling, drift (changed and removed
// outside Terraform), import and destroy, with an unmanaged third
// application that must survive every step.
func TestAccVLLMWorker_lifecycle(t *testing.T) {
	e := testAccServe(t)
	sfx := acctest.RandString(6)
	a, b, unmanaged := "tfacc-a-"+sfx, "tfacc-b-"+sfx, "tfacc-unmanaged-"+sfx
	var unmanagedIntact func() error

	smoke := fmt.Sprintf(`  smoke_test = {
    path                 = "/v1/completions"
    body                 = jsonencode({ prompt = "hello rayvllm", max_tokens = 3 })
    expect_body_contains = %q
  }`, fixtureCompletion("hello rayvllm", 3))
	config := func(aReplicas int, bMin, bMax int) string {
		return e.fixtureWorker("a", a, fmt.Sprintf(`  deployments = [{ name = "Fixture", num_replicas = %d, num_cpus = 0.05 }]
%s`, aReplicas, smoke)) +
			e.fixtureWorker("b", b, fmt.Sprintf(`  route_prefix = "/b-%s"
  deployments = [{
    name        = "Fixture"
    num_cpus    = 0.05
    autoscaling = { min_replicas = %d, max_replicas = %d, target_ongoing_requests = 2, upscale_delay_seconds = 1, downscale_delay_seconds = 5 }
  }]
  smoke_test = {
    path                 = "/v1/models"
    expect_body_contains = %q
  }`, sfx, bMin, bMax, b+"-model"))
	}
	endpoint := func(route string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", e.port, route) }

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		PreCheck:                 func() { unmanagedIntact = e.unmanagedApp(t, unmanaged) },
		CheckDestroy: func(*terraform.State) error {
			if err := e.gone(a, b)(); err != nil {
				return err
			}
			return unmanagedIntact()
		},
		Steps: []resource.TestStep{
			{
				Config: config(1, 1, 2),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.a", tfjsonpath.New("status"), knownvalue.StringExact("RUNNING")),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.a", tfjsonpath.New("route_prefix"), knownvalue.StringExact("/"+a)),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.a", tfjsonpath.New("endpoint_url"), knownvalue.StringExact(endpoint("/"+a))),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.a", tfjsonpath.New("id"), knownvalue.StringExact(e.client.Address()+"#"+a)),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.a", tfjsonpath.New("working_dir_uri"), knownvalue.StringRegexp(regexp.MustCompile(`^gcs://_ray_pkg_[0-9a-f]{32}\.zip$`))),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.a", tfjsonpath.New("last_deployed_time"), knownvalue.StringRegexp(regexp.MustCompile(`^20\d\d-\d\d-\d\dT`))),
					deploymentStatus("rayvllm_vllm_worker.a", "Fixture", "status", knownvalue.StringExact("HEALTHY")),
					deploymentStatus("rayvllm_vllm_worker.a", "Fixture", "target_replicas", knownvalue.Int64Exact(1)),
					deploymentStatus("rayvllm_vllm_worker.a", "Fixture", "running_replicas", knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.b", tfjsonpath.New("status"), knownvalue.StringExact("RUNNING")),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.b", tfjsonpath.New("endpoint_url"), knownvalue.StringExact(endpoint("/b-"+sfx))),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.b", tfjsonpath.New("deployments").AtSliceIndex(0).AtMapKey("autoscaling").AtMapKey("max_replicas"), knownvalue.Int64Exact(2)),
					deploymentStatus("rayvllm_vllm_worker.b", "Fixture", "target_replicas", knownvalue.Int64Exact(1)),
				},
				Check: checkFunc(func() error { return unmanagedIntact() }),
			},
			{
				// In place: a goes to 2 fixed replicas, b's autoscaling floor to 2.
				Config: config(2, 2, 3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("rayvllm_vllm_worker.a", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("rayvllm_vllm_worker.b", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.a", tfjsonpath.New("status"), knownvalue.StringExact("RUNNING")),
					deploymentStatus("rayvllm_vllm_worker.a", "Fixture", "target_replicas", knownvalue.Int64Exact(2)),
					deploymentStatus("rayvllm_vllm_worker.a", "Fixture", "running_replicas", knownvalue.Int64Exact(2)),
					deploymentStatus("rayvllm_vllm_worker.b", "Fixture", "target_replicas", knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.b", tfjsonpath.New("deployments").AtSliceIndex(0).AtMapKey("autoscaling").AtMapKey("min_replicas"), knownvalue.Int64Exact(2)),
				},
				Check: checkFunc(func() error { return unmanagedIntact() }),
			},
			{
				// Drift: someone scales a back to 1 and adds a field without
				// an attribute; the plan shows it and the apply restores it.
				PreConfig: func() { driftApp(t, e.client, a) },
				Config:    config(2, 2, 3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("rayvllm_vllm_worker.a", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("rayvllm_vllm_worker.b", plancheck.ResourceActionNoop),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					deploymentStatus("rayvllm_vllm_worker.a", "Fixture", "target_replicas", knownvalue.Int64Exact(2)),
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.a", tfjsonpath.New("config_json"), knownvalue.StringFunc(func(v string) error {
						if strings.Contains(v, "graceful_shutdown_timeout_s") {
							return fmt.Errorf("the field added outside Terraform is still there: %s", v)
						}
						return nil
					})),
				},
				Check: checkFunc(func() error { return unmanagedIntact() }),
			},
			{
				// Drift: b is deleted outside Terraform; the plan re-creates it.
				PreConfig: func() {
					if _, err := e.client.RemoveServeApplication(context.Background(), b); err != nil {
						t.Fatal(err)
					}
					if err := retry.Until(context.Background(), time.Minute, time.Second, func(context.Context) (bool, error) { return e.gone(b)() == nil, nil }); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(2, 2, 3),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("rayvllm_vllm_worker.b", plancheck.ResourceActionCreate),
					plancheck.ExpectResourceAction("rayvllm_vllm_worker.a", plancheck.ResourceActionNoop),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("rayvllm_vllm_worker.b", tfjsonpath.New("status"), knownvalue.StringExact("RUNNING")),
				},
				Check: checkFunc(func() error { return unmanagedIntact() }),
			},
			{
				ResourceName:      "rayvllm_vllm_worker.a",
				ImportState:       true,
				ImportStateId:     os.Getenv("RAY_ADDRESS") + "#" + a,
				ImportStateVerify: true,
				// Not on the cluster: the local path, the request, the
				// connection and timing settings; the statuses move on.
				ImportStateVerifyIgnore: []string{"working_dir", "smoke_test", "http_options", "timeouts", "auth_token", "last_deployed_time", "deployment_statuses", "status_message"},
			},
		},
	})
}

// driftApp changes a's config on the cluster as someone with the Serve CLI would.
func driftApp(t *testing.T, c *ray.Client, name string) {
	t.Helper()
	ctx := context.Background()
	a, _, err := c.FindServeApplication(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var app map[string]any
	if err := json.Unmarshal(a.DeployedAppConfig, &app); err != nil {
		t.Fatal(err)
	}
	dep := app["deployments"].([]any)[0].(map[string]any)
	dep["num_replicas"] = 1
	dep["graceful_shutdown_timeout_s"] = 7
	if _, err := c.DeployServeApplication(ctx, app, ray.DeployOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestAccVLLMWorker_parallel applies five workers on one cluster at once
// (terraform's default -parallelism=10): the per-cluster lock must keep
// every one of them, and the unmanaged application.
func TestAccVLLMWorker_parallel(t *testing.T) {
	e := testAccServe(t)
	sfx := acctest.RandString(6)
	unmanaged := "tfacc-keep-" + sfx
	var unmanagedIntact func() error
	var names []string
	checks := []statecheck.StateCheck{}
	config := ""
	for i := range 5 {
		n := fmt.Sprintf("tfacc-p%d-%s", i, sfx)
		names = append(names, n)
		config += e.fixtureWorker(fmt.Sprintf("p%d", i), n, `  deployments = [{ name = "Fixture", num_replicas = 1, num_cpus = 0.05 }]
  smoke_test = { path = "/v1/models", expect_body_contains = "`+n+`-model" }`)
		addr := fmt.Sprintf("rayvllm_vllm_worker.p%d", i)
		checks = append(checks,
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("RUNNING")),
			deploymentStatus(addr, "Fixture", "running_replicas", knownvalue.Int64Exact(1)))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		PreCheck:                 func() { unmanagedIntact = e.unmanagedApp(t, unmanaged) },
		CheckDestroy: func(*terraform.State) error {
			if err := e.gone(names...)(); err != nil {
				return err
			}
			return unmanagedIntact()
		},
		Steps: []resource.TestStep{{
			Config:            config,
			ConfigStateChecks: checks,
			Check: checkFunc(func() error {
				s, err := e.client.ServeInstance(context.Background())
				if err != nil {
					return err
				}
				for _, n := range names {
					if a, ok := s.Applications[n]; !ok || a.Status != ray.ServeAppRunning {
						return fmt.Errorf("application %s is missing or not RUNNING on the cluster: %+v", n, a)
					}
				}
				return unmanagedIntact()
			}),
		}},
	})
}

// TestAccVLLMWorker_importFails deploys an application whose module raises
// at import: the apply must fail with Serve's own message.
func TestAccVLLMWorker_importFails(t *testing.T) {
	e := testAccServe(t)
	name := "tfacc-broken-" + acctest.RandString(6)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return e.gone(name)() },
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
resource "rayvllm_vllm_worker" "broken" {
  name         = %q
  import_path  = "fixture_broken:app"
  working_dir  = %q
  http_options = { host = "127.0.0.1", port = %d }
  timeouts     = { create = "3m" }
}`, name, e.fixtureDir, e.port),
			ExpectError: regexp.MustCompile(`(?s)DEPLOY_FAILED.*RuntimeError: rayvllm fixture: deliberate import failure`),
		}},
	})
}

// TestAccVLLMWorker_fitCheckFailsPlan: a 70B model in bf16 on one L4 (24 GB)
// cannot start; the plan fails with rayvllm_gpu_fit's message. No cluster is
// contacted: the check runs at plan time.
func TestAccVLLMWorker_fitCheckFailsPlan(t *testing.T) {
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "rayvllm" {
  dashboard_url = "http://127.0.0.1:1"
}
resource "rayvllm_vllm_worker" "big" {
  name             = "llama70b"
  model_id         = "llama-70b"
  model_source     = "meta-llama/Llama-3.1-70B-Instruct"
  accelerator_type = "L4"
  max_model_len    = 8192
}`,
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(`(?s)meta-llama/Llama-3.1-70B(-Instruct)? does not fit on L4.*GiB short per GPU`),
		}},
	})
}

// TestVLLMWorkerFitCheck runs the plan-time check directly to see its
// warnings, which the acceptance framework does not expose.
func TestVLLMWorkerFitCheck(t *testing.T) {
	r := &vllmWorkerResource{}
	run := func(l serveapp.LLM) diag.Diagnostics {
		var d diag.Diagnostics
		r.fitCheck(&d, &vllmWorkerModel{RequireFit: types.BoolNull()}, &l)
		return d
	}
	// Qwen2.5-7B on an A10G (24 GB) at 32k context: vLLM starts, but 256
	// sequences of 32768 tokens are far beyond the KV cache.
	// sequences of 32768 tokens are far beyond the KV cache. vLLM's default
	// max_num_seqs is meant to exceed it: only one the user set is warned about.
	d := run(serveapp.LLM{ModelID: "q", ModelSource: "Qwen/Qwen2.5-7B-Instruct", AcceleratorType: "A10G", Engine: serveapp.Engine{MaxModelLen: 32768, MaxNumSeqs: 256}})
	if d.HasError() || d.WarningsCount() != 1 || !strings.Contains(d.Warnings()[0].Detail(), "max_num_seqs 256 × max_model_len 32768") {
		t.Fatalf("want one KV capacity warning, got %v", d)
	}
	if d := run(serveapp.LLM{ModelID: "q", ModelSource: "Qwen/Qwen2.5-7B-Instruct", AcceleratorType: "A10G", Engine: serveapp.Engine{MaxModelLen: 32768}}); len(d) != 0 {
		t.Fatalf("vLLM's default max_num_seqs: want no diagnostics, got %v", d)
	}
	// Two short sequences fit: no warning.
	d = run(serveapp.LLM{ModelID: "q", ModelSource: "Qwen/Qwen2.5-7B-Instruct", AcceleratorType: "A10G", Engine: serveapp.Engine{MaxModelLen: 4096, MaxNumSeqs: 2}})
	if len(d) != 0 {
		t.Fatalf("want no diagnostics, got %v", d)
	}
	// Unknown model or unmodelled method: nothing to check against, which the plan says.
	for _, l := range []serveapp.LLM{
		{ModelID: "my-private-model", AcceleratorType: "L4"},
		{ModelID: "Qwen/Qwen2.5-7B-Instruct", AcceleratorType: "L4", Engine: serveapp.Engine{Quantization: "experts_int8"}},
	} {
		if d := run(l); d.HasError() || d.WarningsCount() != 1 || d.Warnings()[0].Summary() != "GPU fit not checked" {
			t.Fatalf("%+v: %v", l, d)
		}
	}
	if d := run(serveapp.LLM{ModelID: "Qwen/Qwen2.5-7B-Instruct"}); len(d) != 0 {
		t.Fatalf("no accelerator_type, no check: %v", d)
	}
	// Llama-3.1-70B in fp8 (~66 GiB of weights) fits an 80 GB A100 but not a
	// 40 GB one: Ray's plain "A100" matches both, so the plan warns.
	d = run(serveapp.LLM{ModelID: "l", ModelSource: "meta-llama/Llama-3.1-70B-Instruct", AcceleratorType: "A100", Engine: serveapp.Engine{Quantization: "fp8", MaxModelLen: 4096, MaxNumSeqs: 4}})
	if d.HasError() || d.WarningsCount() == 0 || !strings.Contains(d.Warnings()[0].Summary(), "fits A100-80GB but not A100-40GB") {
		t.Fatalf("want the A100 40/80 GB warning, got %v", d)
	}
	// require_fit = false turns the failure into a warning.
	var d2 diag.Diagnostics
	r.fitCheck(&d2, &vllmWorkerModel{RequireFit: types.BoolValue(false)}, &serveapp.LLM{ModelID: "l", ModelSource: "meta-llama/Llama-3.1-70B-Instruct", AcceleratorType: "L4"})
	if d2.HasError() || d2.WarningsCount() != 1 || !strings.Contains(d2.Warnings()[0].Summary(), "does not fit on L4") {
		t.Fatalf("require_fit = false: %v", d2)
	}
}

func TestVLLMWorkerSchemaIsValid(t *testing.T) {
	resp := &fwresource.SchemaResponse{}
	NewVLLMWorkerResource().Schema(context.Background(), fwresource.SchemaRequest{}, resp)
	if resp.Diagnostics.HasError() {
		t.Fatal(resp.Diagnostics)
	}
	if d := resp.Schema.ValidateImplementation(context.Background()); d.HasError() {
		t.Fatal(d)
	}
	for name, a := range resp.Schema.Attributes {
		if a.GetDescription() == "" {
			t.Errorf("attribute %s has no description", name)
		}
	}
}

// TestAccVLLMWorker_vllmModePlan plans a vLLM mode worker through the real
// CLI: the planned config_json is Ray Serve LLM's OpenAI app with the typed
// attributes in their Ray 2.60 places. No cluster is contacted.
func TestAccVLLMWorker_vllmModePlan(t *testing.T) {
	const addr = "rayvllm_vllm_worker.qwen"
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "rayvllm" {
  dashboard_url = "127.0.0.1:1"
}
resource "rayvllm_vllm_worker" "qwen" {
  name                   = "qwen-7b"
  model_id               = "qwen-7b"
  model_source           = "Qwen/Qwen2.5-7B-Instruct"
  accelerator_type       = "A10G"
  max_model_len          = 8192
  max_num_seqs           = 8
  enable_chunked_prefill = false
  enable_prefix_caching  = true
  autoscaling            = { min_replicas = 1, max_replicas = 4, target_ongoing_requests = 6 }
  max_queued_requests    = 128
}`,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPreRefresh: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate),
				plancheck.ExpectKnownValue(addr, tfjsonpath.New("route_prefix"), knownvalue.StringExact("/qwen-7b")),
				plancheck.ExpectKnownValue(addr, tfjsonpath.New("dashboard_url"), knownvalue.StringExact("http://127.0.0.1:1")),
				plancheck.ExpectKnownValue(addr, tfjsonpath.New("config_json"), knownvalue.StringExact(
					`{"args":{"llm_configs":[{"accelerator_type":"A10G",`+
						`"deployment_config":{"autoscaling_config":{"max_replicas":4,"min_replicas":1,"target_ongoing_requests":6},"max_queued_requests":128},`+
						`"engine_kwargs":{"enable_chunked_prefill":false,"enable_prefix_caching":true,"max_model_len":8192,"max_num_seqs":8},`+
						`"model_loading_config":{"model_id":"qwen-7b","model_source":"Qwen/Qwen2.5-7B-Instruct"}}]},`+
						`"import_path":"ray.serve.llm:build_openai_app","name":"qwen-7b","route_prefix":"/qwen-7b"}`)),
				plancheck.ExpectUnknownValue(addr, tfjsonpath.New("status")),
			}},
		}},
	})
}

// TestAccVLLMWorker_invalidConfig: bad input fails validation naming the attribute.
func TestAccVLLMWorker_invalidConfig(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ body, want string }{
		"both modes":        {`model_id = "m"` + "\n" + `import_path = "a:b"`, `(?s)"import_path".*cannot be specified when "model_id" is specified|These attributes cannot be configured together`},
		"route prefix":      {`model_id = "m"` + "\n" + `route_prefix = "/x/"`, `route_prefix "/x/" must not end\s+with "/"`},
		"autoscaling range": {`model_id = "m"` + "\n" + `autoscaling = { min_replicas = 3, max_replicas = 2 }`, `min_replicas is 3 and\s+max_replicas 2`},
		"typed engine arg":  {`model_id = "m"` + "\n" + `engine_kwargs_json = jsonencode({ max_model_len = 4 })`, `set the typed\s+attribute\s+max_model_len\s+instead`},
		"not json":          {`import_path = "a:b"` + "\n" + `args_json = "{nope"`, `is not valid JSON`},
		"accelerator":       {`model_id = "m"` + "\n" + `accelerator_type = "A10X"`, `(?s)accelerator_type.*A10G`},
		"cpu with gpu type": {`model_id = "m"` + "\n" + `accelerator = "cpu"` + "\n" + `accelerator_type = "L4"`, `(?s)GPU type on a CPU engine.*remove\s+accelerator_type`},
		"bad accelerator":   {`model_id = "m"` + "\n" + `accelerator = "tpu"`, `(?s)accelerator.*value must be one of: \["gpu" "cpu"\]`},
	} {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      "resource \"rayvllm_vllm_worker\" \"x\" {\nname = \"x\"\n" + tc.body + "\n}",
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

// TestAccVLLMWorker_existingNameRefused: creating a worker whose name an
// unmanaged application already has fails and points at import; the
// unmanaged application is left as it was, also by the destroy.
func TestAccVLLMWorker_existingNameRefused(t *testing.T) {
	e := testAccServe(t)
	name := "tfacc-taken-" + acctest.RandString(6)
	var intact func() error
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		PreCheck:                 func() { intact = e.unmanagedApp(t, name) },
		CheckDestroy:             func(*terraform.State) error { return intact() },
		Steps: []resource.TestStep{{
			Config:      e.fixtureWorker("taken", name, `  deployments = [{ name = "Fixture", num_replicas = 2 }]`),
			ExpectError: regexp.MustCompile(`(?s)already exists.*terraform\s+import`),
		}},
	})
}
