package ec2cluster

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

func toInstance(i ec2types.Instance) Instance {
	tags := tagMap(i.Tags)
	out := Instance{
		ID:           aws.ToString(i.InstanceId),
		Role:         tags[TagRole],
		Group:        tags[TagGroup],
		InstanceType: string(i.InstanceType),
		AMI:          aws.ToString(i.ImageId),
		PrivateIP:    aws.ToString(i.PrivateIpAddress),
		PublicIP:     aws.ToString(i.PublicIpAddress),
		Spot:         i.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot,
		LaunchTime:   aws.ToTime(i.LaunchTime),
		SubnetID:     aws.ToString(i.SubnetId),
		KeyName:      aws.ToString(i.KeyName),
		Tags:         tags,
	}
	if i.State != nil {
		out.State = string(i.State.Name)
	}
	if i.IamInstanceProfile != nil {
		out.ProfileARN = aws.ToString(i.IamInstanceProfile.Arn)
	}
	for _, b := range i.BlockDeviceMappings {
		if aws.ToString(b.DeviceName) == aws.ToString(i.RootDeviceName) && b.Ebs != nil {
			out.RootVolumeID = aws.ToString(b.Ebs.VolumeId)
		}
	}
	return out
}

// nonTerminated are the states of instances that still exist (and cost).
var nonTerminated = []string{"pending", "running", "shutting-down", "stopping", "stopped"}

// FindInstances returns every instance tagged with the cluster that is not
// terminated, strays included, oldest first.
func (c *Client) FindInstances(ctx context.Context, name string) ([]Instance, error) {
	p := ec2.NewDescribeInstancesPaginator(c.EC2, &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + TagCluster), Values: []string{name}},
			{Name: aws.String("instance-state-name"), Values: nonTerminated},
		},
	})
	var out []Instance
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing instances of cluster %q: %w", name, err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				out = append(out, toInstance(i))
			}
		}
	}
	SortInstances(out)
	return out, nil
}

// SortInstances orders instances oldest first, then by ID: the order of
// instance IDs in state, and the order in which scale-down keeps workers.
func SortInstances(insts []Instance) {
	sort.SliceStable(insts, func(a, b int) bool {
		if !insts[a].LaunchTime.Equal(insts[b].LaunchTime) {
			return insts[a].LaunchTime.Before(insts[b].LaunchTime)
		}
		return insts[a].ID < insts[b].ID
	})
}

// FindCluster returns what exists of the cluster. headID, when set, picks
// the head among several head-role instances. It wraps retry.ErrNotFound when
// no instance carries the cluster tag any more.
func (c *Client) FindCluster(ctx context.Context, name, headID string) (*Cluster, error) {
	insts, err := c.FindInstances(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(insts) == 0 {
		return nil, retry.NotFound("no instance tagged %s=%s", TagCluster, name)
	}
	return assemble(name, headID, insts), nil
}

func assemble(name, headID string, insts []Instance) *Cluster {
	cl := &Cluster{Name: name, Groups: map[string][]Instance{}}
	for idx := range insts {
		i := insts[idx]
		if i.Role == RoleHead && i.Live() && (cl.Head == nil || i.ID == headID) {
			if cl.Head != nil {
				cl.NotLive = append(cl.NotLive, *cl.Head)
			}
			cl.Head = &i
			continue
		}
		if IsAutoscalerInstance(name, i) && i.Live() {
			cl.Autoscaled = append(cl.Autoscaled, i)
			continue
		}
		if i.Role == RoleWorker && i.Live() {
			cl.Groups[i.Group] = append(cl.Groups[i.Group], i)
			continue
		}
		cl.NotLive = append(cl.NotLive, i)
	}
	return cl
}

// subnetVPC returns the VPC of the subnet.
func (c *Client) subnetVPC(ctx context.Context, subnetID string) (string, error) {
	out, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}})
	if err != nil {
		if ErrorCode(err) == "InvalidSubnetID.NotFound" {
			return "", fmt.Errorf("subnet_id %q does not exist in region %s", subnetID, c.Region)
		}
		return "", fmt.Errorf("describing subnet %s: %w", subnetID, err)
	}
	if len(out.Subnets) == 0 {
		return "", fmt.Errorf("subnet_id %q does not exist in region %s", subnetID, c.Region)
	}
	return aws.ToString(out.Subnets[0].VpcId), nil
}

// rootDevices returns the root device name of each AMI, which the encrypted
// root volume mapping must name.
func (c *Client) rootDevices(ctx context.Context, amis []string) (map[string]string, error) {
	amis = slices.Compact(slices.Sorted(slices.Values(amis)))
	out, err := c.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: amis})
	if err != nil {
		if ErrorCode(err) == "InvalidAMIID.NotFound" || ErrorCode(err) == "InvalidAMIID.Malformed" {
			return nil, fmt.Errorf("ami_id: %w", err)
		}
		return nil, fmt.Errorf("describing AMIs %v: %w", amis, err)
	}
	m := map[string]string{}
	for _, img := range out.Images {
		dev := aws.ToString(img.RootDeviceName)
		if dev == "" {
			dev = "/dev/xvda"
		}
		m[aws.ToString(img.ImageId)] = dev
	}
	for _, a := range amis {
		if _, ok := m[a]; !ok {
			return nil, fmt.Errorf("ami_id %q was not found in region %s (AMIs are regional)", a, c.Region)
		}
	}
	return m, nil
}

// InstanceTypeInfo is what DescribeInstanceTypes says about an instance
// type's accelerators.
type InstanceTypeInfo struct {
	Name            string
	GPUName         string // e.g. "A10G", "H100"
	GPUManufacturer string
	GPUCount        int
	GPUMemoryMiB    int // per GPU
	VCPUs           int
	EFA             bool // NetworkInfo.EfaSupported
}

// AcceleratorType is Ray's accelerator_type name for the GPU (Ray's own
// detection turns the NVIDIA device name into the same short form).
func (i InstanceTypeInfo) AcceleratorType() string { return strings.ReplaceAll(i.GPUName, " ", "-") }

// DescribeInstanceTypes returns GPU facts per instance type.
func (c *Client) DescribeInstanceTypes(ctx context.Context, names []string) (map[string]InstanceTypeInfo, error) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	out, err := c.EC2.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: toInstanceTypes(names)})
	if err != nil {
		return nil, fmt.Errorf("describing instance types %v: %w", names, err)
	}
	m := map[string]InstanceTypeInfo{}
	for _, it := range out.InstanceTypes {
		info := InstanceTypeInfo{Name: string(it.InstanceType)}
		if it.VCpuInfo != nil {
			info.VCPUs = int(aws.ToInt32(it.VCpuInfo.DefaultVCpus))
		}
		if it.NetworkInfo != nil {
			info.EFA = aws.ToBool(it.NetworkInfo.EfaSupported)
		}
		if it.GpuInfo != nil && len(it.GpuInfo.Gpus) > 0 {
			g := it.GpuInfo.Gpus[0]
			info.GPUName = aws.ToString(g.Name)
			info.GPUManufacturer = aws.ToString(g.Manufacturer)
			info.GPUCount = int(aws.ToInt32(g.Count))
			if g.MemoryInfo != nil {
				info.GPUMemoryMiB = int(aws.ToInt32(g.MemoryInfo.SizeInMiB))
			}
		}
		m[info.Name] = info
	}
	return m, nil
}

func toInstanceTypes(names []string) []ec2types.InstanceType {
	out := make([]ec2types.InstanceType, len(names))
	for i, n := range names {
		out[i] = ec2types.InstanceType(n)
	}
	return out
}

// ClusterNames lists the clusters that still have a live instance or a
// security group: the values of their TagCluster tags, sorted.
func (c *Client) ClusterNames(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	tagged := []ec2types.Filter{{Name: aws.String("tag-key"), Values: []string{TagCluster}}}
	p := ec2.NewDescribeInstancesPaginator(c.EC2, &ec2.DescribeInstancesInput{
		Filters: append(tagged, ec2types.Filter{Name: aws.String("instance-state-name"), Values: nonTerminated}),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing cluster instances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				seen[tagValue(i.Tags, TagCluster)] = true
			}
		}
	}
	out, err := c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: tagged})
	if err != nil {
		return nil, fmt.Errorf("describing cluster security groups: %w", err)
	}
	for _, g := range out.SecurityGroups {
		seen[tagValue(g.Tags, TagCluster)] = true
	}
	delete(seen, "")
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
