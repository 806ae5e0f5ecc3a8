package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
)

// Feature floors of the CLIs (their changelogs): ephemeral resources came
// in Terraform 1.10 and OpenTofu 1.11, write-only arguments in Terraform
// 1.11 and OpenTofu 1.11.
func needEphemeral(t *testing.T) { needCLI(t, "an ephemeral resource", "1.10.0", "1.11.0") }
func needWriteOnly(t *testing.T) { needCLI(t, "write-only arguments", "1.11.0", "1.11.0") }

// secretVariables declares ephemeral, sensitive string variables (Terraform
// >= 1.10, OpenTofu >= 1.11): how a secret reaches a write-only argument in
// practice. A literal in the configuration would be in the plan's JSON
// (its configuration section), and a plain variable's value too.
func secretVariables(vals map[string]string) (string, config.Variables) {
	var hcl strings.Builder
	vars := config.Variables{}
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		fmt.Fprintf(&hcl, "variable %q {\n  type      = string\n  sensitive = true\n  ephemeral = true\n}\n", name)
		vars[name] = config.StringVariable(vals[name])
	}
	return hcl.String(), vars
}

// secretsAbsent fails a plan or state that holds any of the secrets
// anywhere in its JSON (what `show -json` prints, sensitive values in clear).
type secretsAbsent map[string]string

func (s secretsAbsent) check(what string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	for name, secret := range s {
		if secret == "" {
			return fmt.Errorf("the %s is empty: the check would prove nothing", name)
		}
		if i := strings.Index(string(b), secret); i >= 0 {
			return fmt.Errorf("the %s is in the %s: ...%s<SECRET>", name, what, b[max(0, i-160):i])
		}
	}
	return nil
}

func (s secretsAbsent) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = s.check("state", req.State)
}

func (s secretsAbsent) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = s.check("plan", req.Plan)
}

// liveEnvVar reads one env var of a Serve application's runtime_env from the
// cluster (what Ray was sent, unredacted).
func (e serveEnv) liveEnvVar(name, key string) (string, error) {
	app, _, err := e.client.FindServeApplication(context.Background(), name)
	if err != nil {
		return "", err
	}
	var cfg struct {
		RuntimeEnv struct {
			EnvVars map[string]string `json:"env_vars"`
		} `json:"runtime_env"`
	}
	if err := json.Unmarshal(app.DeployedAppConfig, &cfg); err != nil {
		return "", err
	}
	return cfg.RuntimeEnv.EnvVars[key], nil
}

func (e serveEnv) expectLiveEnvVar(name, key, want string) func() error {
	return func() error {
		got, err := e.liveEnvVar(name, key)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("Serve application %s runs with %s of %d bytes, not the configured value", name, key, len(got))
		}
		return nil
	}
}

// A secret in runtime_env_json reaches Ray, while config_json (computed,
// not sensitive) shows only a hash marker that changes with the value, so
// a new token still shows as an update.
func TestAccVLLMWorker_runtimeEnvSecretRedacted(t *testing.T) {
	e := testAccServe(t)
	name := "tfacc-redact-" + acctest.RandString(6)
	one, two := "hf_"+acctest.RandString(32), "hf_"+acctest.RandString(32)
	const addr = "rayvllm_vllm_worker.w"
	cfg := func(token string) string {
		return e.fixtureWorker("w", name, fmt.Sprintf(`  runtime_env_json = jsonencode({ env_vars = { HF_TOKEN = %q, PLAIN = "visible" } })
  deployments = [{ name = "Fixture", num_replicas = 1, num_cpus = 0.05 }]`, token))
	}
	marker := func(token string) knownvalue.Check {
		return knownvalue.StringFunc(func(v string) error {
			var app map[string]any
			if err := json.Unmarshal([]byte(v), &app); err != nil {
				return err
			}
			env, _ := app["runtime_env"].(map[string]any)["env_vars"].(map[string]any)
			if env["HF_TOKEN"] != serveapp.HashMarker(token) || env["PLAIN"] != serveapp.HashMarker("visible") {
				return fmt.Errorf("config_json env_vars = %v, want hash markers", env)
			}
			if strings.Contains(v, token) {
				return fmt.Errorf("config_json holds the token")
			}
			return nil
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkFunc(e.gone(name)),
		Steps: []resource.TestStep{
			{
				Config: cfg(one),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("config_json"), marker(one)),
					plancheck.ExpectSensitiveValue(addr, tfjsonpath.New("runtime_env_json")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("config_json"), marker(one)),
					statecheck.ExpectSensitiveValue(addr, tfjsonpath.New("runtime_env_json")),
				},
				Check: checkFunc(e.expectLiveEnvVar(name, "HF_TOKEN", one)),
			},
			{
				Config: cfg(two),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("config_json"), marker(two)),
				}},
				Check: checkFunc(e.expectLiveEnvVar(name, "HF_TOKEN", two)),
			},
		},
	})
}

// env_vars_wo and auth_token_wo: the values reach Ray and nothing of them
// is in the plan or state (not even a hash); a new value is sent when the
// version changes.
func TestAccVLLMWorker_writeOnly(t *testing.T) {
	needWriteOnly(t)
	e := testAccServe(t)
	name := "tfacc-wo-" + acctest.RandString(6)
	token := os.Getenv("RAY_AUTH_TOKEN")
	one, two := "key-"+acctest.RandString(32), "key-"+acctest.RandString(32)
	const addr = "rayvllm_vllm_worker.w"
	cfg := func(version int) string {
		vars, _ := secretVariables(map[string]string{"token": "", "key": ""})
		return vars + e.fixtureWorker("w", name, fmt.Sprintf(`  auth_token_wo         = var.token
  auth_token_wo_version = 1
  env_vars_wo           = { API_KEY = var.key }
  env_vars_wo_version   = %d
  deployments = [{ name = "Fixture", num_replicas = 1, num_cpus = 0.05 }]`, version))
	}
	_, vars1 := secretVariables(map[string]string{"token": token, "key": one})
	_, vars2 := secretVariables(map[string]string{"token": token, "key": two})
	woMarker := knownvalue.StringFunc(func(v string) error {
		if !strings.Contains(v, `"API_KEY":"`+serveapp.WriteOnlyMarker+`"`) {
			return fmt.Errorf("config_json does not show API_KEY as %s: %s", serveapp.WriteOnlyMarker, v)
		}
		return nil
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkFunc(e.gone(name)),
		Steps: []resource.TestStep{
			{
				Config:          cfg(1),
				ConfigVariables: vars1,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					secretsAbsent{"env_vars_wo value": one, "auth_token_wo": token},
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					secretsAbsent{"env_vars_wo value": one, "auth_token_wo": token},
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("config_json"), woMarker),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("env_vars_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("auth_token_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("runtime_env_json"), knownvalue.Null()),
				},
				Check: checkFunc(e.expectLiveEnvVar(name, "API_KEY", one)),
			},
			{
				// A new value without a new version is not sent (what
				// write-only means); with one, it is.
				Config:          cfg(2),
				ConfigVariables: vars2,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					secretsAbsent{"env_vars_wo value": two},
				}},
				ConfigStateChecks: []statecheck.StateCheck{secretsAbsent{"old value": one, "new value": two, "auth_token_wo": token}},
				Check:             checkFunc(e.expectLiveEnvVar(name, "API_KEY", two)),
			},
		},
	})
}

// auth_token_wo is what create sends (a wrong one fails although the
// provider's token is right), and no token is in the plan or state.
func TestAccBatchJob_writeOnlyToken(t *testing.T) {
	needWriteOnly(t)
	testAccPreCheck(t, needRay)
	token := os.Getenv("RAY_AUTH_TOKEN")
	envSecret := "job-secret-" + acctest.RandString(24)
	const addr = "rayvllm_batch_job.job"
	vars, varValues := secretVariables(map[string]string{"token": token, "job_secret": envSecret})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{
			{
				// The job prints a hash of the variable: the value itself
				// must not be in the entrypoint (state) or the log tail.
				Config: vars + `
resource "rayvllm_batch_job" "job" {
  entrypoint            = "python -c 'import os, hashlib; print(\"secret\", hashlib.sha256(os.environ[\"JOB_SECRET\"].encode()).hexdigest()[:12])'"
  entrypoint_num_cpus   = 0.1
  auth_token_wo         = var.token
  auth_token_wo_version = 1
  env_vars_wo           = { JOB_SECRET = var.job_secret }
  env_vars_wo_version   = 1
}
`,
				ConfigVariables:  varValues,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{secretsAbsent{"auth_token_wo": token, "env_vars_wo value": envSecret}}},
				ConfigStateChecks: []statecheck.StateCheck{
					secretsAbsent{"auth_token_wo": token, "env_vars_wo value": envSecret},
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("status"), knownvalue.StringExact("SUCCEEDED")),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("log_tail"), knownvalue.StringRegexp(regexp.MustCompile(`secret `+serveapp.HashMarker(envSecret)[len("sha256:"):]))),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("auth_token_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("env_vars_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("auth_token_wo_version"), knownvalue.Int64Exact(1)),
				},
			},
			{
				Config: `
resource "rayvllm_batch_job" "wrong" {
  entrypoint            = "echo never runs"
  auth_token_wo         = "not-the-token"
  auth_token_wo_version = 1
}
`,
				ExpectError: regexp.MustCompile(`(?s)Ray dashboard refused the auth token`),
			},
		},
	})
}

// The chain for a token that is never stored: a cluster made with
// auth_token_wo (in moto) keeps it only in its SSM parameter;
// rayvllm_cluster_token reads it by cluster name into a provider alias,
// whose job then runs on the real Ray head. The environment's token is made
// wrong first, so only the ephemeral value can authenticate the job.
//
// It runs the installed plugin (make install), not the in-process server:
// the CLI starts one plugin process per provider configuration, while one
// in-process server would be configured by both blocks, the last one
// winning.
func TestAccEphemeralClusterToken(t *testing.T) {
	needEphemeral(t)
	needWriteOnly(t)
	e := newAWSEnv(t)
	testAccPreCheck(t, needRay)
	token := os.Getenv("RAY_AUTH_TOKEN")
	name := acctest.RandomWithPrefix("acc-eph")
	wrongParam := "/" + name + "/wrong-token"
	vars, varValues := secretVariables(map[string]string{"token": token})
	cluster := vars + strings.Replace(e.config(name, group{"a10g", "g5.xlarge", 1, ""}), "  tags                    = { team = \"ml\" }",
		"  tags                    = { team = \"ml\" }\n  auth_token_wo           = var.token\n  auth_token_wo_version   = 1", 1)
	chain := cluster + fmt.Sprintf(`
ephemeral "rayvllm_cluster_token" "t" {
  cluster_name = %q
}

provider "rayvllm" {
  alias      = "ray"
  auth_token = ephemeral.rayvllm_cluster_token.t.token
}

resource "rayvllm_batch_job" "job" {
  provider            = rayvllm.ray
  entrypoint          = "python -c 'print(42)'"
  entrypoint_num_cpus = 0.1
  depends_on          = [rayvllm_inference_cluster.test]
}
`, name)
	testAccPreCheck(t, needMirror)
	resource.Test(t, resource.TestCase{
		ExternalProviders: map[string]resource.ExternalProvider{"rayvllm": {Source: "rayvllm/rayvllm"}},
		CheckDestroy: func(s *terraform.State) error {
			t.Setenv("RAY_AUTH_TOKEN", token) // batchJobGone asks Ray with it
			if err := e.checkDestroyed(s); err != nil {
				return err
			}
			return batchJobGone(t)(s)
		},
		Steps: []resource.TestStep{
			{
				Config:          cluster,
				ConfigVariables: varValues,
				ConfigStateChecks: []statecheck.StateCheck{
					secretsAbsent{"auth_token_wo": token},
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("auth_token"), knownvalue.Null()),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("auth_token_ssm_parameter"), knownvalue.StringExact(ec2cluster.TokenParameterName(name))),
				},
				Check: func(*terraform.State) error {
					got, err := e.c.GetToken(context.Background(), ec2cluster.TokenParameterName(name))
					if err != nil {
						return err
					}
					if got != token {
						return fmt.Errorf("the SSM parameter does not hold auth_token_wo")
					}
					return nil
				},
			},
			{
				PreConfig:       func() { t.Setenv("RAY_AUTH_TOKEN", "not-the-token") },
				Config:          chain,
				ConfigVariables: varValues,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					secretsAbsent{"cluster token": token},
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					secretsAbsent{"cluster token": token},
					statecheck.ExpectKnownValue("rayvllm_batch_job.job", tfjsonpath.New("status"), knownvalue.StringExact("SUCCEEDED")),
				},
			},
			{
				// By parameter name, one that holds a wrong token: that job
				// is refused, so the token really comes from SSM.
				PreConfig: func() {
					if err := e.c.PutToken(context.Background(), wrongParam, "not-the-token", map[string]string{ec2cluster.TagCluster: name}); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = e.c.DeleteToken(context.Background(), wrongParam) })
				},
				Config: chain + fmt.Sprintf(`
ephemeral "rayvllm_cluster_token" "wrong" {
  parameter_name = %q
}

provider "rayvllm" {
  alias      = "wrong"
  auth_token = ephemeral.rayvllm_cluster_token.wrong.token
}

resource "rayvllm_batch_job" "job2" {
  provider   = rayvllm.wrong
  entrypoint = "echo never runs"
}
`, wrongParam),
				ConfigVariables: varValues,
				ExpectError:     regexp.MustCompile(`(?s)Ray dashboard refused the auth token`),
			},
		},
	})
}
