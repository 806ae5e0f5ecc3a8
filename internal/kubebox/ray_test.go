package kubebox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2box"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// TestKubeBox_rayHead creates a RayCluster and follows it to a real Ray
// head: the KubeRay operator renders the head pod and its `ray start`
// command, the scheduler binds it to the box's node, the node runs it with
// the venv's Ray in the pod's namespace, runs KubeRay's readiness probe
// there, and the operator marks the cluster ready. The head's dashboard, at
// the pod's address, then answers with the pinned Ray version. Deleting the RayCluster takes the pod, its
// processes and its namespace with it.
func TestKubeBox_rayHead(t *testing.T) {
	b := nodeBox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	resources := map[string]any{"cpu": "1", "memory": "2Gi"}
	rc := map[string]any{
		"apiVersion": "ray.io/v1", "kind": "RayCluster",
		"metadata": map[string]any{"name": "ray", "namespace": "default"},
		"spec": map[string]any{
			"rayVersion": versions.Tested.Ray,
			"headGroupSpec": map[string]any{
				"rayStartParams": map[string]any{"dashboard-host": "0.0.0.0", "object-store-memory": "100000000"},
				"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
					"name": "ray-head", "image": "rayproject/ray:" + versions.Tested.Ray,
					"resources": map[string]any{"limits": resources, "requests": resources},
				}}}},
			},
		},
	}
	const rcPath = "/apis/ray.io/v1/namespaces/default/rayclusters"
	if err := b.Do(ctx, http.MethodPost, rcPath, rc, nil); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the RayCluster to be ready", func() error {
		var c struct {
			Status struct {
				State string `json:"state"`
			} `json:"status"`
		}
		err := b.Do(ctx, http.MethodGet, rcPath+"/ray", nil, &c)
		if err == nil && c.Status.State != "ready" {
			err = fmt.Errorf("state %q", c.Status.State)
		}
		return err
	})
	var pods struct {
		Items []struct {
			Status struct {
				PodIP string `json:"podIP"`
			} `json:"status"`
		} `json:"items"`
	}
	const sel = "?labelSelector=ray.io%2Fcluster%3Dray%2Cray.io%2Fnode-type%3Dhead"
	if err := b.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods"+sel, nil, &pods); err != nil || len(pods.Items) != 1 {
		t.Fatalf("head pods: %+v, %v", pods, err)
	}
	dashboard := "http://" + pods.Items[0].Status.PodIP + ":8265"
	var version struct {
		Ray string `json:"ray_version"`
	}
	// No waiting here: the node reports the pod ready only once KubeRay's
	// readiness probe (the raylet's and the GCS's health) passes.
	if err := getJSON(ctx, dashboard+"/api/version", &version); err != nil {
		t.Fatalf("the head's dashboard, once the cluster is ready: %v", err)
	}
	if version.Ray != versions.Tested.Ray {
		t.Errorf("the head runs Ray %q, want %s", version.Ray, versions.Tested.Ray)
	}
	if err := httpOK(ctx, dashboard+"/api/gcs_healthz"); err != nil {
		t.Errorf("the head's GCS: %v", err)
	}
	nss := b.PodNamespaces()
	if len(nss) != 1 {
		t.Fatalf("pod namespaces %v, want the head's", nss)
	}
	pids := ec2box.NamespacePIDs(nss[0]) // the head's Ray processes
	if len(pids) < 3 {
		t.Errorf("%d processes in the head's namespace, want ray start's GCS, raylet, dashboard...", len(pids))
	}

	if err := b.Do(ctx, http.MethodDelete, rcPath+"/ray", nil, nil); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the head pod and its namespace to go", func() error {
		if err := b.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods"+sel, nil, &pods); err != nil {
			return err
		}
		if len(pods.Items) != 0 || ec2box.NamespaceExists(nss[0]) {
			return fmt.Errorf("%d head pods, namespace %s left", len(pods.Items), nss[0])
		}
		return nil
	})
	if _, err := os.Stat("/etc/netns/" + nss[0]); err == nil {
		t.Errorf("/etc/netns/%s is left", nss[0])
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("head process %d is still running after its pod's deletion", pid)
		}
	}
}

func getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
