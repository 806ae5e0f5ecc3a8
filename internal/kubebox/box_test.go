package kubebox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// TestBuildPins checks that the modules .ci/kube.sh builds from pin the
// tested version set, and that every Kubernetes staging module is replaced
// by the release that matches k8s.io/kubernetes (v1.X.Y -> v0.X.Y).
func TestBuildPins(t *testing.T) {
	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join("build", p)) // #nosec G304 -- this package's build modules
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	kube, etcd, kuberay := read("kube/go.mod"), read("etcd/go.mod"), read("kuberay/go.mod")
	for _, c := range []struct{ mod, re, want string }{
		{kube, `(?m)^(?:require\s+|\s+)k8s\.io/kubernetes v(\S+)$`, versions.Tested.Kubernetes},
		{etcd, `(?m)^require go\.etcd\.io/etcd/server/v3 v(\S+)$`, versions.Tested.Etcd},
		{kuberay, `(?m)^\s*github\.com/ray-project/kuberay/ray-operator v(\S+)`, versions.Tested.KubeRay},
	} {
		m := regexp.MustCompile(c.re).FindStringSubmatch(c.mod)
		if m == nil || m[1] != c.want {
			t.Errorf("%s: got %v, want version %s (internal/versions/versions.json)", c.re, m, c.want)
		}
	}
	staging := regexp.MustCompile(`(?m)^replace k8s\.io/(\S+) => k8s\.io/(\S+) v(\S+)$`).FindAllStringSubmatch(kube, -1)
	if len(staging) < 20 {
		t.Fatalf("kube/go.mod replaces %d staging modules, want all of them (about 30)", len(staging))
	}
	want := "0." + versions.Tested.Kubernetes[2:]
	for _, r := range staging {
		if r[1] != r[2] || r[3] != want {
			t.Errorf("kube/go.mod: replace k8s.io/%s => k8s.io/%s v%s, want v%s", r[1], r[2], r[3], want)
		}
	}
}

// TestKubeBox_operatorReconciles starts the box and shows each part is
// real: the API server reports the pinned version, the KubeRay operator
// turns a RayCluster into a head pod and service, and deleting the
// RayCluster lets the controller manager's garbage collector remove them.
// Close leaves no process and no directory behind.
func TestKubeBox_operatorReconciles(t *testing.T) {
	b := New(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := b.Do(ctx, http.MethodGet, "/version", nil, &v); err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v"+versions.Tested.Kubernetes {
		t.Errorf("API server version %q, want v%s", v.GitVersion, versions.Tested.Kubernetes)
	}

	rc := map[string]any{
		"apiVersion": "ray.io/v1", "kind": "RayCluster",
		"metadata": map[string]any{"name": "box", "namespace": "default"},
		"spec": map[string]any{
			"headGroupSpec": map[string]any{
				"rayStartParams": map[string]any{},
				"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
					"name": "ray-head", "image": "rayproject/ray:" + versions.Tested.Ray,
				}}}},
			},
		},
	}
	const rcPath = "/apis/ray.io/v1/namespaces/default/rayclusters"
	if err := b.Do(ctx, http.MethodPost, rcPath, rc, nil); err != nil {
		t.Fatal(err)
	}
	type list struct {
		Items []struct {
			Metadata struct {
				Name            string `json:"name"`
				OwnerReferences []struct {
					Kind string `json:"kind"`
					Name string `json:"name"`
				} `json:"ownerReferences"`
			} `json:"metadata"`
		} `json:"items"`
	}
	const sel = "?labelSelector=ray.io%2Fcluster%3Dbox%2Cray.io%2Fnode-type%3Dhead"
	headPods := func() (list, error) {
		var l list
		err := b.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods"+sel, nil, &l)
		return l, err
	}
	poll(ctx, t, "the operator to create the head pod", func() error {
		l, err := headPods()
		if err == nil && len(l.Items) != 1 {
			err = fmt.Errorf("%d head pods", len(l.Items))
		}
		if err == nil && (len(l.Items[0].Metadata.OwnerReferences) == 0 || l.Items[0].Metadata.OwnerReferences[0].Kind != "RayCluster") {
			err = fmt.Errorf("head pod %s is not owned by the RayCluster: %+v", l.Items[0].Metadata.Name, l.Items[0].Metadata.OwnerReferences)
		}
		return err
	})
	poll(ctx, t, "the operator to create the head service", func() error {
		var l list
		err := b.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/services"+sel, nil, &l)
		if err == nil && len(l.Items) != 1 {
			err = fmt.Errorf("%d head services", len(l.Items))
		}
		return err
	})

	if err := b.Do(ctx, http.MethodDelete, rcPath+"/box", nil, nil); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the head pod to go with its RayCluster", func() error {
		l, err := headPods()
		if err == nil && len(l.Items) != 0 {
			err = fmt.Errorf("%d head pods left", len(l.Items))
		}
		return err
	})

	pids, work := b.PIDs(), b.WorkDir()
	if len(pids) != len(Components) {
		t.Errorf("%d processes running, want one per component %v", len(pids), Components)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("process %d is still running after Close", pid)
		}
	}
	if _, err := os.Stat(work); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work directory %s is left after Close (%v)", work, err)
	}
}

func poll(ctx context.Context, t *testing.T, what string, check func() error) {
	t.Helper()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
