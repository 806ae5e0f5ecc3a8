package provider

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

var _ function.Function = (*gpuFitFunction)(nil)

// NewGPUFitFunction is provider::rayvllm::gpu_fit.
func NewGPUFitFunction() function.Function { return &gpuFitFunction{} }

type gpuFitFunction struct{}

// gpuFitOptions are the optional settings of gpu_fit's third argument: the
// engine settings and the sizing inputs of rayvllm_gpu_fit.
var gpuFitOptions = slices.Sorted(slices.Values(append([]string{"block_size", "engine_context", "vllm_version"}, engineSettingNames...)))

func (f *gpuFitFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "gpu_fit"
}

func (f *gpuFitFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Whether a model fits a GPU under vLLM's memory accounting",
		Description: "Runs the same fit check as the `rayvllm_gpu_fit` data source and returns its outputs as an object, " +
			"so it can be used in `variable` validation and `precondition` blocks. Never fails for a misfit: check `.fits`.",
		Parameters: []function.Parameter{
			function.StringParameter{Name: "model", Description: "Hugging Face id (the built-in catalog, else the Hub's `config.json` with `HF_TOKEN`/`HF_ENDPOINT` from the environment, cached on disk), or the text of a `config.json` (anything starting with `{`)."},
			function.StringParameter{Name: "gpu", Description: "GPU catalog name (e.g. `A100-80GB`) or an EC2 GPU instance type (e.g. `g5.xlarge`)."},
			function.DynamicParameter{Name: "options", AllowNullValue: true,
				Description: "An object of engine settings, each optional: " + quoteList(gpuFitOptions) + ". Pass `{}` or `null` for vLLM's defaults."},
		},
		Return: function.ObjectReturn{AttributeTypes: objectAttrTypes(fitResultAttributes())},
	}
}

func (f *gpuFitFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var model, gpu string
	var opts types.Dynamic
	resp.Error = req.Arguments.Get(ctx, &model, &gpu, &opts)
	if resp.Error != nil {
		return
	}
	cfg, eng, ferr := fitConfigFromArgs(model, gpu, opts)
	if ferr != nil {
		resp.Error = ferr
		return
	}
	rf, err := cfg.resolve(ctx, nil) // HF_TOKEN/HF_ENDPOINT: functions get no provider configuration
	if err != nil {
		resp.Error = funcErrorFrom(err, gpuFitArgs, "options.")
		return
	}
	eng.apply(&rf.In, rf.Instance)
	res, err := hardware.Fit(rf.In)
	if err != nil {
		resp.Error = funcErrorFrom(err, gpuFitArgs, "options.")
		return
	}
	obj, diags := types.ObjectValueFrom(ctx, objectAttrTypes(fitResultAttributes()), newFitResultModel(res, rf.In.GPU, rf.In.Model))
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	resp.Error = resp.Result.Set(ctx, obj)
}

// fitConfigFromArgs builds the shared fit inputs from the function's arguments.
func fitConfigFromArgs(model, gpu string, opts types.Dynamic) (fitConfigModel, engineInputs, *function.FuncError) {
	eng := engineInputs{EngineContext: types.StringNull(), VLLMVersion: types.StringNull()}
	c := fitConfigModel{
		Model: types.StringNull(), ModelConfigJSON: types.StringNull(), GPU: types.StringNull(), InstanceType: types.StringNull(),
		GPUMemoryGiB: types.Float64Null(), GPUMemoryBandwidthGBps: types.Float64Null(), GPUBF16TFLOPS: types.Float64Null(), GPUFP8TFLOPS: types.Float64Null(),
		engineSettingsModel: nullEngineSettings(), BlockSize: types.Int64Null(),
	}
	if strings.HasPrefix(strings.TrimSpace(model), "{") {
		c.ModelConfigJSON = types.StringValue(model)
	} else {
		c.Model = types.StringValue(model)
	}
	if _, err := catalog.LookupGPU(gpu); err != nil {
		if _, ierr := catalog.LookupInstance(gpu); ierr == nil {
			c.InstanceType = types.StringValue(gpu)
		} else {
			return c, eng, function.NewArgumentFuncError(1, fmt.Sprintf("%q is neither a GPU catalog name nor an EC2 GPU instance type%s. GPUs: %s",
				gpu, didYouMean(gpu, catalog.GPUNames()), strings.Join(catalog.GPUNames(), ", ")))
		}
	} else {
		c.GPU = types.StringValue(gpu)
	}
	attrs, ferr := dynamicAttributes(opts)
	if ferr != nil {
		return c, eng, ferr
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	var unknown []string
	for _, k := range names {
		if !slices.Contains(gpuFitOptions, k) {
			unknown = append(unknown, fmt.Sprintf("%q", k))
		}
	}
	if len(unknown) > 0 { // every one of them, not just the first
		return c, eng, function.NewArgumentFuncError(2, fmt.Sprintf("options: unknown setting%s %s; valid settings are %s",
			map[bool]string{true: "s", false: ""}[len(unknown) > 1], strings.Join(unknown, ", "), strings.Join(gpuFitOptions, ", ")))
	}
	for _, k := range names {
		v := attrs[k]
		if v.IsNull() {
			continue
		}
		var err error
		switch f := c.fields()[k].(type) {
		case *types.String:
			*f, err = optString(v)
		case *types.Int64:
			*f, err = optInt(v)
		case *types.Bool:
			*f, err = optBool(v)
		case *jsontypes.Normalized:
			var s types.String
			s, err = optString(v)
			*f = jsontypes.NewNormalizedValue(s.ValueString())
		case *types.Float64:
			var n *big.Float
			if n, err = optNumber(v); err == nil {
				x, _ := n.Float64()
				*f = types.Float64Value(x)
			}
		}
		switch k {
		case "block_size":
			c.BlockSize, err = optInt(v)
		case "engine_context":
			eng.EngineContext, err = optString(v)
		case "vllm_version":
			eng.VLLMVersion, err = optString(v)
		}
		if err != nil {
			return c, eng, function.NewArgumentFuncError(2, fmt.Sprintf("options.%s: %s", k, err))
		}
	}
	if msg := c.validate(context.Background(), sizingEnginePlace(false)); msg != "" {
		return c, eng, function.NewArgumentFuncError(2, "options."+msg)
	}
	return c, eng, nil
}

func dynamicAttributes(d types.Dynamic) (map[string]attr.Value, *function.FuncError) {
	if d.IsNull() || d.IsUnderlyingValueNull() {
		return nil, nil
	}
	switch v := d.UnderlyingValue().(type) {
	case types.Object:
		return v.Attributes(), nil
	case types.Map:
		return v.Elements(), nil
	}
	return nil, function.NewArgumentFuncError(2, "options must be an object such as { quantization = \"int4\", max_model_len = 4096 }")
}

func optNumber(v attr.Value) (*big.Float, error) {
	if n, ok := v.(types.Number); ok {
		return n.ValueBigFloat(), nil
	}
	return nil, fmt.Errorf("must be a number, got %s", v.Type(context.Background()))
}

func optInt(v attr.Value) (types.Int64, error) {
	n, err := optNumber(v)
	if err != nil {
		return types.Int64Null(), err
	}
	i, acc := n.Int64()
	if acc != big.Exact {
		return types.Int64Null(), errors.New("must be a whole number")
	}
	return types.Int64Value(i), nil
}

func optBool(v attr.Value) (types.Bool, error) {
	if b, ok := v.(types.Bool); ok {
		return b, nil
	}
	return types.BoolNull(), fmt.Errorf("must be a bool, got %s", v.Type(context.Background()))
}

func optString(v attr.Value) (types.String, error) {
	if s, ok := v.(types.String); ok {
		return s, nil
	}
	return types.StringNull(), fmt.Errorf("must be a string, got %s", v.Type(context.Background()))
}

// funcErrorFrom maps an engine error onto the function argument it
// concerns: argIndex maps attribute names to argument positions; any other
// attribute belongs to the options argument (the third), named with prefix.
func funcErrorFrom(err error, argIndex map[string]int64, prefix string) *function.FuncError {
	var ie *input.InputError
	// Terraform ends the message itself; the function takes a config.json
	// as its model argument, not as an attribute.
	msg := strings.ReplaceAll(strings.TrimRight(err.Error(), "."), "as model_config_json", "as the model argument (a text starting with {)")
	if !errors.As(err, &ie) {
		return function.NewFuncError(msg)
	}
	if i, ok := argIndex[ie.Attribute]; ok {
		return function.NewArgumentFuncError(i, msg)
	}
	return function.NewArgumentFuncError(2, prefix+msg)
}

var gpuFitArgs = map[string]int64{"model": 0, "model_config_json": 0, "gpu": 1, "instance_type": 1}
