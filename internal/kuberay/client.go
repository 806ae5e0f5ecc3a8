package kuberay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	rayclient "github.com/ray-project/kuberay/ray-operator/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// Config is how to reach the API server, with the Terraform Kubernetes
// provider's names: a kubeconfig (path and context), or a host with a
// bearer token or client certificate.
type Config struct {
	ConfigPath, ConfigContext string
	Host, Token               string
	ClientCertificatePEM      string
	ClientKeyPEM              string
	ClusterCACertificatePEM   string
	Insecure                  bool
}

// FromEnv fills what c leaves empty from KUBE_CONFIG_PATH, KUBE_CTX,
// KUBE_HOST and KUBE_TOKEN, as the Kubernetes provider does.
func (c Config) FromEnv() Config {
	for _, f := range []struct {
		v   *string
		env string
	}{{&c.ConfigPath, "KUBE_CONFIG_PATH"}, {&c.ConfigContext, "KUBE_CTX"}, {&c.Host, "KUBE_HOST"}, {&c.Token, "KUBE_TOKEN"}} {
		if *f.v == "" {
			*f.v = os.Getenv(f.env)
		}
	}
	return c
}

// Key identifies the API server and credentials (for caching clients).
func (c Config) Key() string {
	return strings.Join([]string{c.ConfigPath, c.ConfigContext, c.Host, c.Token, c.ClientCertificatePEM, c.ClientKeyPEM, c.ClusterCACertificatePEM, fmt.Sprint(c.Insecure)}, "\x00")
}

// ErrNoConfig is returned when neither a host nor a kubeconfig is set.
var ErrNoConfig = errors.New("no Kubernetes API server is configured: set the provider's kubernetes block (config_path, or host with token or client certificates), or KUBE_CONFIG_PATH")

func (c Config) rest() (*rest.Config, error) {
	if c.Host != "" {
		return &rest.Config{
			Host: c.Host, BearerToken: c.Token,
			TLSClientConfig: rest.TLSClientConfig{
				Insecure: c.Insecure, CAData: []byte(c.ClusterCACertificatePEM),
				CertData: []byte(c.ClientCertificatePEM), KeyData: []byte(c.ClientKeyPEM),
			},
		}, nil
	}
	if c.ConfigPath == "" {
		return nil, ErrNoConfig
	}
	p := c.ConfigPath
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		p = filepath.Join(home, rest)
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: p}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.ConfigContext}).ClientConfig()
}

// Client is a connection to one API server.
type Client struct {
	rest *rest.Config
	core kubernetes.Interface
	ray  rayclient.Interface
}

// New connects (lazily: no request is made).
func New(c Config) (*Client, error) {
	rc, err := c.rest()
	if err != nil {
		return nil, err
	}
	rc.UserAgent = ManagedBy
	core, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	ray, err := rayclient.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return &Client{rest: rc, core: core, ray: ray}, nil
}

// Find reads a RayCluster; a missing one wraps retry.ErrNotFound.
func (c *Client) Find(ctx context.Context, ns, name string) (*rayv1.RayCluster, error) {
	rc, err := c.ray.RayV1().RayClusters(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, retry.NotFound("RayCluster %s/%s", ns, name)
	}
	return rc, err
}

// Managed lists the RayClusters this provider created, in every namespace,
// as namespace/name.
func (c *Client) Managed(ctx context.Context) ([]string, error) {
	l, err := c.ray.RayV1().RayClusters("").List(ctx, metav1.ListOptions{LabelSelector: managedByLabel + "=" + ManagedBy})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rc := range l.Items {
		out = append(out, rc.Namespace+"/"+rc.Name)
	}
	return out, nil
}

// Host is the API server's URL.
func (c *Client) Host() string { return c.rest.Host }

// Create creates a RayCluster; the API server checks it against KubeRay's
// CRD schema, with unknown fields refused.
func (c *Client) Create(ctx context.Context, rc *rayv1.RayCluster) (*rayv1.RayCluster, error) {
	return c.ray.RayV1().RayClusters(rc.Namespace).Create(ctx, rc, metav1.CreateOptions{FieldValidation: "Strict"})
}

// Update replaces the spec of a RayCluster, keeping what others set on it.
func (c *Client) Update(ctx context.Context, rc *rayv1.RayCluster) (*rayv1.RayCluster, error) {
	live, err := c.Find(ctx, rc.Namespace, rc.Name)
	if err != nil {
		return nil, err
	}
	live.Spec, live.Labels = rc.Spec, rc.Labels
	return c.ray.RayV1().RayClusters(rc.Namespace).Update(ctx, live, metav1.UpdateOptions{FieldValidation: "Strict"})
}

// Delete deletes a RayCluster (foreground: its pods go first); gone is not
// an error.
func (c *Client) Delete(ctx context.Context, ns, name string) error {
	fg := metav1.DeletePropagationForeground
	err := c.ray.RayV1().RayClusters(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// writeOnlyAnnotation marks a token the user gave write-only, which import
// does not read into state.
const writeOnlyAnnotation = "rayvllm.io/token-write-only"

// ApplySecret creates or updates the Secret holding the Ray token.
func (c *Client) ApplySecret(ctx context.Context, ns, name, token string, writeOnly bool) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{managedByLabel: ManagedBy},
			Annotations: map[string]string{writeOnlyAnnotation: fmt.Sprint(writeOnly)}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{TokenKey: []byte(token)},
	}
	secrets := c.core.CoreV1().Secrets(ns)
	_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		live, gerr := secrets.Get(ctx, name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		live.Data, live.Annotations = s.Data, s.Annotations
		_, err = secrets.Update(ctx, live, metav1.UpdateOptions{})
	}
	return err
}

// Token reads the Ray token from its Secret, and whether it was given
// write-only.
func (c *Client) Token(ctx context.Context, ns, name string) (token string, writeOnly bool, err error) {
	s, err := c.core.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", false, err
	}
	return string(s.Data[TokenKey]), s.Annotations[writeOnlyAnnotation] == "true", nil
}

// DeleteSecret deletes a Secret; gone is not an error.
func (c *Client) DeleteSecret(ctx context.Context, ns, name string) error {
	err := c.core.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Pods lists a RayCluster's pods (KubeRay's ray.io/cluster label).
func (c *Client) Pods(ctx context.Context, ns, name string) ([]corev1.Pod, error) {
	l, err := c.core.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "ray.io/cluster=" + name})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// Ready reports whether KubeRay marks the cluster ready, and otherwise why
// not: each pod that is not ready, with the scheduler's or kubelet's reason
// (e.g. "0/3 nodes are available: 3 Insufficient nvidia.com/gpu").
func (c *Client) Ready(ctx context.Context, ns, name string) (bool, string, error) {
	rc, err := c.Find(ctx, ns, name)
	if err != nil {
		return false, "", err
	}
	pods, err := c.Pods(ctx, ns, name)
	if err != nil {
		return false, "", err
	}
	var why []string
	if meta.IsStatusConditionTrue(rc.Status.Conditions, string(rayv1.RayClusterProvisioned)) &&
		meta.IsStatusConditionTrue(rc.Status.Conditions, string(rayv1.HeadPodReady)) {
		// KubeRay's conditions say every pod was ready once; after a resize
		// each fixed group must have exactly its count of pods, all ready
		// (a terminating pod still holds its GPU), an autoscaled one at
		// least its min ready.
		total, ready := map[string]int64{}, map[string]int64{}
		for _, p := range pods {
			if g := p.Labels["ray.io/group"]; p.Labels["ray.io/node-type"] == "worker" {
				total[g]++
				if p.DeletionTimestamp == nil && podProblem(p) == "" {
					ready[g]++
				}
			}
		}
		for _, g := range rc.Spec.WorkerGroupSpecs {
			lo, hi := deref(g.MinReplicas), deref(g.MaxReplicas)
			n, r := total[g.GroupName], ready[g.GroupName]
			if lo == hi && (n != lo || r != lo) || r < lo {
				why = append(why, fmt.Sprintf("worker group %s has %d pods (%d ready), want %d", g.GroupName, n, r, lo))
			}
		}
		if len(why) == 0 {
			return true, "", nil
		}
	}
	for _, p := range pods {
		if r := podProblem(p); r != "" {
			why = append(why, p.Name+": "+r)
		}
	}
	sort.Strings(why)
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("%d pods, none reports a problem yet", len(pods)))
	}
	return false, strings.Join(why, "; "), nil
}

func podProblem(p corev1.Pod) string {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			return "not scheduled: " + cond.Message
		}
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			return fmt.Sprintf("container %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
			return fmt.Sprintf("container %s exited %d: %s", cs.Name, cs.State.Terminated.ExitCode, cs.State.Terminated.Message)
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionTrue {
			return "not ready (phase " + string(p.Status.Phase) + ")"
		}
	}
	return ""
}

// WaitReady polls until the cluster is ready; on timeout the error says
// which pods are not, and why.
func (c *Client) WaitReady(ctx context.Context, ns, name string) error {
	return wait(ctx, func(ctx context.Context) (bool, error) {
		ok, why, err := c.Ready(ctx, ns, name)
		if err != nil || ok {
			return ok, apiError(err)
		}
		return false, fmt.Errorf("RayCluster %s/%s is not ready: %s", ns, name, why)
	})
}

// WaitGone polls until the RayCluster and its pods are gone.
func (c *Client) WaitGone(ctx context.Context, ns, name string) error {
	return wait(ctx, func(ctx context.Context) (bool, error) {
		_, err := c.Find(ctx, ns, name)
		if err != nil && !retry.IsNotFound(err) {
			return false, apiError(err)
		}
		pods, perr := c.Pods(ctx, ns, name)
		switch {
		case perr != nil:
			return false, apiError(perr)
		case err == nil || len(pods) > 0:
			return false, fmt.Errorf("RayCluster %s/%s: %d pods are left", ns, name, len(pods))
		}
		return true, nil
	})
}

// wait is retry.Until every 2 s for as long as ctx allows.
func wait(ctx context.Context, f func(context.Context) (bool, error)) error {
	return retry.Until(ctx, retry.TimeLeft(ctx, 30*time.Minute), 2*time.Second, f)
}

// apiError lets wait retry the API server's transient errors and stop at
// any other.
func apiError(err error) error {
	if err == nil || retriable(err) {
		return err
	}
	return retry.Stop(err)
}

func retriable(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

// Hint says what to do about the API errors that a first apply meets, or "".
func Hint(err error) string {
	var se *apierrors.StatusError
	switch {
	case errors.As(err, &se) && se.ErrStatus.Details != nil && se.ErrStatus.Details.Kind == "namespaces":
		return "The namespace does not exist: create it first (kubectl create namespace, or the Kubernetes provider's kubernetes_namespace)."
	case apierrors.IsNotFound(err):
		return "The API server has no rayclusters.ray.io: install the KubeRay operator with its CRDs (see the Kubernetes guide)."
	case apierrors.IsForbidden(err):
		return "The credentials may not do this: they need create, get, update, delete on rayclusters.ray.io and secrets, list on pods and create on pods/portforward in the namespace."
	}
	return ""
}
