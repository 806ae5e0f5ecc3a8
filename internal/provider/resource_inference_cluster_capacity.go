package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

// reservationModel is a worker group's capacity_reservation block.
type reservationModel struct {
	ID                 types.String `tfsdk:"id"`
	ResourceGroupARN   types.String `tfsdk:"resource_group_arn"`
	MarketType         types.String `tfsdk:"market_type"`
	FallbackToOnDemand types.Bool   `tfsdk:"fallback_to_on_demand"`
}

// capacityBlockMarket is EC2's market type of a Capacity Block for ML.
const capacityBlockMarket = "capacity-block"

// groupCapacityAttributes are the worker group's capacity attributes.
func groupCapacityAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"fallback_instance_types": schema.ListAttribute{
			Optional: true, ElementType: types.StringType,
			Description: "Instance types tried in order after `instance_type` when EC2 refuses it for capacity in every subnet (InsufficientInstanceCapacity, Unsupported, ...), 1-10 of them. " +
				"Each is a catalog GPU type with the same GPU model and GPUs per node as `instance_type`, so that the fit check, Ray's resources and `hourly_cost_usd` (priced at `instance_type`) hold for any of them. " +
				"Used both for `count` groups (the provider's RunInstances) and for autoscaled groups (Ray's autoscaler, through the node provider on the head).",
			Validators: []validator.List{listvalidator.SizeBetween(1, 10), listvalidator.UniqueValues()},
		},
		"placement_group": schema.StringAttribute{
			Optional: true,
			Description: "Name of an existing placement group (strategy `cluster`, e.g. an `aws_placement_group`) to launch the group's nodes into, for multi-node tensor or pipeline parallelism. " +
				"A cluster placement group is in one availability zone: use one subnet (or the first of `subnet_ids`) in that zone.",
			Validators: []validator.String{stringvalidator.LengthBetween(1, 255)},
		},
		"efa": schema.BoolAttribute{
			Optional: true,
			Description: "Launch each node with an Elastic Fabric Adapter as its primary network interface (InterfaceType `efa`, network card 0), for NCCL between nodes. " +
				"One EFA interface: types with several network cards (p4d, p5: up to 32 EFA interfaces) get the first card's bandwidth only. " +
				"Needs `placement_group`, and an `instance_type` (and every fallback type) whose catalog `efa` is true (see `rayvllm_gpus`).",
		},
	}
}

// groupCapacityBlocks are the worker group's capacity blocks.
func groupCapacityBlocks() map[string]schema.Block {
	return map[string]schema.Block{
		"capacity_reservation": schema.SingleNestedBlock{
			Description: "Launch the group into reserved capacity: an On-Demand Capacity Reservation or a Capacity Block for ML (`id`), or a Capacity Reservation resource group (`resource_group_arn`). " +
				"Exactly one of `id` and `resource_group_arn`. Not with `spot`.",
			Attributes: map[string]schema.Attribute{
				"id": schema.StringAttribute{
					Optional: true, Description: "Capacity Reservation or Capacity Block ID, e.g. `cr-0123456789abcdef0`.",
					Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^cr-[0-9a-f]{8,17}$`), "must be a capacity reservation ID like cr-0123456789abcdef0")},
				},
				"resource_group_arn": schema.StringAttribute{
					Optional: true, Description: "ARN of a Capacity Reservation resource group, e.g. `arn:aws:resource-groups:us-east-1:123456789012:group/gpus`: EC2 uses any reservation in it that matches.",
					Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^arn:aws[a-z-]*:resource-groups:[a-z0-9-]+:\d{12}:group/[A-Za-z0-9_.-]+$`), "must be a resource group ARN like arn:aws:resource-groups:us-east-1:123456789012:group/gpus")},
				},
				"market_type": schema.StringAttribute{
					Optional: true, Description: "`capacity-block` for a Capacity Block for ML (needs `id`); unset for an On-Demand Capacity Reservation.",
					Validators: []validator.String{stringvalidator.OneOf(capacityBlockMarket)},
				},
				"fallback_to_on_demand": schema.BoolAttribute{
					Optional: true, Description: "When EC2 refuses the reservation for capacity (ReservationCapacityExceeded: it is full, not yet active or expired), launch on demand instead, without the reservation (an autoscaled group's nodes launched so are tagged `rayvllm:market = on-demand-fallback`). Default false: the launch fails (a `count` group) or is retried (an autoscaled group).",
				},
			},
		},
	}
}

// capacityDiags checks a worker group's capacity settings against each
// other and the catalog.
func capacityDiags(ctx context.Context, g groupModel, at path.Path, diags *diag.Diagnostics) {
	name := g.Name.ValueString()
	var fallbacks []string
	if !g.FallbackTypes.IsUnknown() {
		diags.Append(g.FallbackTypes.ElementsAs(ctx, &fallbacks, true)...)
	}
	primary, primaryErr := lookupGroupGPU(g.InstanceType.ValueString())
	known := !g.InstanceType.IsUnknown() && primaryErr == nil
	for i, f := range fallbacks {
		fat := at.AtName("fallback_instance_types").AtListIndex(i)
		gpu, err := lookupGroupGPU(f)
		switch {
		case err != nil:
			diags.AddAttributeError(fat, "Not a GPU instance type from the catalog", fmt.Sprintf("worker_group %q: fallback_instance_types[%d]: %s", name, i, err))
		case known && (gpu.Model != primary.Model || gpu.PerNode != primary.PerNode):
			diags.AddAttributeError(fat, "Fallback instance type with other GPUs",
				fmt.Sprintf("worker_group %q: fallback_instance_types[%d] %s has %d × %s, but instance_type %s has %d × %s; a fallback needs the same GPU model and count (e.g. a larger size of the same family with as many GPUs).",
					name, i, f, gpu.PerNode, gpu.Model, g.InstanceType.ValueString(), primary.PerNode, primary.Model))
		case strings.EqualFold(f, g.InstanceType.ValueString()):
			diags.AddAttributeError(fat, "Fallback is the instance type itself", fmt.Sprintf("worker_group %q: fallback_instance_types[%d] is instance_type %s; list other types.", name, i, f))
		}
	}
	if r := g.Reservation; r != nil {
		rat := at.AtName("capacity_reservation")
		switch {
		case r.ID.IsUnknown() || r.ResourceGroupARN.IsUnknown():
		case r.ID.IsNull() == r.ResourceGroupARN.IsNull():
			diags.AddAttributeError(rat, "capacity_reservation needs exactly one of id and resource_group_arn",
				fmt.Sprintf("worker_group %q: set either id (cr-...) or resource_group_arn (arn:aws:resource-groups:...) in capacity_reservation, not both or neither.", name))
		case r.MarketType.ValueString() == capacityBlockMarket && r.ID.IsNull():
			diags.AddAttributeError(rat.AtName("market_type"), "A Capacity Block needs its id",
				fmt.Sprintf("worker_group %q: market_type = \"capacity-block\" launches into one Capacity Block for ML, which EC2 takes by ID; set id (cr-...) instead of resource_group_arn.", name))
		}
		if g.Spot != nil {
			diags.AddAttributeError(rat, "capacity_reservation with spot",
				fmt.Sprintf("worker_group %q: reserved capacity is on-demand (or a Capacity Block); remove the spot block or the capacity_reservation block.", name))
		}
	}
	if !g.EFA.ValueBool() {
		return
	}
	if g.PlacementGroup.IsNull() {
		diags.AddAttributeError(at.AtName("efa"), "efa needs placement_group",
			fmt.Sprintf("worker_group %q: EFA traffic between nodes needs them in one cluster placement group; set placement_group to the name of a placement group with strategy cluster.", name))
	}
	for i, t := range slices.Concat([]string{g.InstanceType.ValueString()}, fallbacks) {
		it, err := catalog.LookupInstance(t)
		if err != nil || it.EFA || g.InstanceType.IsUnknown() {
			continue
		}
		var efa []string
		for _, c := range catalog.Instances() {
			if c.EFA && c.GPU == it.GPU {
				efa = append(efa, c.Name)
			}
		}
		which := "instance_type"
		if i > 0 {
			which = fmt.Sprintf("fallback_instance_types[%d]", i-1)
		}
		alt := "no catalog type with this GPU supports it"
		if len(efa) > 0 {
			alt = "with " + it.GPU + ": " + strings.Join(efa, ", ")
		}
		diags.AddAttributeError(at.AtName("efa"), "Instance type without EFA",
			fmt.Sprintf("worker_group %q: efa = true, but %s %s does not support EFA (catalog attribute efa = false, from AWS's list of EFA instance types). Remove efa, or use a type with EFA (%s).", name, which, t, alt))
	}
}

// capacitySpec maps a group's capacity settings onto the EC2 node spec.
func capacitySpec(ctx context.Context, g groupModel, n *ec2cluster.NodeSpec, diags *diag.Diagnostics) {
	diags.Append(g.FallbackTypes.ElementsAs(ctx, &n.FallbackInstanceTypes, true)...)
	n.PlacementGroup, n.EFA = g.PlacementGroup.ValueString(), g.EFA.ValueBool()
	if r := g.Reservation; r != nil {
		n.Reservation = &ec2cluster.Reservation{
			ID: r.ID.ValueString(), ResourceGroupARN: r.ResourceGroupARN.ValueString(),
			CapacityBlock: r.MarketType.ValueString() == capacityBlockMarket, FallbackToOnDemand: r.FallbackToOnDemand.ValueBool(),
		}
	}
}

// capacityShape is what of a group's capacity settings the autoscaler
// config holds.
func capacityShape(g groupModel) string {
	s := fmt.Sprintf("%s|%s|%s", g.FallbackTypes, g.PlacementGroup, g.EFA)
	if r := g.Reservation; r != nil {
		s += fmt.Sprintf("|%s|%s|%s|%s", r.ID, r.ResourceGroupARN, r.MarketType, r.FallbackToOnDemand)
	}
	return s
}

// importCapacity sets a group's capacity settings from the autoscaler
// config.
func importCapacity(gm *groupModel, n ec2cluster.NodeSpec) {
	gm.FallbackTypes, gm.PlacementGroup, gm.EFA = types.ListNull(types.StringType), stringOrNull(n.PlacementGroup), types.BoolNull()
	if len(n.FallbackInstanceTypes) > 0 {
		elems := make([]attr.Value, len(n.FallbackInstanceTypes))
		for i, t := range n.FallbackInstanceTypes {
			elems[i] = types.StringValue(t)
		}
		gm.FallbackTypes = types.ListValueMust(types.StringType, elems)
	}
	if n.EFA {
		gm.EFA = types.BoolValue(true)
	}
	if r := n.Reservation; r != nil {
		gm.Reservation = &reservationModel{ID: stringOrNull(r.ID), ResourceGroupARN: stringOrNull(r.ResourceGroupARN), MarketType: types.StringNull(), FallbackToOnDemand: types.BoolNull()}
		if r.CapacityBlock {
			gm.Reservation.MarketType = types.StringValue(capacityBlockMarket)
		}
		if r.FallbackToOnDemand {
			gm.Reservation.FallbackToOnDemand = types.BoolValue(true)
		}
	}
}
