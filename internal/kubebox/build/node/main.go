// Command kubebox-node is the box's node: a virtual-kubelet whose container
// runtime is the test harness (internal/kubebox). It registers a Ready node,
// hands each pod scheduled to it to the harness' runtime API on loopback
// (which runs the containers' commands as processes in the pod's own network
// namespace) and reports what the harness says back as the pod's status.
// The kubelet API (logs, port-forward through the API server) is served with
// the certificate the harness issued.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func main() {
	name := flag.String("name", "kubebox-node", "the node's name")
	runtimeURL := flag.String("runtime", "", "the harness' runtime API (http://127.0.0.1:port)")
	listen := flag.String("listen", "127.0.0.1:10250", "the kubelet API's address")
	cert := flag.String("tls-cert", "", "the kubelet API's serving certificate")
	key := flag.String("tls-key", "", "its key")
	cpu := flag.String("cpu", "16", "the node's CPU capacity")
	memory := flag.String("memory", "64Gi", "the node's memory capacity")
	kubeletVersion := flag.String("kubelet-version", "", "the version the node reports (the control plane's)")
	gpus := flag.Int("gpus", 0, "nvidia.com/gpu capacity (the harness' pods have none; the scheduler counts them)")
	labels := labelFlag{}
	flag.Var(labels, "label", "a node label k=v (repeatable), e.g. nvidia.com/gpu.product=NVIDIA-L4")
	flag.Parse()
	if err := run(*name, *runtimeURL, *listen, *cert, *key, *cpu, *memory, *kubeletVersion, *gpus, labels); err != nil {
		fmt.Fprintln(os.Stderr, "kubebox-node:", err)
		os.Exit(1)
	}
}

func run(name, runtimeURL, listen, cert, key, cpu, memory, kubeletVersion string, gpus int, labels map[string]string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	host, portS, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	port, err := strconv.ParseUint(portS, 10, 16)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	n, err := nodeutil.NewNode(name, func(cfg nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
		capacity := corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory),
			corev1.ResourcePods: resource.MustParse("110"),
		}
		if gpus > 0 {
			capacity["nvidia.com/gpu"] = *resource.NewQuantity(int64(gpus), resource.DecimalSI)
		}
		cfg.Node.Status.Capacity, cfg.Node.Status.Allocatable = capacity, capacity
		cfg.Node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}, {Type: corev1.NodeHostName, Address: name}}
		cfg.Node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port) // #nosec G115 -- parsed as 16 bits
		cfg.Node.Status.NodeInfo.KubeletVersion = kubeletVersion
		cfg.Node.Status.NodeInfo.OperatingSystem, cfg.Node.Status.NodeInfo.Architecture = "linux", "amd64"
		for k, v := range labels {
			cfg.Node.Labels[k] = v
		}
		return newProvider(runtimeURL), nil, nil
	},
		nodeutil.AttachProviderRoutes(mux),
		nodeutil.WithTLSConfig(nodeutil.WithKeyPairFromPath(cert, key)),
		func(c *nodeutil.NodeConfig) error {
			c.HTTPListenAddr, c.Handler, c.NumWorkers = listen, mux, 4
			return nil
		},
	)
	if err != nil {
		return err
	}
	go func() {
		if err := n.Run(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "kubebox-node:", err)
			os.Exit(1)
		}
	}()
	if err := n.WaitReady(ctx, 2*time.Minute); err != nil {
		return err
	}
	fmt.Println("kubebox-node: ready")
	<-n.Done()
	return n.Err()
}

// labelFlag collects repeated --label k=v flags.
type labelFlag map[string]string

func (l labelFlag) String() string { return fmt.Sprint(map[string]string(l)) }

func (l labelFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q is not k=v", s)
	}
	l[k] = v
	return nil
}

// copyBoth splices a port-forward stream and a connection to the pod.
func copyBoth(a io.ReadWriteCloser, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(a, b); done <- struct{}{} }()
	go func() { _, _ = io.Copy(b, a); done <- struct{}{} }()
	<-done
	_ = a.Close()
	_ = b.Close()
}
