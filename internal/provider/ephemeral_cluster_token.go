package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/ephemeralvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

var (
	_ ephemeral.EphemeralResource                     = (*clusterTokenEphemeral)(nil)
	_ ephemeral.EphemeralResourceWithConfigure        = (*clusterTokenEphemeral)(nil)
	_ ephemeral.EphemeralResourceWithConfigValidators = (*clusterTokenEphemeral)(nil)
)

// NewClusterTokenEphemeralResource is rayvllm_cluster_token: the Ray token
// of a cluster, read from its SSM parameter on every run and never stored.
func NewClusterTokenEphemeralResource() ephemeral.EphemeralResource {
	return &clusterTokenEphemeral{}
}

type clusterTokenEphemeral struct{ data *ProviderData }

type clusterTokenModel struct {
	ClusterName   types.String `tfsdk:"cluster_name"`
	ParameterName types.String `tfsdk:"parameter_name"`
	Token         types.String `tfsdk:"token"`
}

func (e *clusterTokenEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_token"
}

func (e *clusterTokenEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The Ray auth token of a `rayvllm_inference_cluster`, read from its SSM SecureString on every plan and apply and never written to the plan or state. " +
			"Use it for the provider's `auth_token` (from a provider alias that only has the `aws` block) or a resource's `auth_token_wo`. " +
			"Needs Terraform >= 1.10 or OpenTofu >= 1.11, and `ssm:GetParameter` (and `kms:Decrypt` on the key) on the parameter.",
		Attributes: map[string]schema.Attribute{
			"cluster_name": schema.StringAttribute{
				Optional:    true,
				Description: "Name of the `rayvllm_inference_cluster`; its token is in `/rayvllm/<cluster_name>/ray-auth-token`. Exactly one of `cluster_name` and `parameter_name`.",
				Validators:  []validator.String{stringvalidator.RegexMatches(clusterNameRE, "must be 1-63 letters, digits and hyphens, starting with a letter or digit")},
			},
			"parameter_name": schema.StringAttribute{
				Optional:    true,
				Computed:    true,
				Description: "Name of the SSM parameter that holds the token (the cluster's `auth_token_ssm_parameter`). Computed from `cluster_name` when that is set.",
				Validators:  []validator.String{stringvalidator.RegexMatches(ssmNameRE, "must be an SSM parameter name such as /rayvllm/my-cluster/ray-auth-token")},
			},
			"token": schema.StringAttribute{
				Computed:    true,
				Sensitive:   true,
				Description: "The Ray auth token.",
			},
		},
	}
}

func (e *clusterTokenEphemeral) ConfigValidators(context.Context) []ephemeral.ConfigValidator {
	return []ephemeral.ConfigValidator{
		ephemeralvalidator.ExactlyOneOf(path.MatchRoot("cluster_name"), path.MatchRoot("parameter_name")),
	}
}

func (e *clusterTokenEphemeral) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.data = providerData(req.ProviderData, &resp.Diagnostics)
}

func (e *clusterTokenEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m clusterTokenModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !m.ClusterName.IsNull() {
		m.ParameterName = types.StringValue(ec2cluster.TokenParameterName(m.ClusterName.ValueString()))
	}
	c, err := e.data.awsClient(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Cannot configure AWS", err.Error())
		return
	}
	token, err := c.GetToken(ctx, m.ParameterName.ValueString())
	if retry.IsNotFound(err) {
		resp.Diagnostics.AddAttributeError(path.Root("parameter_name"), "No such SSM parameter",
			fmt.Sprintf("SSM parameter %s does not exist in %s: is the cluster created (its token parameter is made on create), and are cluster_name and the provider's aws region right?", m.ParameterName.ValueString(), c.Region))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the Ray token", err.Error())
		return
	}
	m.Token = types.StringValue(token)
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}
