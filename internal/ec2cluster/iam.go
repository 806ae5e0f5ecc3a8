package ec2cluster

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// HeadRoleName is the name of the IAM role and instance profile the
// resource creates for the head of an autoscaled cluster.
func HeadRoleName(cluster string) string { return "rayvllm-" + cluster + "-head" }

// TerraformPolicy is the IAM policy the identity that runs Terraform needs
// for rayvllm_inference_cluster: every EC2, SSM and IAM call this package
// makes, and the permissions those calls imply (tags at create, PassRole).
// The first-apply guide prints it; TestTerraformPolicyCoversEveryCall
// checks it against the calls and AWS's Service Authorization data.
//
//go:embed terraform_policy.json
var TerraformPolicy string

// headPolicyName is the head role's inline policy.
const headPolicyName = "rayvllm-autoscaler"

// partition is the ARN partition of the region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// HeadPolicy is the least-privilege policy of the head of an autoscaled
// cluster: what the node bootstrap reads (the Ray and HF tokens in SSM) and
// what Ray's AWS node provider calls (describe_instances, create_instances,
// create_tags, terminate_instances, in
// ray/autoscaler/_private/aws/node_provider.py). Each statement names the
// resource types AWS's Service Authorization Reference lists for its action,
// with only condition keys that apply to those types (a key that does not
// apply makes the condition false, so a wrong one denies silently);
// TestIAMPolicyMatchesServiceAuthorization checks both against AWS's data.
//
// It launches only the autoscaled groups' instance types from the cluster's
// AMIs, into its subnets and security group, with IMDSv2 required, encrypted
// volumes, the node role (iam:PassRole on it alone) and the cluster tag from
// launch; spot launches need spot-instances-request too (EC2 User Guide,
// "Spot Instance requests", the RunInstances example policy), which the
// reference does not mark. After launch it may add only Ray's own tags
// (ray-*) to, and terminate, instances that carry the cluster tag, so it
// cannot move an instance out of the cluster. EC2 Describe* calls do not
// support resource-level permissions, so they are on "*".
func HeadPolicy(spec Spec, sgID, nodeRoleARN string) (string, error) {
	p, r := partition(spec.Boot.Region), spec.Boot.Region
	ec2ARN := func(res string) string { return fmt.Sprintf("arn:%s:ec2:%s:*:%s", p, r, res) }
	tagged := map[string]string{"aws:RequestTag/" + TagCluster: spec.Name}
	owned := map[string]any{"StringEquals": map[string]string{"ec2:ResourceTag/" + TagCluster: spec.Name}}
	params := []string{fmt.Sprintf("arn:%s:ssm:%s:*:parameter/rayvllm/%s/*", p, r, spec.Name)}
	if hf := spec.Boot.HFTokenParameter; hf != "" {
		params = append(params, fmt.Sprintf("arn:%s:ssm:%s:*:parameter/%s", p, r, strings.TrimPrefix(hf, "/")))
	}
	types, images, spot, capacity := headLaunches(spec)
	imageARNs := make([]string, len(images))
	for i, ami := range images {
		imageARNs[i] = fmt.Sprintf("arn:%s:ec2:%s::image/%s", p, r, ami)
	}
	network := []string{ec2ARN("security-group/" + sgID), ec2ARN("network-interface/*"), ec2ARN("key-pair/*")}
	for _, s := range spec.subnets() {
		network = append(network, ec2ARN("subnet/"+s))
	}
	stmts := []map[string]any{
		{"Sid": "ReadNodeSecrets", "Effect": "Allow", "Action": []string{"ssm:GetParameter"}, "Resource": params},
		{"Sid": "DecryptNodeSecrets", "Effect": "Allow", "Action": []string{"kms:Decrypt"}, "Resource": "*",
			"Condition": map[string]any{"StringEquals": map[string]string{"kms:ViaService": "ssm." + r + ".amazonaws.com"}}},
		{"Sid": "Describe", "Effect": "Allow", "Resource": "*",
			"Action": []string{"ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeImages"}},
		{"Sid": "LaunchClusterInstances", "Effect": "Allow", "Action": []string{"ec2:RunInstances"}, "Resource": ec2ARN("instance/*"),
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:RequestTag/" + TagCluster: spec.Name, "ec2:InstanceType": types, "ec2:MetadataHttpTokens": "required"},
			}},
		{"Sid": "LaunchEncryptedVolumes", "Effect": "Allow", "Action": []string{"ec2:RunInstances"}, "Resource": ec2ARN("volume/*"),
			"Condition": map[string]any{"StringEquals": tagged, "Bool": map[string]string{"ec2:Encrypted": "true"}}},
		{"Sid": "LaunchFromClusterImages", "Effect": "Allow", "Action": []string{"ec2:RunInstances"}, "Resource": imageARNs},
		{"Sid": "LaunchIntoClusterNetwork", "Effect": "Allow", "Action": []string{"ec2:RunInstances"}, "Resource": network},
		{"Sid": "TagAtLaunch", "Effect": "Allow", "Action": []string{"ec2:CreateTags"},
			"Resource":  []string{ec2ARN("instance/*"), ec2ARN("volume/*")},
			"Condition": map[string]any{"StringEquals": map[string]string{"ec2:CreateAction": "RunInstances"}}},
		{"Sid": "TagClusterNodes", "Effect": "Allow", "Action": []string{"ec2:CreateTags"}, "Resource": ec2ARN("instance/*"),
			"Condition": map[string]any{
				"StringEquals":            map[string]string{"ec2:ResourceTag/" + TagCluster: spec.Name},
				"ForAllValues:StringLike": map[string][]string{"aws:TagKeys": {"ray-*"}},
			}},
		{"Sid": "TerminateClusterNodes", "Effect": "Allow", "Action": []string{"ec2:TerminateInstances"}, "Resource": ec2ARN("instance/*"), "Condition": owned},
	}
	if len(capacity) > 0 {
		res := make([]string, len(capacity))
		for i, c := range capacity {
			res[i] = ec2ARN(c)
		}
		stmts = append(stmts, map[string]any{"Sid": "LaunchIntoReservedCapacity", "Effect": "Allow", "Action": []string{"ec2:RunInstances"}, "Resource": res})
	}
	if spot {
		stmts = append(stmts, map[string]any{"Sid": "LaunchSpot", "Effect": "Allow", "Action": []string{"ec2:RunInstances"},
			"Resource": ec2ARN("spot-instances-request/*")})
	}
	if nodeRoleARN != "" {
		//nolint:gosec // G101: "iam:PassedToService" is a condition key, not a credential
		stmts = append(stmts, map[string]any{"Sid": "PassNodeRole", "Effect": "Allow", "Action": []string{"iam:PassRole"},
			"Resource": nodeRoleARN, "Condition": map[string]any{"StringEquals": map[string]string{"iam:PassedToService": "ec2.amazonaws.com"}}})
	}
	b, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	return string(b), err
}

// headLaunches returns the instance types (fallbacks included) and AMIs the
// head's autoscaler launches, sorted, whether any of its groups is spot, and
// the capacity reservations and placement groups it launches into (EC2
// resource paths).
func headLaunches(spec Spec) (types, images []string, spot bool, capacity []string) {
	for _, g := range spec.Groups {
		if g.Autoscale == nil {
			continue
		}
		types = append(append(types, g.InstanceType), g.FallbackInstanceTypes...)
		images = append(images, g.AMI)
		spot = spot || g.Spot
		if r := g.Reservation; r != nil {
			// A resource group's reservations are not known here.
			id := r.ID
			if id == "" {
				id = "*"
			}
			capacity = append(capacity, "capacity-reservation/"+id)
		}
		if g.PlacementGroup != "" {
			capacity = append(capacity, "placement-group/"+g.PlacementGroup)
		}
	}
	sorted := func(s []string) []string { return slices.Compact(slices.Sorted(slices.Values(s))) }
	return sorted(types), sorted(images), spot, sorted(capacity)
}

const ec2TrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// NodeRoleARN is the role of an instance profile (name or ARN), which the
// head passes to the workers it launches.
func (c *Client) NodeRoleARN(ctx context.Context, profile string) (string, error) {
	out, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(ProfileName(profile))})
	if err != nil {
		return "", fmt.Errorf("reading instance profile %s: %w", profile, err)
	}
	if len(out.InstanceProfile.Roles) == 0 {
		return "", fmt.Errorf("instance profile %s has no role; the nodes need one to read the Ray token from SSM", profile)
	}
	return aws.ToString(out.InstanceProfile.Roles[0].Arn), nil
}

// EnsureHeadRole creates (or updates) the head's role with HeadPolicy and
// its instance profile, both named HeadRoleName and tagged with the
// cluster, and returns the profile's and the role's ARNs (the role's as
// soon as it exists, also with an error).
func (c *Client) EnsureHeadRole(ctx context.Context, spec Spec, sgID string) (profileARN, roleARN string, err error) {
	nodeRole, err := c.NodeRoleARN(ctx, spec.IAMInstanceProfile)
	if err != nil {
		return "", "", err
	}
	policy, err := HeadPolicy(spec, sgID, nodeRole)
	if err != nil {
		return "", "", err
	}
	name := HeadRoleName(spec.Name)
	tags := []iamtypes.Tag{{Key: aws.String(TagCluster), Value: aws.String(spec.Name)}}
	_, err = c.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(ec2TrustPolicy),
		Description: aws.String("Head of rayvllm cluster " + spec.Name + ": Ray's autoscaler"), Tags: tags})
	if err != nil && !isIAMCode(err, "EntityAlreadyExists") {
		return "", "", fmt.Errorf("creating IAM role %s: %w", name, err)
	}
	role, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return "", "", fmt.Errorf("reading IAM role %s: %w", name, err)
	}
	roleARN = aws.ToString(role.Role.Arn)
	profileARN, err = c.ensureHeadProfile(ctx, name, policy, tags)
	return profileARN, roleARN, err
}

func (c *Client) ensureHeadProfile(ctx context.Context, name, policy string, tags []iamtypes.Tag) (string, error) {
	if _, err := c.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(headPolicyName), PolicyDocument: aws.String(policy)}); err != nil {
		return "", fmt.Errorf("putting the autoscaler policy on IAM role %s: %w", name, err)
	}
	_, err := c.IAM.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name), Tags: tags})
	if err != nil && !isIAMCode(err, "EntityAlreadyExists") {
		return "", fmt.Errorf("creating instance profile %s: %w", name, err)
	}
	out, err := c.IAM.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("reading instance profile %s: %w", name, err)
	}
	if len(out.InstanceProfile.Roles) == 0 {
		if _, err := c.IAM.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(name)}); err != nil {
			return "", fmt.Errorf("adding role %s to its instance profile: %w", name, err)
		}
	}
	return aws.ToString(out.InstanceProfile.Arn), nil
}

// DeleteHeadRole removes the head's instance profile and role; what is
// already gone counts as deleted.
func (c *Client) DeleteHeadRole(ctx context.Context, cluster string) error {
	name := HeadRoleName(cluster)
	steps := []func() error{
		func() error {
			_, err := c.IAM.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: aws.String(name), RoleName: aws.String(name)})
			return err
		},
		func() error {
			_, err := c.IAM.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: aws.String(name)})
			return err
		},
		func() error {
			_, err := c.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(headPolicyName)})
			return err
		},
		func() error {
			// IAM may report the profile still attached for a while after
			// the head terminated.
			return retry.Until(ctx, 2*time.Minute, c.PollInterval, func(ctx context.Context) (bool, error) {
				_, err := c.IAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)})
				if err == nil || isIAMCode(err, "NoSuchEntity") {
					return true, nil
				}
				if isIAMCode(err, "DeleteConflict") {
					return false, err
				}
				return false, retry.Stop(err)
			})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil && !isIAMCode(err, "NoSuchEntity") {
			return fmt.Errorf("deleting the head's IAM role %s: %w", name, err)
		}
	}
	return nil
}

func isIAMCode(err error, code string) bool {
	var nse *iamtypes.NoSuchEntityException
	if code == "NoSuchEntity" && errors.As(err, &nse) {
		return true
	}
	return ErrorCode(err) == code
}

// SpotServiceLinkedRole is the role EC2 needs in an account to launch spot
// instances (EC2 User Guide, "Service-linked role for Spot Instance
// requests"). EC2 creates it at the first spot launch only when the caller
// may iam:CreateServiceLinkedRole, which the head's role may not.
const SpotServiceLinkedRole = "AWSServiceRoleForEC2Spot"

// EnsureSpotServiceLinkedRole creates the spot service-linked role unless
// the account has it.
func (c *Client) EnsureSpotServiceLinkedRole(ctx context.Context) error {
	_, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(SpotServiceLinkedRole)})
	if err == nil {
		return nil
	}
	if isIAMCode(err, "NoSuchEntity") {
		_, err = c.IAM.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("spot.amazonaws.com")})
		// "has been taken" (moto: EntityAlreadyExists): created meanwhile.
		if err == nil || isIAMCode(err, "EntityAlreadyExists") || (isIAMCode(err, "InvalidInput") && strings.Contains(err.Error(), "has been taken")) {
			return nil
		}
	}
	return fmt.Errorf("the autoscaled spot groups need the service-linked role %s in the account, and it could not be read or created (%w); create it once with `aws iam create-service-linked-role --aws-service-name spot.amazonaws.com`", SpotServiceLinkedRole, err)
}
