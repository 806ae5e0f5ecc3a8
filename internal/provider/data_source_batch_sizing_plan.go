package provider

import (
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
)

// planModel is the plan level, require_fit and the two ends of the range
// that rayvllm_batch_sizing adds to its outputs.
type planModel struct {
	PlanFor               types.String  `tfsdk:"plan_for"`
	RequireFit            types.Bool    `tfsdk:"require_fit"`
	Fits                  types.Bool    `tfsdk:"fits"`
	HoursToCompleteLow    types.Float64 `tfsdk:"hours_to_complete_low"`
	HoursToCompleteHigh   types.Float64 `tfsdk:"hours_to_complete_high"`
	CostUSDLow            types.Float64 `tfsdk:"cost_usd_low"`
	CostUSDHigh           types.Float64 `tfsdk:"cost_usd_high"`
	LoweredFromMaxNumSeqs types.Int64   `tfsdk:"lowered_from_max_num_seqs"`
	ModelSource           types.String  `tfsdk:"model_source"`
	PreparedImage         types.Bool    `tfsdk:"prepared_image"`
	StartupSeconds        types.Float64 `tfsdk:"startup_seconds"`
}

func planAttributes() map[string]schema.Attribute {
	f := func(desc string) schema.Attribute { return schema.Float64Attribute{Computed: true, Description: desc} }
	return map[string]schema.Attribute{
		"plan_for": schema.StringAttribute{Optional: true,
			Description: "Throughput level that `hours_to_complete`, `cost_usd`, `gpus_required`, `instances_required` and `meets_sla` are planned on: " +
				"`safe` (default) is the low end of the range (`requests_per_second_low`), `typical` the prediction itself. The range is the grouped " +
				"cross-validation's 10th–90th percentile of observed ÷ predicted, widened to its worst miss where the run extrapolates (see `notes`).",
			Validators: []validator.String{stringvalidator.OneOf(hardware.PlanLevels...)}},
		"require_fit": schema.BoolAttribute{Optional: true,
			Description: "When true (default), a replica that does not fit in GPU memory fails the plan. When false, the data source answers with " +
				"`fits = false`, the reasons and suggestions in `fit`, and zero throughput, hours and cost: for comparing instance types in a `for_each`."},
		"fits":                   schema.BoolAttribute{Computed: true, Description: "Whether one engine replica fits in GPU memory (the recommendation lowers `max_num_seqs` and `max_num_batched_tokens` first)."},
		"hours_to_complete_low":  f("Hours to finish at the high end of the throughput range (same GPUs)."),
		"hours_to_complete_high": f("Hours to finish at the low end of the throughput range (same GPUs)."),
		"cost_usd_low":           f("Cost in USD at the high end of the throughput range."),
		"cost_usd_high":          f("Cost in USD at the low end of the throughput range."),
		"model_source": schema.StringAttribute{Optional: true,
			Description: "Where each node downloads the checkpoint from, for the start-up estimate: `hub` (default, about 100 MB/s) or `s3` (about 700 MB/s with parallel ranged GETs).",
			Validators:  []validator.String{stringvalidator.OneOf(hardware.ModelSources...)}},
		"prepared_image": schema.BoolAttribute{Optional: true,
			Description: "Whether the nodes boot an image with Ray and vLLM installed (no pip install in the start-up). Default false."},
		"startup_seconds": f("Estimated start-up of one node launch: boot + install (unless `prepared_image`) + model download + load + engine compile. Added once to `hours_to_complete` (replicas start in parallel) and billed in `cost_usd`; the parts are in `notes`."),
		"lowered_from_max_num_seqs": schema.Int64Attribute{Computed: true,
			Description: "The `max_num_seqs` the recommendation tried first and lowered from so that the engine fits; 0 when it was not lowered."},
	}
}

func (p planModel) toSizing(in *hardware.SizingInput) {
	in.PlanFor = stringOr(p.PlanFor, hardware.PlanSafe)
	in.ModelSource = stringOr(p.ModelSource, hardware.ModelSourceHub)
	in.PreparedImage = p.PreparedImage.ValueBool()
}

func (p *planModel) set(res hardware.SizingResult) {
	p.Fits = types.BoolValue(res.Fit.Fits)
	p.HoursToCompleteLow = types.Float64Value(round(res.HoursFastest, 3))
	p.HoursToCompleteHigh = types.Float64Value(round(res.HoursSlowest, 3))
	p.CostUSDLow = types.Float64Value(round(res.CostUSDLow, 2))
	p.CostUSDHigh = types.Float64Value(round(res.CostUSDHigh, 2))
	p.LoweredFromMaxNumSeqs = types.Int64Value(int64(res.LoweredMaxNumSeqsFrom))
	p.StartupSeconds = types.Float64Value(round(res.Startup.Seconds(), 1))
}
