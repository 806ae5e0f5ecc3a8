package kubebox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configure a box.
type Options struct {
	// Dir holds the built binaries (bin/) and KubeRay's CRDs (crds/): the
	// output of .ci/kube.sh, .tmp/kube in a checkout.
	Dir string
	// WorkDir is where the box keeps its certificates, etcd's data and the
	// logs; a fresh directory under os.TempDir() when empty.
	WorkDir string
	// StartTimeout bounds each step of Start (5 minutes when zero: the
	// API server's first start builds its OpenAPI schemas).
	StartTimeout time.Duration
	// Venv, when set, adds a node (kubebox-node, a virtual-kubelet) whose
	// pods run their containers' commands with this venv standing in for
	// the image, each pod in its own network namespace. Needs root.
	Venv string
	// NodeLabels are the node's extra labels (e.g. nvidia.com/gpu.product).
	NodeLabels map[string]string
	// NodeGPUs is the node's nvidia.com/gpu capacity, which the scheduler
	// counts; the pods get no device.
	NodeGPUs int
	// Logf receives progress lines; silent when nil.
	Logf func(format string, args ...any)
}

// Box is a running control plane with the KubeRay operator.
type Box struct {
	opts       Options
	work       string
	ownWork    bool
	pki        *pki
	server     string // https://127.0.0.1:port
	kubeconfig string
	api        *client

	rt       *runtime
	stopSync chan struct{}
	syncDone chan struct{}

	mu     sync.Mutex
	procs  []*proc
	closed bool
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// Components are the processes a box runs, in start order.
var Components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kuberay-operator"}

// Start brings the control plane up, applies KubeRay's CRDs and waits until
// they are established and the operator reports ready. On error, what was
// started is stopped again.
func Start(opts Options) (_ *Box, err error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 5 * time.Minute
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	// The components run in the work directory.
	if opts.Dir, err = filepath.Abs(opts.Dir); err != nil {
		return nil, err
	}
	need := Components
	if opts.Venv != "" {
		need = append(need[:len(need):len(need)], NodeName)
	}
	for _, c := range need {
		if _, err := os.Stat(filepath.Join(opts.Dir, "bin", c)); err != nil {
			return nil, fmt.Errorf("kubebox: %s is not built in %s (run .ci/kube.sh): %w", c, opts.Dir, err)
		}
	}
	b := &Box{opts: opts, work: opts.WorkDir}
	if b.work == "" {
		if b.work, err = os.MkdirTemp("", "kubebox-"); err != nil {
			return nil, err
		}
		b.ownWork = true
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.Close())
		}
	}()
	if b.pki, err = newPKI(b.work); err != nil {
		return nil, err
	}
	if err := b.pki.issue(b.work, "apiserver", "kube-apiserver", nil, true); err != nil {
		return nil, err
	}
	if err := b.pki.issue(b.work, "admin", "kubebox-admin", []string{"system:masters"}, false); err != nil {
		return nil, err
	}
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	if err := b.startEtcd(ports[0], ports[1]); err != nil {
		return nil, err
	}
	if err := b.startAPIServer(ports[0], ports[2]); err != nil {
		return nil, err
	}
	if err := b.startControllers(); err != nil {
		return nil, err
	}
	if err := b.applyCRDs(); err != nil {
		return nil, err
	}
	if err := b.startOperator(ports[3], ports[4]); err != nil {
		return nil, err
	}
	if opts.Venv != "" {
		if err := b.startNode(ports[5]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Server is the API server's URL; Kubeconfig the path of an admin
// kubeconfig for it (client certificate, system:masters).
func (b *Box) Server() string     { return b.server }
func (b *Box) Kubeconfig() string { return b.kubeconfig }

// Kubectl is kubectl (built with the control plane) as the box's admin.
func (b *Box) Kubectl(ctx context.Context, args ...string) *exec.Cmd {
	// #nosec G204 -- the box's own kubectl, with the test's arguments
	return exec.CommandContext(ctx, filepath.Join(b.opts.Dir, "bin", "kubectl"), append([]string{"--kubeconfig=" + b.kubeconfig}, args...)...)
}

// WorkDir is the box's directory: <component>.log files are there.
func (b *Box) WorkDir() string { return b.work }

func (b *Box) startEtcd(client, peer int) error {
	c, p := fmt.Sprintf("http://127.0.0.1:%d", client), fmt.Sprintf("http://127.0.0.1:%d", peer)
	if err := b.spawn("etcd", nil, "--name=kubebox", "--data-dir="+filepath.Join(b.work, "etcd"),
		"--listen-client-urls="+c, "--advertise-client-urls="+c, "--listen-peer-urls="+p,
		"--initial-advertise-peer-urls="+p, "--initial-cluster=kubebox="+p, "--unsafe-no-fsync"); err != nil {
		return err
	}
	return b.waitFor("etcd", func(ctx context.Context) error { return httpOK(ctx, c+"/health") })
}

func (b *Box) startAPIServer(etcd, port int) error {
	b.server = fmt.Sprintf("https://127.0.0.1:%d", port)
	kp := b.pki.keyPair["apiserver"]
	// The flags envtest (controller-runtime) runs the API server with,
	// plus RBAC: the operator and controllers run as admin, but the RBAC
	// roles KubeRay ships are real.
	if err := b.spawn("kube-apiserver", nil, "--etcd-servers="+fmt.Sprintf("http://127.0.0.1:%d", etcd),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(b.work, "apiserver-certs"), "--tls-cert-file="+kp[0], "--tls-private-key-file="+kp[1],
		"--client-ca-file="+b.pki.caFile, "--service-account-key-file="+b.pki.saPub,
		"--service-account-signing-key-file="+b.pki.saKey, "--service-account-issuer="+b.server,
		"--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true", "--authorization-mode=RBAC",
		"--disable-admission-plugins=ServiceAccount",
		// Logs and port-forward go to the node's kubelet API at its
		// address, not its name (which nothing resolves).
		"--kubelet-preferred-address-types=InternalIP"); err != nil {
		return err
	}
	admin := b.pki.keyPair["admin"]
	api, err := newClient(b.server, b.pki.caFile, admin[0], admin[1])
	if err != nil {
		return err
	}
	b.api = api
	b.kubeconfig = filepath.Join(b.work, "admin.kubeconfig")
	if err := writeKubeconfig(b.kubeconfig, b.server, b.pki.caFile, admin[0], admin[1]); err != nil {
		return err
	}
	return b.waitFor("kube-apiserver", func(ctx context.Context) error { return b.api.ready(ctx) })
}

func (b *Box) startControllers() error {
	kc := "--kubeconfig=" + b.kubeconfig
	if err := b.spawn("kube-controller-manager", nil, kc, "--leader-elect=false", "--bind-address=127.0.0.1",
		"--secure-port=0", "--service-account-private-key-file="+b.pki.saKey, "--root-ca-file="+b.pki.caFile,
		"--cluster-signing-cert-file="+b.pki.caFile, "--cluster-signing-key-file="+filepath.Join(b.work, "ca.key")); err != nil {
		return err
	}
	return b.spawn("kube-scheduler", nil, kc, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0")
}

// applyCRDs creates KubeRay's CRDs from its module (copied by .ci/kube.sh)
// and waits until the API server serves them.
func (b *Box) applyCRDs() error {
	files, _ := filepath.Glob(filepath.Join(b.opts.Dir, "crds", "*.yaml"))
	if len(files) == 0 {
		return fmt.Errorf("kubebox: no CRDs in %s", filepath.Join(b.opts.Dir, "crds"))
	}
	var names []string
	for _, f := range files {
		doc, err := os.ReadFile(f) // #nosec G304 -- the box's own build output
		if err != nil {
			return err
		}
		name, err := b.api.createYAML(context.Background(), "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", doc)
		if err != nil {
			return fmt.Errorf("kubebox: applying %s: %w", filepath.Base(f), err)
		}
		names = append(names, name)
	}
	return b.waitFor("KubeRay CRDs", func(ctx context.Context) error {
		for _, n := range names {
			if err := b.api.crdEstablished(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *Box) startOperator(metrics, probe int) error {
	p := fmt.Sprintf("127.0.0.1:%d", probe)
	if err := b.spawn("kuberay-operator", []string{"KUBECONFIG=" + b.kubeconfig},
		"--metrics-addr="+fmt.Sprintf("127.0.0.1:%d", metrics), "--health-probe-bind-address="+p,
		"--enable-leader-election=false", "--log-stdout-encoder=console"); err != nil {
		return err
	}
	return b.waitFor("kuberay-operator", func(ctx context.Context) error { return httpOK(ctx, "http://"+p+"/readyz") })
}

// spawn starts bin/name in its own process group, logging to name.log.
// The kernel kills it if the test process dies first.
func (b *Box) spawn(name string, env []string, args ...string) error {
	log, err := os.OpenFile(filepath.Join(b.work, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(b.opts.Dir, "bin", name), args...) // #nosec G204 -- the box's own binaries
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + b.work}, env...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = b.work, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("kubebox: starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), log: log}
	go func() { _ = cmd.Wait(); close(p.done) }()
	b.mu.Lock()
	b.procs = append(b.procs, p)
	b.mu.Unlock()
	b.opts.Logf("kubebox: started %s (pid %d)", name, cmd.Process.Pid)
	return nil
}

// waitFor polls check until it passes, a component exits, or StartTimeout.
func (b *Box) waitFor(what string, check func(context.Context) error) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.StartTimeout)
	defer cancel()
	var last error
	for {
		c, cc := context.WithTimeout(ctx, 5*time.Second)
		last = check(c)
		cc()
		if last == nil {
			b.opts.Logf("kubebox: %s ready after %s", what, time.Since(start).Round(time.Millisecond))
			return nil
		}
		if p := b.exited(); p != nil {
			return fmt.Errorf("kubebox: %s exited (%v) while waiting for %s; last lines of its log:\n%s", p.name, p.cmd.ProcessState, what, b.tail(p.name, 20))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubebox: %s not ready after %s: %w", what, b.opts.StartTimeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Err reports a component that has exited: the box is broken.
func (b *Box) Err() error {
	if p := b.exited(); p != nil {
		return fmt.Errorf("kubebox: %s exited (%v); last lines of its log:\n%s", p.name, p.cmd.ProcessState, b.tail(p.name, 20))
	}
	return nil
}

func (b *Box) exited() *proc {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	for _, p := range b.procs {
		select {
		case <-p.done:
			return p
		default:
		}
	}
	return nil
}

func (b *Box) tail(name string, n int) string {
	data, _ := os.ReadFile(filepath.Join(b.work, name+".log")) // #nosec G304 -- the box's own log
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PIDs are the process IDs of the components still running.
func (b *Box) PIDs() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for _, p := range b.procs {
		select {
		case <-p.done:
		default:
			out = append(out, p.cmd.Process.Pid)
		}
	}
	return out
}

// Close stops the components in reverse order (SIGTERM to each process
// group, SIGKILL after 10 s) and removes the work directory it created.
func (b *Box) Close() error {
	b.mu.Lock()
	procs := append([]*proc(nil), b.procs...)
	b.closed = true
	b.mu.Unlock()
	var errs []error
	if b.stopSync != nil {
		close(b.stopSync)
		<-b.syncDone
		b.stopSync = nil
	}
	for i := len(procs) - 1; i >= 0; i-- {
		stopProc(procs[i])
	}
	if b.rt != nil { // after the node, so that it restarts no pod
		errs = append(errs, b.rt.close())
	}
	if b.ownWork && b.work != "" {
		errs = append(errs, os.RemoveAll(b.work))
	}
	return errors.Join(errs...)
}

func stopProc(p *proc) {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	_ = p.log.Close()
}

// freePorts reserves n loopback ports by listening on them, then releases
// them for the components to bind.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return nil, fmt.Errorf("listener address %v is not TCP", l.Addr())
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}
