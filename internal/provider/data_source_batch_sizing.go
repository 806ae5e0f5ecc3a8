package provider

import (
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
)

var (
	_ datasource.DataSourceWithConfigure        = (*batchSizingDataSource)(nil)
	_ datasource.DataSource                     = (*batchSizingDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*batchSizingDataSource)(nil)
)

// NewBatchSizingDataSource is the rayvllm_batch_sizing data source.
func NewBatchSizingDataSource() datasource.DataSource { return &batchSizingDataSource{} }

type batchSizingDataSource struct{ hubConfigure }

type batchSizingModel struct {
	fitConfigModel
	NumRequests                     types.Int64   `tfsdk:"num_requests"`
	MeanInputTokens                 types.Int64   `tfsdk:"mean_input_tokens"`
	MeanOutputTokens                types.Int64   `tfsdk:"mean_output_tokens"`
	Objective                       types.String  `tfsdk:"objective"`
	GPUs                            types.Int64   `tfsdk:"gpus"`
	SLAHours                        types.Float64 `tfsdk:"sla_hours"`
	TargetKVCacheUtilization        types.Float64 `tfsdk:"target_kv_cache_utilization"`
	PricePerGPUHourUSD              types.Float64 `tfsdk:"price_per_gpu_hour_usd"`
	BatchSize                       types.Int64   `tfsdk:"batch_size"`
	Concurrency                     types.Int64   `tfsdk:"concurrency"`
	GPUsUsed                        types.Int64   `tfsdk:"gpus_used"`
	RequestsPerSecond               types.Float64 `tfsdk:"requests_per_second"`
	OutputTokensPerSecond           types.Float64 `tfsdk:"output_tokens_per_second"`
	PerReplicaRequestsPerSecond     types.Float64 `tfsdk:"per_replica_requests_per_second"`
	PerReplicaOutputTokensPerSecond types.Float64 `tfsdk:"per_replica_output_tokens_per_second"`
	HoursToComplete                 types.Float64 `tfsdk:"hours_to_complete"`
	GPUsRequired                    types.Int64   `tfsdk:"gpus_required"`
	CostUSD                         types.Float64 `tfsdk:"cost_usd"`
	CostPerMillionOutputTokensUSD   types.Float64 `tfsdk:"cost_per_million_output_tokens_usd"`
	MeetsSLA                        types.Bool    `tfsdk:"meets_sla"`
	Notes                           types.List    `tfsdk:"notes"`
	Fit                             types.Object  `tfsdk:"fit"`
}

func (d *batchSizingDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_batch_sizing"
}

func (d *batchSizingDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := fitInputAttributes(true)
	f := func(desc string) schema.Attribute { return schema.Float64Attribute{Computed: true, Description: desc} }
	maps.Copy(attrs, map[string]schema.Attribute{
		"num_requests": schema.Int64Attribute{Required: true, Description: "Prompts in the batch.",
			Validators: []validator.Int64{int64validator.AtLeast(1)}},
		"mean_input_tokens": schema.Int64Attribute{Required: true, Description: "Mean prompt length in tokens.",
			Validators: []validator.Int64{int64validator.AtLeast(1)}},
		"mean_output_tokens": schema.Int64Attribute{Required: true, Description: "Mean generated tokens per prompt.",
			Validators: []validator.Int64{int64validator.AtLeast(1)}},
		"objective": schema.StringAttribute{Optional: true,
			Description: "`throughput` (large prefill chunks, as many sequences as the KV cache allows) or `latency` (512-token prefill chunks, fewer sequences). Default `throughput`.",
			Validators:  []validator.String{stringvalidator.OneOf(hardware.Objectives...)}},
		"gpus": schema.Int64Attribute{Optional: true,
			Description: "GPUs available in total. Default: enough for `concurrency`, else for `sla_hours`, else one replica (or one instance of `instance_type`).",
			Validators:  []validator.Int64{int64validator.AtLeast(1)}},
		"sla_hours": schema.Float64Attribute{Optional: true,
			Description: "Deadline for the whole batch in hours. Sets `gpus_required` and `meets_sla`.",
			Validators:  []validator.Float64{float64validator.AtLeast(0.001)}},
		"target_kv_cache_utilization": schema.Float64Attribute{Optional: true,
			Description: "Share of the KV cache that `max_num_seqs` is sized to fill, in (0, 1]. Default 0.9.",
			Validators:  []validator.Float64{float64validator.Between(0.01, 1)}},
		"price_per_gpu_hour_usd": schema.Float64Attribute{Optional: true,
			Description: "Price of one GPU-hour in USD. Default: the on-demand price of `instance_type` ÷ its GPUs; without either, the cost outputs are 0.",
			Validators:  []validator.Float64{float64validator.AtLeast(0)}},
		"batch_size": schema.Int64Attribute{Optional: true, Computed: true,
			Description: "Ray Data `batch_size`: rows handed to each engine replica per call. Recommended when not set.",
			Validators:  []validator.Int64{int64validator.AtLeast(1)}},
		"concurrency": schema.Int64Attribute{Optional: true, Computed: true,
			Description: "Ray Data `concurrency`: engine replicas, each on `tensor_parallel_size` GPUs of its own. Derived from the GPUs when not set.",
			Validators:  []validator.Int64{int64validator.AtLeast(1)}},
		"gpus_used":                            schema.Int64Attribute{Computed: true, Description: "GPUs the run uses: `concurrency` × `tensor_parallel_size`."},
		"requests_per_second":                  f("Predicted requests per second, all replicas."),
		"output_tokens_per_second":             f("Predicted generated tokens per second, all replicas."),
		"per_replica_requests_per_second":      f("Predicted requests per second of one engine replica."),
		"per_replica_output_tokens_per_second": f("Predicted generated tokens per second of one engine replica."),
		"hours_to_complete":                    f("Predicted hours to finish `num_requests` with `gpus_used` GPUs."),
		"gpus_required":                        schema.Int64Attribute{Computed: true, Description: "GPUs needed to finish within `sla_hours`; 0 without an SLA."},
		"cost_usd":                             f("Cost of the run: GPU-hour price × `gpus_used` × `hours_to_complete`, in USD."),
		"cost_per_million_output_tokens_usd":   f("Cost per million generated tokens in USD."),
		"meets_sla":                            schema.BoolAttribute{Computed: true, Description: "Whether `hours_to_complete` ≤ `sla_hours` (true without an SLA)."},
		"notes":                                schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "How the recommendation was derived, and caveats."},
		"fit": schema.SingleNestedAttribute{Computed: true, Attributes: fitResultAttributes(),
			Description: "The memory fit of one engine replica, as `rayvllm_gpu_fit` reports it."},
	})
	resp.Schema = schema.Schema{
		Description: "Sizes a Ray Data + vLLM batch run from first principles (roofline: prefill bound by FLOPS, decode by memory bandwidth): vLLM's `max_num_seqs` and `max_num_batched_tokens`, Ray Data `batch_size` and `concurrency`, throughput, time, GPUs for a deadline and cost. Fails the plan when one replica does not fit.",
		Attributes:  attrs,
	}
}

func (d *batchSizingDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return fitConfigValidators()
}

func (d *batchSizingDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m batchSizingModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rf, err := m.resolve(ctx, d.hub)
	if err != nil {
		addHardwareError(&resp.Diagnostics, err)
		return
	}
	in := hardware.SizingInput{
		Fit: rf.In,
		Workload: hardware.Workload{
			NumRequests:      m.NumRequests.ValueInt64(),
			MeanInputTokens:  int(m.MeanInputTokens.ValueInt64()),
			MeanOutputTokens: int(m.MeanOutputTokens.ValueInt64()),
		},
		Objective:                stringOr(m.Objective, "throughput"),
		GPUs:                     int(int64Or(m.GPUs, 0)),
		SLAHours:                 float64Or(m.SLAHours, 0),
		TargetKVCacheUtilization: float64Or(m.TargetKVCacheUtilization, 0.9),
		PricePerGPUHourUSD:       float64Or(m.PricePerGPUHourUSD, 0),
	}
	if rf.Instance != nil && m.PricePerGPUHourUSD.IsNull() {
		in.PricePerGPUHourUSD = rf.Instance.PricePerGPUHourUSD()
	}
	tp := rf.In.TensorParallelSize
	if in.GPUs > 0 && in.GPUs < tp {
		resp.Diagnostics.AddAttributeError(path.Root("tensor_parallel_size"), "Invalid tensor_parallel_size",
			fmt.Sprintf("tensor_parallel_size = %d needs %d GPUs for one engine replica, but gpus = %d. Set gpus = %d (or a multiple of %d), or tensor_parallel_size to at most %d.",
				tp, tp, in.GPUs, tp, tp, in.GPUs))
		return
	}
	if !m.Concurrency.IsNull() {
		gpus := int(m.Concurrency.ValueInt64()) * tp
		if in.GPUs != 0 && in.GPUs != gpus {
			resp.Diagnostics.AddAttributeError(path.Root("gpus"), "Invalid gpus",
				fmt.Sprintf("gpus = %d disagrees with concurrency %d × tensor_parallel_size %d = %d GPUs. Set gpus = %d, or concurrency = %d, or remove one of them.",
					in.GPUs, m.Concurrency.ValueInt64(), tp, gpus, gpus, max(in.GPUs/tp, 1)))
			return
		}
		in.GPUs = gpus
	}
	if in.GPUs == 0 && in.SLAHours == 0 && rf.Instance != nil {
		in.GPUs = rf.Instance.GPUCount
	}
	res, err := hardware.Size(in)
	if err != nil {
		addHardwareError(&resp.Diagnostics, err)
		return
	}
	if !res.Fit.Fits {
		resp.Diagnostics.AddError(misfitError(rf.In, res.Fit, ""))
		return
	}
	fit, diags := types.ObjectValueFrom(ctx, objectAttrTypes(fitResultAttributes()), newFitResultModel(res.Fit, rf.In.GPU, rf.In.Model))
	resp.Diagnostics.Append(diags...)
	m.Fit = fit
	m.MaxNumSeqs = types.Int64Value(int64(res.MaxNumSeqs))
	m.MaxNumBatchedTokens = types.Int64Value(int64(res.MaxNumBatchedTokens))
	if m.BatchSize.IsNull() {
		m.BatchSize = types.Int64Value(int64(res.BatchSize))
	}
	m.Concurrency = types.Int64Value(int64(res.Concurrency))
	m.GPUsUsed = types.Int64Value(int64(res.GPUsUsed))
	m.RequestsPerSecond = types.Float64Value(round(res.RequestsPerSecond, 3))
	m.OutputTokensPerSecond = types.Float64Value(round(res.OutputTokensPerSecond, 1))
	m.PerReplicaRequestsPerSecond = types.Float64Value(round(res.PerReplicaRequestsPerSecond, 3))
	m.PerReplicaOutputTokensPerSecond = types.Float64Value(round(res.PerReplicaOutputTokensPerSecond, 1))
	m.HoursToComplete = types.Float64Value(round(res.HoursToComplete, 3))
	m.GPUsRequired = types.Int64Value(int64(res.GPUsRequired))
	m.CostUSD = types.Float64Value(round(res.CostUSD, 2))
	m.CostPerMillionOutputTokensUSD = types.Float64Value(round(res.CostPerMillionOutputTokensUSD, 4))
	m.MeetsSLA = types.BoolValue(res.MeetsSLA)
	m.Notes = stringList(res.Notes)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
