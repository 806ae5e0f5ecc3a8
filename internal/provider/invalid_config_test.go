package provider

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// apiTrap is a loopback server that stands in for the Ray dashboard or the
// AWS endpoints and records every request: at plan time the provider must
// not call either, so any request fails the test.
type apiTrap struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	hits []string
}

func newAPITrap(t *testing.T, name string) *apiTrap {
	a := &apiTrap{name: name}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.hits = append(a.hits, r.Method+" "+r.URL.String()+" "+r.Header.Get("X-Amz-Target"))
		a.mu.Unlock()
		http.Error(w, "no API call is expected at plan time", http.StatusTeapot)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *apiTrap) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.hits...)
}

// invalidConfigs are configurations that must fail at plan time with an
// error that names the attribute. want is matched against Terraform's
// output (a space matches any run of white space, as Terraform wraps long
// lines); it is the diagnostic's own text (summary or detail) with the
// attribute's name in it, not only the source line Terraform quotes. A
// config starting with "cluster:" or "group:" is a one-line change to a
// valid rayvllm_inference_cluster (see clusterConfig). Every case without a
// provider block gets one wired to the traps.
var invalidConfigs = []struct {
	name, config, want string
}{
	// Provider block.
	{"provider ray_request_timeout_seconds", `provider "rayvllm" {
  ray_request_timeout_seconds = 0
}
data "rayvllm_gpus" "x" {}`, `Attribute ray_request_timeout_seconds value must be between 1 and 3600`},
	{"provider dashboard_url ray://", `provider "rayvllm" {
  dashboard_url = "ray://10.0.0.5:10001"
}
data "rayvllm_gpus" "x" {}`, `(?s)dashboard_url.*Ray Client \(ray://\) address`},
	{"provider dashboard_url scheme", `provider "rayvllm" {
  dashboard_url = "ftp://10.0.0.5:8265"
}
data "rayvllm_gpus" "x" {}`, `(?s)dashboard_url.*has scheme "ftp"; want http:// or https://`},
	{"provider ray_ca_bundle_pem", `provider "rayvllm" {
  ray_ca_bundle_pem = "not a certificate"
}
data "rayvllm_gpus" "x" {}`, `(?s)ray_ca_bundle_pem.*no PEM certificate`},
	{"provider aws max_attempts", `provider "rayvllm" {
  aws {
    max_attempts = 0
  }
}
data "rayvllm_gpus" "x" {}`, `Attribute aws\[0\]\.max_attempts value must be between 1 and 25`},
	{"provider aws max_backoff_seconds", `provider "rayvllm" {
  aws {
    max_backoff_seconds = 301
  }
}
data "rayvllm_gpus" "x" {}`, `Attribute aws\[0\]\.max_backoff_seconds value must be between 1 and 300`},
	{"provider aws region", `provider "rayvllm" {
  aws {
    region = "US East"
  }
}
data "rayvllm_gpus" "x" {}`, `(?s)Attribute aws\[0\]\.region.*AWS region`},
	{"provider aws endpoint", `provider "rayvllm" {
  aws {
    endpoints {
      ec2 = "localhost:5000"
    }
  }
}
data "rayvllm_gpus" "x" {}`, `aws\[0\]\.endpoints\[0\]\.ec2 "localhost:5000" must be an http:// or https:// URL`},
	{"provider aws role_arn", `provider "rayvllm" {
  aws {
    assume_role {
      role_arn = "my-role"
    }
  }
}
data "rayvllm_gpus" "x" {}`, `(?s)Attribute aws\[0\]\.assume_role\[0\]\.role_arn.*IAM role ARN`},

	// rayvllm_gpu_fit.
	{"gpu_fit empty model", `data "rayvllm_gpu_fit" "x" {
  model = ""
  gpu   = "H100"
}`, `Attribute model string length must be at least 1`},
	{"gpu_fit unknown gpu", `data "rayvllm_gpu_fit" "x" {
  model = "Qwen/Qwen2.5-7B-Instruct"
  gpu   = "H1000"
}`, `(?s)gpu.*H1000`},
	{"gpu_fit tensor_parallel_size", `data "rayvllm_gpu_fit" "x" {
  model                = "Qwen/Qwen2.5-7B-Instruct"
  gpu                  = "H100"
  tensor_parallel_size = 0
}`, `Attribute tensor_parallel_size value must be between 1 and 64`},
	{"gpu_fit tp does not divide heads", `data "rayvllm_gpu_fit" "x" {
  model                = "Qwen/Qwen2.5-7B-Instruct"
  gpu                  = "H100"
  tensor_parallel_size = 3
}`, `(?s)tensor_parallel_size.*3`},
	{"gpu_fit gpu_memory_utilization", `data "rayvllm_gpu_fit" "x" {
  model                  = "Qwen/Qwen2.5-7B-Instruct"
  gpu                    = "H100"
  gpu_memory_utilization = 1.5
}`, `Attribute gpu_memory_utilization value must be between`},
	{"gpu_fit block_size", `data "rayvllm_gpu_fit" "x" {
  model      = "Qwen/Qwen2.5-7B-Instruct"
  gpu        = "H100"
  block_size = 7
}`, `Attribute block_size value must be one of`},
	{"gpu_fit quantization", `data "rayvllm_gpu_fit" "x" {
  model        = "Qwen/Qwen2.5-7B-Instruct"
  gpu          = "H100"
  quantization = "int3"
}`, `(?s)quantization "int3" is not a vLLM quantization method \(did you mean`},
	{"gpu_fit quantization the checkpoint lacks", `data "rayvllm_gpu_fit" "x" {
  model        = "Qwen/Qwen2.5-7B-Instruct"
  gpu          = "H100"
  quantization = "awq"
}`, `(?s)Invalid quantization.*Qwen/Qwen2\.5-7B-Instruct is not quantized.*leave quantization unset, or "fp8" or\s+"bitsandbytes"`},
	{"gpu_fit kv_cache_dtype", `data "rayvllm_gpu_fit" "x" {
  model          = "Qwen/Qwen2.5-7B-Instruct"
  gpu            = "H100"
  kv_cache_dtype = "fp4"
}`, `Attribute kv_cache_dtype value must be one of`},
	{"gpu_fit max_model_len too long", `data "rayvllm_gpu_fit" "x" {
  model         = "Qwen/Qwen2.5-7B-Instruct"
  gpu           = "H100"
  max_model_len = 10000000
}`, `(?s)max_model_len.*max_position_embeddings`},
	{"gpu_fit bandwidth without memory", `data "rayvllm_gpu_fit" "x" {
  model                     = "Qwen/Qwen2.5-7B-Instruct"
  gpu_memory_bandwidth_gbps = 1000
}`, `(?s)gpu_memory_gib.*must be specified when.*gpu_memory_bandwidth_gbps`},
	{"gpu_fit model and config", `data "rayvllm_gpu_fit" "x" {
  model             = "Qwen/Qwen2.5-7B-Instruct"
  model_config_json = "{}"
  gpu               = "H100"
}`, `(?s)model.*model_config_json`},
	{"gpu_fit model_config_json not JSON", `data "rayvllm_gpu_fit" "x" {
  model_config_json = "{nope"
  gpu               = "H100"
}`, `(?s)model_config_json.*not a JSON object`},
	{"gpu_fit batched tokens below seqs", `data "rayvllm_gpu_fit" "x" {
  model                  = "Qwen/Qwen2.5-7B-Instruct"
  gpu                    = "H100"
  max_num_batched_tokens = 8
  max_num_seqs           = 64
}`, `(?s)max_num_batched_tokens \(8\) must be >= max_num_seqs \(64\)`},

	// rayvllm_batch_sizing.
	{"batch_sizing num_requests", `data "rayvllm_batch_sizing" "x" {
  model              = "Qwen/Qwen2.5-7B-Instruct"
  gpu                = "H100"
  num_requests       = 0
  mean_input_tokens  = 100
  mean_output_tokens = 100
}`, `Attribute num_requests value must be at least 1`},
	{"batch_sizing objective", `data "rayvllm_batch_sizing" "x" {
  model              = "Qwen/Qwen2.5-7B-Instruct"
  gpu                = "H100"
  num_requests       = 10
  mean_input_tokens  = 100
  mean_output_tokens = 100
  objective          = "speed"
}`, `Attribute objective value must be one of`},
	{"batch_sizing sla_hours", `data "rayvllm_batch_sizing" "x" {
  model              = "Qwen/Qwen2.5-7B-Instruct"
  gpu                = "H100"
  num_requests       = 10
  mean_input_tokens  = 100
  mean_output_tokens = 100
  sla_hours          = 0
}`, `Attribute sla_hours value must be at least`},
	{"batch_sizing target_kv_cache_utilization", `data "rayvllm_batch_sizing" "x" {
  model                       = "Qwen/Qwen2.5-7B-Instruct"
  gpu                         = "H100"
  num_requests                = 10
  mean_input_tokens           = 100
  mean_output_tokens          = 100
  target_kv_cache_utilization = 2
}`, `Attribute target_kv_cache_utilization value must be between`},
	{"batch_sizing price", `data "rayvllm_batch_sizing" "x" {
  model                  = "Qwen/Qwen2.5-7B-Instruct"
  gpu                    = "H100"
  num_requests           = 10
  mean_input_tokens      = 100
  mean_output_tokens     = 100
  price_per_gpu_hour_usd = -1
}`, `Attribute price_per_gpu_hour_usd value must be at least 0`},

	// rayvllm_gpus.
	{"gpus min_gpus", `data "rayvllm_gpus" "x" {
  min_gpus = 0
}`, `Attribute min_gpus value must be at least 1`},
	{"gpus min_memory_gib", `data "rayvllm_gpus" "x" {
  min_memory_gib = -1
}`, `Attribute min_memory_gib value must be at least 0`},
	{"gpus family", `data "rayvllm_gpus" "x" {
  family = "quantum"
}`, `(?s)Attribute family value must be one of`},

	// rayvllm_model.
	{"model unknown", `data "rayvllm_model" "x" {
  model = "acme/NoSuchModel-7B"
}`, `(?s)model.*acme/NoSuchModel-7B`},
	{"model typo of a catalog id", `data "rayvllm_model" "x" {
  model = "meta-llama/Llama-3.1-8B-Instuct"
}`, `(?s)Invalid model.*not in the built-in catalog.*Did you mean\s+"meta-llama/Llama-3.1-8B-Instruct"`},
	{"model_revision without model", `data "rayvllm_model" "x" {
  model_config_json = "{}"
  model_revision    = "main"
}`, `(?s)model_revision.*model`},
	{"model_revision malformed", `data "rayvllm_model" "x" {
  model          = "acme/x"
  model_revision = "../main"
}`, `(?s)model_revision.*branch, tag or commit`},
	{"batch_sizing tensor_parallel_size larger than gpus", `data "rayvllm_batch_sizing" "x" {
  model                = "Qwen/Qwen2.5-72B-Instruct"
  gpu                  = "H100"
  tensor_parallel_size = 4
  gpus                 = 2
  num_requests         = 1000
  mean_input_tokens    = 500
  mean_output_tokens   = 200
}`, `(?s)Invalid tensor_parallel_size.*needs 4 GPUs.*Set gpus = 4`},
	{"gpu_fit custom_gpu_name without a custom GPU", `data "rayvllm_gpu_fit" "x" {
  model           = "Qwen/Qwen2.5-7B-Instruct"
  gpu             = "H100"
  custom_gpu_name = "mine"
}`, `(?s)custom_gpu_name.*gpu_memory_gib`},
	{"model config not an object", `data "rayvllm_model" "x" {
  model_config_json = "[1, 2]"
}`, `(?s)model_config_json.*not a JSON object`},

	// Provider functions.
	{"function gpu_fit unknown model", `output "x" {
  value = provider::rayvllm::gpu_fit("acme/NoSuchModel-7B", "H100", null)
}`, `(?s)model.*acme/NoSuchModel-7B`},
	{"function gpu_fit unknown option", `output "x" {
  value = provider::rayvllm::gpu_fit("Qwen/Qwen2.5-7B-Instruct", "H100", { tensor_parallelism = 2 })
}`, `(?s)options.*tensor_parallelism`},
	{"function kv_cache_bytes_per_token dtype", `output "x" {
  value = provider::rayvllm::kv_cache_bytes_per_token("Qwen/Qwen2.5-7B-Instruct", "fp4", 1)
}`, `(?s)kv_cache_dtype.*fp4`},
	{"function kv_cache_bytes_per_token tp", `output "x" {
  value = provider::rayvllm::kv_cache_bytes_per_token("Qwen/Qwen2.5-7B-Instruct", "auto", 0)
}`, `tensor_parallel_size must be between 1 and 64 GPUs, got 0`},

	// rayvllm_inference_cluster.
	{"cluster name", `cluster:name = "bad_name!"`, `(?s)Attribute name must be 1-63 letters, digits and hyphens`},
	{"cluster ami_id", `cluster:ami_id = "ami-xyz"`, `(?s)Attribute ami_id must be an AMI ID`},
	{"cluster subnet_id", `cluster:subnet_id = "sn-1"`, `(?s)Attribute subnet_id must be a subnet ID`},
	{"cluster public ray ports", `cluster:dashboard_ingress_cidrs = ["0.0.0.0/0"]`, `(?s)0\.0\.0\.0/0.*ShadowRay.*allow_public_ray_ports`},
	{"cluster cidr", `cluster:dashboard_ingress_cidrs = ["10.0.0.0/33"]`, `(?s)dashboard_ingress_cidrs.*10\.0\.0\.0/33`},
	{"cluster ray_version", `cluster:ray_version = "2.53.0"`, `(?s)ray_version 2\.53\.0 is below 2\.54\.0`},
	{"cluster vllm_version", `cluster:vllm_version = ">=0.11"`, `(?s)Attribute vllm_version must be an exact version`},
	{"cluster python_packages", `cluster:python_packages = ["--index-url=http://evil.example"]`, `(?s)Attribute python_packages\[0\] must be a pip requirement`},
	{"cluster hf_token_ssm_parameter", `cluster:hf_token_ssm_parameter = "hf_abcdefghijklmnop"`, `(?s)Looks like a token, not a parameter name.*hf_token_ssm_parameter takes the \*name\* of an SSM SecureString`},
	{"cluster worker name", `group:name = "A10G!"`, `(?s)Attribute worker_group\[0\]\.name must be 1-32 lower-case letters`},
	{"cluster worker count", `group:count = 1001`, `(?s)Attribute worker_group\[0\]\.count value must be between 0 and 1000`},
	{"cluster worker volume", `group:root_volume_size_gib = 10`, `(?s)Attribute worker_group\[0\]\.root_volume_size_gib value must be between 30 and 16384`},
	{"cluster worker not a GPU", `group:instance_type = "m5.large"`, `(?s)Not a GPU instance type from the catalog.*m5\.large`},
	{"cluster spot price", `group:spot {
      max_price_usd = "cheap"
    }`, `(?s)Attribute worker_group\[0\]\.spot\.max_price_usd must be a decimal number of USD`},
	{"cluster fit_check without model", `cluster:fit_check {
    quantization = "awq"
  }`, `(?s)Missing fit_check\.model`},

	// rayvllm_batch_job.
	{"batch_job dashboard_url", `resource "rayvllm_batch_job" "x" {
  dashboard_url = "ray://10.0.0.5:10001"
  entrypoint    = "python main.py"
}`, `(?s)dashboard_url.*Ray Client \(ray://\) address`},
	{"batch_job relative input", `resource "rayvllm_batch_job" "x" {
  vllm = { model_source = "m", input = { path = "in.jsonl", prompt_column = "p" }, output = { path = "/out" } }
}`, `(?s)vllm\.input\.path.*must be an absolute path`},
	{"batch_job input format", `resource "rayvllm_batch_job" "x" {
  vllm = { model_source = "m", input = { path = "/in.xml", format = "xml", prompt_column = "p" }, output = { path = "/out" } }
}`, `(?s)vllm\.input\.format.*value must be one of`},
	{"batch_job retries without wait", `resource "rayvllm_batch_job" "x" {
  entrypoint          = "python main.py"
  wait_for_completion = false
  max_retries         = 1
}`, `max_retries needs wait_for_completion`},
	{"batch_job model does not fit", `resource "rayvllm_batch_job" "x" {
  vllm = { model_source = "meta-llama/Llama-3.1-70B", accelerator_type = "L4", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" }, sampling = { max_tokens = 16 } }
}`, `(?s)meta-llama/Llama-3\.1-70B does not fit on L4`},

	// rayvllm_vllm_worker.
	{"vllm_worker name", `resource "rayvllm_vllm_worker" "x" {
  name     = "-bad"
  model_id = "m"
}`, `(?s)Attribute name must start with a letter or digit`},
	{"vllm_worker route_prefix", `resource "rayvllm_vllm_worker" "x" {
  name         = "x"
  model_id     = "m"
  route_prefix = "/x/"
}`, `route_prefix "/x/" must not end\s+with "/"`},
	{"vllm_worker autoscaling", `resource "rayvllm_vllm_worker" "x" {
  name        = "x"
  model_id    = "m"
  autoscaling = { min_replicas = 3, max_replicas = 2 }
}`, `min_replicas is 3 and\s+max_replicas 2`},
	{"vllm_worker accelerator_type", `resource "rayvllm_vllm_worker" "x" {
  name             = "x"
  model_id         = "m"
  accelerator_type = "A10X"
}`, `(?s)accelerator_type.*A10X`},
	{"vllm_worker accelerator_type typo", `resource "rayvllm_vllm_worker" "x" {
  name             = "x"
  model_id         = "m"
  accelerator_type = "H1000"
}`, `(?s)accelerator_type "H1000" is not a Ray accelerator type \(did you mean "H100"\?\)`},
	{"vllm_worker quantization not a vLLM method", `resource "rayvllm_vllm_worker" "x" {
  name         = "x"
  model_id     = "m"
  quantization = "int4"
}`, `(?s)quantization "int4" is a sizing-only value`},
	{"batch_job accelerator_type catalog name", `resource "rayvllm_batch_job" "x" {
  vllm = { model_source = "m", accelerator_type = "H100-80GB-SXM", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" }, sampling = { max_tokens = 16 } }
}`, `(?s)vllm\.accelerator_type "H100-80GB-SXM" is a GPU catalog name.*Use accelerator_type = "H100"`},
	{"batch_job quantization typo", `resource "rayvllm_batch_job" "x" {
  vllm = { model_source = "m", quantization = "awq4", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" }, sampling = { max_tokens = 16 } }
}`, `(?s)vllm\.quantization "awq4" is not a vLLM quantization method \(did you mean "awq"\?\)`},
	{"batch_job quantization the checkpoint lacks", `resource "rayvllm_batch_job" "x" {
  vllm = { model_source = "Qwen/Qwen2.5-7B-Instruct", quantization = "awq", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" }, sampling = { max_tokens = 16 } }
}`, `(?s)Invalid vllm\.quantization.*is not quantized`},
	{"batch_job without max_tokens", `resource "rayvllm_batch_job" "x" {
  vllm = { model_source = "m", input = { path = "/in.csv", prompt_column = "p" }, output = { path = "/out" } }
}`, `(?s)Missing vllm\.sampling\.max_tokens`},
	{"vllm_worker typed engine kwarg", `resource "rayvllm_vllm_worker" "x" {
  name               = "x"
  model_id           = "m"
  engine_kwargs_json = jsonencode({ max_model_len = 4 })
}`, `set the typed\s+attribute\s+max_model_len\s+instead`},
	{"vllm_worker dashboard_url", `resource "rayvllm_vllm_worker" "x" {
  name          = "x"
  model_id      = "m"
  dashboard_url = "http://"
}`, `(?s)dashboard_url.*has no host`},
}

const validClusterBody = `
  name                    = "hostile"
  ami_id                  = "ami-0123456789abcdef0"
  subnet_id               = "subnet-0123456789abcdef0"
  iam_instance_profile    = "p"
  ray_version             = "2.60.0"
  vllm_version            = "0.11.0"
  python_packages         = ["pandas==2.2.3"]
  hf_token_ssm_parameter  = "/hf/token"
  dashboard_ingress_cidrs = ["203.0.113.0/24"]
  wait_for_ray            = false
  head {
    instance_type = "m5.xlarge"
  }
  worker_group {
    name          = "a10g"
    instance_type = "g5.xlarge"
    count         = 1
  }
`

// clusterConfig applies a case's one-line change to the valid cluster: a
// "cluster:" line replaces the top-level attribute of the same name (or is
// added), a "group:" line does the same in the worker group.
func clusterConfig(t *testing.T, change string) string {
	scope, line, _ := strings.Cut(change, ":")
	key := strings.Fields(line)[0]
	body := validClusterBody
	indent := "  "
	anchor := "  wait_for_ray"
	if scope == "group" {
		indent, anchor = "    ", "    count         = 1\n"
	}
	re := regexp.MustCompile(`(?m)^` + indent + regexp.QuoteMeta(key) + ` +=.*$`)
	if re.MatchString(body) {
		body = re.ReplaceAllLiteralString(body, indent+line)
	} else if scope == "group" {
		body = strings.Replace(body, anchor, anchor+indent+line+"\n", 1)
	} else {
		body = strings.Replace(body, anchor, indent+line+"\n"+anchor, 1)
	}
	if body == validClusterBody {
		t.Fatalf("change %q did not apply", change)
	}
	return "resource \"rayvllm_inference_cluster\" \"x\" {" + body + "}\n"
}

// TestAccInvalidConfigs plans each invalid configuration with the real
// Terraform CLI. Each must fail with an error naming the attribute, without
// a panic, and without any request to the Ray dashboard or to AWS (EC2, SSM,
// STS), which point at loopback traps for the whole test.
func TestAccInvalidConfigs(t *testing.T) {
	unitPreCheck(t)
	if len(invalidConfigs) < 40 {
		t.Fatalf("%d invalid configurations; the table must keep at least 40", len(invalidConfigs))
	}
	rayTrap, awsTrap := newAPITrap(t, "Ray"), newAPITrap(t, "AWS")
	// os.Setenv, not t.Setenv, which forbids the parallel subtests. The
	// variables hold while they run: other parallel tests of the package
	// start only after this sequential test has finished.
	env := map[string]string{"RAY_ADDRESS": rayTrap.srv.URL, "RAY_AUTH_TOKEN": "trap-token",
		"AWS_ACCESS_KEY_ID": "AKIATRAPTRAPTRAPTRAP", "AWS_SECRET_ACCESS_KEY": "trap-secret", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_IAM"} {
		env[k] = awsTrap.srv.URL
	}
	for k, v := range env {
		old, had := os.LookupEnv(k)
		if err := os.Setenv(k, v); err != nil { //nolint:usetesting // see above: t.Setenv forbids the parallel subtests
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if had {
				_ = os.Setenv(k, old) //nolint:usetesting // restores what the loop above set
			} else {
				_ = os.Unsetenv(k)
			}
		})
	}
	seen := map[string]bool{}
	t.Run("cases", func(t *testing.T) {
		for _, c := range invalidConfigs {
			if seen[c.name] {
				t.Fatalf("duplicate case %q", c.name)
			}
			seen[c.name] = true
			config := c.config
			if strings.HasPrefix(config, "cluster:") || strings.HasPrefix(config, "group:") {
				config = clusterConfig(t, config)
			}
			if !strings.Contains(config, `provider "rayvllm"`) {
				config = trapProvider(rayTrap, awsTrap) + config
			}
			want := regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`))
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				resource.UnitTest(t, resource.TestCase{
					ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
					Steps:                    []resource.TestStep{{Config: config, PlanOnly: true, ExpectError: want}},
				})
			})
		}
	})
	for _, trap := range []*apiTrap{rayTrap, awsTrap} {
		if got := trap.requests(); len(got) > 0 {
			t.Errorf("%d request(s) to the %s trap at plan time: %q", len(got), trap.name, got)
		}
	}

	// Control: the traps do see the provider's calls. Applying a job (past
	// plan) calls the Ray trap, and creating a cluster calls the AWS trap;
	// both fail on the trap's answer.
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      trapProvider(rayTrap, awsTrap) + "resource \"rayvllm_batch_job\" \"x\" {\n  entrypoint = \"true\"\n}\n",
			ExpectError: regexp.MustCompile(`418|no API call is expected`),
		}},
	})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      trapProvider(rayTrap, awsTrap) + clusterConfig(t, `cluster:ray_version = "2.60.0"`),
			ExpectError: regexp.MustCompile(`418|no API call is expected|StatusCode`),
		}},
	})
	for _, trap := range []*apiTrap{rayTrap, awsTrap} {
		if len(trap.requests()) == 0 {
			t.Errorf("the %s trap saw no request from an apply: the traps are not wired to the provider", trap.name)
		}
	}
}

func trapProvider(rayTrap, awsTrap *apiTrap) string {
	return fmt.Sprintf("provider \"rayvllm\" {\n  dashboard_url = %q\n  aws {\n    endpoints {\n      ec2 = %q\n      ssm = %q\n    }\n  }\n}\n",
		rayTrap.srv.URL, awsTrap.srv.URL, awsTrap.srv.URL)
}

// A Ray older than 2.54 is refused by both Ray resources before any other
// request: the dashboard (a loopback fake that only knows /api/version)
// reports 2.53.0, and only GET /api/version may be called.
func TestAccOldRayRefused(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/api/version" {
			http.Error(w, "only /api/version is expected", http.StatusTeapot)
			return
		}
		_, _ = w.Write([]byte(`{"version": "4", "ray_version": "2.53.0", "ray_commit": "x", "session_name": "s"}`))
	}))
	defer srv.Close()
	for name, body := range map[string]string{
		"rayvllm_batch_job":   `entrypoint = "true"`,
		"rayvllm_vllm_worker": "name     = \"old\"\n  model_id = \"m\"",
	} {
		t.Run(name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      fmt.Sprintf("resource %q \"x\" {\n  dashboard_url = %q\n  auth_token    = \"t\"\n  %s\n}\n", name, srv.URL, body),
					ExpectError: regexp.MustCompile(`runs\s+Ray\s+2\.53\.0;\s+this\s+provider\s+needs\s+Ray\s+2\.54\.0\s+or\s+newer`),
				}},
			})
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range calls {
		if c != "GET /api/version" {
			t.Errorf("request %q to a Ray older than 2.54", c)
		}
	}
	if len(calls) == 0 {
		t.Error("the version was never asked for")
	}
}
