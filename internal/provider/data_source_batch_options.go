package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
)

var _ datasource.DataSource = (*batchOptionsDataSource)(nil)

// NewBatchOptionsDataSource is the rayvllm_batch_options data source.
func NewBatchOptionsDataSource() datasource.DataSource { return &batchOptionsDataSource{} }

type batchOptionsDataSource struct{}

type batchOptionsModel struct {
	Model            types.String   `tfsdk:"model"`
	MaxModelLen      types.Int64    `tfsdk:"max_model_len"`
	NumRequests      types.Int64    `tfsdk:"num_requests"`
	MeanInputTokens  types.Int64    `tfsdk:"mean_input_tokens"`
	MeanOutputTokens types.Int64    `tfsdk:"mean_output_tokens"`
	SLAHours         types.Float64  `tfsdk:"sla_hours"`
	BudgetUSD        types.Float64  `tfsdk:"budget_usd"`
	InstanceTypes    []types.String `tfsdk:"instance_types"`
	Quantizations    []types.String `tfsdk:"quantizations"`
	PlanFor          types.String   `tfsdk:"plan_for"`
	ModelSource      types.String   `tfsdk:"model_source"`
	PreparedImage    types.Bool     `tfsdk:"prepared_image"`
	Options          []optionModel  `tfsdk:"options"`
}

type optionModel struct {
	InstanceType        types.String  `tfsdk:"instance_type"`
	GPU                 types.String  `tfsdk:"gpu"`
	Quantization        types.String  `tfsdk:"quantization"`
	TensorParallelSize  types.Int64   `tfsdk:"tensor_parallel_size"`
	ReplicasPerInstance types.Int64   `tfsdk:"replicas_per_instance"`
	Instances           types.Int64   `tfsdk:"instances"`
	GPUs                types.Int64   `tfsdk:"gpus"`
	MaxNumSeqs          types.Int64   `tfsdk:"max_num_seqs"`
	MaxNumBatchedTokens types.Int64   `tfsdk:"max_num_batched_tokens"`
	Hours               types.Float64 `tfsdk:"hours_to_complete"`
	HoursLow            types.Float64 `tfsdk:"hours_to_complete_low"`
	HoursHigh           types.Float64 `tfsdk:"hours_to_complete_high"`
	CostUSD             types.Float64 `tfsdk:"cost_usd"`
	CostUSDLow          types.Float64 `tfsdk:"cost_usd_low"`
	CostUSDHigh         types.Float64 `tfsdk:"cost_usd_high"`
	MeetsSLA            types.Bool    `tfsdk:"meets_sla"`
	Feasible            types.Bool    `tfsdk:"feasible"`
	Why                 types.String  `tfsdk:"why"`
}

func (d *batchOptionsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_batch_options"
}

func (d *batchOptionsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	pos := []validator.Int64{int64validator.AtLeast(1)}
	f := func(desc string) schema.Attribute { return schema.Float64Attribute{Computed: true, Description: desc} }
	i := func(desc string) schema.Attribute { return schema.Int64Attribute{Computed: true, Description: desc} }
	resp.Schema = schema.Schema{
		Description: "Ranks every way to run a batch: each (EC2 instance type, quantization, tensor-parallel size) is sized as " +
			"`rayvllm_batch_sizing` sizes it (engine batch lowered until it fits, hours and cost at `plan_for` with start-up), and the " +
			"options come back feasible ones first, cheapest first; the others say why they are out (no fit, missed deadline, over budget).",
		Attributes: map[string]schema.Attribute{
			"model": schema.StringAttribute{Required: true, Description: "Catalog model id, e.g. `meta-llama/Llama-3.1-8B-Instruct` (see `rayvllm_model`).",
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
			"max_model_len":      schema.Int64Attribute{Optional: true, Description: "vLLM `max_model_len` in tokens. Default: the model's.", Validators: pos},
			"num_requests":       schema.Int64Attribute{Required: true, Description: "Prompts in the batch.", Validators: pos},
			"mean_input_tokens":  schema.Int64Attribute{Required: true, Description: "Mean prompt length in tokens.", Validators: pos},
			"mean_output_tokens": schema.Int64Attribute{Required: true, Description: "Mean generated tokens per prompt.", Validators: pos},
			"sla_hours": schema.Float64Attribute{Optional: true, Description: "Deadline in hours: each option gets the fewest instances that meet it. Without it each option is one instance.",
				Validators: []validator.Float64{float64validator.AtLeast(0.001)}},
			"budget_usd": schema.Float64Attribute{Optional: true, Description: "Most the run may cost in USD at the `plan_for` level; dearer options are out.",
				Validators: []validator.Float64{float64validator.AtLeast(0)}},
			"instance_types": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				Description: "EC2 instance types to consider. Default: every GPU instance type of the provider's catalog (on-demand list prices).",
				Validators:  []validator.List{listvalidator.SizeAtLeast(1)}},
			"quantizations": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				Description: "Quantizations to consider (`none` runs the checkpoint as it is). Default `[\"none\", \"fp8\"]`.",
				Validators:  []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ValueStringsAre(stringvalidator.OneOf(hardware.Quantizations...))}},
			"plan_for": schema.StringAttribute{Optional: true, Description: "`safe` (default: the low end of the throughput range) or `typical`, as on `rayvllm_batch_sizing`.",
				Validators: []validator.String{stringvalidator.OneOf(hardware.PlanLevels...)}},
			"model_source": schema.StringAttribute{Optional: true, Description: "`hub` (default) or `s3`: where nodes download the checkpoint, for the start-up.",
				Validators: []validator.String{stringvalidator.OneOf(hardware.ModelSources...)}},
			"prepared_image": schema.BoolAttribute{Optional: true, Description: "Nodes boot an image with Ray and vLLM installed. Default false."},
			"options": schema.ListNestedAttribute{Computed: true,
				Description: "Every option, feasible ones first and cheapest first (at `plan_for`), then the others.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"instance_type":          schema.StringAttribute{Computed: true, Description: "EC2 instance type."},
					"gpu":                    schema.StringAttribute{Computed: true, Description: "Its GPU (catalog name)."},
					"quantization":           schema.StringAttribute{Computed: true, Description: "Quantization (`none`: the checkpoint as it is)."},
					"tensor_parallel_size":   i("GPUs per engine replica."),
					"replicas_per_instance":  i("Engine replicas one instance holds: its GPUs ÷ `tensor_parallel_size`."),
					"instances":              i("Whole instances the run uses."),
					"gpus":                   i("GPUs the run uses."),
					"max_num_seqs":           i("vLLM `max_num_seqs` recommended for it."),
					"max_num_batched_tokens": i("vLLM `max_num_batched_tokens` recommended for it."),
					"hours_to_complete":      f("Hours at the `plan_for` level, start-up included."),
					"hours_to_complete_low":  f("Hours at the high end of the throughput range."),
					"hours_to_complete_high": f("Hours at the low end of the throughput range."),
					"cost_usd":               f("Cost in USD at the `plan_for` level (whole instances, on-demand)."),
					"cost_usd_low":           f("Cost in USD at the high end of the throughput range."),
					"cost_usd_high":          f("Cost in USD at the low end of the throughput range."),
					"meets_sla":              schema.BoolAttribute{Computed: true, Description: "Whether it finishes within `sla_hours` at the `plan_for` level."},
					"feasible":               schema.BoolAttribute{Computed: true, Description: "Fits, meets the deadline and the budget."},
					"why":                    schema.StringAttribute{Computed: true, Description: "Why it is out; empty when feasible."},
				}}},
		},
	}
}

func (d *batchOptionsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m batchOptionsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	model, err := hfconfig.LookupModel(m.Model.ValueString())
	if err != nil {
		addHardwareError(&resp.Diagnostics, err)
		return
	}
	in := hardware.OptionsInput{Model: model, MaxModelLen: int(int64Or(m.MaxModelLen, 0)),
		Workload: hardware.Workload{NumRequests: m.NumRequests.ValueInt64(), MeanInputTokens: int(m.MeanInputTokens.ValueInt64()), MeanOutputTokens: int(m.MeanOutputTokens.ValueInt64())},
		SLAHours: float64Or(m.SLAHours, 0), BudgetUSD: float64Or(m.BudgetUSD, 0), PlanFor: stringOr(m.PlanFor, hardware.PlanSafe),
		ModelSource: stringOr(m.ModelSource, hardware.ModelSourceHub), PreparedImage: m.PreparedImage.ValueBool()}
	for _, s := range m.InstanceTypes {
		in.InstanceTypes = append(in.InstanceTypes, s.ValueString())
	}
	for _, s := range m.Quantizations {
		in.Quantizations = append(in.Quantizations, s.ValueString())
	}
	opts, err := hardware.RankOptions(in)
	if err != nil {
		addHardwareError(&resp.Diagnostics, err)
		return
	}
	m.Options = make([]optionModel, 0, len(opts))
	for _, o := range opts {
		m.Options = append(m.Options, optionModel{
			InstanceType: types.StringValue(o.InstanceType), GPU: types.StringValue(o.GPU), Quantization: types.StringValue(o.Quantization),
			TensorParallelSize: types.Int64Value(int64(o.TensorParallelSize)), ReplicasPerInstance: types.Int64Value(int64(o.ReplicasPerInstance)),
			Instances: types.Int64Value(int64(o.Instances)), GPUs: types.Int64Value(int64(o.GPUs)),
			MaxNumSeqs: types.Int64Value(int64(o.MaxNumSeqs)), MaxNumBatchedTokens: types.Int64Value(int64(o.MaxNumBatchedTokens)),
			Hours: types.Float64Value(round(o.Hours, 3)), HoursLow: types.Float64Value(round(o.HoursLow, 3)), HoursHigh: types.Float64Value(round(o.HoursHigh, 3)),
			CostUSD: types.Float64Value(round(o.CostUSD, 2)), CostUSDLow: types.Float64Value(round(o.CostUSDLow, 2)), CostUSDHigh: types.Float64Value(round(o.CostUSDHigh, 2)),
			MeetsSLA: types.BoolValue(o.MeetsSLA), Feasible: types.BoolValue(o.Feasible), Why: types.StringValue(o.Why),
		})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
