package ray

// The Ray Serve declarative REST API on the dashboard
// (dashboard/modules/serve/serve_head.py in Ray 2.60):
//
//	GET    /api/serve/applications/  ServeInstanceDetails (serve/schema.py)
//	PUT    /api/serve/applications/  ServeDeploySchema: the WHOLE list of
//	                                 declarative applications; any declarative
//	                                 app missing from it is deleted
//	DELETE /api/serve/applications/  serve.shutdown(): every app, never used here
//
// Because PUT replaces the list, adding, changing or removing one
// application is read-modify-write: DeployServeApplication and
// RemoveServeApplication read the live config, change only the named
// application and write every other declarative application back exactly
// as Serve reported it (its deployed_app_config, kept as raw JSON so that
// fields this provider does not know survive). Within one process the
// writes to one cluster are serialized (serveLock). Serve offers no
// compare-and-swap, so a writer outside this process that changes the list
// between our GET and PUT can still lose its change.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

const servePath = "/api/serve/applications/"

// Serve application statuses (serve/schema.py ApplicationStatus).
const (
	ServeAppNotStarted   = "NOT_STARTED"
	ServeAppDeploying    = "DEPLOYING"
	ServeAppDeployFailed = "DEPLOY_FAILED"
	ServeAppRunning      = "RUNNING"
	ServeAppUnhealthy    = "UNHEALTHY"
	ServeAppDeleting     = "DELETING"
)

// Application sources (serve/schema.py APIType).
const (
	ServeSourceDeclarative = "declarative"
	ServeSourceImperative  = "imperative"
)

// ServeInstance is GET /api/serve/applications/ (ServeInstanceDetails).
// The top-level options are kept raw because they are written back as they are.
type ServeInstance struct {
	ProxyLocation  *string                      `json:"proxy_location"`
	HTTPOptions    json.RawMessage              `json:"http_options"`
	GRPCOptions    json.RawMessage              `json:"grpc_options"`
	TargetCapacity *float64                     `json:"target_capacity"`
	Applications   map[string]*ServeApplication `json:"applications"`
}

// Running reports whether Serve's controller runs on the cluster. Before the
// first deploy the dashboard answers without http_options.
func (s *ServeInstance) Running() bool {
	return len(s.HTTPOptions) > 0 && string(s.HTTPOptions) != "null"
}

// ServeHTTPOptions is the part of HTTPOptionsSchema that locates the proxy.
type ServeHTTPOptions struct {
	Host        string  `json:"host,omitempty"`
	Port        int     `json:"port,omitempty"`
	RootPath    string  `json:"root_path,omitempty"`
	SSLCertFile *string `json:"ssl_certfile,omitempty"`
}

// HTTP decodes the live HTTP proxy options; nil when Serve is not running.
func (s *ServeInstance) HTTP() *ServeHTTPOptions {
	if !s.Running() {
		return nil
	}
	var o ServeHTTPOptions
	if json.Unmarshal(s.HTTPOptions, &o) != nil {
		return nil
	}
	return &o
}

// ServeApplication is ApplicationDetails.
type ServeApplication struct {
	Name              string                      `json:"name"`
	RoutePrefix       *string                     `json:"route_prefix"`
	Status            string                      `json:"status"`
	Message           string                      `json:"message"`
	LastDeployedTimeS float64                     `json:"last_deployed_time_s"`
	DeployedAppConfig json.RawMessage             `json:"deployed_app_config"`
	Source            string                      `json:"source"`
	Deployments       map[string]*ServeDeployment `json:"deployments"`
}

// HasConfig reports whether Serve returned the app's declarative config.
func (a *ServeApplication) HasConfig() bool {
	return len(a.DeployedAppConfig) > 0 && string(a.DeployedAppConfig) != "null"
}

// ServeDeployment is DeploymentDetails, less the resolved config.
type ServeDeployment struct {
	Name              string         `json:"name"`
	Status            string         `json:"status"`
	StatusTrigger     string         `json:"status_trigger"`
	Message           string         `json:"message"`
	TargetNumReplicas int            `json:"target_num_replicas"`
	Replicas          []ServeReplica `json:"replicas"`
}

// RunningReplicas counts the replicas in state RUNNING.
func (d *ServeDeployment) RunningReplicas() int {
	n := 0
	for _, r := range d.Replicas {
		if r.State == "RUNNING" {
			n++
		}
	}
	return n
}

// ServeReplica is ReplicaDetails, less the actor details.
type ServeReplica struct {
	ReplicaID string `json:"replica_id"`
	State     string `json:"state"`
}

// ServeAppError is an application that reached DEPLOY_FAILED or UNHEALTHY;
// Message is Serve's own text (often a traceback), trimmed to its end.
type ServeAppError struct {
	Name    string
	Status  string
	Message string
}

func (e *ServeAppError) Error() string {
	return fmt.Sprintf("Serve application %q is %s: %s", e.Name, e.Status, e.Message)
}

// Failure returns a *ServeAppError when the app is DEPLOY_FAILED or
// UNHEALTHY, with the app's message and that of every unhealthy deployment.
func (a *ServeApplication) Failure() error {
	if a.Status != ServeAppDeployFailed && a.Status != ServeAppUnhealthy {
		return nil
	}
	msgs := []string{}
	if m := strings.TrimSpace(a.Message); m != "" {
		msgs = append(msgs, m)
	}
	names := make([]string, 0, len(a.Deployments))
	for n := range a.Deployments {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := a.Deployments[n]
		if d.Status == "HEALTHY" || strings.TrimSpace(d.Message) == "" || strings.Contains(a.Message, d.Message) {
			continue
		}
		msgs = append(msgs, fmt.Sprintf("deployment %q is %s: %s", n, d.Status, strings.TrimSpace(d.Message)))
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "(Serve gave no message; see the controller and replica logs under /tmp/ray/session_latest/logs/serve on the head node)")
	}
	text := strings.Join(msgs, "\n")
	if len(text) > maxErrorBody {
		text = "..." + text[len(text)-maxErrorBody:]
	}
	return &ServeAppError{Name: a.Name, Status: a.Status, Message: text}
}

// ServeInstance is GET /api/serve/applications/.
func (c *Client) ServeInstance(ctx context.Context) (*ServeInstance, error) {
	var s ServeInstance
	if err := c.do(ctx, request{method: "GET", path: servePath, out: &s, retry: true}); err != nil {
		if StatusCode(err) == 404 {
			return nil, fmt.Errorf("the Ray dashboard at %s has no Serve REST API (%w); the head node needs ray[serve] installed", c.base, err)
		}
		return nil, err
	}
	if s.Applications == nil {
		s.Applications = map[string]*ServeApplication{}
	}
	for name, a := range s.Applications {
		if a == nil {
			delete(s.Applications, name)
		} else if a.Name == "" {
			a.Name = name
		}
	}
	return &s, nil
}

// FindServeApplication returns the named application, or an error wrapping
// retry.ErrNotFound when the cluster has none by that name.
func (c *Client) FindServeApplication(ctx context.Context, name string) (*ServeApplication, *ServeInstance, error) {
	s, err := c.ServeInstance(ctx)
	if err != nil {
		return nil, nil, err
	}
	a, ok := s.Applications[name]
	if !ok {
		return nil, s, retry.NotFound("Serve application %q on %s", name, c.base)
	}
	return a, s, nil
}

// serveLocks holds one mutex per dashboard address: the read-modify-write of
// the application list must not interleave within this process.
var (
	serveLocksMu sync.Mutex
	serveLocks   = map[string]*sync.Mutex{}
)

func serveLock(address string) *sync.Mutex {
	serveLocksMu.Lock()
	defer serveLocksMu.Unlock()
	mu, ok := serveLocks[address]
	if !ok {
		mu = &sync.Mutex{}
		serveLocks[address] = mu
	}
	return mu
}

// DeployOptions tunes DeployServeApplication.
type DeployOptions struct {
	// HTTPOptions (HTTPOptionsSchema) are sent only when this write starts
	// Serve on the cluster; a running Serve keeps its own.
	HTTPOptions map[string]any
	// MustNotExist fails instead of replacing an application of that name.
	MustNotExist bool
}

// ErrServeAppExists is returned by DeployServeApplication with MustNotExist.
var ErrServeAppExists = errors.New("a Serve application of that name already exists")

// DeployServeApplication adds or replaces one application (a
// ServeApplicationSchema object with at least name and import_path) and
// keeps every other one. It returns warnings for the caller to show.
func (c *Client) DeployServeApplication(ctx context.Context, app map[string]any, opts DeployOptions) ([]string, error) {
	name, _ := app["name"].(string)
	if name == "" {
		return nil, errors.New("the Serve application has no name")
	}
	raw, err := json.Marshal(app)
	if err != nil {
		return nil, fmt.Errorf("encoding Serve application %q: %w", name, err)
	}
	mu := serveLock(c.base)
	mu.Lock()
	defer mu.Unlock()
	var warnings []string
	err = c.writeServe(ctx, func(live *ServeInstance, attempt int) (*serveDeployBody, error) {
		// On a later attempt the application may be there because the
		// earlier write got through and only its answer was lost.
		if existing, ok := live.Applications[name]; ok && opts.MustNotExist && attempt == 0 {
			return nil, fmt.Errorf("%w: %q is on %s with status %s (source %s); import it with `terraform import` (ID %s#%s) or choose another name", ErrServeAppExists, name, c.base, existing.Status, existing.Source, c.base, name)
		}
		body, w, err := mergeServeConfig(live, name, raw, opts.HTTPOptions)
		if err != nil {
			return nil, fmt.Errorf("serve on %s: %w", c.base, err)
		}
		warnings = w
		tflog.Info(ctx, "Deploying Serve application", map[string]any{"address": c.base, "app": name, "apps_in_list": len(body.Applications), "attempt": attempt + 1})
		return body, nil
	})
	return warnings, err
}

// RemoveServeApplication deletes one application by writing the list back
// without it. It reports whether the application was there.
func (c *Client) RemoveServeApplication(ctx context.Context, name string) (bool, error) {
	mu := serveLock(c.base)
	mu.Lock()
	defer mu.Unlock()
	was := false
	err := c.writeServe(ctx, func(live *ServeInstance, attempt int) (*serveDeployBody, error) {
		a, ok := live.Applications[name]
		if !ok {
			return nil, nil // gone, or an earlier attempt removed it
		}
		was = true
		if !a.HasConfig() {
			if a.Status == ServeAppDeleting {
				return nil, nil
			}
			if a.Source == ServeSourceImperative {
				return nil, fmt.Errorf("serve application %q on %s was deployed with serve.run (source imperative); the REST API cannot delete it alone: use `serve.delete(%q)` in Python", name, c.base, name)
			}
		}
		body, _, err := mergeServeConfig(live, name, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("serve on %s: %w", c.base, err)
		}
		tflog.Info(ctx, "Removing Serve application", map[string]any{"address": c.base, "app": name, "apps_in_list": len(body.Applications), "attempt": attempt + 1})
		return body, nil
	})
	return was, err
}

// writeServe is the read-modify-write of the application list: it reads
// the live list, lets build derive the new one (nil: nothing to write) and
// PUTs it. A PUT that failed ambiguously (no answer, 429, 5xx) is not sent
// again as it was: the list is read again and rebuilt, so that a change
// someone else made meanwhile (e.g. after our write got through and only
// its answer was lost) is kept instead of being overwritten with the list
// read before. Serve's REST API has no compare-and-swap, so a change that
// lands between a read and the PUT right after it is still lost; that
// window is one round trip.
func (c *Client) writeServe(ctx context.Context, build func(live *ServeInstance, attempt int) (*serveDeployBody, error)) error {
	attempts := c.http.RetryMax + 1
	for attempt := 0; ; attempt++ {
		live, err := c.ServeInstance(ctx)
		if err != nil {
			return err
		}
		body, err := build(live, attempt)
		if err != nil || body == nil {
			return err
		}
		err = c.putServe(ctx, body)
		if err == nil || !Ambiguous(err) || attempt+1 >= attempts {
			return err
		}
		wait := backoff(c.http.RetryWaitMin, c.http.RetryWaitMax, attempt, nil)
		tflog.Warn(ctx, "Serve application list write failed ambiguously; reading the list again before writing it again", map[string]any{"address": c.base, "error": err.Error(), "wait": wait.String()})
		if serr := retry.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (then: %v)", err, serr)
		}
	}
}

// serveDeployBody is ServeDeploySchema as this client writes it.
type serveDeployBody struct {
	ProxyLocation  *string           `json:"proxy_location,omitempty"`
	HTTPOptions    json.RawMessage   `json:"http_options,omitempty"`
	GRPCOptions    json.RawMessage   `json:"grpc_options,omitempty"`
	TargetCapacity *float64          `json:"target_capacity"`
	Applications   []json.RawMessage `json:"applications"`
}

// putServe is PUT /api/serve/applications/. It is not retried as it is: a
// repeated PUT would carry a list read before the first one, so writeServe
// reads the list again first.
func (c *Client) putServe(ctx context.Context, body *serveDeployBody) error {
	err := c.do(ctx, request{method: "PUT", path: servePath, body: body})
	if err != nil && StatusCode(err) == 400 {
		return fmt.Errorf("serve rejected the application config: %w", err)
	}
	return err
}

// redacted is what the dashboard shows instead of runtime_env env_vars values
// to browser requests (dashboard/runtime_env_redaction.py). Writing it back
// would overwrite the real values, so such a list is never written.
const redacted = "<redacted>"

// mergeServeConfig builds the PUT body from the live state: every other
// declarative application as Serve reported it, plus app (raw JSON) under
// name, or without name when app is nil.
func mergeServeConfig(live *ServeInstance, name string, app json.RawMessage, httpOptions map[string]any) (*serveDeployBody, []string, error) {
	var warnings []string
	body := &serveDeployBody{
		ProxyLocation:  live.ProxyLocation,
		GRPCOptions:    live.GRPCOptions,
		TargetCapacity: live.TargetCapacity,
		Applications:   []json.RawMessage{},
	}
	if live.Running() {
		body.HTTPOptions = live.HTTPOptions
		if len(httpOptions) > 0 && app != nil {
			if w := httpOptionsDiffer(live.HTTP(), httpOptions); w != "" {
				warnings = append(warnings, w)
			}
		}
	} else if len(httpOptions) > 0 {
		b, err := json.Marshal(httpOptions)
		if err != nil {
			return nil, nil, err
		}
		body.HTTPOptions = b
	}
	if string(body.GRPCOptions) == "null" {
		body.GRPCOptions = nil
	}

	var ourRoute string
	if app != nil {
		var a struct {
			RoutePrefix *string `json:"route_prefix"`
		}
		if err := json.Unmarshal(app, &a); err != nil {
			return nil, nil, err
		}
		ourRoute = "/"
		if a.RoutePrefix != nil {
			ourRoute = *a.RoutePrefix
		}
	}

	names := make([]string, 0, len(live.Applications))
	for n := range live.Applications {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := live.Applications[n]
		if n == name {
			if app != nil && a.Source == ServeSourceImperative {
				return nil, nil, fmt.Errorf("application %q already exists and was deployed with serve.run (source imperative); the REST API cannot take it over. Delete it with serve.delete(%q) or choose another name", n, n)
			}
			continue
		}
		if app != nil && a.RoutePrefix != nil && *a.RoutePrefix == ourRoute && ourRoute != "" {
			return nil, nil, fmt.Errorf("route_prefix %q is already used by application %q; every application needs its own route_prefix", ourRoute, n)
		}
		if !a.HasConfig() {
			// Imperative apps are not part of the declarative list and Serve
			// keeps them; an app being deleted is going away anyway.
			if a.Source == ServeSourceImperative || a.Status == ServeAppDeleting {
				continue
			}
			return nil, nil, fmt.Errorf("application %q (status %s, source %q) has no readable config yet, so the application list cannot be rewritten without dropping it; retry in a few seconds", n, a.Status, a.Source)
		}
		if strings.Contains(string(a.DeployedAppConfig), redacted) {
			return nil, nil, fmt.Errorf("the dashboard returned application %q with %s runtime_env values (it redacts them for browser requests); writing them back would destroy them. Check ray_headers for a browser User-Agent", n, redacted)
		}
		body.Applications = append(body.Applications, a.DeployedAppConfig)
	}
	if app != nil {
		body.Applications = append(body.Applications, app)
	}
	return body, warnings, nil
}

func httpOptionsDiffer(live *ServeHTTPOptions, want map[string]any) string {
	if live == nil {
		return ""
	}
	var diffs []string
	if h, ok := want["host"].(string); ok && h != live.Host {
		diffs = append(diffs, fmt.Sprintf("host %q (configured %q)", live.Host, h))
	}
	if p, ok := toInt(want["port"]); ok && p != live.Port {
		diffs = append(diffs, fmt.Sprintf("port %d (configured %d)", live.Port, p))
	}
	if len(diffs) == 0 {
		return ""
	}
	return "Serve already runs on this cluster with HTTP " + strings.Join(diffs, ", ") +
		"; Serve cannot change its HTTP options while it runs, so the configured http_options are ignored until Serve restarts"
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	}
	return 0, false
}

// ServeEndpoint is the base URL of the application's route on the HTTP
// proxy: http(s)://host:port/root_path/route_prefix. A proxy listening on
// every interface (0.0.0.0, ::) is reached at the dashboard's host.
func (c *Client) ServeEndpoint(h *ServeHTTPOptions, routePrefix string) string {
	if h == nil {
		return ""
	}
	host := h.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		if u, err := url.Parse(c.base); err == nil {
			host = u.Hostname()
		}
	}
	port := h.Port
	if port == 0 {
		port = 8000
	}
	scheme := "http"
	if h.SSLCertFile != nil && *h.SSLCertFile != "" {
		scheme = "https"
	}
	path := strings.TrimRight(h.RootPath, "/") + routePrefix
	if routePrefix == "/" {
		path = strings.TrimRight(h.RootPath, "/") + "/"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
}

// SmokeTest is one request to a Serve application, retried until it
// answers as expected or Timeout passes: Serve's proxies learn a new route
// a moment after the application is RUNNING.
type SmokeTest struct {
	URL                string
	Method             string // default GET, or POST with a Body
	Body               string
	Headers            map[string]string
	ExpectedStatus     int // default 200
	ExpectBodyContains string
	Timeout            time.Duration
	// Interval between tries; default 2s.
	Interval time.Duration
}

// Run sends the request until it passes; the error describes the last answer.
func (s SmokeTest) Run(ctx context.Context) error {
	method := s.Method
	if method == "" {
		method = "GET"
		if s.Body != "" {
			method = "POST"
		}
	}
	want := s.ExpectedStatus
	if want == 0 {
		want = 200
	}
	interval := s.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	hc := cleanhttp.DefaultClient()
	hc.Timeout = 30 * time.Second
	var last error
	err := retry.Until(ctx, s.Timeout, interval, func(ctx context.Context) (bool, error) {
		var body io.Reader
		if s.Body != "" {
			body = strings.NewReader(s.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, s.URL, body)
		if err != nil {
			return false, retry.Stop(err)
		}
		if s.Body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range s.Headers {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			last = fmt.Errorf("%s %s: %w", method, s.URL, err)
			return false, last
		}
		defer func() { _ = resp.Body.Close() }()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		text := strings.TrimSpace(string(data))
		if len(text) > 1000 {
			text = text[:1000] + "..."
		}
		switch {
		case resp.StatusCode != want:
			last = fmt.Errorf("%s %s answered HTTP %d, want %d: %s", method, s.URL, resp.StatusCode, want, text)
		case s.ExpectBodyContains != "" && !strings.Contains(string(data), s.ExpectBodyContains):
			last = fmt.Errorf("%s %s answered HTTP %d without %q in the body: %s", method, s.URL, resp.StatusCode, s.ExpectBodyContains, text)
		default:
			return true, nil
		}
		return false, last
	})
	if err != nil && last != nil {
		return fmt.Errorf("no passing answer within %s; last: %w", s.Timeout, last)
	}
	return err
}
