package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
)

var _ function.Function = (*kvBytesFunction)(nil)

// NewKVCacheBytesPerTokenFunction is provider::rayvllm::kv_cache_bytes_per_token.
func NewKVCacheBytesPerTokenFunction() function.Function { return &kvBytesFunction{} }

type kvBytesFunction struct{}

func (f *kvBytesFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "kv_cache_bytes_per_token"
}

func (f *kvBytesFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "KV cache bytes per token on one GPU",
		Description: "Returns the KV cache bytes one token takes on one GPU, all layers: 2 × kv_heads_per_gpu × head_dim × dtype bytes per layer " +
			"(for multi-head latent attention, the compressed latent without the 2×), as vLLM's KV cache spec computes it.",
		Parameters: []function.Parameter{
			function.StringParameter{Name: "model", Description: "Hugging Face id (the built-in catalog, else the Hub's `config.json` with `HF_TOKEN`/`HF_ENDPOINT` from the environment, cached on disk), or the text of a `config.json` (anything starting with `{`)."},
			function.StringParameter{Name: "kv_cache_dtype", Description: "`auto` (the model dtype) or `fp8`."},
			function.Int64Parameter{Name: "tensor_parallel_size", Description: "Tensor-parallel size; KV heads are split across GPUs (and replicated when fewer than the GPUs)."},
		},
		Return: function.Int64Return{},
	}
}

func (f *kvBytesFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var model, dtype string
	var tp int64
	if resp.Error = req.Arguments.Get(ctx, &model, &dtype, &tp); resp.Error != nil {
		return
	}
	if tp < 1 || tp > 64 {
		resp.Error = function.NewArgumentFuncError(2, fmt.Sprintf("tensor_parallel_size must be between 1 and 64 GPUs, got %d", tp))
		return
	}
	c := fitConfigModel{Model: types.StringValue(model), ModelConfigJSON: types.StringNull()}
	if strings.HasPrefix(strings.TrimSpace(model), "{") {
		c = fitConfigModel{Model: types.StringNull(), ModelConfigJSON: types.StringValue(model)}
	}
	m, err := c.model(ctx, nil) // HF_TOKEN/HF_ENDPOINT: functions get no provider configuration
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, err.Error())
		return
	}
	n, err := hardware.KVCacheBytesPerToken(m, dtype, int(tp))
	if err != nil {
		resp.Error = funcErrorFrom(err, map[string]int64{"model": 0, "model_config_json": 0, "kv_cache_dtype": 1}, "")
		return
	}
	resp.Error = resp.Result.Set(ctx, n)
}
