package provider

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/hfconfig"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/input"
)

// requireFitHint ends the misfit message where require_fit exists.
const requireFitHint = "Set require_fit = false to get the numbers without failing the plan."

// fitCheck is the one plan-time fit check: rayvllm_gpu_fit's engine run by
// the data sources and by the three resources on their engine settings.
type fitCheck struct {
	In   hardware.FitInput // the engine inputs; GPU is set per candidate
	GPUs []catalog.GPU     // candidates, largest first (Ray's "A100" is a 40 or an 80 GB part)
	// At maps the engine's attribute names onto the caller's attributes;
	// At("") is where the misfit is reported. An empty path reports
	// without an attribute.
	At func(engineAttr string) path.Path
	// Misfit is the severity of a misfit: error, warning, or
	// diag.SeverityInvalid for none (the caller reports the numbers).
	Misfit      diag.Severity
	Context     string // leads the misfit message, e.g. the worker group
	Hint        string // ends the misfit message: what to change
	Accelerator string // the name the user gave, for the warnings
	// WarnKVCache warns when max_num_seqs full-length sequences do not fit
	// the predicted KV cache.
	WarnKVCache bool
}

// run reports the check's findings and returns one result per candidate
// GPU, nil after an input error.
func (f fitCheck) run(diags *diag.Diagnostics) []hardware.FitResult {
	results := make([]hardware.FitResult, 0, len(f.GPUs))
	for _, g := range f.GPUs {
		in := f.In
		in.GPU = g
		res, err := hardware.Fit(in)
		if err != nil {
			f.inputError(diags, err)
			return nil
		}
		results = append(results, res)
	}
	if len(results) == 0 {
		return nil
	}
	best := results[0]
	if !best.Fits {
		in := f.In
		in.GPU = f.GPUs[0]
		summary, detail := misfitError(in, best, f.Hint)
		if f.Context != "" {
			detail = f.Context + ":\n" + detail
		}
		addDiag(diags, f.Misfit, f.At(""), summary, detail)
		return results
	}
	if len(results) > 1 && !results[1].Fits {
		addDiag(diags, diag.SeverityWarning, f.At(""), fmt.Sprintf("%s fits %s but not %s", f.In.Model.ID, f.GPUs[0].Name, f.GPUs[1].Name),
			fmt.Sprintf("accelerator_type %q matches both; Ray may place a replica on a %s, where vLLM would be %.2f GiB short per GPU. Use %q to pin the larger part.",
				f.Accelerator, f.GPUs[1].Name, results[1].ShortfallGiB, "A100-80G"))
	}
	// The KV cache check uses the smallest candidate. It fires only for a
	// max_num_seqs the user set (vLLM's defaults are meant to be more than
	// the cache holds: its scheduler admits what fits) and only when under
	// half of them fit, so that lowering max_num_seqs is the answer.
	res, gpu := results[len(results)-1], f.GPUs[len(results)-1]
	if f.WarnKVCache && f.In.MaxNumSeqs > 0 && res.Fits && res.MaxConcurrency < float64(res.MaxNumSeqs)/2 {
		addDiag(diags, diag.SeverityWarning, f.At("max_num_seqs"), "KV cache holds under half of max_num_seqs full-length sequences",
			fmt.Sprintf("max_num_seqs %d × max_model_len %d = %d tokens, but the predicted KV cache of one replica on %s holds %d tokens (%.2f full-length sequences), "+
				"so with long requests vLLM preempts and recomputes sequences. Set max_num_seqs = %d, or lower max_model_len, or use kv_cache_dtype = \"fp8\".",
				res.MaxNumSeqs, res.MaxModelLen, int64(res.MaxNumSeqs)*int64(res.MaxModelLen), gpu.Name, res.KVCacheTokens, res.MaxConcurrency, max(int(res.MaxConcurrency), 1)))
	}
	return results
}

// inputError maps an engine error onto the caller's attribute.
func (f fitCheck) inputError(diags *diag.Diagnostics, err error) {
	var ie *input.InputError
	if !errors.As(err, &ie) {
		addDiag(diags, diag.SeverityError, f.At(""), "Fit check failed", err.Error())
		return
	}
	at := f.At(ie.Attribute)
	addDiag(diags, diag.SeverityError, at, "Invalid "+at.String(), ie.Message)
}

// rootAttr is the At of a data source: the engine's names are its own,
// except the arguments it reads from engine_kwargs_json.
func rootAttr(a string) path.Path {
	switch a {
	case "":
		return path.Empty()
	case "cpu_offload_gb":
		return path.Root("engine_kwargs_json")
	}
	return path.Root(a)
}

// addHardwareError maps an engine error onto the data source's attribute.
func addHardwareError(diags *diag.Diagnostics, err error) {
	fitCheck{At: rootAttr}.inputError(diags, err)
}

func addDiag(diags *diag.Diagnostics, sev diag.Severity, at path.Path, summary, detail string) {
	switch {
	case sev == diag.SeverityError && len(at.Steps()) == 0:
		diags.AddError(summary, detail)
	case sev == diag.SeverityError:
		diags.AddAttributeError(at, summary, detail)
	case sev == diag.SeverityWarning && len(at.Steps()) == 0:
		diags.AddWarning(summary, detail)
	case sev == diag.SeverityWarning:
		diags.AddAttributeWarning(at, summary, detail)
	}
}

// misfitError is the message of every misfit in the provider; hint, when
// set, is its last line.
func misfitError(in hardware.FitInput, r hardware.FitResult, hint string) (string, string) {
	summary := fmt.Sprintf("%s does not fit on %s", in.Model.ID, in.GPU.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "vLLM would refuse to start: %.2f GiB short per GPU (budget %.2f GiB = %.2f GiB × gpu_memory_utilization %.2f).\n",
		r.ShortfallGiB, r.BudgetGiB, r.GPUTotalMemoryGiB, in.GPUMemoryUtilization)
	for _, s := range r.Reasons {
		b.WriteString("- " + s + "\n")
	}
	if len(r.Suggestions) > 0 {
		b.WriteString("Would fit:\n")
		for _, s := range r.Suggestions {
			b.WriteString("- " + s + "\n")
		}
	}
	b.WriteString(hint)
	return summary, strings.TrimRight(b.String(), "\n")
}

// vllmEngine is an engine configured in vLLM's own names, as
// rayvllm_vllm_worker and rayvllm_batch_job take it.
type vllmEngine struct {
	Accelerator                                                      string // accelerator_type: a Ray accelerator type or a GPU catalog name
	Model                                                            string // model_source
	Quantization                                                     string
	KVCacheDType                                                     string
	TensorParallelSize, MaxModelLen, MaxNumSeqs, MaxNumBatchedTokens int64
	PipelineParallelSize                                             int64
	GPUMemoryUtilization                                             float64
	Extra                                                            map[string]any // engine_kwargs_json
	// Context is who builds the engine (hardware.EngineContexts): Ray Data
	// LLM for the batch job, Ray Serve LLM for the worker. It sets vLLM's
	// default max_num_batched_tokens and max_num_seqs. The release is the
	// one the cluster bootstrap installs (hardware.DefaultVLLMVersion).
	Context string
}

// fitCheck builds the check of an engine. run is false when there is
// nothing to check: a Ray accelerator type outside the GPU catalog, or a
// quantization the checkpoint refuses (reported by
// checkCheckpointQuantization). why says what else is missing when the
// engine cannot model it.
func (e vllmEngine) fitCheck() (f fitCheck, run bool, why string) {
	gpus, err := catalog.AcceleratorGPUs(e.Accelerator)
	if err != nil {
		return f, false, ""
	}
	model, err := hfconfig.LookupModel(e.Model)
	if err != nil {
		return f, false, fmt.Sprintf("model %q is not in the model catalog; check it with rayvllm_gpu_fit, which reads any Hugging Face id from the Hub.", e.Model)
	}
	if hardware.CheckQuantization(model, e.Quantization) != nil {
		return f, false, ""
	}
	s := engineSettingsModel{Quantization: stringOrNull(e.Quantization), KVCacheDType: stringOrNull(e.KVCacheDType),
		TensorParallelSize: int64OrNull(e.TensorParallelSize), MaxModelLen: int64OrNull(e.MaxModelLen), MaxNumSeqs: int64OrNull(e.MaxNumSeqs),
		MaxNumBatchedTokens: int64OrNull(e.MaxNumBatchedTokens), GPUMemoryUtilization: float64OrNull(e.GPUMemoryUtilization),
		PipelineParallelSize: int64OrNull(e.PipelineParallelSize)}
	in := hardware.FitInput{Model: model, BlockSize: 16, EngineContext: e.Context, RayLabels: true}
	if attr := s.fitInput(&in); attr != "" {
		return f, false, fmt.Sprintf("the engine does not model %s %s.", attr, s.value(attr))
	}
	fitKwargs(e.Extra, &in)
	return fitCheck{In: in, GPUs: gpus, Misfit: diag.SeverityError, Accelerator: e.Accelerator, WarnKVCache: true}, true, ""
}

// fitSkipped warns that the fit check could not run.
func fitSkipped(diags *diag.Diagnostics, at path.Path, why string) {
	diags.AddAttributeWarning(at, "GPU fit not checked", "The plan-time fit check (the engine of rayvllm_gpu_fit) did not run: "+why)
}
