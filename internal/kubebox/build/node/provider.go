package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// state is what the harness' runtime reports for a pod: its IP, each
// container's exit code once it has exited, and which containers are ready
// (no readiness probe, or it passes).
type state struct {
	IP       string            `json:"ip"`
	Exited   map[string]int    `json:"exited"`
	Messages map[string]string `json:"messages"`
	Ready    map[string]bool   `json:"ready"`
}

type provider struct {
	runtime string
	http    *http.Client

	mu     sync.Mutex
	pods   map[string]*corev1.Pod // namespace/name -> the pod with its status
	notify func(*corev1.Pod)
}

func newProvider(runtime string) *provider {
	return &provider{runtime: runtime, http: &http.Client{Timeout: 2 * time.Minute}, pods: map[string]*corev1.Pod{}}
}

func key(ns, name string) string { return ns + "/" + name }

func (p *provider) call(ctx context.Context, method, path string, body any, out any) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.runtime+path, r)
	if err != nil {
		return err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return errdefs.NotFound(string(data))
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("runtime %s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// CreatePod hands the pod to the runtime and reports it Running with the
// IP of its namespace, ready once the runtime says its containers are.
func (p *provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	var st state
	if err := p.call(ctx, http.MethodPost, "/pods", pod, &st); err != nil {
		return err
	}
	pod = pod.DeepCopy()
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, HostIP: "127.0.0.1", PodIP: st.IP, PodIPs: []corev1.PodIP{{IP: st.IP}}, StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now},
		},
	}
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	setReady(pod, st.Ready)
	p.mu.Lock()
	p.pods[key(pod.Namespace, pod.Name)] = pod
	notify := p.notify
	p.mu.Unlock()
	// A PodNotifier reports every status change itself, the first too.
	if notify != nil {
		go notify(pod.DeepCopy())
	}
	go p.watch(pod.Namespace, pod.Name) // #nosec G118 -- the watch outlives the CreatePod request
	return nil
}

// watch polls the runtime, reports changes of the containers' readiness,
// and once every container has exited reports the pod Succeeded (all
// exited 0) or Failed.
func (p *provider) watch(ns, name string) {
	for {
		time.Sleep(time.Second)
		var st state
		err := p.call(context.Background(), http.MethodGet, "/pods/"+ns+"/"+name, nil, &st)
		p.mu.Lock()
		pod := p.pods[key(ns, name)]
		if pod == nil || errdefs.IsNotFound(err) {
			p.mu.Unlock()
			return
		}
		if err != nil {
			p.mu.Unlock()
			continue
		}
		pod = pod.DeepCopy()
		if len(st.Exited) < len(pod.Spec.Containers) {
			if !setReady(pod, st.Ready) {
				p.mu.Unlock()
				continue
			}
			p.pods[key(ns, name)] = pod
			notify := p.notify
			p.mu.Unlock()
			if notify != nil {
				notify(pod.DeepCopy())
			}
			continue
		}
		terminate(pod, st)
		p.pods[key(ns, name)] = pod
		notify := p.notify
		p.mu.Unlock()
		if notify != nil {
			notify(pod)
		}
		return
	}
}

// setReady sets the containers' readiness and the pod's Ready conditions
// from what the runtime reports, and says whether anything changed.
func setReady(pod *corev1.Pod, ready map[string]bool) bool {
	changed, all := false, true
	for i, c := range pod.Status.ContainerStatuses {
		r := ready[c.Name]
		changed = changed || c.Ready != r
		all = all && r
		pod.Status.ContainerStatuses[i].Ready = r
	}
	status := corev1.ConditionFalse
	if all {
		status = corev1.ConditionTrue
	}
	for i, c := range pod.Status.Conditions {
		if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status != status {
			pod.Status.Conditions[i].Status, pod.Status.Conditions[i].LastTransitionTime = status, metav1.Now()
			changed = true
		}
	}
	return changed
}

func terminate(pod *corev1.Pod, st state) {
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	for i, c := range pod.Status.ContainerStatuses {
		code, ok := st.Exited[c.Name]
		if !ok {
			code = 137 // killed by the pod's deletion
		}
		if code != 0 {
			pod.Status.Phase = corev1.PodFailed
		}
		started := now
		if c.State.Running != nil {
			started = c.State.Running.StartedAt
		}
		pod.Status.ContainerStatuses[i].Ready = false
		pod.Status.ContainerStatuses[i].Started = ptr(false)
		pod.Status.ContainerStatuses[i].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: int32(code), StartedAt: started, FinishedAt: now, Message: st.Messages[c.Name], // #nosec G115 -- an exit code
		}}
	}
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			pod.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
}

// UpdatePod only records the new spec: a pod's command cannot change.
func (p *provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.pods[key(pod.Namespace, pod.Name)]; old != nil {
		pod = pod.DeepCopy()
		pod.Status = old.Status
		p.pods[key(pod.Namespace, pod.Name)] = pod
	}
	return nil
}

// DeletePod stops the pod's processes and removes its namespace.
func (p *provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	var st state
	err := p.call(ctx, http.MethodDelete, "/pods/"+pod.Namespace+"/"+pod.Name, nil, &st)
	if err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	p.mu.Lock()
	known := p.pods[key(pod.Namespace, pod.Name)]
	delete(p.pods, key(pod.Namespace, pod.Name))
	notify := p.notify
	p.mu.Unlock()
	if known == nil {
		known = pod.DeepCopy()
	} else {
		known = known.DeepCopy()
	}
	terminate(known, st)
	if notify != nil {
		go notify(known)
	}
	return nil
}

func (p *provider) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod := p.pods[key(ns, name)]
	if pod == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	return pod.DeepCopy(), nil
}

func (p *provider) GetPodStatus(ctx context.Context, ns, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

func (p *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.pods))
	for _, pod := range p.pods {
		out = append(out, pod.DeepCopy())
	}
	return out, nil
}

// NotifyPods makes the pod controller take status changes from watch.
func (p *provider) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = f
	p.mu.Unlock()
}

// GetContainerLogs returns the container's output as the runtime kept it.
func (p *provider) GetContainerLogs(ctx context.Context, ns, name, container string, _ api.ContainerLogOpts) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.runtime+"/pods/"+ns+"/"+name+"/logs/"+container, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, errdefs.NotFoundf("no logs for %s/%s/%s (HTTP %d)", ns, name, container, resp.StatusCode)
	}
	return resp.Body, nil
}

// PortForward connects the stream to the port in the pod's namespace: the
// host reaches each namespace's address directly.
func (p *provider) PortForward(ctx context.Context, ns, name string, port int32, stream io.ReadWriteCloser) error {
	pod, err := p.GetPod(ctx, ns, name)
	if err != nil {
		return err
	}
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(port))))
	if err != nil {
		return err
	}
	copyBoth(stream, conn)
	return nil
}

var errUnsupported = errors.New("kubebox-node: not supported")

func (p *provider) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return errUnsupported
}

func (p *provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errUnsupported
}

func (p *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errUnsupported
}

func (p *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, errUnsupported
}

func ptr[T any](v T) *T { return &v }
