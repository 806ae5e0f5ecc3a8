package ec2cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Volume is a root volume's size and type.
type Volume struct {
	SizeGiB int32
	Type    string
}

// Details is what import needs beyond FindCluster: the head's boot
// configuration, the root volumes, the security group and its dashboard CIDRs.
type Details struct {
	Boot            BootConfig        // the head's, read back from its user data
	Volumes         map[string]Volume // by instance ID
	SecurityGroupID string
	DashboardCIDRs  []string
}

// Describe reads the details of an existing cluster.
func (c *Client) Describe(ctx context.Context, cl *Cluster) (*Details, error) {
	d := &Details{Volumes: map[string]Volume{}}
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
			d.Boot = ParseBootConfig(string(raw))
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
