package kubebox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2box"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// TestKubeBox_rayCluster creates a RayCluster with a head and one worker
// and follows it to a real Ray cluster: the KubeRay operator renders the
// pods, their `ray start` commands and the worker's init container (which
// waits for the GCS through the head Service's name); the scheduler binds
// them to the box's node, which runs them with the venv's Ray, each in its
// namespace, and runs KubeRay's readiness probes there; the operator marks
// the cluster ready. Ray then lists both pods' addresses as alive nodes.
// Deleting the RayCluster takes the pods, their processes and their
// namespaces with it.
func TestKubeBox_rayCluster(t *testing.T) {
	b := nodeBox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	group := func(name string, memory string) map[string]any {
		resources := map[string]any{"cpu": "1", "memory": memory}
		return map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
			"name": name, "image": "rayproject/ray:" + versions.Tested.Ray,
			"resources": map[string]any{"limits": resources, "requests": resources},
		}}}}
	}
	rc := map[string]any{
		"apiVersion": "ray.io/v1", "kind": "RayCluster",
		"metadata": map[string]any{"name": "ray", "namespace": "default"},
		"spec": map[string]any{
			"rayVersion": versions.Tested.Ray,
			"headGroupSpec": map[string]any{
				"rayStartParams": map[string]any{"dashboard-host": "0.0.0.0", "object-store-memory": "100000000"},
				"template":       group("ray-head", "2Gi"),
			},
			"workerGroupSpecs": []any{map[string]any{
				"groupName": "cpu", "replicas": 1, "minReplicas": 0, "maxReplicas": 1,
				"rayStartParams": map[string]any{"object-store-memory": "100000000"},
				"template":       group("ray-worker", "1Gi"),
			}},
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
	type podList struct {
		Items []struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Status struct {
				PodIP string `json:"podIP"`
			} `json:"status"`
		} `json:"items"`
	}
	const sel = "?labelSelector=ray.io%2Fcluster%3Dray"
	var pods podList
	if err := b.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods"+sel, nil, &pods); err != nil || len(pods.Items) != 2 {
		t.Fatalf("pods: %+v, %v", pods, err)
	}
	var head string
	var podIPs []string
	for _, p := range pods.Items {
		podIPs = append(podIPs, p.Status.PodIP)
		if p.Metadata.Labels["ray.io/node-type"] == "head" {
			head = p.Status.PodIP
		}
	}
	dashboard := "http://" + head + ":8265"
	var version struct {
		Ray string `json:"ray_version"`
	}
	// No waiting here: the node reports a pod ready only once KubeRay's
	// readiness probe (the raylet's and, on the head, the GCS's health)
	// passes.
	if err := getJSON(ctx, dashboard+"/api/version", &version); err != nil {
		t.Fatalf("the head's dashboard, once the cluster is ready: %v", err)
	}
	if version.Ray != versions.Tested.Ray {
		t.Errorf("the head runs Ray %q, want %s", version.Ray, versions.Tested.Ray)
	}
	var nodes struct {
		Data struct {
			Result struct {
				Result []struct {
					IP    string `json:"node_ip"`
					State string `json:"state"`
				} `json:"result"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(ctx, dashboard+"/api/v0/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	var alive []string
	for _, n := range nodes.Data.Result.Result {
		if n.State == "ALIVE" {
			alive = append(alive, n.IP)
		}
	}
	sort.Strings(alive)
	sort.Strings(podIPs)
	if fmt.Sprint(alive) != fmt.Sprint(podIPs) {
		t.Errorf("Ray's alive nodes %v, want the pods' addresses %v (%+v)", alive, podIPs, nodes)
	}
	nss := b.PodNamespaces()
	if len(nss) != 2 {
		t.Fatalf("pod namespaces %v, want the head's and the worker's", nss)
	}
	var pids []int // the Ray processes
	for _, ns := range nss {
		pids = append(pids, ec2box.NamespacePIDs(ns)...)
	}
	if len(pids) < 6 {
		t.Errorf("%d processes in the pods' namespaces, want ray start's GCS, raylets, dashboard...", len(pids))
	}

	if err := b.Do(ctx, http.MethodDelete, rcPath+"/ray", nil, nil); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the pods and their namespaces to go", func() error {
		if err := b.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods"+sel, nil, &pods); err != nil {
			return err
		}
		if len(pods.Items) != 0 || ec2box.NamespaceExists(nss[0]) || ec2box.NamespaceExists(nss[1]) {
			return fmt.Errorf("%d pods, namespaces %v", len(pods.Items), nss)
		}
		return nil
	})
	for _, ns := range nss {
		if _, err := os.Stat("/etc/netns/" + ns); err == nil {
			t.Errorf("/etc/netns/%s is left", ns)
		}
	}
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("Ray process %d is still running after its pod's deletion", pid)
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
