package provider

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// sixPlacesConfig sets one engine setting to the same value in the six
// places that take it: the worker, the batch job, the cluster's fit_check
// (validators only: its plan reads AWS), rayvllm_gpu_fit,
// rayvllm_batch_sizing and the gpu_fit function.
func sixPlacesConfig(attr, value string, places []string) string {
	const model = `"Qwen/Qwen2.5-7B-Instruct"`
	block := map[string]string{
		"rayvllm_vllm_worker.x": `
resource "rayvllm_vllm_worker" "x" {
  dashboard_url = "http://127.0.0.1:9"
  name          = "x"
  model_id      = %[1]s
  %[2]s = %[3]s
}`,
		"rayvllm_batch_job.x": `
resource "rayvllm_batch_job" "x" {
  dashboard_url = "http://127.0.0.1:9"
  vllm = {
    model_source = %[1]s
    %[2]s = %[3]s
    input    = { path = "/in.csv", prompt_column = "p" }
    output   = { path = "/out" }
    sampling = { max_tokens = 16 }
  }
}`,
		"data.rayvllm_gpu_fit.x": `
data "rayvllm_gpu_fit" "x" {
  model = %[1]s
  gpu   = "H100"
  %[2]s = %[3]s
}`,
		"data.rayvllm_batch_sizing.x": `
data "rayvllm_batch_sizing" "x" {
  model              = %[1]s
  gpu                = "H100"
  num_requests       = 1000
  mean_input_tokens  = 500
  mean_output_tokens = 200
  %[2]s = %[3]s
}`,
		"gpu_fit": `
output "gpu_fit" {
  value = provider::rayvllm::gpu_fit(%[1]s, "H100", { %[2]s = %[3]s }).fits
}`,
		"rayvllm_inference_cluster.x": "\nresource \"rayvllm_inference_cluster\" \"x\" {" + strings.Replace(validClusterBody, "  wait_for_ray",
			"  fit_check {\n    model = %[1]s\n    %[2]s = %[3]s\n  }\n  wait_for_ray", 1) + "}",
	}
	var c strings.Builder
	for _, p := range places {
		fmt.Fprintf(&c, block[p], model, attr, value)
	}
	return c.String()
}

// diagnosticsByPlace splits the CLI's error output into its diagnostics and
// files each under the object it is about, whitespace collapsed (the CLI
// wraps long lines).
func diagnosticsByPlace(out string) map[string][]string {
	by := map[string][]string{}
	place := regexp.MustCompile(`with (rayvllm_vllm_worker\.x|rayvllm_batch_job\.x|rayvllm_inference_cluster\.x|data\.rayvllm_gpu_fit\.x|data\.rayvllm_batch_sizing\.x)|in output "(gpu_fit)"`)
	for _, d := range strings.Split(out, "Error: ")[1:] {
		m := place.FindStringSubmatch(d)
		if m == nil {
			continue
		}
		p := m[1] + m[2]
		by[p] = append(by[p], strings.Join(strings.Fields(d), " "))
	}
	return by
}

// TestEngineSettingsSixPlacesPlan plans the same bad value in the six
// places with the real Terraform CLI (resource.UnitTest: no TF_ACC, no
// services) and expects the same verdict in each. The good values plan in
// TestEngineSettingsSameVerdictInSixPlaces, which needs no CLI.
func TestEngineSettingsSixPlacesPlan(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("plans with the Terraform CLI")
	}
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Skip("no Terraform CLI: set TF_ACC_TERRAFORM_PATH (e.g. bin/terraform) or put terraform on PATH") // else the framework would download one
	}
	all := []string{"rayvllm_vllm_worker.x", "rayvllm_batch_job.x", "rayvllm_inference_cluster.x", "data.rayvllm_gpu_fit.x", "data.rayvllm_batch_sizing.x", "gpu_fit"}
	// The checkpoint check runs at plan, after validation: the function's
	// error (at validation) would hide the others, and the cluster's plan
	// reads AWS first (TestEngineSettingsSameVerdictInSixPlaces covers it).
	planned := []string{"rayvllm_vllm_worker.x", "rayvllm_batch_job.x", "data.rayvllm_gpu_fit.x", "data.rayvllm_batch_sizing.x"}
	for _, tc := range []struct {
		name, attr, value, want string
		places                  []string
	}{
		{"quantization typo", "quantization", `"awq4"`, `"awq4" is not a vLLM quantization method (did you mean "awq"?)`, all},
		{"tensor_parallel_size 0", "tensor_parallel_size", "0", "value must be between 1 and 64, got: 0", all},
		{"tensor_parallel_size 65", "tensor_parallel_size", "65", "value must be between 1 and 64, got: 65", all},
		{"kv_cache_dtype", "kv_cache_dtype", `"fp4"`, `got: "fp4"`, all},
		{"pipeline_parallel_size 0", "pipeline_parallel_size", "0", "value must be between 1 and 64, got: 0", all},
		{"engine_kwargs_json typo", "engine_kwargs_json", `jsonencode({ enforce_eagre = true })`, `"enforce_eagre" is not an engine argument of vLLM 0.32.0 (did you mean "enforce_eager"?)`, all},
		{"engine_kwargs_json wrong type", "engine_kwargs_json", `jsonencode({ max_loras = "two" })`, `"max_loras" must be an integer, got a string`, all},
		{"engine_kwargs_json typed key", "engine_kwargs_json", `jsonencode({ max_model_len = 4096 })`, `set the typed attribute max_model_len instead`, all},
		{"quantization the checkpoint lacks", "quantization", `"awq"`, "Qwen/Qwen2.5-7B-Instruct is not quantized", planned},
		{"quantization the checkpoint lacks, function", "quantization", `"awq"`, "Qwen/Qwen2.5-7B-Instruct is not quantized", []string{"gpu_fit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checked := false
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				ErrorCheck: func(err error) error {
					checked = true
					by := diagnosticsByPlace(err.Error())
					var missing []string
					for _, p := range tc.places {
						found := false
						for _, d := range by[p] {
							found = found || strings.Contains(d, tc.want) && strings.Contains(d, tc.attr)
						}
						if !found {
							missing = append(missing, fmt.Sprintf("%s: %q", p, by[p]))
						}
					}
					if len(missing) > 0 {
						return fmt.Errorf("want %q on %s in every place; not in:\n%s\nfull output:\n%s", tc.want, tc.attr, strings.Join(missing, "\n"), err)
					}
					return nil
				},
				Steps: []resource.TestStep{{Config: sixPlacesConfig(tc.attr, tc.value, tc.places), PlanOnly: true, ExpectNonEmptyPlan: true}},
			})
			if !checked {
				t.Errorf("%s = %s planned without an error", tc.attr, tc.value)
			}
		})
	}
}
