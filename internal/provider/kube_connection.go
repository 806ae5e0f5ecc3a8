package provider

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/kuberay"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
)

// kubernetesBlock is the provider's kubernetes block, with the Terraform
// Kubernetes provider's attribute names and environment variables.
func kubernetesBlock() schema.ListNestedBlock {
	hostOnly := func(d string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Sensitive: strings.Contains(d, "key") || strings.Contains(d, "token"), Description: d,
			Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("host"))}}
	}
	return schema.ListNestedBlock{
		Description: "How to reach the Kubernetes API server for `rayvllm_kuberay_cluster` and for `kuberay://` dashboard URLs: a kubeconfig, or `host` with a token or client certificate. " +
			"Unset attributes fall back to `KUBE_CONFIG_PATH`, `KUBE_CTX`, `KUBE_HOST` and `KUBE_TOKEN`, as in the Kubernetes provider. Not needed by the other resources.",
		Validators: []validator.List{listvalidator.SizeAtMost(1)},
		NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
			"config_path": schema.StringAttribute{Optional: true, Description: "Path of a kubeconfig file, e.g. `~/.kube/config`.",
				Validators: []validator.String{stringvalidator.ConflictsWith(path.MatchRelative().AtParent().AtName("host"))}},
			"config_context": schema.StringAttribute{Optional: true, Description: "Context of the kubeconfig to use; default its current context.",
				Validators: []validator.String{stringvalidator.AlsoRequires(path.MatchRelative().AtParent().AtName("config_path"))}},
			"host":                   schema.StringAttribute{Optional: true, Description: "API server URL, e.g. `https://ABC.gr7.us-east-1.eks.amazonaws.com`.", Validators: []validator.String{endpointURLValidator()}},
			"token":                  hostOnly("Bearer token for `host`, e.g. from `aws eks get-token` or a service account. Never logged."),
			"client_certificate":     hostOnly("PEM client certificate for `host`."),
			"client_key":             hostOnly("PEM client key for `host`. Never logged."),
			"cluster_ca_certificate": hostOnly("PEM CA certificate of the API server at `host`."),
			"insecure":               schema.BoolAttribute{Optional: true, Description: "Skip verifying the API server's certificate. For test clusters only."},
		}},
	}
}

// kubeClients and kubeTunnels cache, per provider process, one client per
// API server and one tunnel per RayCluster, so that every resource on a
// cluster shares one port-forward.
var (
	kubeMu      sync.Mutex
	kubeClients = map[string]*kuberay.Client{}
	kubeTunnels = map[string]*kuberay.Tunnel{}
)

func (d *ProviderData) kubeConfig() kuberay.Config {
	if d == nil {
		return kuberay.Config{}.FromEnv()
	}
	return d.Kube
}

func (d *ProviderData) kubeClient() (*kuberay.Client, error) {
	cfg := d.kubeConfig()
	kubeMu.Lock()
	defer kubeMu.Unlock()
	if c, ok := kubeClients[cfg.Key()]; ok {
		return c, nil
	}
	c, err := kuberay.New(cfg)
	if err != nil {
		return nil, err
	}
	kubeClients[cfg.Key()] = c
	return c, nil
}

// kubeRayScheme is the dashboard URL of a rayvllm_kuberay_cluster:
// kuberay://<namespace>/<name>, reached through the API server.
const kubeRayScheme = "kuberay"

// kubeRayTarget parses kuberay://<namespace>/<name>; ok is false for
// another scheme.
func kubeRayTarget(addr string) (ns, name string, ok bool, err error) {
	if !strings.HasPrefix(addr, kubeRayScheme+"://") {
		return "", "", false, nil
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", "", true, fmt.Errorf("%q is not a URL: %w", addr, err)
	}
	name = strings.Trim(u.Path, "/")
	if u.Host == "" || name == "" || strings.Contains(name, "/") || u.RawQuery != "" {
		return "", "", true, fmt.Errorf("%q must be kuberay://<namespace>/<RayCluster name>, as rayvllm_kuberay_cluster's dashboard_url", addr)
	}
	for _, p := range []string{u.Host, name} {
		if why := kuberay.ValidName(p, 63); why != "" {
			return "", "", true, fmt.Errorf("%q: %s", addr, why)
		}
	}
	return u.Host, name, true, nil
}

// tunnelURL resolves a kuberay:// address to the local URL of a tunnel to
// its head's dashboard; other addresses are returned as they are.
func (d *ProviderData) tunnelURL(addr string) (string, error) {
	ns, name, ok, err := kubeRayTarget(addr)
	if !ok || err != nil {
		return addr, err
	}
	return d.tunnel(ns, name, kuberay.DashboardPort)
}

// tunnel is the local URL of the tunnel to port of RayCluster ns/name's head.
func (d *ProviderData) tunnel(ns, name string, port int) (string, error) {
	c, err := d.kubeClient()
	if err != nil {
		return "", fmt.Errorf("%s://%s/%s: %w", kubeRayScheme, ns, name, err)
	}
	key := fmt.Sprintf("%s\x00%s/%s:%d", d.kubeConfig().Key(), ns, name, port)
	kubeMu.Lock()
	defer kubeMu.Unlock()
	if t, ok := kubeTunnels[key]; ok {
		return t.URL(), nil
	}
	t, err := c.OpenTunnel(ns, name, port)
	if err != nil {
		return "", err
	}
	kubeTunnels[key] = t
	return t.URL(), nil
}

// kubeServeURL is where clients inside the Kubernetes cluster reach a
// Serve route of a kuberay:// cluster: the head Service that KubeRay
// creates, which carries Serve's port. The smoke test reaches the same
// proxy through a tunnel (serveProbeURL).
func kubeServeURL(dashboardURL, serveEndpoint string) (string, bool) {
	ns, name, ok, err := kubeRayTarget(dashboardURL)
	if !ok || err != nil {
		return "", false
	}
	u, perr := url.Parse(serveEndpoint)
	if perr != nil || u.Host == "" {
		return "", false
	}
	u.Host = net.JoinHostPort(kuberay.HeadService(name)+"."+ns+".svc", u.Port())
	return u.String(), true
}

// serveProbeURL is the URL the provider itself sends a request for a Serve
// route to: through a tunnel for a kuberay:// cluster, else endpoint.
func (d *ProviderData) serveProbeURL(dashboardURL, endpoint string) (string, error) {
	ns, name, ok, err := kubeRayTarget(dashboardURL)
	if !ok || err != nil {
		return endpoint, err
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return "", fmt.Errorf("the Serve endpoint %q has no port: %w", endpoint, err)
	}
	local, err := d.tunnel(ns, name, port)
	if err != nil {
		return "", err
	}
	local += u.EscapedPath()
	if u.RawQuery != "" {
		local += "?" + u.RawQuery
	}
	return local, nil
}

// normalizeDashboardURL is ray.NormalizeAddress, which also takes a
// rayvllm_kuberay_cluster's kuberay://<namespace>/<name>.
func normalizeDashboardURL(addr string) (string, error) {
	ns, name, ok, err := kubeRayTarget(strings.TrimSpace(addr))
	switch {
	case err != nil:
		return "", err
	case ok:
		return kubeRayScheme + "://" + ns + "/" + name, nil
	}
	return ray.NormalizeAddress(addr)
}
