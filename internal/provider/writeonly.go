package provider

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
)

// Write-only arguments (Terraform >= 1.11, OpenTofu >= 1.11): the CLI
// sends them on every plan and apply and never stores them; the framework
// nulls them in the plan and the state. Their values are only in the
// request's Config. The _version companion is an ordinary attribute whose
// change tells the provider to send the current value.

// envNameRE is a POSIX environment variable name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

const writeOnlyNote = " Write-only (Terraform >= 1.11, OpenTofu >= 1.11): never stored in the plan or state; bump the `_version` argument to send a new value."

// authTokenWOAttributes are auth_token_wo and auth_token_wo_version. use
// says what the token is used for.
func authTokenWOAttributes(use string, versionMods ...planmodifier.Int64) map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"auth_token_wo": schema.StringAttribute{
			Optional: true, Sensitive: true, WriteOnly: true,
			Description: use + writeOnlyNote + " Not with `auth_token`.",
			Validators: []validator.String{
				stringvalidator.LengthAtLeast(1),
				stringvalidator.ConflictsWith(path.MatchRoot("auth_token")),
				stringvalidator.AlsoRequires(path.MatchRoot("auth_token_wo_version")),
			},
		},
		"auth_token_wo_version": schema.Int64Attribute{
			Optional: true, PlanModifiers: versionMods,
			Description: "Version of `auth_token_wo`: change it (e.g. 1 to 2) when the token changes, so that the new one is used.",
			Validators:  []validator.Int64{int64validator.AtLeast(1), int64validator.AlsoRequires(path.MatchRoot("auth_token_wo"))},
		},
	}
}

// envVarsWOAttributes are env_vars_wo and env_vars_wo_version.
func envVarsWOAttributes(use string, versionMods ...planmodifier.Int64) map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"env_vars_wo": schema.MapAttribute{
			Optional: true, Sensitive: true, WriteOnly: true, ElementType: types.StringType,
			Description: use + writeOnlyNote,
			Validators: []validator.Map{
				mapvalidator.SizeAtLeast(1),
				mapvalidator.KeysAre(stringvalidator.RegexMatches(envNameRE, "must be an environment variable name: letters, digits and _, not starting with a digit")),
				mapvalidator.AlsoRequires(path.MatchRoot("env_vars_wo_version")),
			},
		},
		"env_vars_wo_version": schema.Int64Attribute{
			Optional: true, PlanModifiers: versionMods,
			Description: "Version of `env_vars_wo`: change it when a value changes, so that the new values are sent.",
			Validators:  []validator.Int64{int64validator.AtLeast(1), int64validator.AlsoRequires(path.MatchRoot("env_vars_wo"))},
		},
	}
}

// configString reads a write-only string from the configuration; "" when
// null or unknown.
func configString(ctx context.Context, cfg tfsdk.Config, name string, diags *diag.Diagnostics) string {
	var v types.String
	diags.Append(cfg.GetAttribute(ctx, path.Root(name), &v)...)
	if v.IsNull() || v.IsUnknown() {
		return ""
	}
	return v.ValueString()
}

// configStringMap reads a write-only map of strings from the
// configuration. known is false when the map or a value is unknown (plan
// time, an ephemeral value not yet open).
func configStringMap(ctx context.Context, cfg tfsdk.Config, name string, diags *diag.Diagnostics) (m map[string]string, known bool) {
	var v types.Map
	diags.Append(cfg.GetAttribute(ctx, path.Root(name), &v)...)
	if v.IsUnknown() {
		return nil, false
	}
	if v.IsNull() {
		return nil, true
	}
	for _, e := range v.Elements() {
		if e.IsUnknown() {
			return nil, false
		}
	}
	diags.Append(v.ElementsAs(ctx, &m, false)...)
	return m, true
}

// withWriteOnlyEnv merges a job's env_vars_wo into its runtime_env.env_vars
// and lists their names (not values) in the job's metadata, so that an
// import leaves them out of the state.
func withWriteOnlyEnv(req *ray.JobSubmitRequest, env map[string]string) {
	if len(env) == 0 {
		return
	}
	if req.RuntimeEnv == nil {
		req.RuntimeEnv = map[string]any{}
	}
	vars := map[string]string{}
	if have, ok := req.RuntimeEnv["env_vars"].(map[string]string); ok {
		maps.Copy(vars, have)
	}
	maps.Copy(vars, env)
	req.RuntimeEnv["env_vars"] = vars
	req.Metadata[metadataPrefix+"env_vars_wo"] = strings.Join(slices.Sorted(maps.Keys(env)), ",")
}
