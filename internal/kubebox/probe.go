package kubebox

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"
)

// probeSpec is a container's readiness probe, as the API has it. A port
// must be a number (a named port is reported as failing).
type probeSpec struct {
	Exec *struct {
		Command []string `json:"command"`
	} `json:"exec"`
	HTTPGet *struct {
		Path string `json:"path"`
		Port any    `json:"port"`
	} `json:"httpGet"`
	TCPSocket *struct {
		Port any `json:"port"`
	} `json:"tcpSocket"`
	InitialDelaySeconds int `json:"initialDelaySeconds"`
	TimeoutSeconds      int `json:"timeoutSeconds"`
	PeriodSeconds       int `json:"periodSeconds"`
	SuccessThreshold    int `json:"successThreshold"`
	FailureThreshold    int `json:"failureThreshold"`
}

// readiness runs a container's readiness probe as a kubelet does, in the
// pod's namespace with the container's environment, until the pod stops,
// and records the container ready after SuccessThreshold passes in a row
// and not ready after FailureThreshold failures in a row.
func (rt *runtime) readiness(p *pod, container string, env []string, pr *probeSpec) {
	defer p.wg.Done()
	orDefault := func(v, d int) int {
		if v <= 0 {
			return d
		}
		return v
	}
	timeout := time.Duration(orDefault(pr.TimeoutSeconds, 1)) * time.Second
	period := time.Duration(orDefault(pr.PeriodSeconds, 10)) * time.Second
	succeed, fail := orDefault(pr.SuccessThreshold, 1), orDefault(pr.FailureThreshold, 3)
	wait := time.Duration(pr.InitialDelaySeconds) * time.Second
	passes, failures := 0, 0
	for {
		select {
		case <-p.stop:
			return
		case <-time.After(wait):
		}
		wait = period
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := rt.check(ctx, p, env, pr)
		cancel()
		if err == nil {
			passes, failures = passes+1, 0
		} else {
			passes, failures = 0, failures+1
		}
		if passes >= succeed {
			rt.setReady(p, container, true)
		} else if failures >= fail {
			rt.setReady(p, container, false)
		}
	}
}

func (rt *runtime) check(ctx context.Context, p *pod, env []string, pr *probeSpec) error {
	port := func(v any) (string, error) {
		if f, ok := v.(float64); ok {
			return strconv.Itoa(int(f)), nil
		}
		return "", fmt.Errorf("kubebox probes only numeric ports, not %v", v)
	}
	switch {
	case pr.Exec != nil && len(pr.Exec.Command) > 0:
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", p.ns}, pr.Exec.Command...)...) // #nosec G204 -- the pod's own probe, in its namespace
		cmd.Env, cmd.Dir = env, p.dir
		return cmd.Run()
	case pr.HTTPGet != nil:
		n, err := port(pr.HTTPGet.Port)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(p.ip, n)+pr.HTTPGet.Path, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	case pr.TCPSocket != nil:
		n, err := port(pr.TCPSocket.Port)
		if err != nil {
			return err
		}
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(p.ip, n))
		if err == nil {
			_ = c.Close()
		}
		return err
	}
	return fmt.Errorf("a probe with no exec, httpGet or tcpSocket")
}
