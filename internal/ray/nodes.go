package ray

import (
	"context"
	"net/url"
)

// Node is one entry of Ray's state API node list (ray.util.state NodeState).
type Node struct {
	NodeID         string             `json:"node_id"`
	NodeIP         string             `json:"node_ip"`
	IsHeadNode     bool               `json:"is_head_node"`
	State          string             `json:"state"` // ALIVE or DEAD
	ResourcesTotal map[string]float64 `json:"resources_total"`
	Labels         map[string]string  `json:"labels"`
}

// Alive reports whether the node is part of the cluster now.
func (n Node) Alive() bool { return n.State == "ALIVE" }

// ListNodes is GET /api/v0/nodes: every node the GCS knows, dead ones
// included (Ray keeps them for a while).
func (c *Client) ListNodes(ctx context.Context) ([]Node, error) {
	var out struct {
		Data struct {
			Result struct {
				Result []Node `json:"result"`
			} `json:"result"`
		} `json:"data"`
	}
	q := url.Values{"limit": {"10000"}, "detail": {"true"}}
	if err := c.do(ctx, request{method: "GET", path: "/api/v0/nodes", query: q, out: &out, retry: true}); err != nil {
		return nil, err
	}
	return out.Data.Result.Result, nil
}
