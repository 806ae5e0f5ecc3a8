package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/diag"
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

// providerData is what Configure hands every resource, data source and
// ephemeral resource: nil before the provider is configured.
func providerData(v any, diags *diag.Diagnostics) *ProviderData {
	if v == nil {
		return nil
	}
	d, ok := v.(*ProviderData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("want *ProviderData, got %T", v))
	}
	return d
}

// groupBounds is the part of a worker group that both cluster resources
// check the same way: unique names, and min_workers <= max_workers.
type groupBounds struct {
	Name                   types.String
	MinWorkers, MaxWorkers types.Int64
}

func checkGroupBounds(groups []groupBounds, diags *diag.Diagnostics) {
	seen := map[string]int{}
	for i, g := range groups {
		at := path.Root("worker_group").AtListIndex(i)
		name, lo, hi := g.Name, g.MinWorkers, g.MaxWorkers
		if !name.IsUnknown() && !name.IsNull() {
			if j, dup := seen[name.ValueString()]; dup {
				diags.AddAttributeError(at.AtName("name"), "Duplicate worker group name",
					fmt.Sprintf("worker_group[%d] and worker_group[%d] are both named %q; group names must be unique.", j, i, name.ValueString()))
			}
			seen[name.ValueString()] = i
		}
		if !hi.IsNull() && !lo.IsUnknown() && !hi.IsUnknown() && lo.ValueInt64() > hi.ValueInt64() {
			diags.AddAttributeError(at.AtName("min_workers"), "min_workers above max_workers",
				fmt.Sprintf("worker_group %q: min_workers %d is above max_workers %d; use 0 <= min_workers <= max_workers.", name.ValueString(), lo.ValueInt64(), hi.ValueInt64()))
		}
	}
}

// requireModel reports a fit_check block without its model.
func (fc *fitCheckModel) requireModel(diags *diag.Diagnostics) {
	if fc != nil && fc.Model.IsNull() {
		diags.AddAttributeError(path.Root("fit_check").AtName("model"), "Missing fit_check.model",
			"The fit_check block needs model, a catalog model ID such as \"Qwen/Qwen2.5-7B-Instruct\".")
	}
}
