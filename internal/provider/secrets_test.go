package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
)

// TestAccSecretsNeverLogged runs the real CLI (Terraform, or OpenTofu in the
// OpenTofu lane) with the installed provider plugin (make install) and
// TF_LOG=TRACE through a full apply of a cluster (against moto), a batch job
// and a vLLM worker (against the real Ray head), a plan, a show and a show
// -json, and a destroy. The Ray auth token (set in the provider block), the
// cluster's generated token, the AWS secret key and session token, the HF
// token and the worker's runtime_env_json env var must appear in none of:
// the trace log (core, provider and AWS call lines, all asserted present),
// the plan and show output, the nodes' user data read back through
// DescribeInstanceAttribute. In the state (show -json, which prints
// sensitive values in clear) only the worker's runtime_env_json may hold
// its env var: config_json shows a hash. On a CLI with write-only arguments
// the job and the worker also get auth_token_wo and env_vars_wo, whose
// values must be nowhere, the state included.
func TestAccSecretsNeverLogged(t *testing.T) {
	e := newAWSEnv(t)
	serve := testAccServe(t)
	testAccPreCheck(t, needRay, needMirror)
	cliConfig, tf := os.Getenv("TF_CLI_CONFIG_FILE"), os.Getenv("TF_ACC_TERRAFORM_PATH")
	rayToken := os.Getenv("RAY_AUTH_TOKEN")
	awsSecret := "rayvllm-aws-secret-" + acctest.RandString(24)
	awsSession := "rayvllm-aws-session-" + acctest.RandString(24)
	workerEnv := "rayvllm-worker-env-" + acctest.RandString(24)
	secrets := map[string]string{"Ray auth token": rayToken, "AWS secret key": awsSecret, "AWS session token": awsSession, "HF token": e.hfToken,
		"worker runtime_env_json env var": workerEnv}
	cli, err := accCLI()
	if err != nil {
		t.Fatal(err)
	}
	// Write-only arguments (Terraform >= 1.11, OpenTofu >= 1.11).
	var jobWO, workerWO string
	if !cli.Version.LessThan(version.Must(version.NewVersion("1.11.0"))) {
		secrets["job env_vars_wo"] = "rayvllm-job-wo-" + acctest.RandString(24)
		secrets["worker env_vars_wo"] = "rayvllm-worker-wo-" + acctest.RandString(24)
		jobWO = fmt.Sprintf("  auth_token_wo         = %q\n  auth_token_wo_version = 1\n  env_vars_wo           = { JOB_SECRET = %q }\n  env_vars_wo_version   = 1\n",
			rayToken, secrets["job env_vars_wo"])
		workerWO = fmt.Sprintf("  auth_token_wo         = %q\n  auth_token_wo_version = 1\n  env_vars_wo           = { WORKER_WO = %q }\n  env_vars_wo_version   = 1\n",
			rayToken, secrets["worker env_vars_wo"])
	} else {
		t.Logf("%s has no write-only arguments: auth_token_wo and env_vars_wo are left out", cli)
	}

	name := acctest.RandomWithPrefix("acc-secrets")
	cluster := strings.Replace(e.config(name, group{"a10g", "g5.xlarge", 1, ""}), `provider "rayvllm" {`,
		fmt.Sprintf("provider \"rayvllm\" {\n  auth_token = %q", rayToken), 1)
	config := "terraform {\n  required_providers {\n    rayvllm = { source = \"rayvllm/rayvllm\" }\n  }\n}\n" + cluster + `
resource "rayvllm_batch_job" "job" {
  entrypoint          = "python -c 'print(42)'"
  entrypoint_num_cpus = 0.1
` + jobWO + `}
` + serve.fixtureWorker("worker", "tfacc-secrets-"+acctest.RandString(6), fmt.Sprintf(`  deployments = [{ name = "Fixture", num_replicas = 1, num_cpus = 0.05 }]
  runtime_env_json = jsonencode({ env_vars = { WORKER_SECRET = %q } })
%s`, workerEnv, workerWO)) + `
output "cluster_token" {
  value     = rayvllm_inference_cluster.test.auth_token
  sensitive = true
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "trace.log")
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"TF_LOG=TRACE", "TF_LOG_PATH="+logPath, "AWS_SECRET_ACCESS_KEY="+awsSecret, "AWS_SESSION_TOKEN="+awsSession)
	run := func(args ...string) string {
		cmd := exec.Command(tf, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
		return string(out)
	}
	applied, destroyed := false, false
	t.Cleanup(func() {
		if applied && !destroyed {
			cmd := exec.Command(tf, "destroy", "-auto-approve", "-input=false", "-no-color")
			cmd.Dir, cmd.Env = dir, env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("cleanup destroy: %v\n%s", err, out)
			}
		}
	})
	outputs := map[string]string{}
	run("init", "-input=false", "-no-color")
	applied = true // also a failed apply may have created something
	outputs["apply output"] = run("apply", "-auto-approve", "-input=false", "-no-color")
	clusterToken := strings.TrimSpace(run("output", "-raw", "cluster_token"))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(clusterToken) {
		t.Fatalf("cluster auth_token output %q is not a 64-hex token", clusterToken)
	}
	secrets["cluster auth_token"] = clusterToken
	outputs["plan output"] = run("plan", "-input=false", "-no-color", "-detailed-exitcode")
	outputs["show output"] = run("show", "-no-color")
	outputs["state (show -json)"] = stateWithout(t, run("show", "-json"), "rayvllm_vllm_worker.worker", "runtime_env_json")
	outputs["user data"] = userData(t, e, name)
	outputs["destroy output"] = run("destroy", "-auto-approve", "-input=false", "-no-color")
	destroyed = true

	trace, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	outputs["TF_LOG=TRACE log"] = string(trace)
	// The capture must hold core and provider lines, or the test proves
	// nothing. The provider's lines come through go-plugin with its name.
	for _, want := range []string{"[TRACE]", "provider.terraform-provider-rayvllm", "creating Ray cluster on EC2", "Ray dashboard request", "Deploying Serve application",
		"AWS API call", `aws.operation=RunInstances`, `aws.operation=PutParameter`, "aws.request_id=", "[REDACTED]"} {
		if !strings.Contains(string(trace), want) {
			t.Errorf("the trace log lacks %q: it does not capture what it should (%d bytes)", want, len(trace))
		}
	}
	// The masked form shows that the token passed through the logging.
	if !strings.Contains(string(trace), "***") {
		t.Errorf("the trace log has no masked value at all")
	}
	for where, text := range outputs {
		for what, secret := range secrets {
			if secret == "" {
				t.Fatalf("%s is empty", what)
			}
			if where == "state (show -json)" && what == "cluster auth_token" {
				continue // generated by the cluster and kept in state by design (sensitive); auth_token_wo avoids it
			}
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("the %s appears in the %s: ...%s...", what, where, strings.ReplaceAll(text[max(0, i-200):i], secret, "<SECRET>"))
			}
		}
	}
}

// stateWithout returns `show -json` output without one attribute of one
// resource: the one place where a secret is allowed (a sensitive input the
// user chose to keep in state). The attribute must be there, or the check
// would be vacuous.
func stateWithout(t *testing.T, showJSON, addr, attr string) string {
	t.Helper()
	var doc struct {
		Values struct {
			RootModule struct {
				Resources []map[string]any `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(showJSON), &doc); err != nil {
		t.Fatalf("show -json: %v", err)
	}
	found := false
	for _, r := range doc.Values.RootModule.Resources {
		if vals, ok := r["values"].(map[string]any); ok && r["address"] == addr {
			if _, ok := vals[attr]; ok {
				delete(vals, attr)
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("show -json has no %s.%s", addr, attr)
	}
	// The resources without it, and the whole document but its resources.
	res, _ := json.Marshal(doc.Values.RootModule.Resources)
	var whole map[string]any
	if err := json.Unmarshal([]byte(showJSON), &whole); err != nil {
		t.Fatal(err)
	}
	if v, ok := whole["values"].(map[string]any); ok {
		if rm, ok := v["root_module"].(map[string]any); ok {
			delete(rm, "resources")
		}
	}
	b, _ := json.Marshal(whole)
	return string(res) + "\n" + string(b)
}

// userData returns every live node's user data, as EC2 returns it.
func userData(t *testing.T, e *awsEnv, name string) string {
	var b strings.Builder
	n := 0
	for _, insts := range e.liveByGroup(t, name) {
		for _, i := range insts {
			out, err := e.c.EC2.DescribeInstanceAttribute(context.Background(), &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(i.ID), Attribute: ec2types.InstanceAttributeNameUserData})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.UserData.Value))
			if err != nil {
				t.Fatal(err)
			}
			b.Write(raw)
			n++
		}
	}
	if n != 2 || !strings.Contains(b.String(), "RAYVLLM_RAY_TOKEN_PARAMETER") {
		t.Fatalf("read the user data of %d nodes, want the head and one worker", n)
	}
	return b.String()
}
