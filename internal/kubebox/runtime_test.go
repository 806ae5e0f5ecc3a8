package kubebox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2box"
)

// TestRuntime_podInNamespace runs the node's runtime without a control
// plane: a pod's command runs in its own network namespace at its address,
// sees its env, its name as hostname and the hosts file the box keeps (also
// after an update), and its exit code is reported; a readiness probe runs
// in the namespace and the container is ready once it passes; deleting it
// and closing the runtime leave no namespace, link or /etc/netns entry.
func TestRuntime_podInNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the runtime needs root for network namespaces")
	}
	rt, err := newRuntime(t.TempDir(), "/nonexistent-venv", t.Logf)
	if err != nil {
		if rt != nil {
			_ = rt.close()
		}
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = rt.close()
		}
	})
	url, err := rt.serve()
	if err != nil {
		t.Fatal(err)
	}
	rt.setHosts([]byte("10.214.9.9 web.default.svc.cluster.local web\n"))
	// The pod waits for a second hosts entry, then prints what it sees.
	script := `while ! grep -q later /etc/hosts; do sleep 0.1; done
ip -4 -o addr show dev eth0 | grep -o '10\.214\.[0-9.]*'; echo "$GREETING"; echo "host=$(hostname)"; cat /etc/hosts; exit 7`
	spec := map[string]any{"metadata": map[string]any{"namespace": "default", "name": "p"},
		"spec": map[string]any{"containers": []any{
			map[string]any{"name": "main", "command": []string{"sh", "-c"}, "args": []string{script},
				"env": []any{map[string]any{"name": "GREETING", "value": "hi"}}},
			map[string]any{"name": "noentry"},
			map[string]any{"name": "waiter", "command": []string{"sleep", "600"}, "readinessProbe": map[string]any{
				"exec": map[string]any{"command": []string{"grep", "-q", "later", "/etc/hosts"}}, "periodSeconds": 1}},
		}}}
	var st struct {
		IP       string            `json:"ip"`
		Exited   map[string]int    `json:"exited"`
		Messages map[string]string `json:"messages"`
		Ready    map[string]bool   `json:"ready"`
	}
	call := func(method, path string, body any) {
		t.Helper()
		data, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(context.Background(), method, url+path, bytes.NewReader(data))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, out)
		}
		if err := json.Unmarshal(out, &st); err != nil {
			t.Fatal(err)
		}
	}
	call(http.MethodPost, "/pods", spec)
	ns := rt.namespaces()
	if len(ns) != 1 || !ec2box.NamespaceExists(ns[0]) {
		t.Fatalf("namespaces %v", ns)
	}
	if _, ok := st.Exited["main"]; ok {
		t.Fatalf("main exited before the hosts file changed: %+v", st)
	}
	if st.Ready["waiter"] || !st.Ready["main"] {
		t.Errorf("readiness %v before the probe can pass, want main (no probe) only", st.Ready)
	}
	if st.Exited["noentry"] != 128 || !strings.Contains(st.Messages["noentry"], "has none") {
		t.Errorf("a container without a command: %+v, want exit 128 and a message", st)
	}
	rt.setHosts([]byte("10.214.9.10 later\n"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		call(http.MethodGet, "/pods/default/p", nil)
		if _, ok := st.Exited["main"]; ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	logs, _ := os.ReadFile(rt.pods["default/p"].dir + "/main.log")
	if code, ok := st.Exited["main"]; !ok || code != 7 {
		t.Fatalf("main: exited %v (%v), want 7; log:\n%s", code, ok, logs)
	}
	for time.Now().Before(deadline) && !st.Ready["waiter"] {
		time.Sleep(200 * time.Millisecond)
		call(http.MethodGet, "/pods/default/p", nil)
	}
	if !st.Ready["waiter"] || st.Ready["main"] || st.Ready["noentry"] {
		t.Errorf("readiness %v, want waiter's probe to pass and the exited containers not ready", st.Ready)
	}
	for _, want := range []string{st.IP + "\n", "hi\n", "host=p\n", "127.0.0.1 localhost\n" + st.IP + " p\n10.214.9.10 later\n"} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("pod log lacks %q:\n%s", want, logs)
		}
	}
	call(http.MethodDelete, "/pods/default/p", nil)
	if ec2box.NamespaceExists(ns[0]) {
		t.Errorf("namespace %s is left after the pod's deletion", ns[0])
	}
	if _, err := os.Stat("/etc/netns/" + ns[0]); err == nil {
		t.Errorf("/etc/netns/%s is left", ns[0])
	}
	closed = true
	if err := rt.close(); err != nil {
		t.Fatal(err)
	}
	if ec2box.IP("link", "show", rt.bridge) == nil {
		t.Errorf("bridge %s is left after close", rt.bridge)
	}
}

// TestSweep_deadRun leaves a runtime's pod behind as a killed test would
// (owner file naming a process that is gone) and checks that Sweep removes
// its namespace, links, hosts file and owner file, and spares a live run.
func TestSweep_deadRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the runtime needs root for network namespaces")
	}
	live, err := newRuntime(t.TempDir(), "/nonexistent-venv", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = live.close() }()
	dead, err := newRuntime(t.TempDir(), "/nonexistent-venv", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	spec := podSpec{}
	spec.Metadata.Namespace, spec.Metadata.Name = "default", "orphan"
	p, err := dead.start(spec)
	if err != nil {
		_ = dead.close()
		t.Fatal(err)
	}
	// PID 1 with another start time: a process that is gone.
	if err := os.WriteFile(filepath.Join(ownerDir, dead.run), []byte("1 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(); err != nil {
		t.Fatal(err)
	}
	if ec2box.NamespaceExists(p.ns) {
		_ = dead.close()
		t.Fatalf("Sweep left the dead run's namespace %s", p.ns)
	}
	for _, gone := range []string{filepath.Join("/etc/netns", p.ns), filepath.Join(ownerDir, dead.run)} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("Sweep left %s", gone)
		}
	}
	if ec2box.IP("link", "show", dead.bridge) == nil {
		t.Errorf("Sweep left the dead run's bridge %s", dead.bridge)
	}
	if ec2box.IP("link", "show", live.bridge) != nil {
		t.Errorf("Sweep removed the live run's bridge %s", live.bridge)
	}
}

// TestRuntime_initContainers runs a pod's init containers in turn before
// its container, and fails a pod whose init container fails without
// running its container.
func TestRuntime_initContainers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the runtime needs root for network namespaces")
	}
	rt, err := newRuntime(t.TempDir(), "/nonexistent-venv", t.Logf)
	if err != nil {
		if rt != nil {
			_ = rt.close()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.close() })
	start := func(name string, inits ...string) *pod {
		t.Helper()
		sh := func(n, script string) map[string]any {
			return map[string]any{"name": n, "command": []string{"sh", "-c", script}}
		}
		var initCs []any
		for i, s := range inits {
			initCs = append(initCs, sh(fmt.Sprintf("init-%d", i), s))
		}
		data, _ := json.Marshal(map[string]any{"metadata": map[string]any{"namespace": "default", "name": name},
			"spec": map[string]any{"initContainers": initCs, "containers": []any{sh("main", `cat "$HOME/order"`)}}})
		var spec podSpec
		if err := json.Unmarshal(data, &spec); err != nil {
			t.Fatal(err)
		}
		p, err := rt.start(spec)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := start("ok", `sleep 0.5; echo a >> "$HOME/order"`, `echo b >> "$HOME/order"`)
	bad := start("bad", "exit 3", `echo never > "$HOME/order"`)
	exited := func(p *pod) (int, string, bool) {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		code, done := p.exited["main"]
		return code, p.messages["main"], done
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		_, _, a := exited(ok)
		_, _, b := exited(bad)
		if a && b {
			break
		}
	}
	logs, _ := os.ReadFile(filepath.Join(ok.dir, "main.log"))
	if code, _, done := exited(ok); !done || code != 0 || string(logs) != "a\nb\n" {
		t.Errorf("pod ok: main exited %d (%v), log %q, want 0 and the init containers' lines in order", code, done, logs)
	}
	code, msg, done := exited(bad)
	if !done || code != 128 || !strings.Contains(msg, "init container init-0 exited with 3") {
		t.Errorf("pod bad: main exited %d (%v) %q, want 128 naming the failed init container", code, done, msg)
	}
	for _, never := range []string{"main.log", "init-1.log", "order"} {
		if _, err := os.Stat(filepath.Join(bad.dir, never)); err == nil {
			t.Errorf("pod bad: %s exists; nothing should run after a failed init container", never)
		}
	}
}
