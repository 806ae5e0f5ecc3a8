package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
)

// awsClient builds the AWS clients from the provider's aws block, lazily,
// so that a provider without AWS settings still plans the data sources.
// Every AWS call is logged at DEBUG (ec2cluster's call log, redacted).
// d may be nil (no provider configuration yet).
func (d *ProviderData) awsClient(ctx context.Context) (*ec2cluster.Client, error) {
	s := ec2cluster.Settings{Log: logAWSCall}
	if d != nil {
		a := d.AWS
		s.Region, s.Profile = a.Region, a.Profile
		s.AssumeRoleARN, s.AssumeRoleSessionName, s.AssumeRoleExternalID = a.AssumeRoleARN, a.AssumeRoleSessionName, a.AssumeRoleExternalID
		s.EC2Endpoint, s.SSMEndpoint, s.IAMEndpoint = a.EC2Endpoint, a.SSMEndpoint, a.IAMEndpoint
		s.MaxAttempts, s.MaxBackoff = a.MaxAttempts, a.MaxBackoff
	}
	cfg, err := ec2cluster.LoadConfig(ctx, s)
	if err != nil {
		return nil, err
	}
	return ec2cluster.NewClient(cfg, s), nil
}

func logAWSCall(ctx context.Context, msg string, fields map[string]any) {
	tflog.Debug(ctx, msg, fields)
}
