package ec2cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// TagTokenSource on the token parameter says where the token came from;
// TokenWriteOnly marks a token given in auth_token_wo, which import must not
// copy into state.
const (
	TagTokenSource = "rayvllm:token-source" //nolint:gosec // G101: a tag key, not a credential
	TokenWriteOnly = "write-only"           //nolint:gosec // G101: a tag value naming where the token came from, not a credential
)

// TokenIsWriteOnly reports whether the token parameter was written from a
// write-only attribute (TagTokenSource); a missing parameter is not.
func (c *Client) TokenIsWriteOnly(ctx context.Context, name string) (bool, error) {
	out, err := c.SSM.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(name)})
	if ErrorCode(err) == "InvalidResourceId" || ErrorCode(err) == "ParameterNotFound" {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the tags of SSM parameter %s: %w", name, err)
	}
	for _, t := range out.TagList {
		if aws.ToString(t.Key) == TagTokenSource {
			return aws.ToString(t.Value) == TokenWriteOnly, nil
		}
	}
	return false, nil
}

// Leftovers lists what of the cluster exists besides instances: its
// security groups (by tag), the token parameter and, when headRole, the
// head's IAM role. Read keeps a cluster with leftovers in state (its head
// gone, so the plan replaces it and destroy removes them) instead of
// forgetting them.
func (c *Client) Leftovers(ctx context.Context, name, tokenParameter string, headRole bool) ([]string, error) {
	var out []string
	sgs, err := c.findSecurityGroups(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, sg := range sgs {
		out = append(out, "security group "+sg)
	}
	if tokenParameter == "" {
		tokenParameter = TokenParameterName(name)
	}
	ok, err := c.ParameterExists(ctx, tokenParameter)
	if err != nil {
		return nil, err
	}
	if ok {
		out = append(out, "SSM parameter "+tokenParameter)
	}
	if headRole {
		_, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(HeadRoleName(name))})
		switch {
		case err == nil:
			out = append(out, "IAM role "+HeadRoleName(name))
		case !isIAMCode(err, "NoSuchEntity"):
			return nil, fmt.Errorf("reading the head's IAM role %s: %w", HeadRoleName(name), err)
		}
	}
	return out, nil
}

// LeftoverClusterNames lists clusters by their token parameters
// (/rayvllm/<name>/...) and head roles (HeadRoleName), for sweepers: a
// cluster whose instances and security group are gone may still have them.
func (c *Client) LeftoverClusterNames(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	p := ssm.NewDescribeParametersPaginator(c.SSM, &ssm.DescribeParametersInput{
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Path"), Option: aws.String("Recursive"), Values: []string{"/rayvllm"}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing SSM parameters under /rayvllm: %w", err)
		}
		for _, prm := range page.Parameters {
			if parts := strings.Split(aws.ToString(prm.Name), "/"); len(parts) > 2 {
				seen[parts[2]] = true
			}
		}
	}
	rp := iam.NewListRolesPaginator(c.IAM, &iam.ListRolesInput{})
	for rp.HasMorePages() {
		page, err := rp.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing IAM roles: %w", err)
		}
		for _, r := range page.Roles {
			n := aws.ToString(r.RoleName)
			if name, ok := strings.CutPrefix(n, "rayvllm-"); ok && strings.HasSuffix(name, "-head") {
				seen[strings.TrimSuffix(name, "-head")] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		if n != "" {
			out = append(out, n)
		}
	}
	return out, nil
}
