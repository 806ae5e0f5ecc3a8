package kubebox

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// client is the box's minimal API client: JSON over HTTPS with the admin
// client certificate. Tests reach the API through it (Do), the provider
// under test through the kubeconfig.
type client struct {
	server string
	http   *http.Client
}

func newClient(server, caFile, certFile, keyFile string) (*client, error) {
	ca, err := os.ReadFile(caFile) // #nosec G304 -- the box's own CA
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	return &client{server: server, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

// StatusError is a non-2xx answer of the API server.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }

// do sends body (JSON or, with contentType application/yaml, YAML) and
// decodes a 2xx answer into out when out is not nil.
func (c *client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (c *client) ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/readyz", "", nil, nil)
}

// createYAML posts a YAML manifest (the API server decodes YAML itself)
// and returns the created object's name.
func (c *client) createYAML(ctx context.Context, path string, doc []byte) (string, error) {
	var obj struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	err := c.do(ctx, http.MethodPost, path, "application/yaml", doc, &obj)
	return obj.Metadata.Name, err
}

func (c *client) crdEstablished(ctx context.Context, name string) error {
	var crd struct {
		Status struct {
			Conditions []struct {
				Type, Status string
			} `json:"conditions"`
		} `json:"status"`
	}
	if err := c.do(ctx, http.MethodGet, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, "", nil, &crd); err != nil {
		return err
	}
	for _, cond := range crd.Status.Conditions {
		if cond.Type == "Established" && cond.Status == "True" {
			return nil
		}
	}
	return fmt.Errorf("CRD %s is not established yet", name)
}

// Do sends a request to the API server as the box's admin: body is
// marshalled to JSON (nil for none), a 2xx answer decoded into out (nil
// to drop it). A non-2xx answer is a *StatusError.
func (b *Box) Do(ctx context.Context, method, path string, body, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	return b.api.do(ctx, method, path, "application/json", data, out)
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return nil
}

// writeKubeconfig writes an admin kubeconfig (JSON is valid YAML).
func writeKubeconfig(path, server, ca, cert, key string) error {
	cfg := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "kubebox",
		"clusters": []any{map[string]any{"name": "kubebox", "cluster": map[string]any{"server": server, "certificate-authority": ca}}},
		"users":    []any{map[string]any{"name": "admin", "user": map[string]any{"client-certificate": cert, "client-key": key}}},
		"contexts": []any{map[string]any{"name": "kubebox", "context": map[string]any{"cluster": "kubebox", "user": "admin"}}},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}
