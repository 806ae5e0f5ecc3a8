package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

var _ datasource.DataSource = (*gpusDataSource)(nil)

var gpuSortKeys = []string{"price_per_gpu_gib_hour", "price_per_hour", "price_per_gpu_hour"}

// NewGPUsDataSource is the rayvllm_gpus data source.
func NewGPUsDataSource() datasource.DataSource { return &gpusDataSource{} }

type gpusDataSource struct{}

type gpusModel struct {
	MinMemoryGiB       types.Float64      `tfsdk:"min_memory_gib"`
	MinGPUs            types.Int64        `tfsdk:"min_gpus"`
	FP8                types.Bool         `tfsdk:"fp8"`
	Family             types.String       `tfsdk:"family"`
	InstanceTypePrefix types.String       `tfsdk:"instance_type_prefix"`
	MaxPricePerHourUSD types.Float64      `tfsdk:"max_price_per_hour_usd"`
	SortBy             types.String       `tfsdk:"sort_by"`
	InstanceTypes      []gpuInstanceModel `tfsdk:"instance_types"`
}

type gpuInstanceModel struct {
	InstanceType          types.String  `tfsdk:"instance_type"`
	GPU                   types.String  `tfsdk:"gpu"`
	Architecture          types.String  `tfsdk:"architecture"`
	GPUCount              types.Int64   `tfsdk:"gpu_count"`
	GPUMemoryGiB          types.Float64 `tfsdk:"gpu_memory_gib"`
	TotalGPUMemoryGiB     types.Float64 `tfsdk:"total_gpu_memory_gib"`
	FP8                   types.Bool    `tfsdk:"fp8"`
	EFA                   types.Bool    `tfsdk:"efa"`
	VCPUs                 types.Int64   `tfsdk:"vcpus"`
	MemoryGiB             types.Float64 `tfsdk:"memory_gib"`
	PriceUSDPerHour       types.Float64 `tfsdk:"price_per_hour_usd"`
	PricePerGPUHourUSD    types.Float64 `tfsdk:"price_per_gpu_hour_usd"`
	PricePerGPUGiBHourUSD types.Float64 `tfsdk:"price_per_gpu_gib_hour_usd"`
	PriceDate             types.String  `tfsdk:"price_date"`
}

func (d *gpusDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gpus"
}

func (d *gpusDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	f := func(desc string) schema.Attribute { return schema.Float64Attribute{Computed: true, Description: desc} }
	resp.Schema = schema.Schema{
		Description: "Queries the built-in catalog of AWS EC2 GPU instance types (us-east-1 on-demand list prices, dated), sorted by price per GPU-GiB-hour (or by `sort_by`), cheapest first. No match gives an empty list and a warning, never a silent default.",
		Attributes: map[string]schema.Attribute{
			"min_memory_gib": schema.Float64Attribute{Optional: true, Description: "Minimum usable memory per GPU in GiB.",
				Validators: []validator.Float64{float64validator.AtLeast(0)}},
			"min_gpus": schema.Int64Attribute{Optional: true, Description: "Minimum GPUs per instance.",
				Validators: []validator.Int64{int64validator.AtLeast(1)}},
			"fp8": schema.BoolAttribute{Optional: true, Description: "When true, only GPUs with native fp8 tensor cores; when false, only GPUs without."},
			"family": schema.StringAttribute{Optional: true,
				Description: "GPU architecture family, e.g. `ampere`, `ada`, `hopper`, `blackwell`, `turing`.",
				Validators:  []validator.String{stringvalidator.OneOfCaseInsensitive(catalog.GPUArchitectures()...)}},
			"instance_type_prefix": schema.StringAttribute{Optional: true, Description: "Instance type prefix, e.g. `g5.` or `p5`."},
			"max_price_per_hour_usd": schema.Float64Attribute{Optional: true, Description: "Only instance types whose on-demand price per instance-hour is at most this, in USD.",
				Validators: []validator.Float64{float64validator.AtLeast(0)}},
			"sort_by": schema.StringAttribute{Optional: true,
				Description: "Sort key, cheapest first: `price_per_gpu_gib_hour` (default), `price_per_hour` (the instance) or `price_per_gpu_hour`.",
				Validators:  []validator.String{stringvalidator.OneOf(gpuSortKeys...)}},
			"instance_types": schema.ListNestedAttribute{
				Computed:    true,
				Description: "Matching instance types, cheapest first by `sort_by`.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"instance_type":              schema.StringAttribute{Computed: true, Description: "EC2 instance type."},
					"gpu":                        schema.StringAttribute{Computed: true, Description: "GPU catalog name."},
					"architecture":               schema.StringAttribute{Computed: true, Description: "GPU architecture family."},
					"gpu_count":                  schema.Int64Attribute{Computed: true, Description: "GPUs per instance."},
					"gpu_memory_gib":             f("Usable memory per GPU in GiB."),
					"total_gpu_memory_gib":       f("Usable GPU memory of the whole instance in GiB."),
					"fp8":                        schema.BoolAttribute{Computed: true, Description: "Native fp8 tensor cores."},
					"efa":                        schema.BoolAttribute{Computed: true, Description: "Supports Elastic Fabric Adapter network interfaces (AWS's list of EFA instance types), which a worker group's `efa` needs."},
					"vcpus":                      schema.Int64Attribute{Computed: true, Description: "vCPUs."},
					"memory_gib":                 f("Host memory in GiB."),
					"price_per_hour_usd":         f("us-east-1 Linux on-demand price per instance-hour in USD."),
					"price_per_gpu_hour_usd":     f("Price per GPU-hour in USD."),
					"price_per_gpu_gib_hour_usd": f("Price per GPU-GiB-hour in USD: the sort key."),
					"price_date":                 schema.StringAttribute{Computed: true, Description: "Date the list price was read (YYYY-MM-DD)."},
				}},
			},
		},
	}
}

func (d *gpusDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m gpusModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	type row struct {
		it  catalog.InstanceType
		gpu catalog.GPU
	}
	var rows []row
	for _, it := range catalog.Instances() {
		g, err := catalog.LookupGPU(it.GPU)
		if err != nil {
			resp.Diagnostics.AddError("Catalog inconsistency", err.Error())
			return
		}
		switch {
		case g.MemoryGiB < float64Or(m.MinMemoryGiB, 0),
			int64(it.GPUCount) < int64Or(m.MinGPUs, 0),
			!m.FP8.IsNull() && g.FP8 != m.FP8.ValueBool(),
			!m.Family.IsNull() && !strings.EqualFold(g.Architecture, m.Family.ValueString()),
			!strings.HasPrefix(it.Name, m.InstanceTypePrefix.ValueString()),
			!m.MaxPricePerHourUSD.IsNull() && it.PriceUSDPerHour > m.MaxPricePerHourUSD.ValueFloat64():
			continue
		}
		rows = append(rows, row{it, g})
	}
	perGiB := func(r row) float64 { return r.it.PricePerGPUHourUSD() / r.gpu.MemoryGiB }
	key := perGiB
	switch m.SortBy.ValueString() {
	case "price_per_hour":
		key = func(r row) float64 { return r.it.PriceUSDPerHour }
	case "price_per_gpu_hour":
		key = func(r row) float64 { return r.it.PricePerGPUHourUSD() }
	}
	sort.SliceStable(rows, func(i, j int) bool { return key(rows[i]) < key(rows[j]) })
	m.InstanceTypes = make([]gpuInstanceModel, 0, len(rows))
	for _, r := range rows {
		m.InstanceTypes = append(m.InstanceTypes, gpuInstanceModel{
			InstanceType:          types.StringValue(r.it.Name),
			GPU:                   types.StringValue(r.gpu.Name),
			Architecture:          types.StringValue(r.gpu.Architecture),
			GPUCount:              types.Int64Value(int64(r.it.GPUCount)),
			GPUMemoryGiB:          gib(r.gpu.MemoryGiB),
			TotalGPUMemoryGiB:     gib(r.gpu.MemoryGiB * float64(r.it.GPUCount)),
			FP8:                   types.BoolValue(r.gpu.FP8),
			EFA:                   types.BoolValue(r.it.EFA),
			VCPUs:                 types.Int64Value(int64(r.it.VCPUs)),
			MemoryGiB:             gib(r.it.MemoryGiB),
			PriceUSDPerHour:       types.Float64Value(r.it.PriceUSDPerHour),
			PricePerGPUHourUSD:    types.Float64Value(round(r.it.PricePerGPUHourUSD(), 4)),
			PricePerGPUGiBHourUSD: types.Float64Value(round(perGiB(r), 5)),
			PriceDate:             types.StringValue(r.it.PriceDate),
		})
	}
	if len(rows) == 0 {
		resp.Diagnostics.AddWarning("No GPU instance type matches",
			fmt.Sprintf("No catalog instance type matches min_memory_gib=%v min_gpus=%v fp8=%v family=%v instance_type_prefix=%v max_price_per_hour_usd=%v. Relax a filter; the list is empty.",
				m.MinMemoryGiB, m.MinGPUs, m.FP8, m.Family, m.InstanceTypePrefix, m.MaxPricePerHourUSD))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
