package ray

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// MinRayVersion is the oldest Ray the provider talks to.
const MinRayVersion = "2.54.0"

// VersionInfo is GET /api/version (dashboard/modules/version.py VersionResponse).
type VersionInfo struct {
	Version     string `json:"version"` // the REST API version, "4" in Ray 2.60
	RayVersion  string `json:"ray_version"`
	RayCommit   string `json:"ray_commit"`
	SessionName string `json:"session_name"`
}

// UnsupportedVersionError is returned for a Ray older than MinRayVersion.
type UnsupportedVersionError struct {
	Address    string
	RayVersion string
}

func (e *UnsupportedVersionError) Error() string {
	return fmt.Sprintf("the Ray cluster at %s runs Ray %s; this provider needs Ray %s or newer. "+
		"Older Ray has public vulnerabilities in exactly the API the provider uses: remote code execution "+
		"through the unauthenticated Jobs API (CVE-2023-48022; token auth only exists from Ray 2.52) and "+
		"unauthenticated DELETE of jobs and Serve applications from any web page (CVE-2026-27482, fixed in 2.54.0). "+
		"Upgrade the cluster to Ray %s+ and start it with RAY_AUTH_MODE=token",
		e.Address, e.RayVersion, MinRayVersion, MinRayVersion)
}

// Version is GET /api/version.
func (c *Client) Version(ctx context.Context) (*VersionInfo, error) {
	var v VersionInfo
	if err := c.do(ctx, request{method: "GET", path: "/api/version", out: &v, retry: true}); err != nil {
		return nil, err
	}
	return &v, nil
}

// CheckVersion fetches the version once per client and refuses a Ray older
// than MinRayVersion. Every resource calls it before its first real request.
func (c *Client) CheckVersion(ctx context.Context) (*VersionInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != nil {
		return c.version, nil
	}
	v, err := c.Version(ctx)
	if err != nil {
		return nil, err
	}
	ok, err := VersionAtLeast(v.RayVersion, MinRayVersion)
	if err != nil {
		return nil, fmt.Errorf("the Ray dashboard at %s reports version %q, which is not a Ray version: %w", c.base, v.RayVersion, err)
	}
	if !ok {
		return nil, &UnsupportedVersionError{Address: c.base, RayVersion: v.RayVersion}
	}
	c.version = v
	return v, nil
}

// VersionAtLeast compares the numeric major.minor.patch prefix of two Ray
// versions ("2.60.0", "3.0.0.dev0", "2.54.0rc1"). Pre-release suffixes count
// as the release: a 2.54.0rc1 head is accepted.
func VersionAtLeast(have, want string) (bool, error) {
	h, err := parseVersion(have)
	if err != nil {
		return false, err
	}
	w, err := parseVersion(want)
	if err != nil {
		return false, err
	}
	for i := range h {
		if h[i] != w[i] {
			return h[i] > w[i], nil
		}
	}
	return true, nil
}

func parseVersion(s string) ([3]int, error) {
	var out [3]int
	parts := strings.SplitN(strings.TrimSpace(s), ".", 4)
	if len(parts) < 2 {
		return out, fmt.Errorf("want major.minor[.patch], got %q", s)
	}
	for i := 0; i < 3 && i < len(parts); i++ {
		digits := parts[i]
		if j := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
			if i < 2 && j == 0 {
				return out, fmt.Errorf("want major.minor[.patch], got %q", s)
			}
			digits = digits[:j]
		}
		if digits == "" {
			break
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			return out, fmt.Errorf("want major.minor[.patch], got %q", s)
		}
		out[i] = n
	}
	return out, nil
}
