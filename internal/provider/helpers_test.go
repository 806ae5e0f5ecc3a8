package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework-timetypes/timetypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestNullUnknowns(t *testing.T) {
	type inner struct {
		N types.Int64 `tfsdk:"n"`
	}
	type model struct {
		S    types.String      `tfsdk:"s"`
		Kept types.String      `tfsdk:"kept"`
		T    timetypes.RFC3339 `tfsdk:"t"`
		O    types.Object      `tfsdk:"o"`
		P    *inner            `tfsdk:"p"`
		L    []inner           `tfsdk:"l"`
	}
	ot := map[string]attr.Type{"a": types.StringType}
	m := model{S: types.StringUnknown(), Kept: types.StringValue("x"), T: timetypes.NewRFC3339Unknown(), O: types.ObjectUnknown(ot),
		P: &inner{N: types.Int64Unknown()}, L: []inner{{N: types.Int64Unknown()}, {N: types.Int64Value(3)}}}
	nullUnknowns(context.Background(), &m)
	if !m.S.IsNull() || m.Kept.ValueString() != "x" || !m.T.IsNull() || !m.O.IsNull() || !m.O.Equal(types.ObjectNull(ot)) ||
		!m.P.N.IsNull() || !m.L[0].N.IsNull() || m.L[1].N.ValueInt64() != 3 {
		t.Fatalf("got %+v", m)
	}
}
