package kubebox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2box"
)

// runtime is the node's container runtime, served to kubebox-node on
// loopback: each pod is a network namespace on the box's bridge, each
// container its command run inside it with the test venv standing in for
// the image. /etc/hosts inside is the box's hosts file (ip netns exec
// bind-mounts /etc/netns/<ns>/hosts), kept in step with the Endpoints.
type runtime struct {
	venv   string
	run    string // names: namespaces kbx-<run>-<n>, links kbx<run>…
	bridge string
	subnet [3]byte
	dir    string
	logf   func(string, ...any)

	mu    sync.Mutex
	next  int
	pods  map[string]*pod
	hosts []byte
	srv   *http.Server
}

type pod struct {
	ns, link, ip, dir string
	hostname          string
	containers        []string
	exited            map[string]int
	messages          map[string]string
	ready             map[string]bool // by container: no probe, or its readiness probe passes
	stop              chan struct{}   // closed when the pod is removed
	wg                sync.WaitGroup
}

// The container fields the runtime reads; the node resolved env values
// from ConfigMaps, Secrets and the downward API already.
type podSpec struct {
	Metadata struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		InitContainers []containerSpec `json:"initContainers"`
		Containers     []containerSpec `json:"containers"`
	} `json:"spec"`
}

type containerSpec struct {
	Name       string   `json:"name"`
	Command    []string `json:"command"`
	Args       []string `json:"args"`
	WorkingDir string   `json:"workingDir"`
	// A kubelet runs it; the node reports the pod ready when it passes.
	ReadinessProbe *probeSpec `json:"readinessProbe"`
	Env            []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"env"`
}

const runtimePrefix = "kbx"

func newRuntime(dir, venv string, logf func(string, ...any)) (*runtime, error) {
	if err := Sweep(); err != nil {
		logf("kubebox: sweeping crashed runs: %v", err)
	}
	r := make([]byte, 2)
	_, _ = rand.Read(r)
	rt := &runtime{venv: venv, run: hex.EncodeToString(r), dir: dir, logf: logf, pods: map[string]*pod{}}
	if err := writeOwner(rt.run); err != nil {
		return nil, err
	}
	rt.bridge = runtimePrefix + rt.run + "br"
	used := map[byte]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.To4()[0] == 10 && n.IP.To4()[1] == 214 {
			used[n.IP.To4()[2]] = true
		}
	}
	third := -1
	for i := 0; i < 256; i++ {
		if !used[byte(i)] {
			third = i
			break
		}
	}
	if third < 0 {
		return nil, errors.New("kubebox: every 10.214.N.0/24 is in use")
	}
	rt.subnet = [3]byte{10, 214, byte(third)}
	for _, s := range [][]string{
		{"link", "add", rt.bridge, "type", "bridge"},
		{"addr", "add", rt.addr(1) + "/24", "dev", rt.bridge},
		{"link", "set", rt.bridge, "up"},
	} {
		if err := ec2box.IP(s...); err != nil {
			return rt, err
		}
	}
	return rt, nil
}

func (rt *runtime) addr(host int) string {
	return fmt.Sprintf("%d.%d.%d.%d", rt.subnet[0], rt.subnet[1], rt.subnet[2], host)
}

// serve starts the runtime API on a loopback port and returns its URL.
func (rt *runtime) serve() (string, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pods", rt.create)
	mux.HandleFunc("GET /pods/{ns}/{name}", func(w http.ResponseWriter, r *http.Request) { rt.status(w, r, false) })
	mux.HandleFunc("DELETE /pods/{ns}/{name}", func(w http.ResponseWriter, r *http.Request) { rt.status(w, r, true) })
	mux.HandleFunc("GET /pods/{ns}/{name}/logs/{container}", rt.logs)
	rt.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = rt.srv.Serve(l) }()
	return "http://" + l.Addr().String(), nil
}

func (rt *runtime) create(w http.ResponseWriter, r *http.Request) {
	var spec podSpec
	if err := json.NewDecoder(r.Body).Decode(&spec); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p, err := rt.start(spec)
	if err != nil {
		rt.logf("kubebox: pod %s/%s: %v", spec.Metadata.Namespace, spec.Metadata.Name, err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rt.reply(w, p)
}

func (rt *runtime) start(spec podSpec) (*pod, error) {
	key := spec.Metadata.Namespace + "/" + spec.Metadata.Name
	rt.mu.Lock()
	if p := rt.pods[key]; p != nil {
		rt.mu.Unlock()
		return p, nil
	}
	rt.next++
	n := rt.next
	if n > 250 {
		rt.mu.Unlock()
		return nil, errors.New("the box's subnet is full")
	}
	p := &pod{ns: fmt.Sprintf("%s-%s-%d", runtimePrefix, rt.run, n), link: fmt.Sprintf("%s%sh%x", runtimePrefix, rt.run, n),
		ip: rt.addr(n + 1), dir: filepath.Join(rt.dir, "pods", fmt.Sprintf("%d", n)), exited: map[string]int{}, messages: map[string]string{}, hostname: podHostname(spec.Metadata.Name),
		ready: map[string]bool{}, stop: make(chan struct{})}
	rt.pods[key] = p
	hosts := rt.hosts
	rt.mu.Unlock()
	peer := fmt.Sprintf("%s%sp%x", runtimePrefix, rt.run, n)
	for _, s := range [][]string{
		{"netns", "add", p.ns},
		{"link", "add", p.link, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", p.ns},
		{"link", "set", p.link, "master", rt.bridge},
		{"link", "set", p.link, "up"},
	} {
		if err := ec2box.IP(s...); err != nil {
			return nil, err
		}
	}
	for _, s := range [][]string{
		{"link", "set", peer, "name", "eth0"},
		{"addr", "add", p.ip + "/24", "dev", "eth0"},
		{"link", "set", "eth0", "up"},
		{"link", "set", "lo", "up"},
	} {
		if err := ec2box.InNamespace(p.ns, s...); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join("/etc/netns", p.ns), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join("/etc/netns", p.ns, "hosts"), p.hostsFile(hosts), 0o644); err != nil { // #nosec G306 -- /etc/hosts is world-readable
		return nil, err
	}
	// No name server: names resolve through the hosts file only, and no
	// query leaves the box.
	if err := os.WriteFile(filepath.Join("/etc/netns", p.ns, "resolv.conf"), []byte("options timeout:1 attempts:1\n"), 0o644); err != nil { // #nosec G306 -- as /etc/resolv.conf
		return nil, err
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return nil, err
	}
	for _, c := range spec.Spec.Containers {
		p.containers = append(p.containers, c.Name)
	}
	if len(spec.Spec.InitContainers) == 0 {
		rt.startContainers(p, spec.Spec.Containers)
	} else {
		// As a kubelet does: each init container in turn, to success,
		// before the containers start.
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for _, c := range spec.Spec.InitContainers {
				code := -1
				if done := rt.launch(p, c, nil); done != nil {
					select {
					case code = <-done:
					case <-p.stop:
						return
					}
				}
				if code != 0 {
					for _, m := range spec.Spec.Containers {
						rt.exit(p, m.Name, 128, fmt.Sprintf("init container %s exited with %d", c.Name, code))
					}
					return
				}
			}
			select {
			case <-p.stop:
			default:
				rt.startContainers(p, spec.Spec.Containers)
			}
		}()
	}
	rt.logf("kubebox: pod %s runs in %s at %s", key, p.ns, p.ip)
	return p, nil
}

// startContainers starts the pod's containers and their readiness probes.
func (rt *runtime) startContainers(p *pod, cs []containerSpec) {
	for _, c := range cs {
		env := []string{}
		done := rt.launch(p, c, &env)
		if done == nil {
			continue
		}
		p.wg.Add(1)
		go func(name string) {
			defer p.wg.Done()
			rt.exit(p, name, <-done, "")
		}(c.Name)
		if c.ReadinessProbe == nil {
			rt.setReady(p, c.Name, true)
			continue
		}
		p.wg.Add(1)
		go rt.readiness(p, c.Name, env, c.ReadinessProbe)
	}
}

// launch starts a container's command in the pod's namespace and returns a
// channel that yields its exit code; nil when it could not start (recorded
// as its exit). envOut, when not nil, receives the container's env.
func (rt *runtime) launch(p *pod, c containerSpec, envOut *[]string) <-chan int {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(c.Command) == 0 {
		rt.exit(p, c.Name, 128, "kubebox runs a container's command, and this container has none (the image's entrypoint is not known)")
		return nil
	}
	// TMPDIR is the pod's own /tmp: Ray keeps its sessions there, which
	// the box removes with its work directory (a short path: Ray's
	// socket paths must stay under 108 bytes).
	env := []string{"PATH=" + filepath.Join(rt.venv, "bin") + ":/usr/local/bin:/usr/bin:/bin", "VIRTUAL_ENV=" + rt.venv,
		"HOME=" + p.dir, "TMPDIR=" + p.dir, "LANG=C.UTF-8", "HOSTNAME=" + p.hostname}
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	if envOut != nil {
		*envOut = env
	}
	dir := p.dir
	if c.WorkingDir != "" {
		if st, err := os.Stat(c.WorkingDir); err == nil && st.IsDir() {
			dir = c.WorkingDir
		}
	}
	log, err := os.Create(filepath.Join(p.dir, c.Name+".log"))
	if err != nil {
		rt.exit(p, c.Name, 128, err.Error())
		return nil
	}
	// As a kubelet does, the pod's hostname is its name, which the hosts
	// file maps to its address (Ray finds its node IP so).
	wrap := []string{"netns", "exec", p.ns, "unshare", "--uts", "--", "/bin/sh", "-c", `hostname "$0" && exec "$@"`, p.hostname}
	cmd := exec.Command("ip", append(wrap, argv...)...) // #nosec G204 -- the pod's own command, in its namespace
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = env, dir, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		rt.exit(p, c.Name, 128, err.Error())
		return nil
	}
	done := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		_ = log.Close()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
		done <- code
	}()
	return done
}

// setReady records a container's readiness; one that has exited is not.
func (rt *runtime) setReady(p *pod, container string, ready bool) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	_, exited := p.exited[container]
	p.ready[container] = ready && !exited
}

func (rt *runtime) exit(p *pod, container string, code int, msg string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	p.exited[container] = code
	p.ready[container] = false
	if msg != "" {
		p.messages[container] = msg
	}
}

func (rt *runtime) reply(w http.ResponseWriter, p *pod) {
	rt.mu.Lock()
	body, _ := json.Marshal(map[string]any{"ip": p.ip, "exited": p.exited, "messages": p.messages, "ready": p.ready})
	rt.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// status answers a pod's state; with remove, it first stops the pod and
// deletes its namespace.
func (rt *runtime) status(w http.ResponseWriter, r *http.Request, remove bool) {
	key := r.PathValue("ns") + "/" + r.PathValue("name")
	rt.mu.Lock()
	p := rt.pods[key]
	if remove {
		delete(rt.pods, key)
	}
	rt.mu.Unlock()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	if remove {
		if err := rt.remove(p); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	rt.reply(w, p)
}

func (rt *runtime) remove(p *pod) error {
	close(p.stop)
	err := ec2box.RemoveNamespace(p.ns, p.link, 5*time.Second)
	p.wg.Wait()
	return errors.Join(err, os.RemoveAll(filepath.Join("/etc/netns", p.ns)))
}

func (rt *runtime) logs(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("ns") + "/" + r.PathValue("name")
	rt.mu.Lock()
	p := rt.pods[key]
	rt.mu.Unlock()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	http.ServeFile(w, r, filepath.Join(p.dir, filepath.Base(r.PathValue("container"))+".log"))
}

// Namespaces lists the network namespaces of the pods running now.
func (rt *runtime) namespaces() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []string
	for _, p := range rt.pods {
		out = append(out, p.ns)
	}
	return out
}

// setHosts rewrites every pod's hosts file in place (the bind mounts keep
// pointing at the same inode) when the entries changed.
func (rt *runtime) setHosts(entries []byte) {
	rt.mu.Lock()
	if string(entries) == string(rt.hosts) {
		rt.mu.Unlock()
		return
	}
	rt.hosts = entries
	var pods []*pod
	for _, p := range rt.pods {
		pods = append(pods, p)
	}
	rt.mu.Unlock()
	for _, p := range pods {
		f, err := os.OpenFile(filepath.Join("/etc/netns", p.ns, "hosts"), os.O_WRONLY|os.O_TRUNC, 0) // #nosec G304 -- the box's own file
		if err != nil {
			continue
		}
		_, _ = f.Write(p.hostsFile(entries))
		_ = f.Close()
	}
}

func (p *pod) hostsFile(entries []byte) []byte {
	return append([]byte(fmt.Sprintf("127.0.0.1 localhost\n%s %s\n", p.ip, p.hostname)), entries...)
}

// podHostname is the pod's name cut to a DNS label, as a kubelet does.
func podHostname(name string) string {
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-.")
	}
	return name
}

// close stops every pod and removes the bridge and the links.
func (rt *runtime) close() error {
	if rt.srv != nil {
		_ = rt.srv.Close()
	}
	rt.mu.Lock()
	pods := rt.pods
	rt.pods = map[string]*pod{}
	rt.mu.Unlock()
	var errs []error
	for _, p := range pods {
		errs = append(errs, rt.remove(p))
	}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, runtimePrefix+rt.run) {
			errs = append(errs, delLink(i.Name))
		}
	}
	if err := os.Remove(filepath.Join(ownerDir, rt.run)); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// endpointHosts renders hosts-file lines for the Endpoints the API server
// holds: every name a pod may use for a Service (name, name.ns,
// name.ns.svc, name.ns.svc.cluster.local) maps to its first ready address.
func endpointHosts(ctx context.Context, b *Box) ([]byte, error) {
	var l struct {
		Items []struct {
			Metadata struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
			Subsets []struct {
				Addresses []struct {
					IP string `json:"ip"`
				} `json:"addresses"`
			} `json:"subsets"`
		} `json:"items"`
	}
	if err := b.Do(ctx, http.MethodGet, "/api/v1/endpoints", nil, &l); err != nil {
		return nil, err
	}
	var lines []string
	for _, e := range l.Items {
		for _, s := range e.Subsets {
			if len(s.Addresses) == 0 {
				continue
			}
			n, ns := e.Metadata.Name, e.Metadata.Namespace
			lines = append(lines, fmt.Sprintf("%s %s.%s.svc.cluster.local %s.%s.svc %s.%s %s", s.Addresses[0].IP, n, ns, n, ns, n, ns, n))
			break
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return nil, nil
	}
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}
