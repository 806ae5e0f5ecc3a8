package kubebox

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2box"
)

// TestKubeBox_podRuns schedules two pods onto the box's node: a server
// whose Service the other reaches by name (the hosts file follows the
// Endpoints), and that client, whose command's exit is reported as the pod's
// status. kubectl reads the client's log and port-forwards to the server
// through the API server. Close leaves no pod namespace behind.
func TestKubeBox_podRuns(t *testing.T) {
	b := nodeBox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	create := func(path string, obj map[string]any) {
		t.Helper()
		if err := b.Do(ctx, http.MethodPost, path, obj, nil); err != nil {
			t.Fatal(err)
		}
	}
	container := func(name string, cmd ...string) map[string]any {
		return map[string]any{"metadata": map[string]any{"name": name, "labels": map[string]any{"app": name}},
			"spec": map[string]any{"restartPolicy": "Never", "containers": []any{map[string]any{
				"name": "main", "image": "python", "command": cmd,
				"env": []any{map[string]any{"name": "GREETING", "value": "hello from " + name}},
			}}}}
	}
	server := container("web", "python", "-c", `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(os.environ["GREETING"].encode())
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()`)
	create("/api/v1/namespaces/default/pods", server)
	create("/api/v1/namespaces/default/services", map[string]any{"metadata": map[string]any{"name": "web"},
		"spec": map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": 8080}}}})
	client := container("client", "python", "-c", `import sys, time, urllib.request
for _ in range(60):
    try:
        body = urllib.request.urlopen("http://web.default.svc.cluster.local:8080/", timeout=2).read().decode()
        print(body); sys.exit(0 if body == "hello from web" else 3)
    except OSError as e:
        print("retry:", e); time.sleep(1)
sys.exit(4)`)
	create("/api/v1/namespaces/default/pods", client)

	type podStatus struct {
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
		Status struct {
			Phase             string `json:"phase"`
			PodIP             string `json:"podIP"`
			ContainerStatuses []struct {
				State struct {
					Terminated *struct {
						ExitCode int `json:"exitCode"`
					} `json:"terminated"`
				} `json:"state"`
			} `json:"containerStatuses"`
		} `json:"status"`
	}
	get := func(name string) (podStatus, error) {
		var p podStatus
		err := b.Do(ctx, http.MethodGet, "/api/v1/namespaces/default/pods/"+name, nil, &p)
		return p, err
	}
	poll(ctx, t, "the client pod to finish", func() error {
		p, err := get("client")
		if err == nil && p.Status.Phase != "Succeeded" && p.Status.Phase != "Failed" {
			err = fmt.Errorf("phase %q", p.Status.Phase)
		}
		return err
	})
	p, _ := get("client")
	if p.Status.Phase != "Succeeded" || len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Terminated == nil ||
		p.Status.ContainerStatuses[0].State.Terminated.ExitCode != 0 {
		t.Fatalf("client pod: %+v (node log:\n%s)", p, b.tail(NodeName, 20))
	}
	if p.Spec.NodeName != NodeName || !strings.HasPrefix(p.Status.PodIP, "10.214.") {
		t.Errorf("client pod ran on %q at %q, want the box's node and a namespace address", p.Spec.NodeName, p.Status.PodIP)
	}
	if w, err := get("web"); err != nil || w.Status.Phase != "Running" {
		t.Errorf("web pod: %+v, %v", w.Status, err)
	}

	// Through the API server to the node's kubelet API, with kubectl.
	logs, err := b.Kubectl(ctx, "logs", "client").CombinedOutput()
	if err != nil || !strings.Contains(string(logs), "hello from web\n") {
		t.Errorf("kubectl logs client: %v\n%s", err, logs)
	}
	if body, err := portForward(ctx, b, "pod/web", 8080); err != nil || body != "hello from web" {
		t.Errorf("kubectl port-forward pod/web: %q, %v", body, err)
	}

	nss := b.PodNamespaces()
	if len(nss) != 2 {
		t.Errorf("pod namespaces %v, want 2", nss)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss {
		if ec2box.NamespaceExists(ns) {
			t.Errorf("network namespace %s is left after Close", ns)
		}
		if _, err := os.Stat(filepath.Join("/etc/netns", ns)); err == nil {
			t.Errorf("/etc/netns/%s is left after Close", ns)
		}
	}
}

// nodeBox starts a box with a node whose pods run with the test venv.
func nodeBox(t *testing.T) *Box { return NewNode(t, Options{}) }

// portForward runs kubectl port-forward to target's port on a free local
// port and returns the body of a GET through it.
func portForward(ctx context.Context, b *Box, target string, port int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := b.Kubectl(ctx, "port-forward", "--address=127.0.0.1", target, fmt.Sprintf(":%d", port))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n') // Forwarding from 127.0.0.1:NNNN -> port
	m := regexp.MustCompile(`127\.0\.0\.1:(\d+) ->`).FindStringSubmatch(line)
	if m == nil {
		return "", fmt.Errorf("kubectl port-forward printed %q (%v), stderr %s", line, err, stderr.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+m[1]+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}
