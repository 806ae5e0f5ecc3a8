package ec2cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// IsPublicCIDR reports whether cidr is the whole IPv4 or IPv6 internet.
func IsPublicCIDR(cidr string) bool {
	p, err := netip.ParsePrefix(cidr)
	return err == nil && p.Bits() == 0
}

func (c *Client) findSecurityGroups(ctx context.Context, name string) ([]string, error) {
	out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + TagCluster), Values: []string{name}}},
	})
	if err != nil {
		return nil, fmt.Errorf("describing security groups of cluster %q: %w", name, err)
	}
	var ids []string
	for _, g := range out.SecurityGroups {
		ids = append(ids, aws.ToString(g.GroupId))
	}
	sort.Strings(ids)
	return ids, nil
}

// ensureSecurityGroup creates the cluster security group (or adopts the one a
// failed create left behind in the same VPC) and sets its rules: all traffic
// within the group, the dashboard port from the given CIDRs only.
func (c *Client) ensureSecurityGroup(ctx context.Context, spec Spec, vpc string) (string, error) {
	out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + TagCluster), Values: []string{spec.Name}},
			{Name: aws.String("vpc-id"), Values: []string{vpc}},
		},
	})
	if err != nil {
		return "", fmt.Errorf("describing security groups: %w", err)
	}
	var id string
	if len(out.SecurityGroups) > 0 {
		id = aws.ToString(out.SecurityGroups[0].GroupId)
	} else {
		created, err := c.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName:   aws.String(SecurityGroupName(spec.Name)),
			Description: aws.String("rayvllm cluster " + spec.Name + ": Ray traffic within the cluster, dashboard from allowed CIDRs"),
			VpcId:       aws.String(vpc),
			TagSpecifications: []ec2types.TagSpecification{{
				ResourceType: ec2types.ResourceTypeSecurityGroup,
				Tags:         ec2Tags(spec.tags("", "", "sg")),
			}},
		})
		switch {
		case ErrorCode(err) == "InvalidGroup.Duplicate":
			// CreateSecurityGroup has no idempotency token: when its answer
			// was lost, the SDK's retry finds the group the first try made.
			if id, err = c.ownGroupByName(ctx, spec.Name, vpc); err != nil {
				return "", err
			}
		case err != nil:
			return "", fmt.Errorf("creating security group %s in %s: %w", SecurityGroupName(spec.Name), vpc, err)
		default:
			id = aws.ToString(created.GroupId)
		}
	}
	return id, c.syncIngress(ctx, id, spec.DashboardCIDRs)
}

// ownGroupByName returns the group named SecurityGroupName(cluster) in vpc
// if it carries the cluster's tag; a group of that name without it is
// someone else's.
func (c *Client) ownGroupByName(ctx context.Context, cluster, vpc string) (string, error) {
	name := SecurityGroupName(cluster)
	out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{
			{Name: aws.String("group-name"), Values: []string{name}},
			{Name: aws.String("vpc-id"), Values: []string{vpc}},
		},
	})
	if err != nil {
		return "", fmt.Errorf("describing security group %s in %s: %w", name, vpc, err)
	}
	for _, g := range out.SecurityGroups {
		if tagMap(g.Tags)[TagCluster] == cluster {
			return aws.ToString(g.GroupId), nil
		}
	}
	return "", fmt.Errorf("security group %s already exists in %s without the tag %s=%s; it is not this cluster's: delete or rename it, or choose another cluster name", name, vpc, TagCluster, cluster)
}

// syncIngress makes the group's ingress exactly: all protocols from the group
// itself, and TCP 8265 from each CIDR.
func (c *Client) syncIngress(ctx context.Context, sgID string, cidrs []string) error {
	out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sgID}})
	if err != nil {
		return fmt.Errorf("describing security group %s: %w", sgID, err)
	}
	if len(out.SecurityGroups) == 0 {
		return retry.NotFound("security group %s", sgID)
	}
	haveSelf := false
	have := map[string]bool{}
	var revoke []ec2types.IpPermission
	for _, p := range out.SecurityGroups[0].IpPermissions {
		for _, pair := range p.UserIdGroupPairs {
			if aws.ToString(p.IpProtocol) == "-1" && aws.ToString(pair.GroupId) == sgID {
				haveSelf = true
			} else {
				revoke = append(revoke, ec2types.IpPermission{IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort, UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: pair.GroupId}}})
			}
		}
		dashboard := aws.ToString(p.IpProtocol) == "tcp" && aws.ToInt32(p.FromPort) == DashboardPort && aws.ToInt32(p.ToPort) == DashboardPort
		for _, r := range p.IpRanges {
			cidr := aws.ToString(r.CidrIp)
			if dashboard && slices.Contains(cidrs, cidr) {
				have[cidr] = true
			} else {
				revoke = append(revoke, ec2types.IpPermission{IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort, IpRanges: []ec2types.IpRange{{CidrIp: r.CidrIp}}})
			}
		}
		for _, r := range p.Ipv6Ranges {
			cidr := aws.ToString(r.CidrIpv6)
			if dashboard && slices.Contains(cidrs, cidr) {
				have[cidr] = true
			} else {
				revoke = append(revoke, ec2types.IpPermission{IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort, Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: r.CidrIpv6}}})
			}
		}
	}
	var add []ec2types.IpPermission
	if !haveSelf {
		add = append(add, ec2types.IpPermission{IpProtocol: aws.String("-1"), UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(sgID), Description: aws.String("Ray traffic within the cluster")}}})
	}
	dash := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(DashboardPort), ToPort: aws.Int32(DashboardPort)}
	for _, cidr := range cidrs {
		if have[cidr] {
			continue
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return fmt.Errorf("dashboard_ingress_cidrs: %q is not a CIDR block: %w", cidr, err)
		}
		if p.Addr().Is4() {
			dash.IpRanges = append(dash.IpRanges, ec2types.IpRange{CidrIp: aws.String(cidr), Description: aws.String("Ray dashboard")})
		} else {
			dash.Ipv6Ranges = append(dash.Ipv6Ranges, ec2types.Ipv6Range{CidrIpv6: aws.String(cidr), Description: aws.String("Ray dashboard")})
		}
	}
	if len(dash.IpRanges)+len(dash.Ipv6Ranges) > 0 {
		add = append(add, dash)
	}
	if len(revoke) > 0 {
		// NotFound / Duplicate: a retry of a call whose answer was lost
		// finds the rule already revoked / authorized.
		if _, err := c.EC2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(sgID), IpPermissions: revoke}); err != nil && ErrorCode(err) != "InvalidPermission.NotFound" {
			return fmt.Errorf("revoking ingress rules of %s: %w", sgID, err)
		}
	}
	if len(add) > 0 {
		if _, err := c.EC2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sgID), IpPermissions: add}); err != nil && ErrorCode(err) != "InvalidPermission.Duplicate" {
			return fmt.Errorf("authorizing ingress rules of %s: %w", sgID, err)
		}
	}
	return nil
}

// Ingress reads the group's ingress the way dashboard_ingress_cidrs shows it:
// each CIDR allowed on TCP 8265, then one entry for every other rule from
// outside the group (another port, protocol or security group), e.g.
// "0.0.0.0/0 on tcp 6379 (not managed; revoked on apply)". Such rules only
// appear out of band; in the state they make the plan show them, and the
// apply's syncIngress revokes them.
func (c *Client) Ingress(ctx context.Context, sgID string) ([]string, error) {
	out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sgID}})
	if err != nil {
		return nil, fmt.Errorf("describing security group %s: %w", sgID, err)
	}
	if len(out.SecurityGroups) == 0 {
		return nil, retry.NotFound("security group %s", sgID)
	}
	var cidrs, foreign []string
	for _, p := range out.SecurityGroups[0].IpPermissions {
		proto := aws.ToString(p.IpProtocol)
		ports := fmt.Sprintf("%s %d-%d", proto, aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort))
		if proto == "-1" {
			ports = "all protocols and ports"
		}
		unmanaged := func(src string) {
			foreign = append(foreign, fmt.Sprintf("%s on %s (not managed; revoked on apply)", src, ports))
		}
		for _, pair := range p.UserIdGroupPairs {
			if proto != "-1" || aws.ToString(pair.GroupId) != sgID {
				unmanaged(aws.ToString(pair.GroupId))
			}
		}
		dashboard := proto == "tcp" && aws.ToInt32(p.FromPort) == DashboardPort && aws.ToInt32(p.ToPort) == DashboardPort
		var ranges []string
		for _, r := range p.IpRanges {
			ranges = append(ranges, aws.ToString(r.CidrIp))
		}
		for _, r := range p.Ipv6Ranges {
			ranges = append(ranges, aws.ToString(r.CidrIpv6))
		}
		for _, r := range ranges {
			if dashboard {
				cidrs = append(cidrs, r)
			} else {
				unmanaged(r)
			}
		}
	}
	sort.Strings(foreign)
	return append(cidrs, foreign...), nil
}

// deleteSecurityGroup deletes the group, retrying DependencyViolation while
// the terminated instances' network interfaces are released.
func (c *Client) deleteSecurityGroup(ctx context.Context, id string) error {
	return retry.Until(ctx, retry.TimeLeft(ctx, 10*time.Minute), c.PollInterval, func(ctx context.Context) (bool, error) {
		_, err := c.EC2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)})
		switch ErrorCode(err) {
		case "":
			return true, nil
		case "InvalidGroup.NotFound":
			return true, nil
		case "DependencyViolation":
			return false, err
		default:
			return false, retry.Stop(fmt.Errorf("deleting security group %s: %w", id, err))
		}
	})
}

// syncTags puts spec's tags on every instance and the security group, and
// deletes the user tag keys that were removed from the configuration.
func (c *Client) syncTags(ctx context.Context, spec Spec, cl *Cluster, removed []string) error {
	var all []Instance
	if cl.Head != nil {
		all = append(all, *cl.Head)
	}
	for _, ws := range cl.Groups {
		all = append(all, ws...)
	}
	byTags := map[string][]string{} // resources needing the same change
	wantOf := map[string]map[string]string{}
	for _, i := range all {
		suffix := i.Role
		if i.Group != "" {
			suffix = i.Group
		}
		want := spec.tags(i.Role, i.Group, suffix)
		if needsTags(i.Tags, want, removed) {
			key := fmt.Sprint(ec2Tags(want))
			byTags[key] = append(byTags[key], i.ID)
			wantOf[key] = want
		}
	}
	if cl.SecurityGroupID != "" {
		want := spec.tags("", "", "sg")
		key := fmt.Sprint(ec2Tags(want))
		byTags[key] = append(byTags[key], cl.SecurityGroupID)
		wantOf[key] = want
	}
	for key, resources := range byTags {
		if _, err := c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: resources, Tags: ec2Tags(wantOf[key])}); err != nil {
			return fmt.Errorf("tagging %v: %w", resources, err)
		}
		if len(removed) > 0 {
			var del []ec2types.Tag
			for _, k := range removed {
				if _, still := wantOf[key][k]; !still {
					del = append(del, ec2types.Tag{Key: aws.String(k)})
				}
			}
			if len(del) > 0 {
				if _, err := c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: resources, Tags: del}); err != nil {
					return fmt.Errorf("untagging %v: %w", resources, err)
				}
			}
		}
	}
	return nil
}

func needsTags(have, want map[string]string, removed []string) bool {
	for k, v := range want {
		if have[k] != v {
			return true
		}
	}
	for _, k := range removed {
		if _, ok := have[k]; ok {
			if _, keep := want[k]; !keep {
				return true
			}
		}
	}
	return false
}
