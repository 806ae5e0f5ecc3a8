// Package ray is a small client for the Ray dashboard's REST API: the Jobs
// API (dashboard/modules/job/job_head.py) and runtime_env packages. The Serve
// REST API (/api/serve/applications/) goes beside it in its own file and
// reuses Client.do, so that auth, TLS, retries and logging live in one place.
//
// The request and response shapes are written down from Ray 2.60's source
// (dashboard/modules/job/common.py, pydantic_models.py, job_head.py and
// dashboard/modules/version.py).
package ray

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

// Config is how to reach one Ray dashboard.
type Config struct {
	// Address of the dashboard, e.g. http://127.0.0.1:8265. A missing scheme
	// means http://. A path prefix (for a proxy) is kept.
	Address string
	// Token for Ray token auth (RAY_AUTH_MODE=token), sent as
	// "Authorization: Bearer <token>". Empty sends no Authorization header.
	Token string
	// Headers are extra HTTP headers on every request, e.g. for a proxy.
	Headers map[string]string
	// CABundlePEM verifies the dashboard's TLS certificate when set.
	CABundlePEM string
	// RequestTimeout bounds a single HTTP attempt. Default 30s.
	RequestTimeout time.Duration
	// RetryMax is how many times a retryable request is retried. Default 4.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff between
	// retries. Defaults 1s and 10s. A Retry-After header on 429/503 wins, up
	// to MaxRetryAfter.
	RetryWaitMin, RetryWaitMax time.Duration
	// UserAgent sent with every request.
	UserAgent string
}

// MaxRetryAfter caps how long a Retry-After header can make one retry wait.
const MaxRetryAfter = 60 * time.Second

// Client talks to one Ray dashboard. It is safe for concurrent use.
type Client struct {
	base    string // normalized address without trailing slash
	token   string
	headers map[string]string
	ua      string
	http    *retryablehttp.Client

	mu      sync.Mutex
	version *VersionInfo // cached after a successful CheckVersion
}

// NormalizeAddress turns a user-supplied dashboard address into the base URL
// the client uses, or explains what is wrong with it.
func NormalizeAddress(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("no Ray dashboard address: set dashboard_url (on the resource or the provider) or RAY_ADDRESS, e.g. http://127.0.0.1:8265")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("the Ray dashboard address %q is not a URL: %w", addr, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ray":
		return "", fmt.Errorf("the Ray dashboard address %q is a Ray Client (ray://) address; the provider talks to the dashboard's HTTP API instead, e.g. http://%s:8265", addr, u.Hostname())
	default:
		return "", fmt.Errorf("the Ray dashboard address %q has scheme %q; want http:// or https://", addr, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("the Ray dashboard address %q has no host", addr)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("the Ray dashboard address %q must not have a query or fragment", addr)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// New returns a client for cfg. It does not contact the dashboard.
func New(cfg Config) (*Client, error) {
	base, err := NormalizeAddress(cfg.Address)
	if err != nil {
		return nil, err
	}
	transport := cleanhttp.DefaultPooledTransport()
	if cfg.CABundlePEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(cfg.CABundlePEM)) {
			return nil, errors.New("ray_ca_bundle_pem holds no PEM certificate")
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = &http.Client{Transport: transport, Timeout: timeout}
	rc.Logger = nil // requests are logged through tflog by the hooks below
	rc.RetryMax = 4
	if cfg.RetryMax > 0 {
		rc.RetryMax = cfg.RetryMax
	}
	rc.RetryWaitMin, rc.RetryWaitMax = time.Second, 10*time.Second
	if cfg.RetryWaitMin > 0 {
		rc.RetryWaitMin = cfg.RetryWaitMin
	}
	if cfg.RetryWaitMax > 0 {
		rc.RetryWaitMax = cfg.RetryWaitMax
	}
	rc.CheckRetry = checkRetry
	rc.Backoff = backoff
	rc.ErrorHandler = errorHandler
	rc.RequestLogHook = logRequest
	rc.ResponseLogHook = logResponse
	ua := cfg.UserAgent
	if ua == "" {
		ua = "terraform-provider-rayvllm"
	}
	headers := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		headers[k] = v
	}
	return &Client{base: base, token: cfg.Token, headers: headers, ua: ua, http: rc}, nil
}

// Address is the normalized dashboard address.
func (c *Client) Address() string { return c.base }

type noRetryKey struct{}

// checkRetry retries connection errors, 429 and 5xx (Ray's
// retryablehttp default policy), unless the request opted out.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if v, _ := ctx.Value(noRetryKey{}).(bool); v {
		return false, nil
	}
	// The policy's error (a redirect loop, a bad scheme or certificate) is
	// the request's own error; returning it ends the retries with it.
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

func backoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	d := retryablehttp.DefaultBackoff(lo, hi, attempt, resp)
	if d > MaxRetryAfter {
		d = MaxRetryAfter
	}
	return d
}

// attemptsError records how many attempts a transport failure took.
type attemptsError struct {
	attempts int
	err      error
}

func (e *attemptsError) Error() string {
	return fmt.Sprintf("giving up after %d attempt(s): %v", e.attempts, e.err)
}
func (e *attemptsError) Unwrap() error { return e.err }

// errorHandler hands the last answer back (so that Ray's error text is
// kept) and counts the attempts of a transport failure.
func errorHandler(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if resp != nil {
		return resp, nil
	}
	return nil, &attemptsError{attempts: attempts, err: err}
}

// safeHeaders are logged as they are; every other header value is masked,
// because Authorization, cookies and proxy headers carry secrets.
var safeHeaders = map[string]bool{"Accept": true, "Content-Type": true, "User-Agent": true, "Content-Length": true}

func maskedHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if safeHeaders[http.CanonicalHeaderKey(k)] {
			out[k] = strings.Join(v, ", ")
		} else {
			out[k] = "***"
		}
	}
	return out
}

func logRequest(_ retryablehttp.Logger, req *http.Request, attempt int) {
	tflog.Debug(req.Context(), "Ray dashboard request", map[string]any{
		"method": req.Method, "url": req.URL.String(), "attempt": attempt + 1, "headers": maskedHeaders(req.Header),
	})
}

func logResponse(_ retryablehttp.Logger, resp *http.Response) {
	if resp == nil || resp.Request == nil {
		return
	}
	tflog.Debug(resp.Request.Context(), "Ray dashboard response", map[string]any{
		"method": resp.Request.Method, "url": resp.Request.URL.String(), "status": resp.StatusCode,
	})
}

// request is one call to the dashboard.
type request struct {
	method string
	path   string // starts with /api/
	query  url.Values
	body   any    // JSON-encoded when not nil and raw is nil
	raw    []byte // sent as-is with contentType
	ctype  string
	out    any // JSON-decoded from a 2xx answer when not nil
	// retry lets retryablehttp retry connection errors, 429 and 5xx. Only
	// for requests that are safe to repeat.
	retry bool
}

// maxErrorBody bounds how much of an error answer (often a Python
// traceback) goes into an error; the end is kept, where the reason is.
const maxErrorBody = 4000

// do sends r and decodes the answer into r.out. Non-2xx answers become
// *APIError (or *AuthError for 401/403); transport failures *UnreachableError.
func (c *Client) do(ctx context.Context, r request) error {
	if c.token != "" {
		ctx = tflog.MaskAllFieldValuesStrings(ctx, c.token)
		ctx = tflog.MaskMessageStrings(ctx, c.token)
	}
	if !r.retry {
		ctx = context.WithValue(ctx, noRetryKey{}, true)
	}
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body any
	ctype := r.ctype
	switch {
	case r.raw != nil:
		body = r.raw
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("encoding %s %s: %w", r.method, r.path, err)
		}
		body, ctype = b, "application/json"
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return fmt.Errorf("building %s %s: %w", r.method, u, err)
	}
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil && resp != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s%s: %w", r.method, c.base, r.path, ctx.Err())
		}
		tflog.Debug(ctx, "Ray dashboard request failed", map[string]any{"method": r.method, "url": u, "error": err.Error()})
		return &UnreachableError{Address: c.base, Method: r.method, Path: r.path, Err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &UnreachableError{Address: c.base, Method: r.method, Path: r.path, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		text := strings.TrimSpace(string(data))
		if len(text) > maxErrorBody {
			text = "..." + text[len(text)-maxErrorBody:]
		}
		apiErr := &APIError{Address: c.base, Method: r.method, Path: r.path, StatusCode: resp.StatusCode, Body: text}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return &AuthError{APIError: apiErr, TokenSent: c.token != ""}
		}
		return apiErr
	}
	if r.out != nil {
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(r.out); err != nil {
			return fmt.Errorf("decoding the answer to %s %s%s (HTTP %d): %w; is %s a Ray dashboard?", r.method, c.base, r.path, resp.StatusCode, err, c.base)
		}
	}
	return nil
}
