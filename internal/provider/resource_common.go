package provider

import (
	"context"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Conventions the three resources share.

// timeoutsAttribute is every resource's timeouts: a nested attribute
// (`timeouts = { create = "45m" }`), the form the framework recommends for
// new providers.
func timeoutsAttribute(ctx context.Context, opts timeouts.Opts) schema.Attribute {
	a := timeouts.Attributes(ctx, opts)
	sa, ok := a.(schema.SingleNestedAttribute)
	if !ok || !opts.Create {
		return a
	}
	var ops []string
	for _, op := range []struct {
		on   bool
		name string
	}{{opts.Create, "create"}, {opts.Read, "read"}, {opts.Update, "update"}, {opts.Delete, "delete"}} {
		if op.on {
			ops = append(ops, op.name)
		}
	}
	list := ops[0]
	if n := len(ops); n > 1 {
		list = strings.Join(ops[:n-1], ", ") + " and " + ops[n-1]
	}
	sa.Description = "Timeouts of " + list + ", as Go durations, e.g. `timeouts = { " + ops[0] + " = \"45m\" }`."
	return sa
}

// dashboardURLAttribute is the dashboard_url of the Ray resources: another
// spelling of the same address (a trailing slash) is an in-place change, a
// different cluster replaces the resource. planDashboardURL
// applies the same rule when the attribute follows the provider's.
func dashboardURLAttribute(desc string) schema.StringAttribute {
	return schema.StringAttribute{
		Optional: true, Computed: true, Description: desc,
		Validators: []validator.String{dashboardURLValidator()},
		PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(addressChanged,
			"A different Ray cluster replaces the resource.", "A different Ray cluster replaces the resource.")},
	}
}

// addressChanged replaces the resource only when the cluster really changes,
// not when the same address is spelled differently.
func addressChanged(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	if req.StateValue.IsNull() || req.PlanValue.IsUnknown() || req.PlanValue.IsNull() {
		return
	}
	resp.RequiresReplace = !sameAddress(req.StateValue.ValueString(), req.PlanValue.ValueString())
}

func sameAddress(a, b string) bool {
	na, errA := normalizeDashboardURL(a)
	nb, errB := normalizeDashboardURL(b)
	return errA == nil && errB == nil && na == nb
}

// planDashboardURL plans a dashboard_url the configuration leaves out into
// *planned: it follows the provider's (then RAY_ADDRESS); a different
// cluster there replaces the resource, another spelling of the same does
// not. Without any default the state's value is kept.
func planDashboardURL(ctx context.Context, pd *ProviderData, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, planned *types.String) {
	var cfg, state types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("dashboard_url"), &cfg)...)
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("dashboard_url"), &state)...)
	}
	if resp.Diagnostics.HasError() || !cfg.IsNull() {
		return
	}
	def := ""
	if a, err := normalizeDashboardURL(pd.rayConnection("", "").Address); err == nil {
		def = a
	}
	hasState := !state.IsNull() && !state.IsUnknown()
	switch {
	case hasState && (def == "" || sameAddress(state.ValueString(), def)):
		*planned = state
	case def != "":
		*planned = types.StringValue(def)
		if hasState {
			resp.RequiresReplace = append(resp.RequiresReplace, path.Root("dashboard_url"))
		}
	}
}

// timestampAttribute is a computed RFC 3339 time.
func timestampAttribute(desc string, mods []planmodifier.String) schema.StringAttribute {
	return schema.StringAttribute{Computed: true, Description: desc, CustomType: timetypes.RFC3339Type{}, PlanModifiers: mods}
}
