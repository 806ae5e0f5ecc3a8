package ray

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// APIError is a non-2xx answer from the dashboard. Body is Ray's own text
// (for the Jobs API often a Python traceback), trimmed to its end.
type APIError struct {
	Address    string
	Method     string
	Path       string
	StatusCode int
	Body       string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("Ray dashboard %s: %s %s returned HTTP %d: %s", e.Address, e.Method, e.Path, e.StatusCode, e.Body)
}

// Unwrap makes a 404 match retry.ErrNotFound.
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusNotFound {
		return retry.ErrNotFound
	}
	return nil
}

// AuthError is a 401 or 403: token auth is on and the token is missing or wrong.
type AuthError struct {
	*APIError
	TokenSent bool
}

func (e *AuthError) Error() string {
	hint := "the cluster has token auth on (RAY_AUTH_MODE=token) but no token was sent: set auth_token (on the resource or the provider) or RAY_AUTH_TOKEN to the cluster's token"
	if e.TokenSent {
		hint = "the auth token was rejected: set auth_token (on the resource or the provider) or RAY_AUTH_TOKEN to the token the cluster was started with (`ray get-auth-token` on the head node prints it)"
	}
	return fmt.Sprintf("Ray dashboard %s refused %s %s with HTTP %d (%s): %s", e.Address, e.Method, e.Path, e.StatusCode, e.Body, hint)
}

func (e *AuthError) Unwrap() error { return e.APIError }

// UnreachableError is a transport failure after the retries: connection
// refused, DNS, TLS, timeouts.
type UnreachableError struct {
	Address string
	Method  string
	Path    string
	Err     error
}

func (e *UnreachableError) Error() string {
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	if errors.As(e.Err, &certErr) || errors.As(e.Err, &unknownCA) {
		return fmt.Sprintf("the Ray dashboard at %s (%s %s) has a TLS certificate this machine does not trust: %v. Set ray_ca_bundle_pem on the provider to the CA that signed it", e.Address, e.Method, e.Path, e.Err)
	}
	return fmt.Sprintf("cannot reach the Ray dashboard at %s (%s %s): %v. Check dashboard_url / RAY_ADDRESS, that the dashboard listens there (ray start --dashboard-host, default port 8265) and that this machine can reach it", e.Address, e.Method, e.Path, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// StatusCode returns the HTTP status of an *APIError in err's chain, or 0.
func StatusCode(err error) int {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

// IsAlreadyExists reports whether err is Ray's answer to a submission whose
// submission_id is taken. It is matched on the text because the status code
// differs between Ray versions (400 from the job agent, 500 through the head
// in 2.60): "Job with submission_id X already exists."
func IsAlreadyExists(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Body, "already exists")
}
