package ec2cluster

import (
	"encoding/json"
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
assert isinstance(conf["UserData"], bytes) and "rayvllm_user_data_base64" not in conf, conf.keys()
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

// A worker's user data over 16 KiB is gzip, which a JSON string would
// corrupt (invalid UTF-8 is replaced): the config carries it as base64 and
// the node provider hands RunInstances the exact bytes, the head's IP in.
func TestAutoscalerConfigCarriesGzipUserData(t *testing.T) {
	py := testVenvPython(t)
	spec := autoscaledSpec()
	spec.Boot.PythonPackages = packages(700) // about 20 KiB: gzip
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
	nc := cfg.Types["l4"].NodeConfig
	if ud := nodeUserData(t, nc); !strings.HasPrefix(ud, "\x1f\x8b") {
		t.Fatalf("the worker's user data of %d packages is not gzip; the test needs it to be", len(spec.Boot.PythonPackages))
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
}
