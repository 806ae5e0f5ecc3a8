package provider

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
)

// rayClients caches one client per connection, so that the Ray version is
// checked once per cluster and provider process, and so that resources on
// the same cluster share connections.
var rayClients sync.Map

// rayConnection resolves a Ray-based resource's connection: its own
// dashboard_url / auth_token first, then the provider block, then
// RAY_ADDRESS / RAY_AUTH_TOKEN. d may be nil before the provider is configured.
func (d *ProviderData) rayConnection(dashboardURL, authToken string) ray.Config {
	cfg := ray.Config{Address: dashboardURL, Token: authToken}
	if d != nil {
		if cfg.Address == "" {
			cfg.Address = d.Ray.DashboardURL
		}
		if cfg.Token == "" {
			cfg.Token = d.Ray.AuthToken
		}
		cfg.Headers = d.Ray.Headers
		cfg.CABundlePEM = d.Ray.CABundlePEM
		cfg.RequestTimeout = d.Ray.RequestTimeout
	}
	if cfg.Address == "" {
		cfg.Address = os.Getenv("RAY_ADDRESS")
	}
	if cfg.Token == "" {
		cfg.Token = os.Getenv("RAY_AUTH_TOKEN")
	}
	return cfg
}

// rayClient returns the shared client for a resource's connection.
func (d *ProviderData) rayClient(dashboardURL, authToken string) (*ray.Client, error) {
	cfg := d.rayConnection(dashboardURL, authToken)
	addr, err := normalizeDashboardURL(cfg.Address)
	if err != nil {
		return nil, err
	}
	key := connectionKey(addr, cfg)
	if v, ok := rayClients.Load(key); ok {
		if c, ok := v.(*ray.Client); ok {
			return c, nil
		}
	}
	// A kuberay:// cluster is reached through a tunnel whose local URL
	// stays the same for this process, so the cached client keeps it.
	if cfg.Address, err = d.tunnelURL(addr); err != nil {
		return nil, err
	}
	c, err := ray.New(cfg)
	if err != nil {
		return nil, err
	}
	if v, loaded := rayClients.LoadOrStore(key, c); loaded {
		if shared, ok := v.(*ray.Client); ok {
			return shared, nil
		}
	}
	return c, nil
}

func connectionKey(addr string, cfg ray.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%s\x00%d", addr, cfg.Token, cfg.CABundlePEM, cfg.RequestTimeout/time.Millisecond)
	keys := make([]string, 0, len(cfg.Headers))
	for k := range cfg.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\x00%s=%s", k, cfg.Headers[k])
	}
	return b.String()
}
