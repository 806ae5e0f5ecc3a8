package ec2cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// Tags the resource puts on everything it creates, and the Ray ports.
const (
	TagCluster = "rayvllm:cluster"
	TagRole    = "rayvllm:role"
	TagGroup   = "rayvllm:group"
	RoleHead   = "head"
	RoleWorker = "worker"

	DashboardPort = 8265
	GCSPort       = 6379
	ServePort     = 8000
	ClientPort    = 10001
)

// RayPorts are the ports that must never be open to the internet: the
// ShadowRay attacks (CVE-2023-48022) ran code through an exposed dashboard
// and Jobs API.
var RayPorts = []int{DashboardPort, GCSPort, ServePort, ClientPort}

// NodeSpec is how one kind of node is launched.
type NodeSpec struct {
	InstanceType   string
	AMI            string
	RootVolumeGiB  int32
	RootVolumeType string
	Spot           bool
	SpotMaxPrice   string // USD per hour; "" = the on-demand price cap
}

// GroupSpec is a worker group.
type GroupSpec struct {
	Name string
	NodeSpec
	Count           int
	AcceleratorType string // Ray's accelerator_type for the group's GPU
	// Autoscale, when set, hands the group to Ray's autoscaler (Count is
	// ignored); CPUs and GPUs per node are then the node type's resources.
	Autoscale  *Autoscale
	CPUs, GPUs int
}

// Spec is the desired cluster.
type Spec struct {
	Name               string
	SubnetID           string
	KeyName            string
	IAMInstanceProfile string // name or ARN
	// HeadIAMInstanceProfile is the head's profile (name or ARN); "" = the
	// nodes' IAMInstanceProfile, or, for an autoscaled cluster, a role and
	// profile that Create makes (EnsureHeadRole).
	HeadIAMInstanceProfile string
	Tags                   map[string]string
	Head                   NodeSpec
	Groups                 []GroupSpec
	Boot                   BootConfig
	DashboardCIDRs         []string
	// IdleTimeoutMinutes is how long an autoscaled worker may be idle before
	// Ray's autoscaler terminates it (0 = DefaultIdleTimeoutMinutes).
	IdleTimeoutMinutes int
}

// Instance is what EC2 reports about one node.
type Instance struct {
	ID           string
	Role         string
	Group        string
	InstanceType string
	AMI          string
	State        string
	PrivateIP    string
	PublicIP     string
	Spot         bool
	LaunchTime   time.Time
	SubnetID     string
	KeyName      string
	ProfileARN   string
	RootVolumeID string
	Tags         map[string]string
}

// Live reports whether the instance counts toward its group.
func (i Instance) Live() bool { return i.State == "pending" || i.State == "running" }

// Cluster is what exists: the head, the live workers by group, and every
// other instance that carries the cluster tag (stopped ones, strays).
type Cluster struct {
	Name   string
	Head   *Instance
	Groups map[string][]Instance
	// Autoscaled are the live workers Ray's autoscaler launched: not
	// Terraform's to count, and not drift.
	Autoscaled      []Instance
	NotLive         []Instance
	SecurityGroupID string
	TokenParameter  string
	// HeadRoleARN and HeadProfileARN are set when Create made the head's
	// role and instance profile.
	HeadRoleARN, HeadProfileARN string
}

// InstanceIDs returns the head's and every live worker's ID.
func (c *Cluster) InstanceIDs() []string {
	var ids []string
	if c.Head != nil {
		ids = append(ids, c.Head.ID)
	}
	for _, g := range c.sortedGroupNames() {
		ids = append(ids, c.GroupIDs(g)...)
	}
	return ids
}

// GroupIDs returns the IDs of a group's live workers, oldest first.
func (c *Cluster) GroupIDs(group string) []string {
	ws := slices.Clone(c.Groups[group])
	SortInstances(ws)
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

func (c *Cluster) sortedGroupNames() []string {
	names := make([]string, 0, len(c.Groups))
	for n := range c.Groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ExistsError is returned by Create when instances already carry the
// cluster's tag.
type ExistsError struct {
	Name string
	IDs  []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("instances tagged %s=%s already exist (%s). Import them with `terraform import <address> %s`, or destroy them, before creating this cluster; creating it again would double the cluster",
		TagCluster, e.Name, strings.Join(e.IDs, ", "), e.Name)
}

// SecurityGroupName is the cluster security group's name.
func SecurityGroupName(cluster string) string { return "rayvllm-" + cluster }

// TokenParameterName is the SSM SecureString holding the cluster's Ray token.
func TokenParameterName(cluster string) string { return "/rayvllm/" + cluster + "/ray-auth-token" }

// NewToken returns a random Ray auth token (256 bits, hex).
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// newClientToken is RunInstances' idempotency token: one per launch attempt,
// reused by the SDK's retries of that attempt. At most 64 ASCII characters.
func newClientToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "rayvllm-" + hex.EncodeToString(b)
}

// ErrorCode returns the AWS error code of err, or "".
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

func (s Spec) tags(role, group, nameSuffix string) map[string]string {
	t := map[string]string{}
	for k, v := range s.Tags {
		t[k] = v
	}
	if _, ok := t["Name"]; !ok {
		t["Name"] = s.Name + "-" + nameSuffix
	}
	t[TagCluster] = s.Name
	if role != "" {
		t[TagRole] = role
	}
	if group != "" {
		t[TagGroup] = group
	}
	return t
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ec2types.Tag, 0, len(m))
	for _, k := range keys {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func tagMap(tags []ec2types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

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

type launch struct {
	role, group string
	node        NodeSpec
	count       int
	userData    string
}

// MaxGroupCount is the most instances one RunInstances call launches (the
// provider validates worker_group.count to 0-1000).
const MaxGroupCount = 1000

// run starts one batch of identical instances with one RunInstances call
// (MinCount = MaxCount = count). The ClientToken makes the SDK's retries of
// this call idempotent.
func (c *Client) run(ctx context.Context, spec Spec, sgID, rootDevice string, l launch) ([]Instance, error) {
	suffix := l.role
	if l.group != "" {
		suffix = l.group
	}
	tags := spec.tags(l.role, l.group, suffix)
	if l.role == RoleHead && spec.Autoscaled() {
		for k, v := range spec.headRayTags() {
			tags[k] = v
		}
	}
	if l.count < 1 || l.count > MaxGroupCount {
		return nil, fmt.Errorf("launching %d × %s for %s: the count must be between 1 and %d", l.count, l.node.InstanceType, suffix, MaxGroupCount)
	}
	in := &ec2.RunInstancesInput{
		ImageId:          aws.String(l.node.AMI),
		InstanceType:     ec2types.InstanceType(l.node.InstanceType),
		MinCount:         aws.Int32(int32(l.count)),
		MaxCount:         aws.Int32(int32(l.count)),
		ClientToken:      aws.String(newClientToken()),
		SubnetId:         aws.String(spec.SubnetID),
		SecurityGroupIds: []string{sgID},
		UserData:         aws.String(base64.StdEncoding.EncodeToString([]byte(l.userData))),
		MetadataOptions: &ec2types.InstanceMetadataOptionsRequest{
			HttpTokens:   ec2types.HttpTokensStateRequired,
			HttpEndpoint: ec2types.InstanceMetadataEndpointStateEnabled,
		},
		BlockDeviceMappings: []ec2types.BlockDeviceMapping{{
			DeviceName: aws.String(rootDevice),
			Ebs: &ec2types.EbsBlockDevice{
				VolumeSize:          aws.Int32(l.node.RootVolumeGiB),
				VolumeType:          ec2types.VolumeType(l.node.RootVolumeType),
				Encrypted:           aws.Bool(true),
				DeleteOnTermination: aws.Bool(true),
			},
		}},
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeInstance, Tags: ec2Tags(tags)},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: ec2Tags(tags)},
		},
	}
	if spec.KeyName != "" {
		in.KeyName = aws.String(spec.KeyName)
	}
	p := spec.IAMInstanceProfile
	if l.role == RoleHead && spec.HeadIAMInstanceProfile != "" {
		p = spec.HeadIAMInstanceProfile
	}
	if p != "" {
		if strings.HasPrefix(p, "arn:") {
			in.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Arn: aws.String(p)}
		} else {
			in.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Name: aws.String(p)}
		}
	}
	if l.node.Spot {
		opts := &ec2types.SpotMarketOptions{
			SpotInstanceType:             ec2types.SpotInstanceTypeOneTime,
			InstanceInterruptionBehavior: ec2types.InstanceInterruptionBehaviorTerminate,
		}
		if l.node.SpotMaxPrice != "" {
			opts.MaxPrice = aws.String(l.node.SpotMaxPrice)
		}
		in.InstanceMarketOptions = &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot, SpotOptions: opts}
	}
	var out *ec2.RunInstancesOutput
	// A just-created instance profile is not visible to EC2 for a while
	// (IAM eventual consistency); retry that error with the same ClientToken.
	err := retry.Until(ctx, min(retry.TimeLeft(ctx, 2*time.Minute), 2*time.Minute), c.PollInterval, func(ctx context.Context) (bool, error) {
		var err error
		out, err = c.EC2.RunInstances(ctx, in)
		switch {
		case err == nil:
			return true, nil
		case ErrorCode(err) == "InvalidParameterValue" && strings.Contains(strings.ToLower(err.Error()), "iam instance profile"):
			return false, err
		default:
			return false, retry.Stop(err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("launching %d × %s for %s: %w", l.count, l.node.InstanceType, suffix, err)
	}
	insts := make([]Instance, 0, len(out.Instances))
	for _, i := range out.Instances {
		insts = append(insts, toInstance(i))
	}
	return insts, nil
}

// WaitRunning waits with the SDK's InstanceRunning waiter, which retries
// InvalidInstanceID.NotFound (eventual consistency right after RunInstances)
// and fails when an instance goes to shutting-down or terminated.
func (c *Client) WaitRunning(ctx context.Context, ids []string) ([]Instance, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	w := ec2.NewInstanceRunningWaiter(c.EC2, func(o *ec2.InstanceRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = c.WaiterMinDelay, c.WaiterMaxDelay
	})
	out, err := w.WaitForOutput(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids}, retry.TimeLeft(ctx, 20*time.Minute))
	if err != nil {
		return nil, c.explainWaitFailure(ctx, ids, "running", err)
	}
	var insts []Instance
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			insts = append(insts, toInstance(i))
		}
	}
	return insts, nil
}

// explainWaitFailure adds each instance's state and reason to a waiter error.
func (c *Client) explainWaitFailure(ctx context.Context, ids []string, want string, err error) error {
	out, derr := c.EC2.DescribeInstances(context.WithoutCancel(ctx), &ec2.DescribeInstancesInput{InstanceIds: ids})
	if derr != nil {
		return fmt.Errorf("waiting for %d instances to be %s: %w", len(ids), want, err)
	}
	var states []string
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			s := aws.ToString(i.InstanceId) + "=" + string(i.State.Name)
			if i.StateReason != nil && aws.ToString(i.StateReason.Message) != "" {
				s += " (" + aws.ToString(i.StateReason.Message) + ")"
			}
			if string(i.State.Name) != want {
				states = append(states, s)
			}
		}
	}
	return fmt.Errorf("waiting for %d instances to be %s: %w; not %s: %s", len(ids), want, err, want, strings.Join(states, ", "))
}

// Terminate terminates the instances; ones that are already gone count as done.
func (c *Client) Terminate(ctx context.Context, ids []string) error {
	for chunk := range slices.Chunk(ids, 1000) {
		_, err := c.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: chunk})
		if ErrorCode(err) == "InvalidInstanceID.NotFound" && len(chunk) > 1 {
			for _, id := range chunk {
				if err := c.Terminate(ctx, []string{id}); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil && ErrorCode(err) != "InvalidInstanceID.NotFound" {
			return fmt.Errorf("terminating %v: %w", chunk, err)
		}
	}
	return nil
}

// WaitTerminated waits with the SDK's InstanceTerminated waiter; instances
// that EC2 no longer knows are terminated.
func (c *Client) WaitTerminated(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	w := ec2.NewInstanceTerminatedWaiter(c.EC2, func(o *ec2.InstanceTerminatedWaiterOptions) {
		o.MinDelay, o.MaxDelay = c.WaiterMinDelay, c.WaiterMaxDelay
	})
	err := w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids}, retry.TimeLeft(ctx, 20*time.Minute))
	if err != nil && ErrorCode(err) != "InvalidInstanceID.NotFound" {
		return c.explainWaitFailure(ctx, ids, "terminated", err)
	}
	return nil
}

// launchAll runs the launches concurrently and returns every instance that
// was started, even when some launches failed.
func (c *Client) launchAll(ctx context.Context, spec Spec, sgID string, roots map[string]string, ls []launch) ([]Instance, error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		all  []Instance
		errs []error
	)
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			insts, err := c.run(ctx, spec, sgID, roots[l.node.AMI], l)
			mu.Lock()
			defer mu.Unlock()
			all = append(all, insts...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return all, errors.Join(errs...)
}

func ids(insts []Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.ID
	}
	return out
}

func (c *Client) workerLaunch(spec Spec, g GroupSpec, headIP string, count int) (launch, error) {
	b := spec.Boot
	b.HeadIP, b.Group, b.AcceleratorType = headIP, g.Name, g.AcceleratorType
	ud, err := RenderUserData(RoleWorker, b)
	if err != nil {
		return launch{}, err
	}
	return launch{role: RoleWorker, group: g.Name, node: g.NodeSpec, count: count, userData: ud}, nil
}

func amis(spec Spec) []string {
	out := []string{spec.Head.AMI}
	for _, g := range spec.Groups {
		out = append(out, g.AMI)
	}
	return out
}

// Create starts a new cluster: Ray token in SSM, security group, the head,
// then one RunInstances per worker group. save is called with every instance
// as soon as it exists, before any wait, so that a failure leaves state that
// Terraform taints rather than instances it forgets.
func (c *Client) Create(ctx context.Context, spec Spec, token string, save func(*Cluster)) (*Cluster, error) {
	existing, err := c.FindInstances(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, &ExistsError{Name: spec.Name, IDs: ids(existing)}
	}
	vpc, err := c.subnetVPC(ctx, spec.SubnetID)
	if err != nil {
		return nil, err
	}
	roots, err := c.rootDevices(ctx, amis(spec))
	if err != nil {
		return nil, err
	}
	cl := &Cluster{Name: spec.Name, Groups: map[string][]Instance{}, TokenParameter: spec.Boot.RayTokenParameter}
	if err := c.PutToken(ctx, cl.TokenParameter, token, spec.tags("", "", "ray-token")); err != nil {
		return nil, err
	}
	save(cl)
	if cl.SecurityGroupID, err = c.ensureSecurityGroup(ctx, spec, vpc); err != nil {
		return nil, err
	}
	save(cl)

	if spec.Autoscaled() && spec.HeadIAMInstanceProfile == "" {
		profile, role, err := c.EnsureHeadRole(ctx, spec, cl.SecurityGroupID)
		if role != "" {
			cl.HeadRoleARN = role
			save(cl)
		}
		if err != nil {
			return cl, err
		}
		spec.HeadIAMInstanceProfile, cl.HeadProfileARN = profile, profile
		save(cl)
	}
	if spec.Autoscaled() {
		cfg, err := RenderAutoscalerConfig(spec, cl.SecurityGroupID, roots)
		if err != nil {
			return nil, err
		}
		spec.Boot.AutoscalerConfig = string(cfg)
	}
	headUD, err := RenderUserData(RoleHead, spec.Boot)
	if err != nil {
		return nil, err
	}
	heads, err := c.run(ctx, spec, cl.SecurityGroupID, roots[spec.Head.AMI], launch{role: RoleHead, node: spec.Head, count: 1, userData: headUD})
	if err != nil {
		return nil, err
	}
	cl.Head = &heads[0]
	save(cl)
	headIP := cl.Head.PrivateIP
	if headIP == "" {
		running, err := c.WaitRunning(ctx, []string{cl.Head.ID})
		if err != nil {
			return cl, err
		}
		cl.Head = &running[0]
		headIP = cl.Head.PrivateIP
	}

	var ls []launch
	for _, g := range spec.Groups {
		if g.Count == 0 || g.Autoscale != nil {
			continue
		}
		l, err := c.workerLaunch(spec, g, headIP, g.Count)
		if err != nil {
			return cl, err
		}
		ls = append(ls, l)
	}
	workers, launchErr := c.launchAll(ctx, spec, cl.SecurityGroupID, roots, ls)
	for _, w := range workers {
		cl.Groups[w.Group] = append(cl.Groups[w.Group], w)
	}
	save(cl)
	if launchErr != nil {
		return cl, launchErr
	}
	if err := c.terminateStrays(ctx, cl, nil); err != nil {
		return cl, err
	}
	running, err := c.WaitRunning(ctx, cl.InstanceIDs())
	if err != nil {
		return cl, err
	}
	return c.refresh(cl, running), nil
}

// terminateStrays terminates every instance tagged with the cluster that is
// neither in cl nor in doomed (being terminated anyway). Create starts only
// when nothing carries the tag, and Update has just put what should exist
// into cl, so such an instance is a duplicate of one of this run's launches:
// EC2 deduplicates a RunInstances retried with the same ClientToken, but an
// EC2-compatible endpoint that ignores ClientToken (moto) launches again
// when the first answer was lost.
func (c *Client) terminateStrays(ctx context.Context, cl *Cluster, doomed []Instance) error {
	insts, err := c.FindInstances(ctx, cl.Name)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, id := range cl.InstanceIDs() {
		known[id] = true
	}
	for _, i := range doomed {
		known[i.ID] = true
	}
	var strays []string
	for _, i := range insts {
		if !known[i.ID] && i.State != "shutting-down" && !IsAutoscalerInstance(cl.Name, i) {
			strays = append(strays, i.ID)
		}
	}
	if len(strays) == 0 {
		return nil
	}
	if err := c.Terminate(ctx, strays); err != nil {
		return fmt.Errorf("terminating instances %v that carry the cluster tag but were not launched for it (duplicates of a retried launch): %w", strays, err)
	}
	return nil
}

// refresh replaces cl's instances with the newer descriptions in insts.
func (c *Client) refresh(cl *Cluster, insts []Instance) *Cluster {
	byID := map[string]Instance{}
	for _, i := range insts {
		byID[i.ID] = i
	}
	if cl.Head != nil {
		if i, ok := byID[cl.Head.ID]; ok {
			cl.Head = &i
		}
	}
	for g, ws := range cl.Groups {
		for k, w := range ws {
			if i, ok := byID[w.ID]; ok {
				ws[k] = i
			}
		}
		cl.Groups[g] = ws
	}
	return cl
}

// Update reconciles the cluster with spec: it scales groups in place, replaces
// the groups named in replace (and any instance whose type or AMI differs from
// its group's), starts groups that are new, terminates groups that are gone,
// stopped workers and strays, and syncs tags and dashboard ingress.
// removedTags are user tag keys to delete from the cluster's objects.
func (c *Client) Update(ctx context.Context, spec Spec, headID, sgID string, replace map[string]bool, removedTags []string, save func(*Cluster)) (*Cluster, error) {
	cl, err := c.FindCluster(ctx, spec.Name, headID)
	if err != nil {
		return nil, err
	}
	cl.SecurityGroupID, cl.TokenParameter = sgID, spec.Boot.RayTokenParameter
	if cl.Head == nil {
		return nil, fmt.Errorf("the head node of cluster %q is gone; run terraform apply again so that the plan replaces the cluster", spec.Name)
	}
	if err := c.syncIngress(ctx, sgID, spec.DashboardCIDRs); err != nil {
		return nil, err
	}
	if err := c.syncTags(ctx, spec, cl, removedTags); err != nil {
		return nil, err
	}
	roots, err := c.rootDevices(ctx, amis(spec))
	if err != nil {
		return nil, err
	}

	var doomed []Instance
	for _, i := range cl.NotLive {
		if i.State != "shutting-down" && !IsAutoscalerInstance(spec.Name, i) {
			doomed = append(doomed, i)
		}
	}
	wanted := map[string]bool{}
	var ls []launch
	for _, g := range spec.Groups {
		wanted[g.Name] = true
		var keep []Instance
		for _, i := range cl.Groups[g.Name] {
			if replace[g.Name] || i.InstanceType != g.InstanceType || i.AMI != g.AMI || i.Spot != g.Spot {
				doomed = append(doomed, i)
			} else {
				keep = append(keep, i)
			}
		}
		if g.Autoscale != nil {
			g.Count = 0 // the autoscaler's own workers are in cl.Autoscaled
		}
		if len(keep) > g.Count { // scale down: the newest go first
			doomed = append(doomed, keep[g.Count:]...)
			keep = keep[:g.Count]
		}
		cl.Groups[g.Name] = keep
		if n := g.Count - len(keep); n > 0 {
			l, err := c.workerLaunch(spec, g, cl.Head.PrivateIP, n)
			if err != nil {
				return nil, err
			}
			ls = append(ls, l)
		}
	}
	for name, ws := range cl.Groups {
		if !wanted[name] {
			doomed = append(doomed, ws...)
			delete(cl.Groups, name)
		}
	}
	cl.NotLive = nil

	launched, launchErr := c.launchAll(ctx, spec, sgID, roots, ls)
	for _, w := range launched {
		cl.Groups[w.Group] = append(cl.Groups[w.Group], w)
	}
	save(cl)
	if launchErr != nil {
		return cl, launchErr
	}
	if err := c.Terminate(ctx, ids(doomed)); err != nil {
		return cl, err
	}
	if len(ls) > 0 {
		if err := c.terminateStrays(ctx, cl, doomed); err != nil {
			return cl, err
		}
	}
	running, err := c.WaitRunning(ctx, ids(launched))
	if err != nil {
		return cl, err
	}
	if err := c.WaitTerminated(ctx, ids(doomed)); err != nil {
		return cl, err
	}
	return c.refresh(cl, running), nil
}

// Destroy stops Ray's autoscaler by terminating the head first, then
// terminates every instance tagged with the cluster (the autoscaler's
// workers and strays that never reached state included), waits, then
// deletes the security groups (retrying DependencyViolation while ENIs
// detach) and the token parameter.
func (c *Client) Destroy(ctx context.Context, name, sgID, tokenParameter string) error {
	insts, err := c.FindInstances(ctx, name)
	if err != nil {
		return err
	}
	var heads []string
	for _, i := range insts {
		if i.Role == RoleHead {
			heads = append(heads, i.ID)
		}
	}
	// The head runs the autoscaler, which could launch a worker after the
	// list below was taken; once the head is terminated nothing launches.
	if err := c.Terminate(ctx, heads); err != nil {
		return err
	}
	if err := c.WaitTerminated(ctx, heads); err != nil {
		return err
	}
	if len(heads) > 0 {
		if insts, err = c.FindInstances(ctx, name); err != nil {
			return err
		}
	}
	var live []string
	for _, i := range insts {
		live = append(live, i.ID)
	}
	if err := c.Terminate(ctx, live); err != nil {
		return err
	}
	if err := c.WaitTerminated(ctx, live); err != nil {
		return err
	}
	sgs, err := c.findSecurityGroups(ctx, name)
	if err != nil {
		return err
	}
	if sgID != "" && !slices.Contains(sgs, sgID) {
		sgs = append(sgs, sgID)
	}
	for _, id := range sgs {
		if err := c.deleteSecurityGroup(ctx, id); err != nil {
			return err
		}
	}
	if tokenParameter == "" {
		tokenParameter = TokenParameterName(name)
	}
	return c.DeleteToken(ctx, tokenParameter)
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

func tagValue(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}
