package provider

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"regexp/syntax"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
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
		if _, err := normalizeDashboardURL(s); err != nil {
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

// jsonObjectValidator requires a JSON object; jsontypes.Normalized, the
// attribute's type, reports invalid JSON.
func jsonObjectValidator() validator.String {
	return stringCheck{desc: "must be a JSON object", summary: "Invalid JSON object", check: func(s string) string {
		var m map[string]any
		if json.Valid([]byte(s)) && (json.Unmarshal([]byte(s), &m) != nil || m == nil) {
			return "is not a JSON object; write it with jsonencode({ ... })."
		}
		return ""
	}}
}

// regexValidator requires a regular expression that RE2 parses.
func regexValidator() validator.String {
	return stringCheck{desc: "must be a regular expression", summary: "Invalid regular expression", check: func(s string) string {
		if _, err := syntax.Parse(s, syntax.Perl); err != nil {
			return fmt.Sprintf("does not compile: %v.", err)
		}
		return ""
	}}
}

// rayVersionValidator accepts an exact X.Y.Z Ray version at or above ray.MinRayVersion.
func rayVersionValidator() validator.String {
	return stringCheck{desc: "an exact Ray version X.Y.Z, at least " + ray.MinRayVersion, summary: "Invalid Ray version", check: func(s string) string {
		if !rayVersionRE.MatchString(s) {
			return fmt.Sprintf("must be an exact version like 2.60.0 (pinned), got %q.", s)
		}
		if ok, _ := ray.VersionAtLeast(s, ray.MinRayVersion); !ok {
			return fmt.Sprintf("%s is below %s. Older Ray has no token authentication and public remote-code-execution CVEs (ShadowRay, CVE-2023-48022); use %s or newer.", s, ray.MinRayVersion, ray.MinRayVersion)
		}
		return ""
	}}
}

// cidrValidator accepts an IPv4 or IPv6 CIDR block. (nettypes has a type
// per address family; these attributes take both.)
func cidrValidator() validator.String {
	return stringCheck{desc: "an IPv4 or IPv6 CIDR block", summary: "Invalid CIDR block", check: func(s string) string {
		if !isCIDR(s) {
			return fmt.Sprintf("%q is not a CIDR block; use e.g. 203.0.113.7/32 or 2001:db8::/64.", s)
		}
		return ""
	}}
}

// routePrefixValidator applies Serve's route_prefix rules.
func routePrefixValidator() validator.String {
	return stringCheck{desc: "must start with / and not end with / (except \"/\" itself), without { or }", summary: "Invalid route_prefix", check: func(s string) string {
		if err := serveapp.CheckRoutePrefix(s); err != nil {
			return err.Error() + "."
		}
		return ""
	}}
}
