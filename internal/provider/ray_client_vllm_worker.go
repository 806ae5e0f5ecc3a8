package provider

import (
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
)

// vllmWorkerRayClient builds the Ray client of a rayvllm_vllm_worker from its
// own dashboard_url / auth_token, falling back to the provider's settings
// (which fall back to RAY_ADDRESS / RAY_AUTH_TOKEN). It is the worker's
// stand-in until the shared provider-side helper of the batch-job branch
// lands; then the worker switches to that one and this file goes.
func vllmWorkerRayClient(pd *ProviderData, dashboardURL, authToken string) (*ray.Client, error) {
	cfg := ray.Config{Address: dashboardURL, Token: authToken, UserAgent: "terraform-provider-rayvllm (rayvllm_vllm_worker)"}
	if pd != nil {
		if cfg.Address == "" {
			cfg.Address = pd.Ray.DashboardURL
		}
		if cfg.Token == "" {
			cfg.Token = pd.Ray.AuthToken
		}
		cfg.Headers = pd.Ray.Headers
		cfg.CABundlePEM = pd.Ray.CABundlePEM
		cfg.RequestTimeout = pd.Ray.RequestTimeout
	}
	return ray.New(cfg)
}
