package provider

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
)

// Validators shared by the provider block and the resources, so that a bad
// address or credential setting fails the plan instead of the first API call.

// stringCheck adapts a func that explains what is wrong with a value ("" if
// nothing) to a string validator.
type stringCheck struct {
	desc    string
	summary string
	check   func(string) string
}

func (v stringCheck) Description(context.Context) string             { return v.desc }
func (v stringCheck) MarkdownDescription(ctx context.Context) string { return v.desc }
func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if msg := v.check(req.ConfigValue.ValueString()); msg != "" {
		resp.Diagnostics.AddAttributeError(req.Path, v.summary, fmt.Sprintf("%s %s", req.Path, msg))
	}
}

// dashboardURLValidator applies the Ray client's own address rules.
func dashboardURLValidator() validator.String {
	return stringCheck{desc: "a Ray dashboard URL such as http://127.0.0.1:8265", summary: "Invalid Ray dashboard URL", check: func(s string) string {
		if s == "" {
			return "is empty; leave it out to use the provider's dashboard_url or RAY_ADDRESS, or set e.g. http://127.0.0.1:8265"
		}
		if _, err := ray.NormalizeAddress(s); err != nil {
			return "is not usable: " + err.Error()
		}
		return ""
	}}
}

// endpointURLValidator accepts an absolute http(s) URL, as the AWS SDK needs
// for a custom endpoint.
func endpointURLValidator() validator.String {
	return stringCheck{desc: "an http:// or https:// URL", summary: "Invalid endpoint URL", check: func(s string) string {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("%q must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:5000", s)
		}
		return ""
	}}
}

// caBundleValidator requires at least one PEM certificate, as the Ray client
// does when it builds its TLS config.
func caBundleValidator() validator.String {
	return stringCheck{desc: "a PEM-encoded CA bundle", summary: "Invalid CA bundle", check: func(s string) string {
		if !x509.NewCertPool().AppendCertsFromPEM([]byte(s)) {
			return "holds no PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----); use e.g. file(\"ca.pem\")"
		}
		return ""
	}}
}

var (
	awsRegionValidator = stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`),
		"must be an AWS region like us-east-1 or eu-central-1")
	roleARNValidator = stringvalidator.RegexMatches(regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`),
		"must be an IAM role ARN like arn:aws:iam::123456789012:role/rayvllm")
)

// jsonObjectValidator accepts a JSON object (with jsontypes.Normalized,
// which checks the syntax).
type jsonObjectValidator struct{}

func (jsonObjectValidator) Description(context.Context) string { return "must be a JSON object" }

func (v jsonObjectValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (jsonObjectValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var m map[string]any
	// Invalid JSON is jsontypes.Normalized's to report.
	if s := req.ConfigValue.ValueString(); json.Valid([]byte(s)) && (json.Unmarshal([]byte(s), &m) != nil || m == nil) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid JSON object",
			fmt.Sprintf("%s is not a JSON object; write it with jsonencode({ ... }).", req.Path))
	}
}
