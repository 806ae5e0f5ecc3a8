package kuberay

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func testSpec() Spec {
	return Spec{
		Namespace: "ml", Name: "llm", Image: DefaultImage(), RayVersion: "2.60.0", TokenSecret: "llm-ray-token",
		IdleTimeoutSeconds: 300,
		Head:               Pod{CPU: 4, MemoryGiB: 16},
		Groups: []Group{
			{Name: "l4", GPUs: 1, Replicas: 1, MinReplicas: 0, MaxReplicas: 4, Pod: Pod{
				CPU: 8, MemoryGiB: 30.5, NodeSelector: map[string]string{GPUProductLabel: "NVIDIA-L4"},
				Tolerations: []Toleration{{Key: GPUResource, Operator: "Exists", Effect: "NoSchedule"}},
			}},
			{Name: "cpu", Replicas: 2, MinReplicas: 2, MaxReplicas: 2, Pod: Pod{CPU: 2, MemoryGiB: 4}},
		},
	}
}

// Parse reads back everything Render writes, through JSON as the API
// server returns it.
func TestRender_roundTrip(t *testing.T) {
	want := testSpec()
	data, err := json.Marshal(want.Render())
	if err != nil {
		t.Fatal(err)
	}
	var rc rayv1.RayCluster
	if err := json.Unmarshal(data, &rc); err != nil {
		t.Fatal(err)
	}
	if got := Parse(&rc); !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(Render(s)):\n got %+v\nwant %+v", got, want)
	}
	for _, s := range []string{`"nvidia.com/gpu":"1"`, `"memory":"31232Mi"`, `"enableInTreeAutoscaling":true`, `"idleTimeoutSeconds":300`,
		`"secretKeyRef":{"name":"llm-ray-token","key":"token"}`, `"num-gpus":"0"`, `"nodeSelector":{"nvidia.com/gpu.product":"NVIDIA-L4"}`} {
		if !strings.Contains(string(data), s) {
			t.Errorf("the RayCluster lacks %s:\n%s", s, data)
		}
	}
}

// Without a group that scales, no autoscaler runs; without a token Secret
// the containers get no auth env.
func TestRender_fixedNoToken(t *testing.T) {
	s := testSpec()
	s.Groups, s.TokenSecret = s.Groups[1:], ""
	rc := s.Render()
	if rc.Spec.EnableInTreeAutoscaling != nil || rc.Spec.AutoscalerOptions != nil {
		t.Errorf("fixed groups got an autoscaler: %+v", rc.Spec)
	}
	if env := rc.Spec.HeadGroupSpec.Template.Spec.Containers[0].Env; env != nil {
		t.Errorf("no token, but env %+v", env)
	}
}

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{"llm": true, "a-1": true, "Llm": false, "-a": false, "a_b": false, strings.Repeat("a", 41): false} {
		if got := ValidName(name, 40) == ""; got != ok {
			t.Errorf("ValidName(%q) ok=%v, want %v", name, got, ok)
		}
	}
}

// Hint tells a missing namespace from a missing KubeRay, as the API server
// reports them.
func TestHint(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "ml"), "namespace does not exist"},
		{apierrors.NewNotFound(schema.GroupResource{Group: "ray.io", Resource: "rayclusters"}, ""), "install the KubeRay operator"},
		{apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "x", nil), "pods/portforward"},
		{apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "x", nil), ""},
	} {
		if got := Hint(c.err); c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("Hint(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
