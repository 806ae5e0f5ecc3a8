package kuberay

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/versions"
)

// Labels and names KubeRay and the NVIDIA GPU operator define.
const (
	// GPUResource is the extended resource of NVIDIA's device plugin.
	GPUResource = "nvidia.com/gpu"
	// GPUProductLabel is the node label NVIDIA's GPU feature discovery
	// sets to the product name, e.g. NVIDIA-A100-SXM4-80GB.
	GPUProductLabel = "nvidia.com/gpu.product"
	// ManagedBy marks what this provider created, for sweepers.
	ManagedBy      = "terraform-provider-rayvllm"
	managedByLabel = "app.kubernetes.io/managed-by"
	// TokenKey is the key of the Ray token in the token Secret.
	TokenKey = "token"
	// DashboardPort is the head's dashboard (and job API) port.
	DashboardPort = 8265
)

// Image is Ray's LLM image of a Ray release (Ray, the vLLM its llm extra
// pins, CUDA 12.8, Python 3.11).
func Image(rayVersion string) string { return "rayproject/ray-llm:" + rayVersion + "-py311-cu128" }

// HeadService is the name of the Service KubeRay puts in front of a
// RayCluster's head (dashboard, GCS, client and Serve ports).
func HeadService(cluster string) string { return cluster + "-head-svc" }

// DefaultImage is the image of the tested Ray release.
func DefaultImage() string { return Image(versions.Tested.Ray) }

// Spec is one RayCluster.
type Spec struct {
	Namespace, Name string
	Image           string
	RayVersion      string
	// TokenSecret names the Secret that holds the Ray token under TokenKey;
	// every Ray container reads it as RAY_AUTH_TOKEN, with RAY_AUTH_MODE=token.
	TokenSecret string
	// IdleTimeoutSeconds is the in-tree autoscaler's idle timeout; the
	// autoscaler runs when a group's MinReplicas < MaxReplicas.
	IdleTimeoutSeconds int64
	Head               Pod
	Groups             []Group
}

// Pod is the resources of one Ray pod; requests equal limits (Guaranteed
// QoS, and Ray's num-cpus comes from the limit).
type Pod struct {
	CPU          int64
	MemoryGiB    float64
	NodeSelector map[string]string
	Tolerations  []Toleration
}

// Toleration is a core/v1 toleration.
type Toleration struct {
	Key, Operator, Value, Effect string
}

// Group is a worker group.
type Group struct {
	Name string
	Pod
	GPUs                               int64 // nvidia.com/gpu per pod
	Replicas, MinReplicas, MaxReplicas int64
}

// Autoscaled reports whether any group scales between its bounds.
func (s Spec) Autoscaled() bool {
	for _, g := range s.Groups {
		if g.MinReplicas < g.MaxReplicas {
			return true
		}
	}
	return false
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidName says what is wrong with a Kubernetes object name (an RFC 1123
// label: KubeRay derives Service and pod names from it), or "".
func ValidName(s string, maxLen int) string {
	switch {
	case len(s) > maxLen:
		return fmt.Sprintf("%q is %d characters; at most %d", s, len(s), maxLen)
	case !dnsLabel.MatchString(s):
		return fmt.Sprintf("%q is not a DNS label: lower-case letters, digits and '-', starting and ending with a letter or digit", s)
	}
	return ""
}

// Quantity renders GiB as a Kubernetes memory quantity in Mi.
func Quantity(gib float64) string {
	return strconv.FormatInt(int64(math.Round(gib*1024)), 10) + "Mi"
}

// Render returns the RayCluster. KubeRay writes each container's `ray
// start` command from rayStartParams and the resource limits.
func (s Spec) Render() *rayv1.RayCluster {
	workers := make([]rayv1.WorkerGroupSpec, 0, len(s.Groups))
	for _, g := range s.Groups {
		workers = append(workers, rayv1.WorkerGroupSpec{
			GroupName: g.Name, Replicas: i32(g.Replicas), MinReplicas: i32(g.MinReplicas), MaxReplicas: i32(g.MaxReplicas),
			RayStartParams: map[string]string{},
			Template:       s.template("ray-worker", g.Pod, g.GPUs),
		})
	}
	rc := &rayv1.RayCluster{
		TypeMeta:   metav1.TypeMeta{APIVersion: "ray.io/v1", Kind: "RayCluster"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: map[string]string{managedByLabel: ManagedBy}},
		Spec: rayv1.RayClusterSpec{
			RayVersion: s.RayVersion,
			HeadGroupSpec: rayv1.HeadGroupSpec{
				// No GPU work on the head: engines go to the worker groups.
				RayStartParams: map[string]string{"dashboard-host": "0.0.0.0", "num-gpus": "0"},
				Template:       s.template("ray-head", s.Head, 0),
			},
			WorkerGroupSpecs: workers,
		},
	}
	if s.Autoscaled() {
		on, mode := true, rayv1.UpscalingMode("Default")
		rc.Spec.EnableInTreeAutoscaling = &on
		rc.Spec.AutoscalerOptions = &rayv1.AutoscalerOptions{IdleTimeoutSeconds: i32(s.IdleTimeoutSeconds), UpscalingMode: &mode}
	}
	return rc
}

func i32(v int64) *int32 {
	n := int32(min(max(v, math.MinInt32), math.MaxInt32)) // #nosec G115 -- clamped
	return &n
}

func (s Spec) template(name string, p Pod, gpus int64) corev1.PodTemplateSpec {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(p.CPU, resource.DecimalSI),
		corev1.ResourceMemory: resource.MustParse(Quantity(p.MemoryGiB)),
	}
	if gpus > 0 {
		res[GPUResource] = *resource.NewQuantity(gpus, resource.DecimalSI)
	}
	c := corev1.Container{Name: name, Image: s.Image, Resources: corev1.ResourceRequirements{Limits: res, Requests: res}}
	if s.TokenSecret != "" {
		c.Env = []corev1.EnvVar{
			{Name: "RAY_AUTH_MODE", Value: "token"},
			{Name: "RAY_AUTH_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: s.TokenSecret}, Key: TokenKey}}},
		}
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{c}, NodeSelector: p.NodeSelector}
	for _, t := range p.Tolerations {
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
			Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	return corev1.PodTemplateSpec{Spec: spec}
}

// Parse maps a live RayCluster back onto a Spec: what Render sets, as the
// cluster has it now (for drift).
func Parse(rc *rayv1.RayCluster) Spec {
	s := Spec{Namespace: rc.Namespace, Name: rc.Name, RayVersion: rc.Spec.RayVersion}
	var head corev1.Container
	s.Head, head = parsePod(rc.Spec.HeadGroupSpec.Template)
	s.Image = head.Image
	for _, e := range head.Env {
		if e.Name == "RAY_AUTH_TOKEN" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			s.TokenSecret = e.ValueFrom.SecretKeyRef.Name
		}
	}
	if o := rc.Spec.AutoscalerOptions; o != nil && o.IdleTimeoutSeconds != nil {
		s.IdleTimeoutSeconds = int64(*o.IdleTimeoutSeconds)
	}
	for _, w := range rc.Spec.WorkerGroupSpecs {
		g := Group{Name: w.GroupName, Replicas: deref(w.Replicas), MinReplicas: deref(w.MinReplicas), MaxReplicas: deref(w.MaxReplicas)}
		var c corev1.Container
		g.Pod, c = parsePod(w.Template)
		if q, ok := c.Resources.Limits[GPUResource]; ok {
			g.GPUs = q.Value()
		}
		s.Groups = append(s.Groups, g)
	}
	return s
}

func parsePod(t corev1.PodTemplateSpec) (Pod, corev1.Container) {
	var p Pod
	if len(t.Spec.Containers) == 0 {
		return p, corev1.Container{}
	}
	c := t.Spec.Containers[0] // KubeRay's Ray container is the first
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		p.CPU = q.Value()
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		p.MemoryGiB = math.Round(float64(q.Value())/(1<<30)*1024) / 1024
	}
	if len(t.Spec.NodeSelector) > 0 {
		p.NodeSelector = t.Spec.NodeSelector
	}
	for _, tol := range t.Spec.Tolerations {
		p.Tolerations = append(p.Tolerations, Toleration{Key: tol.Key, Operator: string(tol.Operator), Value: tol.Value, Effect: string(tol.Effect)})
	}
	return p, c
}

func deref(p *int32) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}

// SortedKeys returns m's keys in order.
func SortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
