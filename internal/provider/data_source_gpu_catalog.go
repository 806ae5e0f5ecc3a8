package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

var _ datasource.DataSource = (*gpuCatalogDataSource)(nil)

// NewGPUCatalogDataSource is the rayvllm_gpu_catalog data source: every GPU
// the fit checks know, with its specs.
func NewGPUCatalogDataSource() datasource.DataSource { return &gpuCatalogDataSource{} }

type gpuCatalogDataSource struct{}

type gpuCatalogModel struct {
	GPUs []gpuSpecModel `tfsdk:"gpus"`
}

type gpuSpecModel struct {
	Name            types.String  `tfsdk:"name"`
	Aliases         []string      `tfsdk:"aliases"`
	Vendor          types.String  `tfsdk:"vendor"`
	Family          types.String  `tfsdk:"family"`
	Architecture    types.String  `tfsdk:"architecture"`
	MemoryGiB       types.Float64 `tfsdk:"memory_gib"`
	NominalMemoryGB types.Float64 `tfsdk:"nominal_memory_gb"`
	BandwidthGBps   types.Float64 `tfsdk:"memory_bandwidth_gbps"`
	BF16TFLOPS      types.Float64 `tfsdk:"bf16_tflops"`
	FP8TFLOPS       types.Float64 `tfsdk:"fp8_tflops"`
	INT8TOPS        types.Float64 `tfsdk:"int8_tops"`
	FP8             types.Bool    `tfsdk:"fp8"`
	Source          types.String  `tfsdk:"source"`
}

func (d *gpuCatalogDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gpu_catalog"
}

func (d *gpuCatalogDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	f := func(desc string) schema.Attribute { return schema.Float64Attribute{Computed: true, Description: desc} }
	s := func(desc string) schema.Attribute { return schema.StringAttribute{Computed: true, Description: desc} }
	resp.Schema = schema.Schema{
		Description: "Every GPU in the built-in catalog with its specs: the names `gpu` accepts in the fit and sizing data sources, sorted by name.",
		Attributes: map[string]schema.Attribute{
			"gpus": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The catalog GPUs.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":                  s("Catalog name, as `gpu` accepts it (case-insensitive)."),
					"aliases":               schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: "Other accepted spellings."},
					"vendor":                s("`nvidia` or `amd`."),
					"family":                s("`consumer`, `datacenter` or `workstation`."),
					"architecture":          s("GPU architecture, e.g. `hopper`."),
					"memory_gib":            f("Usable memory in GiB as CUDA/ROCm reports it (what the fit checks use)."),
					"nominal_memory_gb":     f("Datasheet memory in GB."),
					"memory_bandwidth_gbps": f("Memory bandwidth in GB/s."),
					"bf16_tflops":           f("Dense bf16/fp16 tensor TFLOPS."),
					"fp8_tflops":            f("Dense fp8 TFLOPS; 0 without fp8 support."),
					"int8_tops":             f("Dense int8 TOPS."),
					"fp8":                   schema.BoolAttribute{Computed: true, Description: "Native fp8 tensor cores."},
					"source":                s("The datasheet the figures come from."),
				}},
			},
		},
	}
}

func (d *gpuCatalogDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m gpuCatalogModel
	for _, g := range catalog.GPUs() {
		aliases := g.Aliases
		if aliases == nil {
			aliases = []string{}
		}
		m.GPUs = append(m.GPUs, gpuSpecModel{
			Name: types.StringValue(g.Name), Aliases: aliases, Vendor: types.StringValue(g.Vendor),
			Family: types.StringValue(g.Family), Architecture: types.StringValue(g.Architecture),
			MemoryGiB: types.Float64Value(g.MemoryGiB), NominalMemoryGB: types.Float64Value(g.NominalMemoryGB),
			BandwidthGBps: types.Float64Value(g.BandwidthGBps), BF16TFLOPS: types.Float64Value(g.BF16TFLOPS),
			FP8TFLOPS: types.Float64Value(g.FP8TFLOPS), INT8TOPS: types.Float64Value(g.INT8TOPS),
			FP8: types.BoolValue(g.FP8), Source: types.StringValue(g.Source),
		})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
