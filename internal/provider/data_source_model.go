package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware"
)

var (
	_ datasource.DataSource                     = (*modelDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*modelDataSource)(nil)
	_ datasource.DataSourceWithConfigure        = (*modelDataSource)(nil)
)

// NewModelDataSource is the rayvllm_model data source.
func NewModelDataSource() datasource.DataSource { return &modelDataSource{} }

type modelDataSource struct{ hubConfigure }

type modelModel struct {
	Model                  types.String `tfsdk:"model"`
	ModelConfigJSON        types.String `tfsdk:"model_config_json"`
	ModelRevision          types.String `tfsdk:"model_revision"`
	ModelName              types.String `tfsdk:"model_name"`
	ID                     types.String `tfsdk:"id"`
	Source                 types.String `tfsdk:"model_source"`
	ModelType              types.String `tfsdk:"model_type"`
	Architecture           types.String `tfsdk:"architecture"`
	NumLayers              types.Int64  `tfsdk:"num_layers"`
	HiddenSize             types.Int64  `tfsdk:"hidden_size"`
	NumHeads               types.Int64  `tfsdk:"num_attention_heads"`
	NumKVHeads             types.Int64  `tfsdk:"num_kv_heads"`
	HeadDim                types.Int64  `tfsdk:"head_dim"`
	IntermediateSize       types.Int64  `tfsdk:"intermediate_size"`
	VocabSize              types.Int64  `tfsdk:"vocab_size"`
	TiedEmbeddings         types.Bool   `tfsdk:"tied_embeddings"`
	MaxPositionEmbeddings  types.Int64  `tfsdk:"max_position_embeddings"`
	DefaultMaxModelLen     types.Int64  `tfsdk:"default_max_model_len"`
	SlidingWindowLayers    types.Int64  `tfsdk:"sliding_window_layers"`
	VisionParams           types.Int64  `tfsdk:"vision_params"`
	SlidingWindow          types.Int64  `tfsdk:"sliding_window"`
	NumExperts             types.Int64  `tfsdk:"num_experts"`
	NumActiveExperts       types.Int64  `tfsdk:"num_active_experts"`
	ExpertIntermediateSize types.Int64  `tfsdk:"expert_intermediate_size"`
	KVLoraRank             types.Int64  `tfsdk:"kv_lora_rank"`
	Params                 types.Int64  `tfsdk:"params"`
	ActiveParams           types.Int64  `tfsdk:"active_params"`
	KVCacheBytesPerToken   types.Int64  `tfsdk:"kv_cache_bytes_per_token"`
	QuantizationMethod     types.String `tfsdk:"quantization_method"`
}

func (d *modelDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_model"
}

func (d *modelDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	i := func(desc string) schema.Attribute { return schema.Int64Attribute{Computed: true, Description: desc} }
	in := modelInputAttributes()
	resp.Schema = schema.Schema{
		Description: "The architecture and parameter count of a model: from the built-in catalog, from its `config.json` on the Hugging Face Hub (any id), or from a `config.json` text, read as transformers and vLLM read it.",
		Attributes: map[string]schema.Attribute{
			"model":                    in["model"],
			"model_config_json":        in["model_config_json"],
			"model_revision":           in["model_revision"],
			"model_name":               in["model_name"],
			"id":                       schema.StringAttribute{Computed: true, Description: "The model's name: `model_name`, else the id, else the config.json's `_name_or_path`, else `custom`."},
			"model_source":             schema.StringAttribute{Computed: true, Description: "Where the architecture came from: `catalog`, `hub`, `hub-cache` (the Hub was not reachable; the cached copy) or `model_config_json`."},
			"model_type":               schema.StringAttribute{Computed: true, Description: "The config's `model_type` (of the language model for a multimodal one), whose transformers defaults fill in missing fields."},
			"architecture":             schema.StringAttribute{Computed: true, Description: "The config's `architectures[0]`."},
			"num_layers":               i("Transformer layers."),
			"hidden_size":              i("Hidden size."),
			"num_attention_heads":      i("Attention (query) heads."),
			"num_kv_heads":             i("Key/value heads (grouped-query attention)."),
			"head_dim":                 i("Dimension of one attention head."),
			"intermediate_size":        i("MLP intermediate size of the dense layers."),
			"vocab_size":               i("Vocabulary size."),
			"tied_embeddings":          schema.BoolAttribute{Computed: true, Description: "Whether lm_head shares the embedding matrix."},
			"max_position_embeddings":  i("The longest `max_model_len` vLLM accepts for the model (its derived max_model_len, rope scaling applied as vLLM does)."),
			"default_max_model_len":    i("vLLM's `max_model_len` when none is set: `max_position_embeddings`, or `original_max_position_embeddings` for a LongRoPE model."),
			"sliding_window_layers":    i("Layers that use the sliding window (the rest are full attention); 0 without a window."),
			"vision_params":            i("Parameters of a multimodal model's vision tower and projector (included in `params`); 0 for a text model."),
			"sliding_window":           i("Sliding-window size in tokens; 0 for full attention."),
			"num_experts":              i("Routed experts per MoE layer; 0 for a dense model."),
			"num_active_experts":       i("Experts active per token."),
			"expert_intermediate_size": i("MLP intermediate size of one expert."),
			"kv_lora_rank":             i("Multi-head latent attention KV rank; 0 without MLA."),
			"params":                   i("Total parameters, computed from the architecture."),
			"active_params":            i("Parameters active per token (MoE: shared plus active experts)."),
			"kv_cache_bytes_per_token": i("KV cache bytes per token in the model dtype, all layers, on one GPU."),
			"quantization_method":      schema.StringAttribute{Computed: true, Description: "The checkpoint's `quantization_config.quant_method`, or empty."},
		},
	}
}

func (d *modelDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{datasourcevalidator.ExactlyOneOf(path.MatchRoot("model"), path.MatchRoot("model_config_json"))}
}

func (d *modelDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m modelModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	mod, src, err := resolveModel(ctx, d.hub, modelRef{ID: m.Model, Revision: m.ModelRevision, ConfigJSON: m.ModelConfigJSON, Name: m.ModelName})
	if err != nil {
		addHardwareError(&resp.Diagnostics, err)
		return
	}
	kv, err := hardware.KVCacheBytesPerToken(mod, "auto", 1)
	if err != nil {
		addHardwareError(&resp.Diagnostics, err)
		return
	}
	i := func(v int) types.Int64 { return types.Int64Value(int64(v)) }
	m.ID = types.StringValue(mod.ID)
	m.Source = types.StringValue(src)
	m.ModelType = types.StringValue(mod.ModelType)
	m.DefaultMaxModelLen, m.SlidingWindowLayers = i(mod.DefaultMaxLen()), i(mod.SlidingLayers())
	m.VisionParams = types.Int64Value(mod.VisionParams)
	m.Architecture = types.StringValue(mod.Architecture)
	m.NumLayers, m.HiddenSize, m.NumHeads, m.NumKVHeads = i(mod.NumLayers), i(mod.HiddenSize), i(mod.NumHeads), i(mod.NumKVHeads)
	m.HeadDim, m.IntermediateSize, m.VocabSize = i(mod.HeadDim), i(mod.IntermediateSize), i(mod.VocabSize)
	m.TiedEmbeddings = types.BoolValue(mod.TiedEmbeddings)
	m.MaxPositionEmbeddings, m.SlidingWindow = i(mod.MaxPositionEmbeddings), i(mod.SlidingWindow)
	m.NumExperts, m.NumActiveExperts, m.ExpertIntermediateSize = i(mod.NumExperts), i(mod.NumActiveExperts), i(mod.ExpertIntermediateSize)
	m.KVLoraRank = i(mod.KVLoraRank)
	m.Params, m.ActiveParams = types.Int64Value(mod.Params()), types.Int64Value(mod.ActiveParams())
	m.KVCacheBytesPerToken = types.Int64Value(kv)
	m.QuantizationMethod = types.StringValue("")
	if mod.Quantization != nil {
		m.QuantizationMethod = types.StringValue(mod.Quantization.Method)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
