package kubebox

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// NodeName is the box's node, and the name of its binary.
const NodeName = "kubebox-node"

// startNode starts the pods' runtime and kubebox-node, waits until the node
// is Ready, and keeps the pods' hosts files in step with the Endpoints.
func (b *Box) startNode(port int) error {
	rt, err := newRuntime(b.work, b.opts.Venv, b.opts.Logf)
	b.rt = rt
	if err != nil {
		return err
	}
	url, err := rt.serve()
	if err != nil {
		return err
	}
	if err := b.pki.issue(b.work, "node", NodeName, nil, true); err != nil {
		return err
	}
	kp := b.pki.keyPair["node"]
	args := []string{"--name=" + NodeName, "--runtime=" + url, fmt.Sprintf("--listen=127.0.0.1:%d", port),
		"--tls-cert=" + kp[0], "--tls-key=" + kp[1], "--kubelet-version=v" + versions.Tested.Kubernetes}
	if b.opts.NodeGPUs > 0 {
		args = append(args, fmt.Sprintf("--gpus=%d", b.opts.NodeGPUs))
	}
	for k, v := range b.opts.NodeLabels {
		args = append(args, "--label="+k+"="+v)
	}
	if err := b.spawn(NodeName, []string{"KUBECONFIG=" + b.kubeconfig}, args...); err != nil {
		return err
	}
	if err := b.waitFor(NodeName, func(ctx context.Context) error {
		var n struct {
			Status struct {
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		}
		if err := b.Do(ctx, http.MethodGet, "/api/v1/nodes/"+NodeName, nil, &n); err != nil {
			return err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				return nil
			}
		}
		return fmt.Errorf("node %s is not Ready", NodeName)
	}); err != nil {
		return err
	}
	b.stopSync, b.syncDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(b.syncDone)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if hosts, err := endpointHosts(ctx, b); err == nil {
				rt.setHosts(hosts)
			}
			cancel()
			select {
			case <-b.stopSync:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return nil
}

// PodNamespaces lists the network namespaces of the node's pods.
func (b *Box) PodNamespaces() []string {
	if b.rt == nil {
		return nil
	}
	return b.rt.namespaces()
}
