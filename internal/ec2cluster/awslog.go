package ec2cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// LogFunc receives one line per AWS API call (the provider passes
// tflog.Debug); the package itself has no Terraform imports.
type LogFunc func(ctx context.Context, msg string, fields map[string]any)

// logBodyLimit caps the logged request and response, as JSON.
const logBodyLimit = 4096

// redacted replaces a secret in logged parameters and results.
const redacted = "[REDACTED]"

// Keys whose values are never logged, in any service: node user data
// (RunInstances, DescribeInstanceAttribute) and credentials (STS
// AssumeRole's Credentials, and any field named for a key or token). SSM
// parameter values are secrets too (the Ray token); EC2 tag values are not.
var (
	secretKeys = map[string]bool{
		"userdata": true, "credentials": true, "secretaccesskey": true, "sessiontoken": true,
		"accesskeyid": true, "password": true, "privatekey": true, "keymaterial": true,
	}
	secretKeysByService = map[string]map[string]bool{"SSM": {"value": true}}
)

// logCalls adds, as the outermost Initialize middleware, a DEBUG line per
// API call: service, operation, the request id, the attempts the retryer
// made, the latency of the whole call (retries and backoff included), the
// HTTP status and the error code, and the request and response with user
// data and credentials redacted, the way the AWS provider logs its calls.
func logCalls(log LogFunc) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("rayvllmLogCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				service := awsmiddleware.GetServiceID(ctx)
				fields := map[string]any{
					"aws.service":     service,
					"aws.operation":   awsmiddleware.GetOperationName(ctx),
					"aws.region":      awsmiddleware.GetRegion(ctx),
					"aws.latency_ms":  time.Since(start).Milliseconds(),
					"aws.attempts":    1,
					"aws.request":     redactedJSON(service, in.Parameters),
					"aws.retry_count": 0,
				}
				if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
					fields["aws.request_id"] = id
				}
				if res, ok := retry.GetAttemptResults(md); ok && len(res.Results) > 0 {
					fields["aws.attempts"] = len(res.Results)
					fields["aws.retry_count"] = len(res.Results) - 1
				}
				if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && raw != nil {
					fields["aws.http_status"] = raw.StatusCode
				}
				msg := "AWS API call"
				if err != nil {
					msg = "AWS API call failed"
					var apiErr smithy.APIError
					if errors.As(err, &apiErr) {
						fields["aws.error_code"] = apiErr.ErrorCode()
						fields["aws.error_message"] = apiErr.ErrorMessage()
					} else {
						fields["aws.error"] = err.Error()
					}
					var respErr *awshttp.ResponseError
					if errors.As(err, &respErr) {
						fields["aws.http_status"] = respErr.HTTPStatusCode()
						if respErr.ServiceRequestID() != "" {
							fields["aws.request_id"] = respErr.ServiceRequestID()
						}
					}
				} else {
					fields["aws.response"] = redactedJSON(service, out.Result)
				}
				log(ctx, msg, fields)
				return out, md, err
			}), middleware.Before)
	}
}

// redactedJSON renders an operation's input or output as JSON, with the
// secret keys' values replaced, cut at logBodyLimit bytes.
func redactedJSON(service string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(%T not shown: %v)", v, err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return fmt.Sprintf("(%T not shown: %v)", v, err)
	}
	b, _ = json.Marshal(redactKeys(generic, secretKeysByService[service]))
	if len(b) > logBodyLimit {
		return string(b[:logBodyLimit]) + fmt.Sprintf("...(%d bytes more)", len(b)-logBodyLimit)
	}
	return string(b)
}

func redactKeys(v any, extra map[string]bool) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			switch lk := strings.ToLower(k); {
			case e == nil:
				delete(t, k) // unset optional fields are noise
				continue
			case secretKeys[lk] || extra[lk]:
				t[k] = redacted
				continue
			}
			t[k] = redactKeys(e, extra)
		}
	case []any:
		for i, e := range t {
			t[i] = redactKeys(e, extra)
		}
	}
	return v
}

// WithCallLog adds the per-call log to an SDK config (STS, EC2 and SSM
// clients made from it log through log).
func WithCallLog(cfg aws.Config, log LogFunc) aws.Config {
	if log == nil {
		return cfg
	}
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, logCalls(log))
	return cfg
}
