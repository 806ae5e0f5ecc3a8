package provider

import (
	"context"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

var (
	_ datasource.DataSourceWithConfigure        = (*gpuFitDataSource)(nil)
	_ datasource.DataSource                     = (*gpuFitDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*gpuFitDataSource)(nil)
)

// NewGPUFitDataSource is the rayvllm_gpu_fit data source.
func NewGPUFitDataSource() datasource.DataSource { return &gpuFitDataSource{} }

type gpuFitDataSource struct{ hubConfigure }

type gpuFitModel struct {
	fitConfigModel
	engineInputs
	RequireFit types.Bool `tfsdk:"require_fit"`
	fitResultModel
}

func (d *gpuFitDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gpu_fit"
}

func (d *gpuFitDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := fitInputAttributes(false)
	maps.Copy(attrs, engineInputAttributes())
	attrs["require_fit"] = schema.BoolAttribute{
		Optional:    true,
		Description: "Fail the plan when the model does not fit, with the shortfall and the suggestions. Default true.",
	}
	maps.Copy(attrs, fitResultAttributes())
	resp.Schema = schema.Schema{
		Description: "Checks at plan time whether a model fits a GPU under vLLM's own memory accounting (V1 engine): weights, activation peak, non-torch and CUDA-graph memory, and the KV cache that remains. No cloud account needed. See the memory-model guide for every formula and its source.",
		Attributes:  attrs,
	}
}

func (d *gpuFitDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return fitConfigValidators()
}

func (d *gpuFitDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m gpuFitModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rf, err := m.resolve(ctx, d.hub)
	if err != nil {
		addHardwareError(&resp.Diagnostics, err)
		return
	}
	m.apply(&rf.In, rf.Instance)
	misfit := diag.SeverityInvalid // the numbers are the answer
	if m.RequireFit.IsNull() || m.RequireFit.ValueBool() {
		misfit = diag.SeverityError
	}
	results := fitCheck{In: rf.In, GPUs: []catalog.GPU{rf.In.GPU}, At: rootAttr, Misfit: misfit, Hint: requireFitHint}.run(&resp.Diagnostics)
	if resp.Diagnostics.HasError() || len(results) == 0 {
		return
	}
	res := results[0]
	m.fitResultModel = newFitResultModel(res, rf.In.GPU, rf.In.Model)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
