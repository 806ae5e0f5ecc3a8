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
	engineInputs
	planModel
	MeasuredRun                     *measuredRunModel `tfsdk:"measured_run"`
	RequestsPerSecondLow            types.Float64     `tfsdk:"requests_per_second_low"`
	RequestsPerSecondHigh           types.Float64     `tfsdk:"requests_per_second_high"`
	InstancesRequired               types.Int64       `tfsdk:"instances_required"`
	NumRequests                     types.Int64       `tfsdk:"num_requests"`
	MeanInputTokens                 types.Int64       `tfsdk:"mean_input_tokens"`
	MeanOutputTokens                types.Int64       `tfsdk:"mean_output_tokens"`
	SharedPrefixTokens              types.Int64       `tfsdk:"shared_prefix_tokens"`
	Objective                       types.String      `tfsdk:"objective"`
	GPUs                            types.Int64       `tfsdk:"gpus"`
	SLAHours                        types.Float64     `tfsdk:"sla_hours"`
	TargetKVCacheUtilization        types.Float64     `tfsdk:"target_kv_cache_utilization"`
	PricePerGPUHourUSD              types.Float64     `tfsdk:"price_per_gpu_hour_usd"`
	BatchSize                       types.Int64       `tfsdk:"batch_size"`
	Concurrency                     types.Int64       `tfsdk:"concurrency"`
	GPUsUsed                        types.Int64       `tfsdk:"gpus_used"`
	RequestsPerSecond               types.Float64     `tfsdk:"requests_per_second"`
	OutputTokensPerSecond           types.Float64     `tfsdk:"output_tokens_per_second"`
	PerReplicaRequestsPerSecond     types.Float64     `tfsdk:"per_replica_requests_per_second"`
	PerReplicaOutputTokensPerSecond types.Float64     `tfsdk:"per_replica_output_tokens_per_second"`
	HoursToComplete                 types.Float64     `tfsdk:"hours_to_complete"`
	GPUsRequired                    types.Int64       `tfsdk:"gpus_required"`
	CostUSD                         types.Float64     `tfsdk:"cost_usd"`
	CostPerMillionOutputTokensUSD   types.Float64     `tfsdk:"cost_per_million_output_tokens_usd"`
	MeetsSLA                        types.Bool        `tfsdk:"meets_sla"`
	Notes                           types.List        `tfsdk:"notes"`
	Fit                             types.Object      `tfsdk:"fit"`
}

type measuredRunModel struct {
	EngineOutputTokensPerSecond types.Float64 `tfsdk:"engine_output_tokens_per_second"`
	MeanInputTokens             types.Int64   `tfsdk:"mean_input_tokens"`
	MeanOutputTokens            types.Int64   `tfsdk:"mean_output_tokens"`
	Replicas                    types.Int64   `tfsdk:"replicas"`
	Requests                    types.Int64   `tfsdk:"requests"`
}

func (d *batchSizingDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_batch_sizing"
}

func (d *batchSizingDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := fitInputAttributes(true)
	maps.Copy(attrs, engineInputAttributes())
	maps.Copy(attrs, planAttributes())
	f := func(desc string) schema.Attribute { return schema.Float64Attribute{Computed: true, Description: desc} }
	maps.Copy(attrs, map[string]schema.Attribute{
		"num_requests": schema.Int64Attribute{Required: true, Description: "Prompts in the batch.",
			Validators: []validator.Int64{int64validator.AtLeast(1)}},
		"mean_input_tokens": schema.Int64Attribute{Required: true, Description: "Mean prompt length in tokens.",
			Validators: []validator.Int64{int64validator.AtLeast(1)}},
		"mean_output_tokens": schema.Int64Attribute{Required: true, Description: "Mean generated tokens per prompt.",
			Validators: []validator.Int64{int64validator.AtLeast(1)}},
		"shared_prefix_tokens": schema.Int64Attribute{Optional: true, Description: "Tokens every prompt starts with, such as a shared system prompt " +
			"(part of `mean_input_tokens`). With `enable_prefix_caching` (vLLM's default) the first wave of prompts computes them and later prompts " +
			"read them from the KV cache: their prefill is `mean_input_tokens` − the cached tokens, and the cached blocks are held once. vLLM caches " +
			"whole KV blocks and always computes a prompt's last token, so the cached tokens are min(floor(`shared_prefix_tokens` / `block_size`) × " +
			"`block_size`, `mean_input_tokens` − 1) (vLLM docs, Automatic Prefix Caching). Default 0.",
			Validators: []validator.Int64{int64validator.AtLeast(0)}},
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
		"measured_run": schema.SingleNestedAttribute{Optional: true,
			Description: "What a previous `rayvllm_batch_job` run of the same model, GPU and engine settings measured. The prediction is " +
				"rescaled by measured ÷ predicted for that run's own lengths and replicas, and `notes` says so. Wire it from the job's `metrics`.",
			Attributes: map[string]schema.Attribute{
				"engine_output_tokens_per_second": schema.Float64Attribute{Required: true,
					Description: "The run's `metrics.engine_output_tokens_per_second` (all replicas together).",
					Validators:  []validator.Float64{float64validator.AtLeast(0.001)}},
				"mean_input_tokens": schema.Int64Attribute{Required: true, Description: "The run's mean prompt tokens: `metrics.input_tokens / metrics.rows`.",
					Validators: []validator.Int64{int64validator.AtLeast(1)}},
				"mean_output_tokens": schema.Int64Attribute{Required: true, Description: "The run's mean generated tokens: `metrics.output_tokens / metrics.rows`.",
					Validators: []validator.Int64{int64validator.AtLeast(1)}},
				"replicas": schema.Int64Attribute{Optional: true, Description: "Engine replicas (`concurrency`) of the run. Default 1.",
					Validators: []validator.Int64{int64validator.AtLeast(1)}},
				"requests": schema.Int64Attribute{Optional: true, Description: "Rows the run processed (`metrics.rows`); sets how much of it was ramp and tail. Default: steady state.",
					Validators: []validator.Int64{int64validator.AtLeast(1)}},
			}},
		"requests_per_second_low":  f("Low end of `requests_per_second`: the prediction times the 10th percentile of observed ÷ predicted in the calibration's grouped cross-validation (by model and by GPU), or its worst miss where the run extrapolates (see `notes` and the memory-model guide)."),
		"requests_per_second_high": f("High end of `requests_per_second`: the prediction times the 90th percentile of observed ÷ predicted in the grouped cross-validation, or its worst miss where the run extrapolates."),
		"instances_required": schema.Int64Attribute{Computed: true,
			Description: "Whole instances of `instance_type` for the run (for `gpus_required` with an SLA); 0 without `instance_type`."},
		"gpus_used":                            schema.Int64Attribute{Computed: true, Description: "GPUs the run uses: `concurrency` × `tensor_parallel_size`."},
		"requests_per_second":                  f("Predicted requests per second, all replicas."),
		"output_tokens_per_second":             f("Predicted generated tokens per second, all replicas."),
		"per_replica_requests_per_second":      f("Predicted requests per second of one engine replica."),
		"per_replica_output_tokens_per_second": f("Predicted generated tokens per second of one engine replica."),
		"hours_to_complete":                    f("Predicted hours to finish `num_requests` with `gpus_used` GPUs, at the `plan_for` level."),
		"gpus_required":                        schema.Int64Attribute{Computed: true, Description: "GPUs needed to finish within `sla_hours`; 0 without an SLA."},
		"cost_usd":                             f("Cost of the run in USD: GPU-hour price × `gpus_used` × `hours_to_complete`, or with `instance_type` whole instances × the instance price × `hours_to_complete`."),
		"cost_per_million_output_tokens_usd":   f("Cost per million generated tokens in USD."),
		"meets_sla":                            schema.BoolAttribute{Computed: true, Description: "Whether `hours_to_complete` ≤ `sla_hours` (true without an SLA)."},
		"notes":                                schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "How the recommendation was derived, and caveats."},
		"fit": schema.SingleNestedAttribute{Computed: true, Attributes: fitResultAttributes(),
			Description: "The memory fit of one engine replica, as `rayvllm_gpu_fit` reports it."},
	})
	resp.Schema = schema.Schema{
		Description: "Sizes a Ray Data + vLLM batch run: vLLM's `max_num_seqs` and `max_num_batched_tokens`, Ray Data `batch_size` and `concurrency`, throughput with a range, time, GPUs (and whole instances) for a deadline, and cost. Throughput comes from a step-level model (matmul and attention rooflines, tensor-parallel all-reduce and sync, per-step overhead, chunked prefill, ramp and tail, start-up) whose seven constants are fitted to published vLLM benchmark runs and checked by grouped cross-validation on models and GPUs the fit has not seen; a measured run (`measured_run`) rescales it. Hours and cost are planned at `plan_for` (default the safe, low end of the range). It lowers `max_num_seqs` and `max_num_batched_tokens` until one replica fits, and fails the plan only when none does (unless `require_fit = false`). See the memory-model guide.",
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
	m.apply(&rf.In, rf.Instance)
	in := hardware.SizingInput{
		Fit: rf.In,
		Workload: hardware.Workload{
			NumRequests:        m.NumRequests.ValueInt64(),
			MeanInputTokens:    int(m.MeanInputTokens.ValueInt64()),
			MeanOutputTokens:   int(m.MeanOutputTokens.ValueInt64()),
			SharedPrefixTokens: int(int64Or(m.SharedPrefixTokens, 0)),
			PrefixCaching:      m.EnablePrefixCaching.IsNull() || m.EnablePrefixCaching.ValueBool(),
		},
		Objective:                stringOr(m.Objective, "throughput"),
		GPUs:                     int(int64Or(m.GPUs, 0)),
		SLAHours:                 float64Or(m.SLAHours, 0),
		TargetKVCacheUtilization: float64Or(m.TargetKVCacheUtilization, 0.9),
		PricePerGPUHourUSD:       float64Or(m.PricePerGPUHourUSD, 0),
		Instance:                 rf.Instance,
	}
	m.toSizing(&in)
	if mr := m.MeasuredRun; mr != nil {
		in.Measured = &hardware.MeasuredRun{
			EngineOutputTokensPerSecond: mr.EngineOutputTokensPerSecond.ValueFloat64(),
			MeanInputTokens:             int(mr.MeanInputTokens.ValueInt64()),
			MeanOutputTokens:            int(mr.MeanOutputTokens.ValueInt64()),
			Replicas:                    int(int64Or(mr.Replicas, 1)),
			Requests:                    int64Or(mr.Requests, 0),
		}
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
	if !res.Fit.Fits && (m.RequireFit.IsNull() || m.RequireFit.ValueBool()) {
		resp.Diagnostics.AddError(misfitError(rf.In, res.Fit, " Set require_fit = false to get fits = false and the reasons instead of an error."))
		return
	}
	m.set(res)
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
	m.RequestsPerSecondLow = types.Float64Value(round(res.RequestsPerSecondLow, 3))
	m.RequestsPerSecondHigh = types.Float64Value(round(res.RequestsPerSecondHigh, 3))
	m.InstancesRequired = types.Int64Value(int64(res.InstancesRequired))
	m.Notes = stringList(res.Notes)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
