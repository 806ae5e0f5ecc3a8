package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/kubebox"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/kuberay"
)

// kubeClusterHCL is a small RayCluster for the box: a 1-CPU head and one
// group of `count` one-GPU pods on L4 nodes. extra goes into the resource.
func kubeClusterHCL(kubeconfig, name string, count int, extra string) string {
	return fmt.Sprintf(`
provider "rayvllm" {
  kubernetes {
    config_path = %q
  }
}

resource "rayvllm_kuberay_cluster" "test" {
  namespace = "default"
  name      = %q
  head {
    cpu        = 1
    memory_gib = 2
  }
  worker_group {
    name        = "l4"
    count       = %d
    cpu         = 1
    memory_gib  = 1
    gpu_product = "NVIDIA-L4"
  }
  %s
}
`, kubeconfig, name, count, extra)
}

// The plan-time checks need no API server: the fit check reads the GPU from
// the product label, and bad groups fail with the attribute named.
func TestKubeRayCluster_plan(t *testing.T) {
	unitPreCheck(t)
	base := kubeClusterHCL("/nonexistent", "llm", 1, "")
	sub := func(old, repl string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("config lacks %q", old)
		}
		return strings.Replace(base, old, repl, 1)
	}
	fit := func(model string) string { return fmt.Sprintf("fit_check {\n    model = %q\n  }", model) }
	for _, c := range []struct{ name, config, err string }{
		{"fits", strings.Replace(base, "  \n}", fit("Qwen/Qwen2.5-0.5B")+"\n}", 1), ""},
		{"misfit", strings.Replace(base, "  \n}", fit("meta-llama/Llama-3.1-70B")+"\n}", 1),
			`(?s)Llama-3.1-70B does not fit on L4.*gpu_product = "NVIDIA-L4".*gpu.product=NVIDIA-L4, 1 × L4`},
		{"unknown product", strings.Replace(sub(`"NVIDIA-L4"`, `"NVIDIA-Z9"`), "  \n}", fit("Qwen/Qwen2.5-0.5B")+"\n}", 1),
			`(?s)The fit check needs the group's GPU.*gpu_product "NVIDIA-Z9" is not a GPU in the catalog`},
		{"bad gpu", sub(`gpu_product = "NVIDIA-L4"`, `gpu = "L5"`), `(?s)Unknown GPU.*unknown GPU "L5"`},
		{"cpu group with a gpu", sub(`gpu_product = "NVIDIA-L4"`, "gpu_product = \"NVIDIA-L4\"\n    gpus_per_node = 0"), `(?s)A GPU for a CPU group.*gpus_per_node = 0`},
		{"bad name", sub(`"llm"`, `"LLM_1"`), `(?s)name.*must be a DNS label`},
		{"count and max", sub(`count       = 1`, "count = 1\n    max_workers = 2"), `(?s)Invalid Attribute Combination.*count.*max_workers`},
		{"min above max", sub(`count       = 1`, "min_workers = 3\n    max_workers = 2"), `(?s)min_workers 3 is above max_workers 2`},
		{"duplicate group", strings.Replace(base, "  worker_group {", "  worker_group {\n    name = \"l4\"\n    count = 0\n  }\n  worker_group {", 1), `(?s)Duplicate worker group name`},
	} {
		t.Run(c.name, func(t *testing.T) { planOnly(t, c.config, c.err) })
	}
}

// A kuberay:// dashboard URL is accepted by the Ray resources; a malformed
// one is refused at validate time.
func TestKubeRayCluster_dashboardURL(t *testing.T) {
	for in, want := range map[string]string{
		"kuberay://ml/llm":    "kuberay://ml/llm",
		" kuberay://ml/llm/ ": "kuberay://ml/llm",
		"kuberay://ml":        "must be kuberay://<namespace>/<RayCluster name>",
		"kuberay://ml/a/b":    "must be kuberay://<namespace>/<RayCluster name>",
		"kuberay://ML/llm":    "is not a DNS label",
	} {
		got, err := normalizeDashboardURL(in)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("normalizeDashboardURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// kubeBox is a box whose node has one GPU labelled as an L4.
func kubeBox(t *testing.T) *kubebox.Box {
	t.Helper()
	testAccPreCheck(t)
	return kubebox.NewNode(t, kubebox.Options{NodeGPUs: 1, NodeLabels: map[string]string{kuberay.GPUProductLabel: "NVIDIA-L4"}})
}

// kubectlJSON reads an object with kubectl, the tests' independent client.
func kubectlJSON(box *kubebox.Box, out any, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := box.Kubectl(ctx, append(args, "-o", "json")...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return fmt.Errorf("kubectl %v: %v: %s", args, err, ee.Stderr)
		}
		return err
	}
	return json.Unmarshal(b, out)
}

type kubeList struct {
	Items []struct {
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Status struct {
			PodIP string `json:"podIP"`
		} `json:"status"`
	} `json:"items"`
}

// kubeRayPods checks the cluster's pods: n workers and a head whose
// dashboard takes the state's token, and refuses a request without it.
func kubeRayPods(box *kubebox.Box, name string, workers int) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		var pods kubeList
		if err := kubectlJSON(box, &pods, "get", "pods", "-n", "default", "-l", "ray.io/cluster="+name); err != nil {
			return err
		}
		head, n := "", 0
		for _, p := range pods.Items {
			switch p.Metadata.Labels["ray.io/node-type"] {
			case "head":
				head = p.Status.PodIP
			case "worker":
				n++
			}
		}
		if head == "" || n != workers {
			return fmt.Errorf("pods %+v: want a head and %d workers", pods.Items, workers)
		}
		token := s.RootModule().Resources["rayvllm_kuberay_cluster.test"].Primary.Attributes["auth_token"]
		for tok, want := range map[string]int{token: http.StatusOK, "": http.StatusUnauthorized} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+head+":8265/api/version", nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			if resp.StatusCode != want {
				return fmt.Errorf("GET the head's /api/version with token %v: HTTP %d, want %d", tok != "", resp.StatusCode, want)
			}
		}
		return nil
	}
}

// kubeRayGone checks after destroy that the RayCluster, its pods and its
// token Secret are gone.
func kubeRayGone(box *kubebox.Box, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, kind := range []string{"rayclusters", "pods", "secrets"} {
			var l kubeList
			if err := kubectlJSON(box, &l, "get", kind, "-n", "default"); err != nil {
				return err
			}
			for _, it := range l.Items {
				if strings.HasPrefix(it.Metadata.Name, name) {
					return fmt.Errorf("%s %s is left after destroy", kind, it.Metadata.Name)
				}
			}
		}
		return nil
	}
}

// TestAccKubeRayCluster_basic creates a RayCluster through the real KubeRay
// operator in the box, resizes its group in place, sees and undoes a resize
// made behind its back, imports it, and destroys it with its pods and
// Secret.
func TestAccKubeRayCluster_basic(t *testing.T) {
	box := kubeBox(t)
	const name = "acc-basic"
	addr := "rayvllm_kuberay_cluster.test"
	fitCheck := "fit_check {\n    model = \"Qwen/Qwen2.5-0.5B\"\n  }"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             kubeRayGone(box, name),
		Steps: []resource.TestStep{
			{
				Config: kubeClusterHCL(box.Kubeconfig(), name, 1, fitCheck),
				Check:  kubeRayPods(box, name, 1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("default/"+name)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("dashboard_url"), knownvalue.StringExact("kuberay://default/"+name)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("auth_token"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("total_gpus"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("image"), knownvalue.StringExact(kuberay.DefaultImage())),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("worker_group").AtSliceIndex(0).AtMapKey("gpu_model"), knownvalue.StringExact("L4")),
				},
			},
			{
				Config: kubeClusterHCL(box.Kubeconfig(), name, 0, fitCheck),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: kubeRayPods(box, name, 0),
			},
			{
				// Drift: the group resized behind Terraform's back shows in the plan.
				PreConfig: func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					patch := `[{"op":"replace","path":"/spec/workerGroupSpecs/0/replicas","value":1},` +
						`{"op":"replace","path":"/spec/workerGroupSpecs/0/minReplicas","value":1},{"op":"replace","path":"/spec/workerGroupSpecs/0/maxReplicas","value":1}]`
					if out, err := box.Kubectl(ctx, "patch", "raycluster", name, "-n", "default", "--type=json", "-p", patch).CombinedOutput(); err != nil {
						t.Fatalf("kubectl patch: %v: %s", err, out)
					}
				},
				Config: kubeClusterHCL(box.Kubeconfig(), name, 0, fitCheck),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
				}},
				Check: kubeRayPods(box, name, 0),
			},
			{
				ResourceName: addr, ImportState: true, ImportStateId: "default/" + name, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"fit_check", "timeouts"},
			},
		},
	})
}

// TestAccKubeRayCluster_disappears deletes the RayCluster behind
// Terraform's back: the next plan creates it again.
func TestAccKubeRayCluster_disappears(t *testing.T) {
	box := kubeBox(t)
	const name = "acc-gone"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             kubeRayGone(box, name),
		Steps: []resource.TestStep{{
			Config: kubeClusterHCL(box.Kubeconfig(), name, 0, "wait_for_ray = false"),
			Check: func(*terraform.State) error {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				out, err := box.Kubectl(ctx, "delete", "raycluster", "-n", "default", name, "--wait=true").CombinedOutput()
				if err != nil {
					return fmt.Errorf("kubectl delete: %v: %s", err, out)
				}
				return nil
			},
			ExpectNonEmptyPlan: true,
		}},
	})
}

// TestAccBatchJob_onKubeRay runs the tiny model's built-in batch job on a
// rayvllm_kuberay_cluster: the job reaches the head only through the
// cluster's kuberay:// dashboard_url (a port-forward through the API
// server) with its token, and runs on the head pod's Ray (the box's venv
// stands in for the image).
func TestAccBatchJob_onKubeRay(t *testing.T) {
	box := kubeBox(t)
	py := e2eVenv(t)
	model := tinyModel(t, py)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "prompts.jsonl"), filepath.Join(dir, "out")
	const n, maxTokens = 40, 8
	writePrompts(t, in, e2ePrompts(t, n))
	cluster := strings.NewReplacer(`cpu        = 1`, `cpu        = 6`, `memory_gib = 2`, `memory_gib = 12`, "gpu_product = \"NVIDIA-L4\"", "gpus_per_node = 0").
		Replace(kubeClusterHCL(box.Kubeconfig(), "acc-batch", 0, ""))
	job := strings.Replace(e2eBatchHCL(model, in, out, maxTokens, false), "  vllm = {",
		"  dashboard_url = rayvllm_kuberay_cluster.test.dashboard_url\n  auth_token    = rayvllm_kuberay_cluster.test.auth_token\n  vllm = {", 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             kubeRayGone(box, "acc-batch"),
		Steps: []resource.TestStep{{
			Config: cluster + job,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "status", "SUCCEEDED"),
				resource.TestCheckResourceAttr("rayvllm_batch_job.e2e", "dashboard_url", "kuberay://default/acc-batch"),
				checkBatchOutput(py, model, out, n, maxTokens, n, 0),
			),
		}},
	})
}

// The sweeper deletes the RayClusters (and Secrets) named like the tests'
// and leaves the others.
func TestAccKubeRayCluster_sweeper(t *testing.T) {
	box := kubeBox(t)
	t.Setenv("KUBE_CONFIG_PATH", box.Kubeconfig())
	c, err := kuberay.New(kuberay.Config{ConfigPath: box.Kubeconfig()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, name := range []string{"acc-left", "keep"} {
		s := kuberay.Spec{Namespace: "default", Name: name, Image: kuberay.DefaultImage(), TokenSecret: name + "-ray-token",
			Head: kuberay.Pod{CPU: 1, MemoryGiB: 1}, Groups: []kuberay.Group{{Name: "g"}}}
		if err := c.ApplySecret(ctx, "default", s.TokenSecret, "t", false); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create(ctx, s.Render()); err != nil {
			t.Fatal(err)
		}
	}
	if err := sweepKubeRayClusters(""); err != nil {
		t.Fatal(err)
	}
	left, err := c.Managed(ctx)
	if err != nil || fmt.Sprint(left) != "[default/keep]" {
		t.Errorf("after the sweep: %v, %v; want only default/keep", left, err)
	}
	if _, _, err := c.Token(ctx, "default", "acc-left-ray-token"); err == nil {
		t.Error("the swept cluster's token Secret is left")
	}
}

// TestAccVLLMWorker_onKubeRay deploys the Serve fixture app on a
// rayvllm_kuberay_cluster through its kuberay:// dashboard_url: endpoint_url
// is the head Service's in-cluster address, and the smoke test reaches the
// same Serve proxy through a tunnel to the head pod.
func TestAccVLLMWorker_onKubeRay(t *testing.T) {
	box := kubeBox(t)
	const name = "acc-serve"
	fixture := repoPath(t, "internal/provider/testdata/serve_fixture")
	cluster := strings.NewReplacer(`cpu        = 1`, `cpu        = 2`, `memory_gib = 2`, `memory_gib = 4`, "gpu_product = \"NVIDIA-L4\"", "gpus_per_node = 0").
		Replace(kubeClusterHCL(box.Kubeconfig(), name, 0, ""))
	worker := fmt.Sprintf(`
resource "rayvllm_vllm_worker" "test" {
  dashboard_url = rayvllm_kuberay_cluster.test.dashboard_url
  auth_token    = rayvllm_kuberay_cluster.test.auth_token
  name          = "fixture"
  import_path   = "fixture_app:build_app"
  working_dir   = %q
  args_json     = jsonencode({ model_id = "fixture-model" })
  deployments   = [{ name = "Fixture", num_cpus = 0.05 }]
  smoke_test = {
    path                 = "/v1/completions"
    body                 = jsonencode({ prompt = "hello rayvllm", max_tokens = 3 })
    expect_body_contains = %q
  }
}
`, fixture, fixtureCompletion("hello rayvllm", 3))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             kubeRayGone(box, name),
		Steps: []resource.TestStep{{
			Config: cluster + worker,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("rayvllm_vllm_worker.test", tfjsonpath.New("status"), knownvalue.StringExact("RUNNING")),
				statecheck.ExpectKnownValue("rayvllm_vllm_worker.test", tfjsonpath.New("endpoint_url"),
					knownvalue.StringExact("http://"+name+"-head-svc.default.svc:8000/fixture")),
			},
		}},
	})
}
