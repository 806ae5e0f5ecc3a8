package provider

import (
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

// engineInputs are the plan-time data sources' engine_context and
// vllm_version inputs: which usage context builds the engine (its batch
// defaults) and which vLLM release accounts for its memory.
type engineInputs struct {
	EngineContext types.String `tfsdk:"engine_context"`
	VLLMVersion   types.String `tfsdk:"vllm_version"`
}

func engineInputAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"engine_context": schema.StringAttribute{Optional: true,
			Description: "Who builds the vLLM engine, which sets vLLM's default `max_num_batched_tokens` and `max_num_seqs`: " +
				"`batch_job` (Ray Data LLM, as `rayvllm_batch_job` runs it: no usage context, 2048/128), `worker` (Ray Serve LLM, as " +
				"`rayvllm_vllm_worker` runs it: the OpenAI server's defaults, e.g. 8192/1024 on an H100) or `llm_class` (vLLM's offline " +
				"`LLM` class). Default `batch_job`. The values are vLLM " + hardware.DefaultVLLMVersion + "'s `get_batch_defaults`.",
			Validators: []validator.String{stringvalidator.OneOf(hardware.EngineContexts...)}},
		"vllm_version": schema.StringAttribute{Optional: true,
			Description: fmt.Sprintf("vLLM release of the engine, e.g. `%s` (default: the release the cluster bootstrap installs). "+
				"From 0.21.0 the CUDA-graph memory estimate is subtracted from the KV cache; before, it came out of the "+
				"`1 − gpu_memory_utilization` margin. Releases before 0.8 (V0 engine) are refused.", hardware.DefaultVLLMVersion),
			Validators: []validator.String{stringvalidator.LengthBetween(3, 40)}},
	}
}

// apply sets the engine inputs on a fit input; with an instance type, the
// suggestions stay within its GPUs and EC2's GPUs.
func (e engineInputs) apply(in *hardware.FitInput, it *catalog.InstanceType) {
	in.EngineContext = strings.TrimSpace(e.EngineContext.ValueString())
	in.VLLMVersion = strings.TrimSpace(e.VLLMVersion.ValueString())
	if it != nil {
		in.MaxTensorParallel, in.EC2Only = it.GPUCount, true
	}
}
