package ec2cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// BootFailedMarker is what the node scripts print on the console when their
// bootstrap fails (common.sh, mark_boot_failure).
const BootFailedMarker = "rayvllm: BOOTSTRAP FAILED"

// consoleLines is how much of a failed node's console goes into an error.
const consoleLines = 25

// ConsoleTail returns the last n lines of the instance's console output
// (EC2 GetConsoleOutput: what cloud-init printed, the bootstrap included).
func (c *Client) ConsoleTail(ctx context.Context, id string, n int) (string, error) {
	out, err := c.EC2.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id), Latest: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("reading the console of %s: %w", id, err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
	if err != nil {
		return "", fmt.Errorf("decoding the console of %s: %w", id, err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n"), nil
}

// BootError is a node whose bootstrap failed or that did not join Ray.
type BootError struct {
	Instance Instance
	Reason   string
	Console  string // the console's last lines; "" when unreadable
}

func (e *BootError) Error() string {
	what := "the head " + e.Instance.ID
	if e.Instance.Role == RoleWorker {
		what = fmt.Sprintf("worker %s of group %q", e.Instance.ID, e.Instance.Group)
	}
	msg := fmt.Sprintf("%s (%s) %s", what, e.Instance.PrivateIP, e.Reason)
	if e.Console != "" {
		msg += "; the last lines of its console (EC2 GetConsoleOutput):\n" + e.Console
	} else {
		msg += "; its bootstrap log is /var/log/rayvllm/bootstrap.log on the node"
	}
	return msg
}

// WaitForRay waits until the dashboard (rc: the cluster's, with its token)
// lists every live instance of cl as an ALIVE Ray node at its private IP. A
// node whose console shows BootFailedMarker fails the wait at once; on
// timeout the error names every node that did not join. Both carry the
// node's console tail (EC2 may publish the console minutes late, so a
// failure can show only at the timeout). Every failure to list the nodes,
// also a refused token while the head sets up auth, is retried.
func (c *Client) WaitForRay(ctx context.Context, rc *ray.Client, cl *Cluster, timeout, interval time.Duration) error {
	var all []Instance
	if cl.Head != nil {
		all = append(all, *cl.Head)
	}
	for _, g := range cl.sortedGroupNames() {
		all = append(all, cl.Groups[g]...)
	}
	var missing []Instance
	var lastErr error
	err := retry.Until(ctx, timeout, interval, func(ctx context.Context) (bool, error) {
		nodes, err := rc.ListNodes(ctx)
		if err != nil {
			lastErr, missing = err, slices.Clone(all[:min(1, len(all))]) // the head's dashboard does not answer
		} else {
			lastErr = nil
			alive := map[string]bool{}
			for _, n := range nodes {
				if n.Alive() {
					alive[n.NodeIP] = true
				}
			}
			missing = nil
			for _, i := range all {
				if !alive[i.PrivateIP] {
					missing = append(missing, i)
				}
			}
		}
		if len(missing) == 0 {
			return true, nil
		}
		for _, i := range missing[:min(len(missing), 10)] {
			if tail, err := c.ConsoleTail(ctx, i.ID, consoleLines); err == nil && strings.Contains(tail, BootFailedMarker) {
				return false, retry.Stop(&BootError{Instance: i, Reason: "failed to boot", Console: tail})
			}
		}
		return false, fmt.Errorf("%d of %d nodes not in Ray yet", len(missing), len(all))
	})
	var be *BootError
	if errors.As(err, &be) || err == nil {
		return err
	}
	if lastErr != nil {
		err = fmt.Errorf("%w (last: %v)", err, lastErr)
	}
	sort.Slice(missing, func(a, b int) bool { return missing[a].ID < missing[b].ID })
	var errs []error
	for _, i := range missing {
		tail, _ := c.ConsoleTail(context.WithoutCancel(ctx), i.ID, consoleLines)
		errs = append(errs, &BootError{Instance: i, Reason: "did not join Ray", Console: tail})
	}
	return fmt.Errorf("waiting for the Ray nodes at %s: %w (is it reachable from here? see dashboard_ingress_cidrs)\n%w", rc.Address(), err, errors.Join(errs...))
}
