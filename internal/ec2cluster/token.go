package ec2cluster

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// PutToken stores the Ray token as an SSM SecureString (default KMS key).
// SSM refuses tags together with Overwrite, so an existing parameter (left
// by an earlier failed create) is overwritten without re-tagging.
func (c *Client) PutToken(ctx context.Context, name, token string, tags map[string]string) error {
	var ssmTags []ssmtypes.Tag
	for k, v := range tags {
		ssmTags = append(ssmTags, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err := c.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name:        aws.String(name),
		Value:       aws.String(token),
		Type:        ssmtypes.ParameterTypeSecureString,
		Description: aws.String("Ray auth token of rayvllm cluster " + tags[TagCluster]),
		Tags:        ssmTags,
	})
	if ErrorCode(err) == "ParameterAlreadyExists" {
		_, err = c.SSM.PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(token), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
		})
	}
	if err != nil {
		return fmt.Errorf("storing the Ray token in SSM parameter %s: %w", name, err)
	}
	return nil
}

// GetToken reads the Ray token back; it wraps retry.ErrNotFound when the
// parameter is gone.
func (c *Client) GetToken(ctx context.Context, name string) (string, error) {
	out, err := c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if ErrorCode(err) == "ParameterNotFound" {
		return "", retry.NotFound("SSM parameter %s", name)
	}
	if err != nil {
		return "", fmt.Errorf("reading SSM parameter %s: %w", name, err)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// DeleteToken deletes the token parameter; a missing one is fine.
func (c *Client) DeleteToken(ctx context.Context, name string) error {
	_, err := c.SSM.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(name)})
	if err != nil && ErrorCode(err) != "ParameterNotFound" {
		return fmt.Errorf("deleting SSM parameter %s: %w", name, err)
	}
	return nil
}

// ParameterExists reports whether an SSM parameter exists (without reading
// its value), to check hf_token_ssm_parameter before launching.
func (c *Client) ParameterExists(ctx context.Context, name string) (bool, error) {
	out, err := c.SSM.DescribeParameters(ctx, &ssm.DescribeParametersInput{
		ParameterFilters: []ssmtypes.ParameterStringFilter{{Key: aws.String("Name"), Option: aws.String("Equals"), Values: []string{name}}},
	})
	if err != nil {
		return false, fmt.Errorf("describing SSM parameter %s: %w", name, err)
	}
	return len(out.Parameters) > 0, nil
}
