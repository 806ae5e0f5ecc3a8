package ec2cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

type launch struct {
	role, group string
	node        NodeSpec
	count       int
	userData    string
}

// AZCapacityErrors are RunInstances errors about the subnet's availability
// zone (EC2 API reference, "Error codes"), after which the launch is tried in
// the next subnet: no capacity for the type there, the type not offered
// there, or the subnet out of addresses.
var AZCapacityErrors = map[string]bool{
	"InsufficientInstanceCapacity": true, "InsufficientCapacity": true, "Unsupported": true,
	"InsufficientFreeAddressesInSubnet": true, "InsufficientHostCapacity": true,
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
		ImageId:     aws.String(l.node.AMI),
		MinCount:    aws.Int32(int32(l.count)),
		MaxCount:    aws.Int32(int32(l.count)),
		ClientToken: aws.String(newClientToken()),
		UserData:    aws.String(base64.StdEncoding.EncodeToString([]byte(l.userData))),
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
	var out *ec2.RunInstancesOutput
	var errs []error
	// Each attempt (type, reservation) in order, and each in the subnets in
	// order (each in its own AZ): a launch that EC2 refuses for capacity is
	// made in the next subnet, then as the next attempt, as a new request.
	attempts, subnets := l.node.attempts(), spec.subnets()
launched:
	for ai, a := range attempts {
		for k, subnet := range subnets {
			shape(in, l.node, a, subnet, sgID)
			in.ClientToken = aws.String(newClientToken())
			var err error
			if out, err = c.runInstances(ctx, in); err == nil {
				break launched
			}
			errs = append(errs, fmt.Errorf("%s in subnet %s: %w", a, subnet, err))
			if !CapacityErrors(ErrorCode(err)) || (ai == len(attempts)-1 && k == len(subnets)-1) {
				return nil, fmt.Errorf("launching %d × %s for %s: %w", l.count, l.node.InstanceType, suffix, errors.Join(errs...))
			}
		}
	}
	insts := make([]Instance, 0, len(out.Instances))
	for _, i := range out.Instances {
		insts = append(insts, toInstance(i))
	}
	return insts, nil
}

// runInstances makes one launch request. A just-created instance profile is
// not visible to EC2 for a while (IAM eventual consistency); that error is
// retried with the same ClientToken.
func (c *Client) runInstances(ctx context.Context, in *ec2.RunInstancesInput) (*ec2.RunInstancesOutput, error) {
	var out *ec2.RunInstancesOutput
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
	return out, err
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
