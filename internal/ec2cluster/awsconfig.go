// Package ec2cluster creates, reads, scales and deletes a Ray cluster on EC2:
// a head node and GPU worker groups bootstrapped by the embedded head.sh and
// worker.sh. It follows the AWS provider's find/status/wait pattern and has no
// Terraform imports.
package ec2cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
)

// Settings is how to reach AWS. Empty fields fall back to the SDK's standard
// chain (environment, shared config and profiles, SSO, IMDS).
type Settings struct {
	Region                string
	Profile               string
	AssumeRoleARN         string
	AssumeRoleSessionName string
	AssumeRoleExternalID  string
	EC2Endpoint           string
	SSMEndpoint           string
	IAMEndpoint           string
	MaxAttempts           int
	MaxBackoff            time.Duration
	// Log, when set, gets one line per API call of every client made from
	// the config (see logCalls).
	Log LogFunc
}

// LoadConfig builds the SDK config: standard credential chain, optional
// profile and assumed role, and the standard retryer with the given limits.
func LoadConfig(ctx context.Context, s Settings) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, config.WithRegion(s.Region))
	}
	if s.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(s.Profile))
	}
	opts = append(opts, config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			if s.MaxAttempts > 0 {
				o.MaxAttempts = s.MaxAttempts
			}
			if s.MaxBackoff > 0 {
				o.MaxBackoff = s.MaxBackoff
			}
		})
	}))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: set aws { region = ... } on the provider, AWS_REGION, or a region in the shared config profile")
	}
	cfg = WithCallLog(cfg, s.Log)
	if s.AssumeRoleARN != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), s.AssumeRoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = s.AssumeRoleSessionName
			if s.AssumeRoleExternalID != "" {
				o.ExternalID = aws.String(s.AssumeRoleExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return cfg, nil
}

// Client talks to EC2, SSM and IAM for one cluster resource.
type Client struct {
	EC2    *ec2.Client
	SSM    *ssm.Client
	IAM    *iam.Client
	Region string
	// WaiterMinDelay and WaiterMaxDelay bound the SDK waiters' polling.
	WaiterMinDelay, WaiterMaxDelay time.Duration
	// PollInterval is used by the retry.Until loops (security group delete).
	PollInterval time.Duration
}

// NewClient makes the EC2 and SSM clients, with the endpoint overrides (moto,
// LocalStack, VPC endpoints) and an API call counter.
func NewClient(cfg aws.Config, s Settings) *Client {
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, countCalls)
	return &Client{
		EC2: ec2.NewFromConfig(cfg, func(o *ec2.Options) {
			if s.EC2Endpoint != "" {
				o.BaseEndpoint = aws.String(s.EC2Endpoint)
			}
		}),
		SSM: ssm.NewFromConfig(cfg, func(o *ssm.Options) {
			if s.SSMEndpoint != "" {
				o.BaseEndpoint = aws.String(s.SSMEndpoint)
			}
		}),
		IAM: iam.NewFromConfig(cfg, func(o *iam.Options) {
			if s.IAMEndpoint != "" {
				o.BaseEndpoint = aws.String(s.IAMEndpoint)
			}
		}),
		Region:         cfg.Region,
		WaiterMinDelay: 5 * time.Second,
		WaiterMaxDelay: 30 * time.Second,
		PollInterval:   5 * time.Second,
	}
}

var (
	callsMu  sync.Mutex
	calls    = map[string]int{}
	callTime time.Duration
)

// countCalls counts every HTTP attempt (retries included) per
// "Service.Operation", and the time spent in them, for the benchmark and the
// retry tests.
func countCalls(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("rayvllmCountCalls",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			key := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
			start := time.Now()
			out, md, err := next.HandleFinalize(ctx, in)
			callsMu.Lock()
			calls[key]++
			callTime += time.Since(start)
			callsMu.Unlock()
			return out, md, err
		}), middleware.After)
}

// CallCounts returns a copy of the API attempts made so far by every Client
// in this process, keyed by "Service.Operation" (e.g. "EC2.RunInstances").
func CallCounts() map[string]int {
	callsMu.Lock()
	defer callsMu.Unlock()
	out := make(map[string]int, len(calls))
	for k, v := range calls {
		out[k] = v
	}
	return out
}

// CallTime is the total time spent waiting for API responses so far.
func CallTime() time.Duration {
	callsMu.Lock()
	defer callsMu.Unlock()
	return callTime
}
