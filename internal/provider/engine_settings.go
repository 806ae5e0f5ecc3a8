package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/engineargs"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
)

// The one vocabulary of vLLM engine settings. The six places that take
// them (rayvllm_vllm_worker, rayvllm_batch_job's vllm block, the cluster's
// fit_check, rayvllm_gpu_fit, rayvllm_batch_sizing and the gpu_fit
// function) embed engineSettingsModel, build their schema from
// engineSettingAttrs, and hand the values to the fit engine through
// fitInput. A setting is added here, once.

// engineSettingsModel is the engine settings, embedded in each place's model.
type engineSettingsModel struct {
	Quantization         types.String         `tfsdk:"quantization"`
	TensorParallelSize   types.Int64          `tfsdk:"tensor_parallel_size"`
	MaxModelLen          types.Int64          `tfsdk:"max_model_len"`
	MaxNumSeqs           types.Int64          `tfsdk:"max_num_seqs"`
	MaxNumBatchedTokens  types.Int64          `tfsdk:"max_num_batched_tokens"`
	GPUMemoryUtilization types.Float64        `tfsdk:"gpu_memory_utilization"`
	KVCacheDType         types.String         `tfsdk:"kv_cache_dtype"`
	PipelineParallelSize types.Int64          `tfsdk:"pipeline_parallel_size"`
	EnablePrefixCaching  types.Bool           `tfsdk:"enable_prefix_caching"`
	EngineKwargsJSON     jsontypes.Normalized `tfsdk:"engine_kwargs_json"`
}

// nullEngineSettings is the settings with nothing set.
func nullEngineSettings() engineSettingsModel {
	return engineSettingsModel{Quantization: types.StringNull(), TensorParallelSize: types.Int64Null(), MaxModelLen: types.Int64Null(),
		MaxNumSeqs: types.Int64Null(), MaxNumBatchedTokens: types.Int64Null(), GPUMemoryUtilization: types.Float64Null(), KVCacheDType: types.StringNull(),
		PipelineParallelSize: types.Int64Null(), EnablePrefixCaching: types.BoolNull(), EngineKwargsJSON: jsontypes.NewNormalizedNull()}
}

// fields maps each setting's attribute name to its field.
func (e *engineSettingsModel) fields() map[string]any {
	return map[string]any{"quantization": &e.Quantization, "tensor_parallel_size": &e.TensorParallelSize, "max_model_len": &e.MaxModelLen,
		"max_num_seqs": &e.MaxNumSeqs, "max_num_batched_tokens": &e.MaxNumBatchedTokens, "gpu_memory_utilization": &e.GPUMemoryUtilization,
		"kv_cache_dtype": &e.KVCacheDType, "pipeline_parallel_size": &e.PipelineParallelSize, "enable_prefix_caching": &e.EnablePrefixCaching,
		"engine_kwargs_json": &e.EngineKwargsJSON}
}

// engineSettingNames are the settings' attribute names, sorted.
var engineSettingNames = slices.Sorted(maps.Keys((&engineSettingsModel{}).fields()))

// enginePlace says how one place takes the settings.
type enginePlace struct {
	// Sizing: the place predicts rather than runs an engine, so
	// quantization also takes hardware.SizingQuantizations.
	Sizing bool
	// Computed settings are outputs when not set (rayvllm_batch_sizing's
	// recommendations); their description gains Recommended.
	Computed    []string
	Recommended string
	// Prefix leads each description (the worker's "vLLM mode: ").
	Prefix string
	// Defaults are the place's "Default: ..." sentences, by attribute.
	Defaults map[string]string
	// Typed are the place's own attributes that are vLLM engine arguments
	// (the batch job's enforce_eager): engine_kwargs_json refuses them too.
	Typed []string
	// Extra validators of every setting (the worker's vLLM-mode-only rule).
	ExtraString []validator.String
	ExtraBool   []validator.Bool
	ExtraInt    []validator.Int64
	ExtraFloat  []validator.Float64
}

// Bounds, one validator per setting and the same everywhere.
var (
	tensorParallelValidator = int64validator.Between(1, 64)
	positiveIntValidator    = int64validator.AtLeast(1)
	gpuMemUtilValidator     = float64validator.Between(0.01, 1)
	kvCacheDTypeValidator   = stringvalidator.OneOf(hardware.VLLMKVCacheDTypes...)
	// vLLM has no upper bound; a replica's GPUs (tp × pp) beyond 64 is no
	// deployment this provider schedules.
	pipelineParallelValidator = int64validator.Between(1, 64)
)

// typed are the engine arguments that have an attribute in this place.
func (p enginePlace) typed() []string {
	t := slices.DeleteFunc(slices.Clone(engineSettingNames), func(k string) bool { return k == "engine_kwargs_json" })
	return slices.Sorted(slices.Values(append(t, p.Typed...)))
}

// engineKwargsValidator checks engine_kwargs_json against the pinned vLLM's
// EngineArgs: a JSON object, each key an engine argument (did-you-mean for
// a typo) with a value of its type, and none that has its own attribute.
func engineKwargsValidator(typed []string) validator.String {
	return stringCheck{desc: "a JSON object of vLLM engine arguments", summary: "Invalid engine_kwargs_json", check: func(s string) string {
		kw, err := engineargs.Parse(s)
		if err != nil {
			return fmt.Sprintf("must be a JSON object of vLLM engine arguments, e.g. {\"enforce_eager\": true}: %v.", err)
		}
		var problems []string
		for _, k := range slices.Sorted(maps.Keys(kw)) {
			a, ok := engineargs.Lookup(k)
			switch {
			case slices.Contains(typed, k):
				problems = append(problems, fmt.Sprintf("%q has its own attribute: set the typed attribute %s instead", k, k))
			case !ok:
				problems = append(problems, fmt.Sprintf("%q is not an engine argument of vLLM %s%s", k, engineargs.VLLMVersion(), didYouMean(k, engineargs.Names)))
			default:
				if msg := a.CheckValue(kw[k]); msg != "" {
					problems = append(problems, fmt.Sprintf("%q %s", k, msg))
				}
			}
		}
		if len(problems) == 0 {
			return ""
		}
		return strings.Join(problems, "; ") + "."
	}}
}

type engineAttr struct {
	kind byte // 's'tring, 'i'nt64, 'f'loat64, 'b'ool, 'j'son object
	desc string
	str  []validator.String
	i64  []validator.Int64
	f64  []validator.Float64
	b    []validator.Bool
}

func (p enginePlace) attrs() map[string]engineAttr {
	quant := "vLLM's `quantization` method, one of vLLM's names (e.g. `fp8`, `bitsandbytes`, `awq`, `awq_marlin`, `gptq`, `gptq_marlin`, " +
		"`compressed-tensors`). `fp8` and `bitsandbytes` quantize an unquantized checkpoint while loading; the others name the format of a " +
		"checkpoint that is already quantized, and a catalog model whose `config.json` is not quantized that way is refused."
	if p.Sizing {
		quant += " Sizing-only values, which no engine takes: `none` (the checkpoint's own dtype), `fp32`, `fp16`, `bf16`, and `int8`/`int4` " +
			"(a pre-quantized checkpoint of that bit width, in any format)."
	}
	a := map[string]engineAttr{
		"quantization":           {kind: 's', desc: quant, str: []validator.String{quantizationValidator(p.Sizing)}},
		"tensor_parallel_size":   {kind: 'i', desc: "vLLM's `tensor_parallel_size`: GPUs one engine replica is split across, 1 to 64. It must divide the model's attention heads.", i64: []validator.Int64{tensorParallelValidator}},
		"max_model_len":          {kind: 'i', desc: "vLLM's `max_model_len`: the longest prompt plus output, in tokens.", i64: []validator.Int64{positiveIntValidator}},
		"max_num_seqs":           {kind: 'i', desc: "vLLM's `max_num_seqs`: sequences one scheduler step holds. It sizes the sampler's logits in the profiling run.", i64: []validator.Int64{positiveIntValidator}},
		"max_num_batched_tokens": {kind: 'i', desc: "vLLM's `max_num_batched_tokens`: tokens one scheduler step processes, the chunked-prefill chunk. It sets the activation peak.", i64: []validator.Int64{positiveIntValidator}},
		"gpu_memory_utilization": {kind: 'f', desc: "vLLM's `gpu_memory_utilization`: the share of each GPU's memory the engine may use, in [0.01, 1]. Default 0.9.", f64: []validator.Float64{gpuMemUtilValidator}},
		"kv_cache_dtype":         {kind: 's', desc: "vLLM's `kv_cache_dtype`: " + quoteList(hardware.VLLMKVCacheDTypes) + ". Default `auto` (the model's dtype).", str: []validator.String{kvCacheDTypeValidator}},
		"pipeline_parallel_size": {kind: 'i', desc: "vLLM's `pipeline_parallel_size`: pipeline stages one engine replica's layers are split across. " +
			"A replica uses `tensor_parallel_size` × `pipeline_parallel_size` GPUs, each holding 1/`pipeline_parallel_size` of the layers. Default 1.", i64: []validator.Int64{pipelineParallelValidator}},
		"enable_prefix_caching": {kind: 'b', desc: "vLLM's `enable_prefix_caching`: reuse the KV cache of a prompt prefix that an earlier request computed " +
			"(a shared system prompt is prefilled once). Default: vLLM's (on in the V1 engine)."},
		"engine_kwargs_json": {kind: 'j', desc: "Further vLLM engine arguments as a JSON object, e.g. `jsonencode({ max_logprobs = 20, disable_log_stats = true })`. " +
			"Names (with a did-you-mean for a typo) and value types are checked at plan against the `EngineArgs` of vLLM " + engineargs.VLLMVersion() +
			". Arguments with their own attribute here (" + quoteList(p.typed()) + ") are refused: set the attribute instead, so that the plan-time " +
			"fit check sees them. Of the other arguments, the fit check reads `block_size` (the KV cache page, in tokens) and `cpu_offload_gb` " +
			"(GiB of each GPU's decoder-layer weights kept in CPU memory; batch sizing refuses it, as its step-time model leaves out reading them over the host link).",
			str: []validator.String{engineKwargsValidator(p.typed())}},
	}
	for k, e := range a {
		e.desc = p.Prefix + e.desc
		if d := p.Defaults[k]; d != "" {
			e.desc += " " + d
		}
		if slices.Contains(p.Computed, k) {
			e.desc += " " + p.Recommended
		}
		e.str = append(slices.Clone(p.ExtraString), e.str...)
		e.i64 = append(slices.Clone(p.ExtraInt), e.i64...)
		e.f64 = append(slices.Clone(p.ExtraFloat), e.f64...)
		e.b = append(slices.Clone(p.ExtraBool), e.b...)
		a[k] = e
	}
	return a
}

// resourceAttributes is the settings' schema in a resource.
func (p enginePlace) resourceAttributes() map[string]rschema.Attribute {
	out := map[string]rschema.Attribute{}
	for k, e := range p.attrs() {
		c := slices.Contains(p.Computed, k)
		switch e.kind {
		case 'i':
			out[k] = rschema.Int64Attribute{Optional: true, Computed: c, Description: e.desc, Validators: e.i64}
		case 'f':
			out[k] = rschema.Float64Attribute{Optional: true, Computed: c, Description: e.desc, Validators: e.f64}
		case 'b':
			out[k] = rschema.BoolAttribute{Optional: true, Computed: c, Description: e.desc, Validators: e.b}
		case 'j':
			out[k] = rschema.StringAttribute{Optional: true, Computed: c, Description: e.desc, Validators: e.str, CustomType: jsontypes.NormalizedType{}}
		default:
			out[k] = rschema.StringAttribute{Optional: true, Computed: c, Description: e.desc, Validators: e.str}
		}
	}
	return out
}

// dataSourceAttributes is the settings' schema in a data source.
func (p enginePlace) dataSourceAttributes() map[string]dschema.Attribute {
	out := map[string]dschema.Attribute{}
	for k, e := range p.attrs() {
		c := slices.Contains(p.Computed, k)
		switch e.kind {
		case 'i':
			out[k] = dschema.Int64Attribute{Optional: true, Computed: c, Description: e.desc, Validators: e.i64}
		case 'f':
			out[k] = dschema.Float64Attribute{Optional: true, Computed: c, Description: e.desc, Validators: e.f64}
		case 'b':
			out[k] = dschema.BoolAttribute{Optional: true, Computed: c, Description: e.desc, Validators: e.b}
		case 'j':
			out[k] = dschema.StringAttribute{Optional: true, Computed: c, Description: e.desc, Validators: e.str, CustomType: jsontypes.NormalizedType{}}
		default:
			out[k] = dschema.StringAttribute{Optional: true, Computed: c, Description: e.desc, Validators: e.str}
		}
	}
	return out
}

// validate runs the settings' validators on values that did not come
// through a schema (the gpu_fit function's options object); it returns the
// first problem as "<attribute>: <message>", "" when there is none.
func (e engineSettingsModel) validate(ctx context.Context, p enginePlace) string {
	a := p.attrs()
	var diags diag.Diagnostics
	for _, k := range engineSettingNames {
		at := path.Root(k)
		switch v := e.value(k).(type) {
		case types.String:
			for _, val := range a[k].str {
				r := &validator.StringResponse{}
				val.ValidateString(ctx, validator.StringRequest{Path: at, ConfigValue: v}, r)
				diags.Append(r.Diagnostics...)
			}
		case types.Int64:
			for _, val := range a[k].i64 {
				r := &validator.Int64Response{}
				val.ValidateInt64(ctx, validator.Int64Request{Path: at, ConfigValue: v}, r)
				diags.Append(r.Diagnostics...)
			}
		case types.Float64:
			for _, val := range a[k].f64 {
				r := &validator.Float64Response{}
				val.ValidateFloat64(ctx, validator.Float64Request{Path: at, ConfigValue: v}, r)
				diags.Append(r.Diagnostics...)
			}
		case jsontypes.Normalized:
			for _, val := range a[k].str {
				r := &validator.StringResponse{}
				val.ValidateString(ctx, validator.StringRequest{Path: at, ConfigValue: v.StringValue}, r)
				diags.Append(r.Diagnostics...)
			}
		}
		if diags.HasError() {
			return strings.TrimSuffix(strings.TrimPrefix(diags.Errors()[0].Detail(), "Attribute "), ".")
		}
	}
	return ""
}

// value is the setting's value (a types.String, Int64 or Float64).
func (e engineSettingsModel) value(name string) any {
	switch f := e.fields()[name].(type) {
	case *types.String:
		return *f
	case *types.Int64:
		return *f
	case *types.Float64:
		return *f
	case *types.Bool:
		return *f
	case *jsontypes.Normalized:
		return *f
	}
	return nil
}

// fitInput sets the settings on a fit input, vLLM's defaults where unset.
// It returns the attribute the fit engine cannot model ("" when it can).
func (e engineSettingsModel) fitInput(in *hardware.FitInput) (unmodelled string) {
	quant, kv, attr, ok := hardware.FromVLLMNames(strings.TrimSpace(e.Quantization.ValueString()), e.KVCacheDType.ValueString())
	if !ok {
		return attr
	}
	in.Quantization, in.KVCacheDType = quant, kv
	in.TensorParallelSize = int(int64Or(e.TensorParallelSize, 1))
	in.PipelineParallelSize = int(int64Or(e.PipelineParallelSize, 1))
	in.MaxModelLen = int(int64Or(e.MaxModelLen, 0))
	in.MaxNumSeqs = int(int64Or(e.MaxNumSeqs, 0))
	in.MaxNumBatchedTokens = int(int64Or(e.MaxNumBatchedTokens, 0))
	in.GPUMemoryUtilization = float64Or(e.GPUMemoryUtilization, 0.9)
	extra, _ := jsonObject(e.EngineKwargsJSON) // checked by its validator; null or unknown: none
	fitKwargs(extra, in)
	return ""
}

// fitKwargs sets the fit input from the engine_kwargs_json arguments the
// memory model reads: block_size (the KV page) and cpu_offload_gb (weights
// kept in CPU memory). The validator has checked their types.
func fitKwargs(extra map[string]any, in *hardware.FitInput) {
	num := func(k string) (float64, bool) {
		switch v := extra[k].(type) {
		case float64:
			return v, true
		case json.Number:
			f, err := v.Float64()
			return f, err == nil
		}
		return 0, false
	}
	if v, ok := num("block_size"); ok {
		in.BlockSize = int(v)
	}
	if v, ok := num("cpu_offload_gb"); ok {
		in.CPUOffloadGiB = v
	}
}

// known reports whether every setting is known (a plan can leave one to
// another resource's output).
func (e engineSettingsModel) known() bool {
	for _, k := range engineSettingNames {
		if v, ok := e.value(k).(interface{ IsUnknown() bool }); ok && v.IsUnknown() {
			return false
		}
	}
	return true
}

// quantizationValidator accepts vLLM's method names, and in the sizing
// places the sizing-only values, with did-you-mean over what is valid.
func quantizationValidator(sizing bool) validator.String {
	valid := hardware.VLLMQuantizations
	desc := "a vLLM quantization method"
	if sizing {
		valid = append(slices.Clone(hardware.SizingQuantizations), valid...)
		desc += " or a sizing-only value (none, fp32, fp16, bf16, int8, int4)"
	}
	return stringCheck{desc: desc, summary: "Invalid quantization", check: func(s string) string {
		if slices.Contains(valid, s) {
			return ""
		}
		if !sizing && slices.Contains(hardware.SizingQuantizations, s) {
			return fmt.Sprintf("%q is a sizing-only value of rayvllm_gpu_fit and rayvllm_batch_sizing, not a vLLM method. Leave quantization unset "+
				"for the checkpoint's own format (a 4-bit AWQ or GPTQ checkpoint is read as such), or use a vLLM method such as \"fp8\" or \"bitsandbytes\".", s)
		}
		return fmt.Sprintf("%q is not a vLLM quantization method%s. Valid: %s.", s, didYouMean(s, valid), strings.Join(valid, ", "))
	}}
}

// acceleratorTypeValidator accepts Ray's accelerator labels; a GPU catalog
// name is refused with the label to use.
func acceleratorTypeValidator() validator.String {
	return stringCheck{desc: "a Ray accelerator type", summary: "Invalid accelerator_type", check: func(s string) string {
		if slices.Contains(serveapp.AcceleratorTypes, s) {
			return ""
		}
		if label, name, known := catalog.RayLabel(s); known {
			if label != "" {
				return fmt.Sprintf("%q is a GPU catalog name, not a Ray accelerator type; Ray labels the %s nodes %q. Use accelerator_type = %q.", s, name, label, label)
			}
			return fmt.Sprintf("%q is the catalog GPU %s, which has no Ray accelerator type. Valid: %s.", s, name, strings.Join(serveapp.AcceleratorTypes, ", "))
		}
		hint := ""
		if c := catalog.ClosestAccelerator(s, serveapp.AcceleratorTypes); c != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", c)
		}
		return fmt.Sprintf("%q is not a Ray accelerator type%s. Valid: %s.", s, hint, strings.Join(serveapp.AcceleratorTypes, ", "))
	}}
}

func didYouMean(s string, valid []string) string {
	if c := input.Closest(s, valid); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// checkCheckpointQuantization refuses, for a catalog model, a quantization
// its checkpoint does not have (hardware.CheckQuantization). Models outside
// the catalog are left to vLLM.
func checkCheckpointQuantization(modelID, quantization string, at path.Path, diags *diag.Diagnostics) {
	if quantization == "" {
		return
	}
	m, err := hfconfig.LookupModel(modelID)
	if err != nil {
		return
	}
	if err := hardware.CheckQuantization(m, quantization); err != nil {
		diags.AddAttributeError(at, "Invalid "+at.String(), strings.TrimPrefix(err.Error(), "quantization: "))
	}
}
