package ec2cluster

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// autoscaledSpec has a fixed group, an on-demand autoscaled group and a spot
// group with an on-demand fallback.
func autoscaledSpec() Spec {
	b := bootConfig()
	b.HeadIP, b.Group, b.AcceleratorType = "", "", ""
	node := func(it string) NodeSpec {
		return NodeSpec{InstanceType: it, AMI: "ami-0123456789abcdef0", RootVolumeGiB: 200, RootVolumeType: "gp3"}
	}
	spot := node("g6.xlarge")
	spot.Spot, spot.SpotMaxPrice = true, "0.50"
	return Spec{
		Name: "c1", SubnetID: "subnet-0123456789abcdef0", IAMInstanceProfile: "rayvllm-node",
		Tags: map[string]string{"team": "ml"}, Head: node("m5.large"), Boot: b, IdleTimeoutMinutes: 1,
		Groups: []GroupSpec{
			{Name: "fixed", NodeSpec: node("g5.xlarge"), Count: 1, AcceleratorType: "A10G"},
			{Name: "a10g", NodeSpec: node("g5.xlarge"), AcceleratorType: "A10G", Autoscale: &Autoscale{Min: 0, Max: 2}, CPUs: 4, GPUs: 1},
			{Name: "l4", NodeSpec: spot, AcceleratorType: "L4", Autoscale: &Autoscale{Min: 1, Max: 3, SpotFallback: true}, CPUs: 4, GPUs: 1},
		},
	}
}

func TestRenderAutoscalerConfig(t *testing.T) {
	spec := autoscaledSpec()
	raw, err := RenderAutoscalerConfig(spec, "sg-0123456789abcdef0", map[string]string{"ami-0123456789abcdef0": "/dev/sda1"})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Cluster  string         `json:"cluster_name"`
		Max      int            `json:"max_workers"`
		Idle     int            `json:"idle_timeout_minutes"`
		Provider map[string]any `json:"provider"`
		Types    map[string]struct {
			Min        int `json:"min_workers"`
			MaxWorkers int `json:"max_workers"`
			Priority   int
			Resources  map[string]int
			Labels     map[string]string
			NodeConfig map[string]any `json:"node_config"`
		} `json:"available_node_types"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster != "c1" || cfg.Idle != 1 || cfg.Max != 2+3 {
		t.Errorf("cluster %q idle %d max %d", cfg.Cluster, cfg.Idle, cfg.Max)
	}
	if cfg.Provider["disable_node_updaters"] != true || cfg.Provider["cache_stopped_nodes"] != false || cfg.Provider["module"] != AutoscalerModule {
		t.Errorf("provider %v: want rayvllm's AWS node provider without node updaters and without stopped-node caching", cfg.Provider)
	}
	if fb, _ := json.Marshal(cfg.Provider["rayvllm_spot_fallback"]); string(fb) != `["l4"]` {
		t.Errorf("spot groups with the on-demand fallback: %s, want [\"l4\"]", fb)
	}
	if _, ok := cfg.Types["fixed"]; ok {
		t.Error("the fixed group is a node type; Terraform launches it")
	}
	if len(cfg.Types) != 3 {
		t.Errorf("node types %v, want the head, a10g and l4", cfg.Types)
	}
	for name, want := range map[string]struct {
		min, max, prio int
		spot           bool
	}{"a10g": {0, 2, 0, false}, "l4": {1, 3, 0, true}} {
		nt, ok := cfg.Types[name]
		if !ok {
			t.Fatalf("no node type %s in %v", name, cfg.Types)
		}
		if nt.Min != want.min || nt.MaxWorkers != want.max || nt.Priority != want.prio {
			t.Errorf("%s: min %d max %d priority %d, want %+v", name, nt.Min, nt.MaxWorkers, nt.Priority, want)
		}
		_, spot := nt.NodeConfig["InstanceMarketOptions"]
		if spot != want.spot {
			t.Errorf("%s: spot market options %v, want %v", name, spot, want.spot)
		}
		if _, plain := nt.NodeConfig["UserData"]; plain {
			t.Errorf("%s: user data as a JSON string, which cannot carry gzip", name)
		}
		ud := nodeUserData(t, nt.NodeConfig)
		env := ParseUserData(ud)
		if env["RAYVLLM_HEAD_IP"] != HeadIPPlaceholder || env["RAYVLLM_NODE_TYPE"] != name || env["RAYVLLM_NUM_CPUS"] != "4" || env["RAYVLLM_ROLE"] != RoleWorker {
			t.Errorf("%s: worker user data env %v", name, env)
		}
		if !strings.Contains(string(mustJSON(t, nt.NodeConfig["TagSpecifications"])), `"Key":"rayvllm:cluster","Value":"c1"`) {
			t.Errorf("%s: tags lack the cluster tag: %v", name, nt.NodeConfig["TagSpecifications"])
		}
		if nt.Resources["GPU"] != 1 || nt.Labels["rayvllm.io/group"] == "" {
			t.Errorf("%s: resources %v labels %v", name, nt.Resources, nt.Labels)
		}
	}

	// The head's user data carries the config within EC2's limit.
	b := spec.Boot
	b.AutoscalerConfig = string(raw)
	ud, err := RenderUserData(RoleHead, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("config %d bytes, head user data with it %d bytes gzip-compressed (limit %d)", len(raw), len(ud), MaxUserDataBytes)
	if !strings.HasPrefix(ud, "\x1f\x8b") || !strings.HasPrefix(DecompressUserData(ud), "#!/usr/bin/env bash\n") {
		t.Error("the head's user data over 16 KiB is not gzip (which cloud-init runs)")
	}
	if got := ParseBootConfig(ud).AutoscalerConfig; got != string(raw) {
		t.Fatalf("the config does not round-trip through the head's user data")
	}

	bad := autoscaledSpec()
	bad.Groups[1].Autoscale = &Autoscale{Min: 3, Max: 2}
	if _, err := RenderAutoscalerConfig(bad, "sg-1", nil); err == nil || !strings.Contains(err.Error(), "min_workers 3") {
		t.Errorf("min > max: %v", err)
	}
}

// nodeUserData is the user data a node_config carries (UserDataKey).
func nodeUserData(t *testing.T, nc map[string]any) string {
	t.Helper()
	ud, _ := nc[UserDataKey].(string)
	if !strings.HasPrefix(ud, "#!/usr/bin/env bash\n") {
		t.Fatalf("node_config[%s] = %.40q is not the worker's script", UserDataKey, ud)
	}
	return ud
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validateConfig is Ray's own check of an autoscaler config, as the head's
// autoscaler v2 runs it when it loads the file: prepare_config (defaults
// of the AWS node provider) and validate_config (ray-schema.json), through
// AutoscalingConfig; then the node types as the v2 scheduler reads them.
const validateConfig = `
import json, sys
from ray.autoscaler.v2.instance_manager.config import AutoscalingConfig
cfg = AutoscalingConfig(json.load(open(sys.argv[1])))
out = {}
for name, nt in cfg.get_node_type_configs().items():
    out[name] = {"min": nt.min_worker_nodes, "max": nt.max_worker_nodes, "priority": nt.priority,
                 "resources": nt.resources, "labels": nt.labels}
from ray.autoscaler._private.providers import _get_node_provider_cls
from ray.autoscaler._private.aws.node_provider import AWSNodeProvider
cls = _get_node_provider_cls(cfg.get_provider_config())
print(json.dumps({"types": out, "idle_s": cfg.get_idle_timeout_s(), "updaters": cfg.disable_node_updaters(),
                  "provider": cfg.get_provider_config()["type"], "head": cfg.get_head_node_type(),
                  "class": cls.__name__, "is_aws": issubclass(cls, AWSNodeProvider)}))
`

// TestAutoscalerConfigValidated runs the rendered config through Ray's own
// validation in the test venv, with every capacity setting in use.
func TestAutoscalerConfigValidated(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	py := filepath.Join(filepath.Dir(file), "..", "..", ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("RAYVLLM_REQUIRE_E2E") != "" || os.Getenv("CI") != "" {
			t.Fatalf("no test venv at %s (run .ci/venv.sh)", py)
		}
		t.Skip("no test venv (run .ci/venv.sh)")
	}
	raw, err := RenderAutoscalerConfig(capacitySpec(), "sg-0123456789abcdef0", nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "autoscaler.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", validateConfig, path)
	// The node provider module, as the head's bootstrap puts it on PYTHONPATH.
	cmd.Env = append(os.Environ(), "RAY_USAGE_STATS_ENABLED=0", "PYTHONPATH="+filepath.Join(filepath.Dir(file), "scripts"))
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("Ray refused the config: %v\n%s", err, stderr)
	}
	var got struct {
		Types map[string]struct {
			Min, Max, Priority int
			Resources          map[string]float64
			Labels             map[string]string
		}
		IdleS    float64 `json:"idle_s"`
		Updaters bool
		Provider string
		Head     string
		Class    string
		IsAWS    bool `json:"is_aws"`
	}
	if err := json.Unmarshal(out[bytes.LastIndexByte(bytes.TrimSpace(out), '\n')+1:], &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.IdleS != 60 || !got.Updaters || got.Provider != "external" || got.Head != HeadNodeType {
		t.Errorf("Ray read idle %vs, updaters disabled %v, provider %s, head %s", got.IdleS, got.Updaters, got.Provider, got.Head)
	}
	l4 := got.Types["l4"]
	if l4.Min != 1 || l4.Max != 3 || l4.Resources["accelerator_type:L4"] != 1 || l4.Labels["rayvllm.io/accelerator-type"] != "L4" {
		t.Errorf("Ray read l4 as %+v", l4)
	}
	if len(got.Types) != 3 {
		t.Errorf("Ray read node types %v, want the head, a10g and l4", got.Types)
	}
	if got.Class != "RayvllmAWSNodeProvider" || !got.IsAWS {
		t.Errorf("Ray loaded the node provider class %q (a subclass of AWSNodeProvider: %v)", got.Class, got.IsAWS)
	}
}

// The head's user data with the autoscaler config, run as cloud-init would
// (gunzipped) with IMDS, SSM, pip and systemd stubbed: it writes the config
// with its own IP in the workers' user data, puts the instance ID and the
// SDK endpoint overrides into the unit, and the unit starts Ray with the
// autoscaler (v2) and the variables that pair the node with its instance.
func TestHeadUserDataAutoscaler(t *testing.T) {
	home, sysd, logs, rec := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	bin := awsStubs(t)
	spec := autoscaledSpec()
	cfg, err := RenderAutoscalerConfig(spec, "sg-0123456789abcdef0", nil)
	if err != nil {
		t.Fatal(err)
	}
	b := spec.Boot
	b.Region, b.AutoscalerConfig = "", string(cfg)
	ud, err := RenderUserData(RoleHead, b)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "part-001")
	if err := os.WriteFile(script, []byte(DecompressUserData(ud)), 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "RAYVLLM_TEST_REC=" + rec,
		"RAYVLLM_HOME=" + home, "RAYVLLM_LOG_DIR=" + logs, "RAYVLLM_SYSTEMD_DIR=" + sysd, "AWS_ENDPOINT_URL_EC2=http://10.213.0.1:4566"}
	cmd := exec.Command(script)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user data failed: %v\n%s", err, out)
	}
	written, err := os.ReadFile(filepath.Join(home, "autoscaler.json"))
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]any
	if err := json.Unmarshal(written, &parsed); err != nil {
		t.Fatalf("autoscaler.json is not JSON: %v", err)
	}
	if ip := parsed["provider"].(map[string]any)["rayvllm_head_ip"]; ip != "10.1.2.3" {
		t.Errorf("autoscaler.json names the head's IP as %v, want 10.1.2.3 (what the node provider puts in the workers' user data)", ip)
	}
	unit, _ := os.ReadFile(filepath.Join(sysd, "rayvllm-head.service"))
	for _, want := range []string{"RAYVLLM_INSTANCE_ID=i-0123456789abcdef0", "\nEnvironment=AWS_ENDPOINT_URL_EC2=http://10.213.0.1:4566\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	run := exec.Command(filepath.Join(home, "node.sh"), "run")
	run.Env = append(env, "RAYVLLM_NODE_IP=10.1.2.3", "RAYVLLM_REGION=us-west-2", "RAYVLLM_INSTANCE_ID=i-0123456789abcdef0")
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("node.sh run: %v\n%s", err, out)
	}
	ray, _ := os.ReadFile(filepath.Join(rec, "ray"))
	if mod, err := os.ReadFile(filepath.Join(home, "python", "rayvllm_autoscaler.py")); err != nil || string(mod) != autoscalerModule {
		t.Errorf("the node provider module was not written as shipped (%v)", err)
	}
	for _, want := range []string{"\n--autoscaling-config=" + home + "/autoscaler.json\n", "V2=1 CLOUD=i-0123456789abcdef0 TYPE=" + HeadNodeType} {
		if !strings.Contains(string(ray), want) {
			t.Errorf("ray invocation lacks %q:\n%s", want, ray)
		}
	}
}

// Import reads the autoscaled groups back from the config the head carries.
func TestParseAutoscalerConfigRoundTrip(t *testing.T) {
	spec := autoscaledSpec()
	raw, err := RenderAutoscalerConfig(spec, "sg-0123456789abcdef0", map[string]string{"ami-0123456789abcdef0": "/dev/sda1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAutoscalerConfig(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	var want []GroupSpec
	for _, g := range spec.Groups {
		if g.Autoscale != nil {
			want = append(want, GroupSpec{Name: g.Name, NodeSpec: g.NodeSpec, Autoscale: g.Autoscale})
		}
	}
	if !reflect.DeepEqual(got.Groups, want) || got.IdleTimeoutMinutes != 1 || got.NodeProfile != "rayvllm-node" {
		t.Errorf("read back %+v, idle %d, profile %q; want %+v, 1, rayvllm-node", got.Groups, got.IdleTimeoutMinutes, got.NodeProfile, want)
	}
}
