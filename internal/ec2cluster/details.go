package ec2cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// Volume is a root volume's size and type.
type Volume struct {
	SizeGiB int32
	Type    string
}

// Details is what import needs beyond FindCluster: the head's boot
// configuration, the root volumes, the security group and its dashboard CIDRs.
type Details struct {
	Boot            map[string]string // RAYVLLM_* variables of the head's user data
	Volumes         map[string]Volume // by instance ID
	SecurityGroupID string
	DashboardCIDRs  []string
}

// Describe reads the details of an existing cluster.
func (c *Client) Describe(ctx context.Context, cl *Cluster) (*Details, error) {
	d := &Details{Boot: map[string]string{}, Volumes: map[string]Volume{}}
	if cl.Head != nil {
		out, err := c.EC2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{
			InstanceId: aws.String(cl.Head.ID), Attribute: ec2types.InstanceAttributeNameUserData,
		})
		if err != nil {
			return nil, fmt.Errorf("reading user data of %s: %w", cl.Head.ID, err)
		}
		if out.UserData != nil {
			raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.UserData.Value))
			if err != nil {
				return nil, fmt.Errorf("decoding user data of %s: %w", cl.Head.ID, err)
			}
			d.Boot = ParseUserData(string(raw))
		}
	}
	volOwner := map[string]string{}
	var volIDs []string
	all := []Instance{}
	if cl.Head != nil {
		all = append(all, *cl.Head)
	}
	for _, ws := range cl.Groups {
		all = append(all, ws...)
	}
	for _, i := range all {
		if i.RootVolumeID != "" {
			volOwner[i.RootVolumeID] = i.ID
			volIDs = append(volIDs, i.RootVolumeID)
		}
	}
	if len(volIDs) > 0 {
		out, err := c.EC2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: volIDs})
		if err != nil {
			return nil, fmt.Errorf("describing root volumes: %w", err)
		}
		for _, v := range out.Volumes {
			d.Volumes[volOwner[aws.ToString(v.VolumeId)]] = Volume{SizeGiB: aws.ToInt32(v.Size), Type: string(v.VolumeType)}
		}
	}
	sgs, err := c.findSecurityGroups(ctx, cl.Name)
	if err != nil {
		return nil, err
	}
	if len(sgs) > 0 {
		d.SecurityGroupID = sgs[0]
		out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: sgs[:1]})
		if err != nil {
			return nil, fmt.Errorf("describing security group %s: %w", sgs[0], err)
		}
		for _, g := range out.SecurityGroups {
			for _, p := range g.IpPermissions {
				if aws.ToString(p.IpProtocol) != "tcp" || aws.ToInt32(p.FromPort) != DashboardPort {
					continue
				}
				for _, r := range p.IpRanges {
					d.DashboardCIDRs = append(d.DashboardCIDRs, aws.ToString(r.CidrIp))
				}
				for _, r := range p.Ipv6Ranges {
					d.DashboardCIDRs = append(d.DashboardCIDRs, aws.ToString(r.CidrIpv6))
				}
			}
		}
	}
	return d, nil
}

// ProfileName returns the instance profile name of an instance profile ARN
// (arn:aws:iam::123456789012:instance-profile/path/name).
func ProfileName(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// WaitForDashboard polls the Ray dashboard's /api/version with the token
// until it answers 200, or the timeout passes.
func WaitForDashboard(ctx context.Context, dashboardURL, token string, timeout, interval time.Duration) error {
	client := &http.Client{Timeout: 10 * time.Second}
	url := strings.TrimRight(dashboardURL, "/") + "/api/version"
	err := retry.Until(ctx, timeout, interval, func(ctx context.Context) (bool, error) {
		// G704: the URL is the cluster's own dashboard_url, which the provider
		// builds from the head's IP; polling it is the point.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil) //nolint:gosec // G704: see above
		if err != nil {
			return false, retry.Stop(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req) //nolint:gosec // G704: see above
		if err != nil {
			return false, err
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return true, nil
		}
		return false, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	})
	if err != nil {
		return fmt.Errorf("the Ray dashboard did not answer: %w. The nodes log their bootstrap to /var/log/rayvllm/bootstrap.log; is %s reachable from here (dashboard_ingress_cidrs)?", err, dashboardURL)
	}
	return nil
}
