// Package provider maps Terraform schemas onto the hardware engine, the Ray
// client and the EC2 code. It holds no domain logic of its own.
package provider

import (
	"context"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hfhub"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/kuberay"
)

var (
	_ provider.Provider                       = (*rayvllmProvider)(nil)
	_ provider.ProviderWithFunctions          = (*rayvllmProvider)(nil)
	_ provider.ProviderWithEphemeralResources = (*rayvllmProvider)(nil)
)

// New returns the provider factory used by main and the acceptance tests.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &rayvllmProvider{version: version} }
}

type rayvllmProvider struct{ version string }

type providerModel struct {
	DashboardURL             types.String `tfsdk:"dashboard_url"`
	AuthToken                types.String `tfsdk:"auth_token"`
	RayHeaders               types.Map    `tfsdk:"ray_headers"`
	RayCABundlePEM           types.String `tfsdk:"ray_ca_bundle_pem"`
	RayRequestTimeoutSeconds types.Int64  `tfsdk:"ray_request_timeout_seconds"`
	HFToken                  types.String `tfsdk:"hf_token"`
	HFEndpoint               types.String `tfsdk:"hf_endpoint"`
	AWS                      []awsModel   `tfsdk:"aws"`
	Kubernetes               []kubeModel  `tfsdk:"kubernetes"`
}

type kubeModel struct {
	ConfigPath           types.String `tfsdk:"config_path"`
	ConfigContext        types.String `tfsdk:"config_context"`
	Host                 types.String `tfsdk:"host"`
	Token                types.String `tfsdk:"token"`
	ClientCertificate    types.String `tfsdk:"client_certificate"`
	ClientKey            types.String `tfsdk:"client_key"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Insecure             types.Bool   `tfsdk:"insecure"`
}

type awsModel struct {
	Region            types.String      `tfsdk:"region"`
	Profile           types.String      `tfsdk:"profile"`
	AssumeRole        []assumeRoleModel `tfsdk:"assume_role"`
	Endpoints         []endpointsModel  `tfsdk:"endpoints"`
	DefaultTags       types.Map         `tfsdk:"default_tags"`
	MaxAttempts       types.Int64       `tfsdk:"max_attempts"`
	MaxBackoffSeconds types.Int64       `tfsdk:"max_backoff_seconds"`
}

type assumeRoleModel struct {
	RoleARN     types.String `tfsdk:"role_arn"`
	SessionName types.String `tfsdk:"session_name"`
	ExternalID  types.String `tfsdk:"external_id"`
}

type endpointsModel struct {
	EC2 types.String `tfsdk:"ec2"`
	SSM types.String `tfsdk:"ssm"`
	IAM types.String `tfsdk:"iam"`
}

// RayDefaults is the Ray connection configured on the provider; resources
// fall back to it when they set no connection of their own.
type RayDefaults struct {
	DashboardURL   string
	AuthToken      string
	Headers        map[string]string
	CABundlePEM    string
	RequestTimeout time.Duration
}

// AWSSettings is the provider's AWS configuration. The SDK config is built
// lazily by the resources that need it, so that the data sources plan
// without any AWS credentials.
type AWSSettings struct {
	Region                string
	Profile               string
	AssumeRoleARN         string
	AssumeRoleSessionName string
	AssumeRoleExternalID  string
	EC2Endpoint           string
	SSMEndpoint           string
	IAMEndpoint           string
	DefaultTags           map[string]string
	MaxAttempts           int
	MaxBackoff            time.Duration
}

// ProviderData is handed to every resource and data source.
type ProviderData struct {
	Ray RayDefaults
	AWS AWSSettings
	// Kube reaches the Kubernetes API server of rayvllm_kuberay_cluster
	// and of kuberay:// dashboard URLs.
	Kube kuberay.Config
	// Hub reads the config.json of a model outside the catalog.
	Hub *hfhub.Client
}

func (p *rayvllmProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "rayvllm"
	resp.Version = p.version
}

func (p *rayvllmProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Plan-time GPU fit and batch sizing for vLLM, GPU clusters on AWS EC2 with Ray, vLLM engines on Ray Serve, and Ray Data batch inference jobs. None of the data sources need a cloud account.",
		Attributes: map[string]schema.Attribute{
			"dashboard_url": schema.StringAttribute{
				Optional:    true,
				Description: "Default Ray dashboard URL (e.g. `http://127.0.0.1:8265`) for the Ray-based resources. Falls back to the `RAY_ADDRESS` environment variable.",
				Validators:  []validator.String{dashboardURLValidator()},
			},
			"auth_token": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "Default Ray auth token (Ray token auth, `RAY_AUTH_MODE=token`). Falls back to the `RAY_AUTH_TOKEN` environment variable. Never logged.",
			},
			"ray_headers": schema.MapAttribute{
				Optional:    true,
				ElementType: types.StringType,
				Description: "Extra HTTP headers sent to the Ray dashboard, e.g. for an authenticating proxy in front of it.",
			},
			"ray_ca_bundle_pem": schema.StringAttribute{
				Optional:    true,
				Description: "PEM-encoded CA bundle used to verify the Ray dashboard's TLS certificate.",
				Validators:  []validator.String{caBundleValidator()},
			},
			"hf_token": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: "Hugging Face token for reading the `config.json` of a gated or private model named by `model`. Falls back to the `HF_TOKEN` environment variable. Never logged.",
			},
			"hf_endpoint": schema.StringAttribute{
				Optional:    true,
				Description: "Hugging Face Hub endpoint (a mirror), e.g. `https://hf-mirror.example.com`. Falls back to `HF_ENDPOINT`, then `https://huggingface.co`.",
				Validators:  []validator.String{endpointURLValidator()},
			},
			"ray_request_timeout_seconds": schema.Int64Attribute{
				Optional:    true,
				Description: "Timeout of a single HTTP request to the Ray dashboard, in seconds. Default 30.",
				Validators:  []validator.Int64{int64validator.Between(1, 3600)},
			},
		},
		Blocks: map[string]schema.Block{
			"kubernetes": kubernetesBlock(),
			"aws": schema.ListNestedBlock{
				Description: "AWS settings for `rayvllm_inference_cluster`. Credentials come from the SDK's standard chain (environment, shared config and profiles, SSO, IMDS). Not needed by the data sources.",
				Validators:  []validator.List{listvalidator.SizeAtMost(1)},
				NestedObject: schema.NestedBlockObject{
					Attributes: map[string]schema.Attribute{
						"region":  schema.StringAttribute{Optional: true, Description: "AWS region. Falls back to `AWS_REGION` and the shared config.", Validators: []validator.String{awsRegionValidator}},
						"profile": schema.StringAttribute{Optional: true, Description: "Shared config profile name."},
						"default_tags": schema.MapAttribute{
							Optional: true, ElementType: types.StringType,
							Description: "Tags added to every EC2 object the provider creates.",
						},
						"max_attempts": schema.Int64Attribute{
							Optional: true, Description: "Maximum attempts of the SDK's standard retryer per API call. Default 5.",
							Validators: []validator.Int64{int64validator.Between(1, 25)},
						},
						"max_backoff_seconds": schema.Int64Attribute{
							Optional: true, Description: "Maximum backoff between retries of the SDK's standard retryer, in seconds. Default 20.",
							Validators: []validator.Int64{int64validator.Between(1, 300)},
						},
					},
					Blocks: map[string]schema.Block{
						"assume_role": schema.ListNestedBlock{
							Description: "Role to assume with STS before calling EC2 and SSM.",
							Validators:  []validator.List{listvalidator.SizeAtMost(1)},
							NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
								"role_arn":     schema.StringAttribute{Required: true, Description: "ARN of the role to assume.", Validators: []validator.String{roleARNValidator}},
								"session_name": schema.StringAttribute{Optional: true, Description: "Session name. Default `terraform-provider-rayvllm`."},
								"external_id":  schema.StringAttribute{Optional: true, Description: "External ID required by the role's trust policy."},
							}},
						},
						"endpoints": schema.ListNestedBlock{
							Description: "Custom service endpoints, for moto, LocalStack or VPC endpoints.",
							Validators:  []validator.List{listvalidator.SizeAtMost(1)},
							NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
								"ec2": schema.StringAttribute{Optional: true, Description: "EC2 endpoint URL. Falls back to `AWS_ENDPOINT_URL_EC2`.", Validators: []validator.String{endpointURLValidator()}},
								"ssm": schema.StringAttribute{Optional: true, Description: "SSM endpoint URL. Falls back to `AWS_ENDPOINT_URL_SSM`.", Validators: []validator.String{endpointURLValidator()}},
								"iam": schema.StringAttribute{Optional: true, Description: "IAM endpoint URL (the head role of autoscaled clusters). Falls back to `AWS_ENDPOINT_URL_IAM`.", Validators: []validator.String{endpointURLValidator()}},
							}},
						},
					},
				},
			},
		},
	}
}

func (p *rayvllmProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	data := &ProviderData{
		Ray: RayDefaults{
			DashboardURL:   stringOr(cfg.DashboardURL, os.Getenv("RAY_ADDRESS")),
			AuthToken:      stringOr(cfg.AuthToken, os.Getenv("RAY_AUTH_TOKEN")),
			CABundlePEM:    cfg.RayCABundlePEM.ValueString(),
			RequestTimeout: 30 * time.Second,
		},
		AWS: AWSSettings{MaxAttempts: 5, MaxBackoff: 20 * time.Second},
		Hub: hfhub.FromEnv(cfg.HFEndpoint.ValueString(), cfg.HFToken.ValueString()),
	}
	if !cfg.RayRequestTimeoutSeconds.IsNull() {
		data.Ray.RequestTimeout = time.Duration(cfg.RayRequestTimeoutSeconds.ValueInt64()) * time.Second
	}
	resp.Diagnostics.Append(cfg.RayHeaders.ElementsAs(ctx, &data.Ray.Headers, false)...)
	if len(cfg.AWS) == 1 {
		a := cfg.AWS[0]
		data.AWS.Region = a.Region.ValueString()
		data.AWS.Profile = a.Profile.ValueString()
		resp.Diagnostics.Append(a.DefaultTags.ElementsAs(ctx, &data.AWS.DefaultTags, false)...)
		if !a.MaxAttempts.IsNull() {
			data.AWS.MaxAttempts = int(a.MaxAttempts.ValueInt64())
		}
		if !a.MaxBackoffSeconds.IsNull() {
			data.AWS.MaxBackoff = time.Duration(a.MaxBackoffSeconds.ValueInt64()) * time.Second
		}
		if len(a.AssumeRole) == 1 {
			data.AWS.AssumeRoleARN = a.AssumeRole[0].RoleARN.ValueString()
			data.AWS.AssumeRoleSessionName = stringOr(a.AssumeRole[0].SessionName, "terraform-provider-rayvllm")
			data.AWS.AssumeRoleExternalID = a.AssumeRole[0].ExternalID.ValueString()
		}
		if len(a.Endpoints) == 1 {
			data.AWS.EC2Endpoint = a.Endpoints[0].EC2.ValueString()
			data.AWS.SSMEndpoint = a.Endpoints[0].SSM.ValueString()
			data.AWS.IAMEndpoint = a.Endpoints[0].IAM.ValueString()
		}
	}
	if len(cfg.Kubernetes) == 1 {
		k := cfg.Kubernetes[0]
		data.Kube = kuberay.Config{
			ConfigPath: k.ConfigPath.ValueString(), ConfigContext: k.ConfigContext.ValueString(),
			Host: k.Host.ValueString(), Token: k.Token.ValueString(),
			ClientCertificatePEM: k.ClientCertificate.ValueString(), ClientKeyPEM: k.ClientKey.ValueString(),
			ClusterCACertificatePEM: k.ClusterCACertificate.ValueString(), Insecure: k.Insecure.ValueBool(),
		}
	}
	data.Kube = data.Kube.FromEnv()
	if data.AWS.EC2Endpoint == "" {
		data.AWS.EC2Endpoint = os.Getenv("AWS_ENDPOINT_URL_EC2")
	}
	if data.AWS.SSMEndpoint == "" {
		data.AWS.SSMEndpoint = os.Getenv("AWS_ENDPOINT_URL_SSM")
	}
	if data.AWS.IAMEndpoint == "" {
		data.AWS.IAMEndpoint = os.Getenv("AWS_ENDPOINT_URL_IAM")
	}
	resp.DataSourceData = data
	resp.ResourceData = data
	resp.EphemeralResourceData = data
}

func (p *rayvllmProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewInferenceClusterResource,
		NewBatchJobResource,
		NewVLLMWorkerResource,
		NewKubeRayClusterResource,
	}
}

func (p *rayvllmProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewGPUFitDataSource,
		NewBatchSizingDataSource,
		NewBatchOptionsDataSource,
		NewGPUsDataSource,
		NewModelDataSource,
		NewGPUCatalogDataSource,
	}
}

func (p *rayvllmProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{
		NewClusterTokenEphemeralResource,
	}
}

func (p *rayvllmProvider) Functions(context.Context) []func() function.Function {
	return []func() function.Function{
		NewGPUFitFunction,
		NewKVCacheBytesPerTokenFunction,
	}
}
