package kuberay

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Tunnel is a local address that reaches a RayCluster head's port through
// the API server's port-forward, as `kubectl port-forward` does. Its
// address stays the same for the tunnel's life: when the forward breaks (the
// head pod was replaced, the connection dropped) the next connection opens
// a new one to the current head pod.
type Tunnel struct {
	c        *Client
	ns, name string
	port     int
	ln       net.Listener

	mu   sync.Mutex
	fwd  string        // the current forward's local address
	stop chan struct{} // closes it
	dead <-chan struct{}
}

// OpenTunnel listens on loopback for the head's port of RayCluster ns/name.
func (c *Client) OpenTunnel(ns, name string, port int) (*Tunnel, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := &Tunnel{c: c, ns: ns, name: name, port: port, ln: ln}
	go t.serve()
	return t, nil
}

// URL is the tunnel's http://127.0.0.1:port.
func (t *Tunnel) URL() string { return "http://" + t.ln.Addr().String() }

// Close stops the listener and the forward.
func (t *Tunnel) Close() error {
	err := t.ln.Close()
	t.mu.Lock()
	if t.stop != nil {
		close(t.stop)
		t.stop = nil
	}
	t.mu.Unlock()
	return err
}

func (t *Tunnel) serve() {
	for {
		conn, err := t.ln.Accept()
		if err != nil {
			return
		}
		go t.pipe(conn)
	}
}

func (t *Tunnel) pipe(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	addr, err := t.forward(ctx)
	cancel()
	if err != nil {
		return // the client sees a closed connection; its retries open another
	}
	up, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.reset(addr)
		return
	}
	defer func() { _ = up.Close() }()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, up); done <- struct{}{} }()
	<-done
}

func (t *Tunnel) reset(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fwd == addr && t.stop != nil {
		close(t.stop)
		t.stop, t.fwd = nil, ""
	}
}

// forward returns the local address of a live port-forward to the head pod,
// opening one when there is none.
func (t *Tunnel) forward(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fwd != "" {
		select {
		case <-t.dead:
			t.fwd = ""
		default:
			return t.fwd, nil
		}
	}
	pod, err := t.c.HeadPod(ctx, t.ns, t.name)
	if err != nil {
		return "", err
	}
	rt, upgrader, err := spdy.RoundTripperFor(t.c.rest)
	if err != nil {
		return "", err
	}
	u := t.c.core.CoreV1().RESTClient().Post().Resource("pods").Namespace(t.ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(t.port)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return "", err
	}
	dead := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- pf.ForwardPorts()
		close(dead)
	}()
	select {
	case <-ready:
	case err := <-errc:
		return "", fmt.Errorf("port-forward to pod %s/%s: %w", t.ns, pod, err)
	case <-ctx.Done():
		close(stop)
		return "", ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		close(stop)
		return "", fmt.Errorf("port-forward to pod %s/%s: no local port (%v)", t.ns, pod, err)
	}
	t.fwd, t.stop, t.dead = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), stop, dead
	return t.fwd, nil
}

// HeadPod is the name of the cluster's running head pod.
func (c *Client) HeadPod(ctx context.Context, ns, name string) (string, error) {
	pods, err := c.Pods(ctx, ns, name)
	if err != nil {
		return "", err
	}
	for _, p := range pods {
		if p.Labels["ray.io/node-type"] == "head" && p.DeletionTimestamp == nil && p.Status.Phase == "Running" {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("RayCluster %s/%s has no running head pod", ns, name)
}
