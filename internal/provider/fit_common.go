package provider

import (
	"context"
	"fmt"
	"maps"
	"math"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hfhub"
)

// fitConfigModel holds the engine inputs shared by rayvllm_gpu_fit,
// rayvllm_batch_sizing and the gpu_fit function.
type fitConfigModel struct {
	Model                  types.String  `tfsdk:"model"`
	ModelConfigJSON        types.String  `tfsdk:"model_config_json"`
	ModelRevision          types.String  `tfsdk:"model_revision"`
	ModelName              types.String  `tfsdk:"model_name"`
	GPU                    types.String  `tfsdk:"gpu"`
	CustomGPUName          types.String  `tfsdk:"custom_gpu_name"`
	InstanceType           types.String  `tfsdk:"instance_type"`
	GPUMemoryGiB           types.Float64 `tfsdk:"gpu_memory_gib"`
	GPUMemoryBandwidthGBps types.Float64 `tfsdk:"gpu_memory_bandwidth_gbps"`
	GPUBF16TFLOPS          types.Float64 `tfsdk:"gpu_bf16_tflops"`
	GPUFP8TFLOPS           types.Float64 `tfsdk:"gpu_fp8_tflops"`
	engineSettingsModel
	BlockSize types.Int64 `tfsdk:"block_size"`
}

// fitInputAttributes returns the input attributes. In rayvllm_batch_sizing
// max_num_seqs and max_num_batched_tokens are also outputs (the recommended
// values when not set), hence computed.
func fitInputAttributes(engineKnobsComputed bool) map[string]schema.Attribute {
	positiveF := []validator.Float64{float64validator.AtLeast(0.001)}
	attrs := map[string]schema.Attribute{
		"gpu": schema.StringAttribute{
			Optional:    true,
			Description: "GPU catalog name, e.g. `RTX-3090`, `A100-80GB`, `H100-80GB-SXM`, `L40S`, `MI300X`. Exactly one of `gpu`, `instance_type` and `gpu_memory_gib` is required.",
			Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"instance_type": schema.StringAttribute{
			Optional:    true,
			Description: "AWS EC2 instance type with GPUs, e.g. `g5.xlarge` or `p5.48xlarge`. Sets the GPU and the price.",
			Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"gpu_memory_gib": schema.Float64Attribute{
			Optional:    true,
			Description: "Usable memory of a custom GPU in GiB (e.g. 128 for a DGX Spark's unified memory). Requires `gpu_memory_bandwidth_gbps` and `gpu_bf16_tflops`.",
			Validators: append([]validator.Float64{
				float64validator.AlsoRequires(path.MatchRoot("gpu_memory_bandwidth_gbps"), path.MatchRoot("gpu_bf16_tflops")),
			}, positiveF...),
		},
		"custom_gpu_name": schema.StringAttribute{
			Optional:    true,
			Description: "Name of a custom GPU (`gpu_memory_gib`) in `gpu_name` and messages, e.g. `DGX-Spark`; otherwise `custom-<memory>GiB`. Only with `gpu_memory_gib`.",
			Validators:  []validator.String{stringvalidator.LengthBetween(1, 100), stringvalidator.AlsoRequires(path.MatchRoot("gpu_memory_gib"))},
		},
		"gpu_memory_bandwidth_gbps": schema.Float64Attribute{
			Optional:    true,
			Description: "Memory bandwidth of a custom GPU in GB/s. Only with `gpu_memory_gib`.",
			Validators:  append([]validator.Float64{float64validator.AlsoRequires(path.MatchRoot("gpu_memory_gib"))}, positiveF...),
		},
		"gpu_bf16_tflops": schema.Float64Attribute{
			Optional:    true,
			Description: "Dense bf16 TFLOPS of a custom GPU. Only with `gpu_memory_gib`.",
			Validators:  append([]validator.Float64{float64validator.AlsoRequires(path.MatchRoot("gpu_memory_gib"))}, positiveF...),
		},
		"gpu_fp8_tflops": schema.Float64Attribute{
			Optional:    true,
			Description: "Dense fp8 TFLOPS of a custom GPU; omit when it has no fp8 tensor cores. Only with `gpu_memory_gib`.",
			Validators:  []validator.Float64{float64validator.AlsoRequires(path.MatchRoot("gpu_memory_gib")), float64validator.AtLeast(0)},
		},
		"block_size": schema.Int64Attribute{
			Optional:    true,
			Description: "KV cache block size in tokens. Default 16.",
			Validators:  []validator.Int64{int64validator.OneOf(1, 8, 16, 32, 64, 128)},
		},
	}
	for k, a := range modelInputAttributes() {
		attrs[k] = a
	}
	maps.Copy(attrs, sizingEnginePlace(engineKnobsComputed).dataSourceAttributes())
	return attrs
}

// sizingEnginePlace is how rayvllm_gpu_fit, rayvllm_batch_sizing
// (engineKnobsComputed) and the gpu_fit function take the engine settings.
func sizingEnginePlace(engineKnobsComputed bool) enginePlace {
	p := enginePlace{Sizing: true, Typed: []string{"block_size"}, Defaults: map[string]string{ //nolint:gosec // G101: attribute descriptions keyed by setting name, not credentials
		"quantization":           "Default `none`: the checkpoint's own dtype or quantization.",
		"tensor_parallel_size":   "Default 1.",
		"max_model_len":          "Default: the model's `max_position_embeddings`, as in vLLM.",
		"max_num_batched_tokens": "Default: vLLM's default for `engine_context` (2048 for a batch job).",
		"max_num_seqs":           "Default: vLLM's default for `engine_context` (128 for a batch job).",
	}}
	if engineKnobsComputed {
		p.Computed, p.Recommended = []string{"max_num_batched_tokens", "max_num_seqs"}, "When not set, the recommended value for `objective` is computed."
	}
	return p
}

func fitConfigValidators() []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("model"), path.MatchRoot("model_config_json")),
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("gpu"), path.MatchRoot("instance_type"), path.MatchRoot("gpu_memory_gib")),
	}
}

// resolvedFit is a FitInput plus the instance type when one was named.
type resolvedFit struct {
	In       hardware.FitInput
	Instance *catalog.InstanceType
}

// resolve looks up the model (in the catalog, else on the Hub through hub)
// and the GPU, and fills vLLM's defaults.
func (c fitConfigModel) resolve(ctx context.Context, hub *hfhub.Client) (resolvedFit, error) {
	var r resolvedFit
	var err error
	if r.In.Model, err = c.model(ctx, hub); err != nil {
		return r, err
	}
	switch {
	case !c.InstanceType.IsNull():
		it, err := catalog.LookupInstance(c.InstanceType.ValueString())
		if err != nil {
			return r, err
		}
		r.Instance = &it
		if r.In.GPU, err = catalog.LookupGPU(it.GPU); err != nil {
			return r, err
		}
	case !c.GPUMemoryGiB.IsNull():
		if r.In.GPU, err = catalog.CustomGPU(c.GPUMemoryGiB.ValueFloat64(), c.GPUMemoryBandwidthGBps.ValueFloat64(),
			c.GPUBF16TFLOPS.ValueFloat64(), c.GPUFP8TFLOPS.ValueFloat64()); err != nil {
			return r, err
		}
		if n := c.CustomGPUName.ValueString(); n != "" {
			r.In.GPU.Name = n
		}
	default:
		if r.In.GPU, err = catalog.LookupGPU(c.GPU.ValueString()); err != nil {
			return r, err
		}
	}
	if err := hardware.CheckQuantization(r.In.Model, c.Quantization.ValueString()); err != nil {
		return r, err
	}
	if attr := c.fitInput(&r.In); attr != "" {
		return r, &input.InputError{Attribute: attr, Message: fmt.Sprintf("the fit engine does not model %s %s", attr, c.value(attr))}
	}
	r.In.BlockSize = int(int64Or(c.BlockSize, 16))
	return r, nil
}

// model reads model_config_json when set, else looks up model.
func (c fitConfigModel) model(ctx context.Context, hub *hfhub.Client) (hfconfig.Model, error) {
	m, _, err := resolveModel(ctx, hub, modelRef{ID: c.Model, Revision: c.ModelRevision, ConfigJSON: c.ModelConfigJSON, Name: c.ModelName})
	return m, err
}

// fitResultModel is the predicted memory accounting, flat in rayvllm_gpu_fit
// and nested as `fit` in rayvllm_batch_sizing.
type fitResultModel struct {
	Fits                 types.Bool    `tfsdk:"fits"`
	GPUName              types.String  `tfsdk:"gpu_name"`
	GPUTotalMemoryGiB    types.Float64 `tfsdk:"gpu_total_memory_gib"`
	BudgetGiB            types.Float64 `tfsdk:"budget_gib"`
	WeightsGiB           types.Float64 `tfsdk:"weights_gib"`
	CPUOffloadGiB        types.Float64 `tfsdk:"cpu_offload_gib"`
	ActivationPeakGiB    types.Float64 `tfsdk:"activation_peak_gib"`
	NonTorchGiB          types.Float64 `tfsdk:"non_torch_gib"`
	CUDAGraphGiB         types.Float64 `tfsdk:"cuda_graph_gib"`
	CUDAGraphInKVBudget  types.Bool    `tfsdk:"cuda_graph_in_kv_budget"`
	KVCacheGiB           types.Float64 `tfsdk:"kv_cache_gib"`
	KVCacheBytesPerToken types.Int64   `tfsdk:"kv_cache_bytes_per_token"`
	KVCacheTokens        types.Int64   `tfsdk:"kv_cache_tokens"`
	MaxConcurrency       types.Float64 `tfsdk:"max_concurrency"`
	EffectiveMaxModelLen types.Int64   `tfsdk:"effective_max_model_len"`
	HeadroomGiB          types.Float64 `tfsdk:"headroom_gib"`
	ShortfallGiB         types.Float64 `tfsdk:"shortfall_gib"`
	ModelParams          types.Int64   `tfsdk:"model_params"`
	Reasons              types.List    `tfsdk:"reasons"`
	Suggestions          types.List    `tfsdk:"suggestions"`
}

func fitResultAttributes() map[string]schema.Attribute {
	f := func(d string) schema.Attribute { return schema.Float64Attribute{Computed: true, Description: d} }
	i := func(d string) schema.Attribute { return schema.Int64Attribute{Computed: true, Description: d} }
	l := func(d string) schema.Attribute {
		return schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: d}
	}
	return map[string]schema.Attribute{
		"fits":                     schema.BoolAttribute{Computed: true, Description: "Whether vLLM would start: the weights and overheads fit the budget and the KV cache holds at least one sequence of `max_model_len` tokens."},
		"gpu_name":                 schema.StringAttribute{Computed: true, Description: "The catalog GPU the check ran against."},
		"gpu_total_memory_gib":     f("Usable memory of one GPU in GiB, as CUDA reports it."),
		"budget_gib":               f("Per-GPU budget: total × `gpu_memory_utilization`, in GiB."),
		"weights_gib":              f("Weights per GPU in GiB (after tensor parallelism and quantization), resident on the GPU: without `cpu_offload_gib`."),
		"cpu_offload_gib":          f("Weights per GPU in GiB that `cpu_offload_gb` (in `engine_kwargs_json`) keeps in CPU memory: min(cpu_offload_gb, the decoder layers' weights); 0 without it."),
		"activation_peak_gib":      f("Peak activation memory of vLLM's profiling run per GPU in GiB, a function of `max_num_batched_tokens` and `max_num_seqs`."),
		"non_torch_gib":            f("Non-torch memory per GPU in GiB (CUDA context growth, NCCL buffers)."),
		"cuda_graph_gib":           f("CUDA-graph memory per GPU in GiB."),
		"cuda_graph_in_kv_budget":  schema.BoolAttribute{Computed: true, Description: "Whether `cuda_graph_gib` comes out of the KV cache (vLLM 0.21 and later, `vllm_version`) rather than out of the `1 − gpu_memory_utilization` margin."},
		"kv_cache_gib":             f("Memory left for the KV cache per GPU in GiB; negative when the model does not fit."),
		"kv_cache_bytes_per_token": i("KV cache bytes per token per GPU, all layers."),
		"kv_cache_tokens":          i("Tokens the KV cache holds, engine-wide (whole blocks)."),
		"max_concurrency":          f("KV cache tokens ÷ `max_model_len`: how many full-length requests fit at once (vLLM's 'Maximum concurrency')."),
		"effective_max_model_len":  i("The `max_model_len` used (the model default when not set)."),
		"headroom_gib":             f("KV cache memory beyond what one `max_model_len` sequence needs, per GPU in GiB."),
		"shortfall_gib":            f("Memory missing per GPU for the engine to start, in GiB; 0 when it fits."),
		"model_params":             i("Total parameter count of the model, computed from its architecture."),
		"reasons":                  l("Why it does or does not fit, with the numbers."),
		"suggestions":              l("The nearest changes that would fit: quantization, tensor-parallel size or GPU."),
	}
}

func newFitResultModel(r hardware.FitResult, gpu catalog.GPU, m hfconfig.Model) fitResultModel {
	return fitResultModel{
		Fits:                 types.BoolValue(r.Fits),
		GPUName:              types.StringValue(gpu.Name),
		GPUTotalMemoryGiB:    gib(r.GPUTotalMemoryGiB),
		BudgetGiB:            gib(r.BudgetGiB),
		WeightsGiB:           gib(r.WeightsGiB),
		CPUOffloadGiB:        gib(r.CPUOffloadGiB),
		ActivationPeakGiB:    gib(r.ActivationPeakGiB),
		NonTorchGiB:          gib(r.NonTorchGiB),
		CUDAGraphGiB:         gib(r.CUDAGraphGiB),
		CUDAGraphInKVBudget:  types.BoolValue(r.CUDAGraphInKVBudget),
		KVCacheGiB:           gib(r.KVCacheGiB),
		KVCacheBytesPerToken: types.Int64Value(r.KVCacheBytesPerTok),
		KVCacheTokens:        types.Int64Value(r.KVCacheTokens),
		MaxConcurrency:       types.Float64Value(round(r.MaxConcurrency, 2)),
		EffectiveMaxModelLen: types.Int64Value(int64(r.MaxModelLen)),
		HeadroomGiB:          gib(r.HeadroomGiB),
		ShortfallGiB:         gib(r.ShortfallGiB),
		ModelParams:          types.Int64Value(m.Params()),
		Reasons:              stringList(r.Reasons),
		Suggestions:          stringList(r.Suggestions),
	}
}

func gib(v float64) types.Float64 { return types.Float64Value(round(v, 3)) }

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func objectAttrTypes(attrs map[string]schema.Attribute) map[string]attr.Type {
	t := make(map[string]attr.Type, len(attrs))
	for k, a := range attrs {
		t[k] = a.GetType()
	}
	return t
}
