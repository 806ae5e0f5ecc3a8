package kuberay

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/kubebox"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// TestClient_box runs a RayCluster with token auth and a GPU group on the
// box's node (one nvidia.com/gpu, labelled as an L4) through the real
// KubeRay operator, reaches the head's dashboard through the tunnel, and
// deletes it.
func TestClient_box(t *testing.T) {
	box := kubebox.NewNode(t, kubebox.Options{NodeGPUs: 1, NodeLabels: map[string]string{GPUProductLabel: "NVIDIA-L4"}})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c, err := New(Config{ConfigPath: box.Kubeconfig()})
	if err != nil {
		t.Fatal(err)
	}
	s := Spec{Namespace: "default", Name: "llm", Image: DefaultImage(), RayVersion: versions.Tested.Ray, TokenSecret: "llm-ray-token",
		Head: Pod{CPU: 1, MemoryGiB: 2},
		Groups: []Group{{Name: "l4", GPUs: 1, Replicas: 1, MinReplicas: 1, MaxReplicas: 1,
			Pod: Pod{CPU: 1, MemoryGiB: 1, NodeSelector: map[string]string{GPUProductLabel: "NVIDIA-L4"}}}}}
	// The API server checks every field Render writes (autoscaler options,
	// tolerations, selectors, GPU limits) against KubeRay's CRD, refusing
	// unknown ones.
	full := testSpec()
	full.Namespace = s.Namespace
	if _, err := c.ray.RayV1().RayClusters(s.Namespace).Create(ctx, full.Render(),
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err != nil {
		t.Errorf("KubeRay's CRD refuses the rendered RayCluster: %v", err)
	}
	const token = "0123456789abcdef0123456789abcdef"
	if err := c.ApplySecret(ctx, s.Namespace, s.TokenSecret, token, false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, s.Render()); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, s.Namespace, s.Name); err != nil {
		t.Fatal(err)
	}
	live, err := c.Find(ctx, s.Namespace, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	if got := Parse(live); fmt.Sprint(got) != fmt.Sprint(s) {
		t.Errorf("the live RayCluster reads back as\n%+v\nwant\n%+v", got, s)
	}
	tun, err := c.OpenTunnel(s.Namespace, s.Name, DashboardPort)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tun.Close() }()
	get := func(tok string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tun.URL()+"/api/version", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(token); code != http.StatusOK {
		t.Errorf("GET /api/version with the token through the tunnel: HTTP %d", code)
	}
	if code := get(""); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Errorf("GET /api/version without the token: HTTP %d, want 401 (token auth from the Secret)", code)
	}
	if err := c.Delete(ctx, s.Namespace, s.Name); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitGone(ctx, s.Namespace, s.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Find(ctx, s.Namespace, s.Name); !retry.IsNotFound(err) {
		t.Errorf("Find after delete: %v, want not found", err)
	}
	if err := c.DeleteSecret(ctx, s.Namespace, s.TokenSecret); err != nil {
		t.Fatal(err)
	}
}
