package ec2cluster

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// withUserData runs the node provider's with_user_data (scripts/
// rayvllm_autoscaler.py) in the test venv on a node_config and returns the
// UserData bytes it would pass to RunInstances.
const withUserData = `
import json, sys
from rayvllm_autoscaler import with_user_data
conf = with_user_data(json.load(open(sys.argv[1])), sys.argv[2])
assert isinstance(conf["UserData"], bytes) and "rayvllm_user_data" not in conf, conf.keys()
sys.stdout.buffer.write(conf["UserData"])
`

func testVenvPython(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	py := filepath.Join(filepath.Dir(file), "..", "..", ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("RAYVLLM_REQUIRE_E2E") != "" || os.Getenv("CI") != "" {
			t.Fatalf("no test venv at %s (run .ci/venv.sh)", py)
		}
		t.Skip("no test venv (run .ci/venv.sh)")
	}
	return py
}

// packages returns n distinct pip requirements of about 24 bytes each.
func packages(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("rayvllm-test-pkg-%04d==1.%d.%d", i, i%7, i%13)
	}
	return out
}

// A worker's user data over 16 KiB is carried as text and gzipped by the
// node provider, the head's IP in: RunInstances gets it within EC2's limit.
func TestAutoscalerConfigCarriesGzipUserData(t *testing.T) {
	py := testVenvPython(t)
	spec := autoscaledSpec()
	spec.Boot.PythonPackages = packages(700) // about 20 KiB: gzip
	nodeConfig := renderNodeConfigs(t, spec)
	nc := nodeConfig["l4"]
	if ud := nodeUserData(t, nc); len(ud) <= MaxUserDataBytes {
		t.Fatalf("the worker's user data of %d packages is %d bytes; the test needs it over %d", len(spec.Boot.PythonPackages), len(ud), MaxUserDataBytes)
	}
	path := filepath.Join(t.TempDir(), "node_config.json")
	if err := os.WriteFile(path, mustJSON(t, nc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", withUserData, path, "10.0.3.7")
	_, file, _, _ := runtime.Caller(0)
	cmd.Env = append(os.Environ(), "RAY_USAGE_STATS_ENABLED=0", "PYTHONPATH="+filepath.Join(filepath.Dir(file), "scripts"))
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("with_user_data: %v\n%s", err, stderr)
	}
	if len(out) > MaxUserDataBytes || !strings.HasPrefix(string(out), "\x1f\x8b") {
		t.Errorf("RunInstances would get %d bytes (gzip: %v), want gzip within %d", len(out), strings.HasPrefix(string(out), "\x1f\x8b"), MaxUserDataBytes)
	}
	got := ParseBootConfig(string(out))
	if got.HeadIP != "10.0.3.7" || strings.Join(got.PythonPackages, " ") != strings.Join(spec.Boot.PythonPackages, " ") || got.NodeType != "l4" {
		t.Errorf("the launched worker's user data reads head %q, node type %q, %d packages (want 10.0.3.7, l4, %d)",
			got.HeadIP, got.NodeType, len(got.PythonPackages), len(spec.Boot.PythonPackages))
	}
}

// 64 KiB of python_packages do not fit EC2's 16 KiB of user data even
// gzip-compressed (the head carries every autoscaled group's): the error
// names the attribute and the limit, at render, before anything launches.
func TestUserDataLimitStated(t *testing.T) {
	spec := autoscaledSpec()
	spec.Boot.PythonPackages = packages(64 * 1024 / 30)
	size := len(strings.Join(spec.Boot.PythonPackages, " "))
	if size < 60*1024 {
		t.Fatalf("test packages are %d bytes, want about 64 KiB", size)
	}
	cfg, err := RenderAutoscalerConfig(spec, "sg-0123456789abcdef0", nil)
	if err == nil {
		b := spec.Boot
		b.AutoscalerConfig = string(cfg)
		_, err = RenderUserData(RoleHead, b)
	}
	if err == nil || !strings.Contains(err.Error(), "python_packages") || !strings.Contains(err.Error(), fmt.Sprint(MaxUserDataBytes)) {
		t.Errorf("%d bytes of python_packages: %v, want an error naming python_packages and the %d-byte limit", size, err, MaxUserDataBytes)
	}

	// Plan's check, before EC2 has given the group's vCPUs: the same verdict.
	var tooLarge *UserDataTooLargeError
	for i := range spec.Groups {
		spec.Groups[i].CPUs = 0
	}
	if err := CheckUserDataSize(spec); !errors.As(err, &tooLarge) || tooLarge.Bytes <= MaxUserDataBytes {
		t.Errorf("CheckUserDataSize with %d bytes of python_packages: %v, want a UserDataTooLargeError", size, err)
	}
	// A fixed group's worker carries the packages once: hex names (which gzip
	// halves at best) make 40 KiB of them too large on their own.
	fixed := autoscaledSpec()
	fixed.Boot.PythonPackages = nil
	for i := range 40 * 1024 / 42 {
		fixed.Boot.PythonPackages = append(fixed.Boot.PythonPackages, fmt.Sprintf("p%x==1.0", sha256.Sum256([]byte{byte(i), byte(i >> 8)}))[:40])
	}
	for i := range fixed.Groups {
		fixed.Groups[i].Autoscale, fixed.Groups[i].Count = nil, 1
	}
	if err := CheckUserDataSize(fixed); !errors.As(err, &tooLarge) {
		t.Errorf("fixed groups with 40 KiB of hex python_packages: %v, want a UserDataTooLargeError", err)
	}
	if err := CheckUserDataSize(autoscaledSpec()); err != nil {
		t.Errorf("the usual cluster: %v", err)
	}
	bad := autoscaledSpec()
	bad.Boot.Region = "not a region"
	if err := CheckUserDataSize(bad); err != nil {
		t.Errorf("a problem other than size is apply's to report, got %v", err)
	}
}

// The head carries every autoscaled group's worker script in the config as
// text, which gzip folds: 3 capacity groups (fallback types, a Capacity
// Block, a placement group, EFA) stay under EC2's 16 KiB (as base64 they
// came to 25,523 bytes gzip-compressed), and the limit is still stated once
// python_packages push it over.
func TestHeadUserDataFitsCapacityGroups(t *testing.T) {
	headUserData := func(spec Spec) (string, error) {
		cfg, err := RenderAutoscalerConfig(spec, "sg-0123456789abcdef0", nil)
		if err != nil {
			return "", err
		}
		b := spec.Boot
		b.AutoscalerConfig = string(cfg)
		return RenderUserData(RoleHead, b)
	}
	spec := capacitySpec()
	third := spec.Groups[1]
	third.Name, third.FallbackInstanceTypes = "a10g-2", []string{"g5.24xlarge", "g5.48xlarge"}
	spec.Groups = append(spec.Groups, third)
	ud, err := headUserData(spec)
	if err != nil || len(ud) > MaxUserDataBytes {
		t.Fatalf("3 autoscaled capacity groups: head user data %d bytes, %v; want within %d", len(ud), err, MaxUserDataBytes)
	}
	t.Logf("3 autoscaled capacity groups: head user data %d bytes gzip-compressed (limit %d)", len(ud), MaxUserDataBytes)
	spec.Boot.PythonPackages = packages(4 * 1024) // about 100 KiB
	if _, err := headUserData(spec); err == nil || !strings.Contains(err.Error(), "python_packages") || !strings.Contains(err.Error(), fmt.Sprint(MaxUserDataBytes)) {
		t.Errorf("3 capacity groups and %d python_packages: %v, want an error naming python_packages and the %d-byte limit", len(spec.Boot.PythonPackages), err, MaxUserDataBytes)
	}
}

// renderNodeConfigs renders the autoscaler config and returns each node
// type's node_config.
func renderNodeConfigs(t *testing.T, spec Spec) map[string]map[string]any {
	t.Helper()
	raw, err := RenderAutoscalerConfig(spec, "sg-0123456789abcdef0", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Types map[string]struct {
			NodeConfig map[string]any `json:"node_config"`
		} `json:"available_node_types"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for name, nt := range cfg.Types {
		out[name] = nt.NodeConfig
	}
	return out
}
