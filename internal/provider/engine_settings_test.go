package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	dschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/batchjob"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
)

// validateAttr runs the validators a schema declares for one attribute.
func validateAttr(a any, v any) diag.Diagnostics {
	ctx, at := context.Background(), path.Root("x")
	var d diag.Diagnostics
	var strs []validator.String
	var ints []validator.Int64
	switch a := a.(type) {
	case rschema.StringAttribute:
		strs = a.Validators
	case dschema.StringAttribute:
		strs = a.Validators
	case rschema.Int64Attribute:
		ints = a.Validators
	case dschema.Int64Attribute:
		ints = a.Validators
	}
	for _, val := range strs {
		if strings.Contains(fmt.Sprintf("%T", val), "ConflictsWith") {
			continue // needs the whole configuration: the worker's vLLM-mode rule
		}
		r := &validator.StringResponse{}
		val.ValidateString(ctx, validator.StringRequest{Path: at, ConfigValue: types.StringValue(v.(string))}, r)
		d.Append(r.Diagnostics...)
	}
	for _, val := range ints {
		if strings.Contains(fmt.Sprintf("%T", val), "ConflictsWith") {
			continue
		}
		r := &validator.Int64Response{}
		val.ValidateInt64(ctx, validator.Int64Request{Path: at, ConfigValue: types.Int64Value(v.(int64))}, r)
		d.Append(r.Diagnostics...)
	}
	return d
}

// A place takes one engine setting the way its schema and its plan-time
// check do, and says what is wrong ("" when nothing).
type place struct {
	name   string
	sizing bool
	attrs  func() map[string]any
	// plan runs the place's plan-time check of model + quantization.
	plan func(model, quant string) diag.Diagnostics
}

func sixPlaces() []place {
	ctx := context.Background()
	worker := func() map[string]any {
		var resp resource.SchemaResponse
		(&vllmWorkerResource{}).Schema(ctx, resource.SchemaRequest{}, &resp)
		out := map[string]any{}
		for k, a := range resp.Schema.Attributes {
			out[k] = a
		}
		return out
	}
	resAttrs := func(m map[string]rschema.Attribute) map[string]any {
		out := map[string]any{}
		for k, a := range m {
			out[k] = a
		}
		return out
	}
	dsAttrs := func(computed bool) func() map[string]any {
		return func() map[string]any {
			out := map[string]any{}
			for k, a := range fitInputAttributes(computed) {
				out[k] = a
			}
			return out
		}
	}
	dsPlan := func(model, quant string) diag.Diagnostics {
		var d diag.Diagnostics
		c := fitConfigModel{Model: types.StringValue(model), GPU: types.StringValue("L40S"), InstanceType: types.StringNull(), GPUMemoryGiB: types.Float64Null(),
			ModelConfigJSON: types.StringNull(), engineSettingsModel: nullEngineSettings(), BlockSize: types.Int64Null()}
		c.Quantization = types.StringValue(quant)
		if _, err := c.resolve(ctx, nil); err != nil {
			addHardwareError(&d, err)
		}
		return d
	}
	return []place{
		{name: "rayvllm_vllm_worker", attrs: worker, plan: func(model, quant string) diag.Diagnostics {
			var d diag.Diagnostics
			(&vllmWorkerResource{}).fitCheck(&d, &vllmWorkerModel{RequireFit: types.BoolNull()}, &serveapp.LLM{ModelID: model, AcceleratorType: "L40S", Engine: serveapp.Engine{Quantization: quant}})
			return d
		}},
		{name: "rayvllm_batch_job", attrs: func() map[string]any { return resAttrs(vllmAttribute().Attributes) }, plan: func(model, quant string) diag.Diagnostics {
			var d diag.Diagnostics
			checkFit(batchjob.Config{ModelSource: model, AcceleratorType: "L40S", EngineKwargs: batchjob.Engine{Quantization: &quant}}, &d)
			return d
		}},
		{name: "rayvllm_inference_cluster fit_check", attrs: func() map[string]any { return resAttrs(clusterFitCheckAttributes()) }, plan: func(model, quant string) diag.Diagnostics {
			var d diag.Diagnostics
			fc := &fitCheckModel{Model: types.StringValue(model), engineSettingsModel: nullEngineSettings()}
			fc.Quantization = types.StringValue(quant)
			(&inferenceClusterResource{}).fitCheck(fc, &groupModel{Name: types.StringValue("gpu"), InstanceType: types.StringValue("g6e.xlarge")}, path.Root("worker_group").AtListIndex(0), &d)
			return d
		}},
		{name: "rayvllm_gpu_fit", sizing: true, attrs: dsAttrs(false), plan: dsPlan},
		{name: "rayvllm_batch_sizing", sizing: true, attrs: dsAttrs(true), plan: dsPlan},
		{name: "provider::rayvllm::gpu_fit", sizing: true, attrs: nil, plan: func(model, quant string) diag.Diagnostics {
			var d diag.Diagnostics
			opts := types.DynamicValue(types.ObjectValueMust(map[string]attr.Type{"quantization": types.StringType}, map[string]attr.Value{"quantization": types.StringValue(quant)}))
			c, eng, ferr := fitConfigFromArgs(model, "L40S", opts)
			if ferr != nil {
				d.AddError("function error", ferr.Error())
				return d
			}
			_ = eng
			if _, err := c.resolve(ctx, nil); err != nil {
				d.AddError("function error", funcErrorFrom(err, gpuFitArgs, "options.").Error())
			}
			return d
		}},
	}
}

// The same bad and good values through the six places that take engine
// settings give the same verdict (the table test). The gpu_fit
// function has no schema: its options go through the same validators.
func TestEngineSettingsSameVerdictInSixPlaces(t *testing.T) {
	const q7 = "Qwen/Qwen2.5-7B-Instruct"
	for _, tc := range []struct {
		attr   string
		value  any
		want   string // in the error; "" = accepted
		sizing string // the verdict where sizing is done, when it differs
	}{
		{attr: "quantization", value: "awq4", want: `did you mean "awq"`},
		{attr: "quantization", value: "fp8"},
		{attr: "quantization", value: "int4", want: "sizing-only", sizing: "-"},
		{attr: "tensor_parallel_size", value: int64(0), want: "between 1 and 64"},
		{attr: "tensor_parallel_size", value: int64(65), want: "between 1 and 64"},
		{attr: "tensor_parallel_size", value: int64(2)},
		{attr: "max_model_len", value: int64(0), want: "at least 1"},
		{attr: "max_num_seqs", value: int64(0), want: "at least 1"},
		{attr: "kv_cache_dtype", value: "fp8_e5m2"},
		{attr: "kv_cache_dtype", value: "fp4", want: "value must be one of"},
		{attr: "pipeline_parallel_size", value: int64(0), want: "between 1 and 64"},
		{attr: "pipeline_parallel_size", value: int64(2)},
		{attr: "engine_kwargs_json", value: `{"enforce_eagre": true}`, want: `(did you mean "enforce_eager"?)`},
		{attr: "engine_kwargs_json", value: `{"max_loras": "two"}`, want: `"max_loras" must be an integer, got a string`},
		{attr: "engine_kwargs_json", value: `{"max_model_len": 4096}`, want: "set the typed attribute max_model_len instead"},
		{attr: "engine_kwargs_json", value: `{"enable_prefix_caching": false}`, want: "set the typed attribute enable_prefix_caching instead"},
		{attr: "engine_kwargs_json", value: `{"max_logprobs": 5, "compilation_config": {"mode": 0}}`},
		{attr: "engine_kwargs_json", value: `[1]`, want: "must be a JSON object"},
	} {
		for _, p := range sixPlaces() {
			want := tc.want
			if p.sizing && tc.sizing != "" {
				want = strings.TrimPrefix(tc.sizing, "-")
			}
			var d diag.Diagnostics
			if p.attrs == nil {
				s := nullEngineSettings()
				switch v := tc.value.(type) {
				case string:
					switch tc.attr {
					case "quantization":
						s.Quantization = types.StringValue(v)
					case "engine_kwargs_json":
						s.EngineKwargsJSON = jsontypes.NewNormalizedValue(v)
					default:
						s.KVCacheDType = types.StringValue(v)
					}
				case int64:
					*map[string]*types.Int64{"tensor_parallel_size": &s.TensorParallelSize, "max_model_len": &s.MaxModelLen, "max_num_seqs": &s.MaxNumSeqs,
						"pipeline_parallel_size": &s.PipelineParallelSize}[tc.attr] = types.Int64Value(v)
				}
				if msg := s.validate(context.Background(), sizingEnginePlace(false)); msg != "" {
					d.AddError("options", msg)
				}
			} else {
				a, ok := p.attrs()[tc.attr]
				if !ok {
					t.Fatalf("%s has no %s", p.name, tc.attr)
				}
				d = validateAttr(a, tc.value)
			}
			checkVerdict(t, p.name, tc.attr, tc.value, want, d)
		}
	}
	for _, p := range sixPlaces() {
		if p.attrs == nil {
			continue // the function takes every engineSettingNames key (gpuFitOptions)
		}
		for _, k := range engineSettingNames {
			if _, ok := p.attrs()[k]; !ok {
				t.Errorf("%s has no %s", p.name, k)
			}
		}
	}
	// Checked against the checkpoint at plan time: Qwen2.5-7B-Instruct is not
	// AWQ-quantized, so vLLM would refuse quantization = "awq".
	for _, tc := range []struct{ model, quant, want string }{
		{q7, "awq", `leave quantization unset, or "fp8" or "bitsandbytes"`},
		{q7, "fp8", ""},
		{q7 + "-AWQ", "awq_marlin", ""},
		{q7 + "-AWQ", "fp8", "already a awq-quantized checkpoint"},
	} {
		for _, p := range sixPlaces() {
			d := p.plan(tc.model, tc.quant)
			if tc.want == "" {
				// a fit finding is not a verdict on the value
				for _, e := range d.Errors() {
					if strings.Contains(e.Summary(), "Invalid") || strings.Contains(e.Summary(), "function error") {
						t.Errorf("%s: %s %q: want accepted, got %v", p.name, tc.model, tc.quant, e)
					}
				}
				continue
			}
			checkVerdict(t, p.name, "quantization", tc.quant, tc.want, d)
			if msg := d.Errors()[0].Summary() + d.Errors()[0].Detail(); !strings.Contains(msg, "quantization") || strings.Contains(msg, "..") {
				t.Errorf("%s: the message names the attribute and ends once: %s", p.name, msg)
			}
		}
	}
}

func checkVerdict(t *testing.T, place, attr string, value any, want string, d diag.Diagnostics) {
	t.Helper()
	switch {
	case want == "" && d.HasError():
		t.Errorf("%s: %s = %v: want accepted, got %v", place, attr, value, d.Errors())
	case want != "" && !d.HasError():
		t.Errorf("%s: %s = %v: want an error with %q, got none", place, attr, value, want)
	case want != "" && !strings.Contains(d.Errors()[0].Detail(), want):
		t.Errorf("%s: %s = %v: want %q in %q", place, attr, value, want, d.Errors()[0].Detail())
	}
}

// accelerator_type: the worker and the batch job give one verdict.
func TestAcceleratorTypeSameVerdict(t *testing.T) {
	var resp resource.SchemaResponse
	(&vllmWorkerResource{}).Schema(context.Background(), resource.SchemaRequest{}, &resp)
	places := map[string]any{"worker": resp.Schema.Attributes["accelerator_type"], "batch_job": vllmAttribute().Attributes["accelerator_type"]}
	for value, want := range map[string]string{
		"H100":          "",
		"A100-80G":      "",
		"H1000":         `did you mean "H100"`,
		"H100-80GB-SXM": `Use accelerator_type = "H100"`,
		"RTX-3090":      "has no Ray accelerator type",
	} {
		for name, a := range places {
			checkVerdict(t, name, "accelerator_type", value, want, validateAttr(a, value))
		}
	}
}
