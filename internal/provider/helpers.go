package provider

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/serveapp"
)

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// fullyKnown reports whether v and everything inside it is known.
func fullyKnown(ctx context.Context, v attr.Value) bool {
	tv, err := v.ToTerraformValue(ctx)
	return err == nil && tv.IsFullyKnown()
}

// nestedTypes is the attribute types of an object type (nil for another type).
func nestedTypes(t attr.Type) map[string]attr.Type {
	if ot, ok := t.(types.ObjectType); ok {
		return ot.AttrTypes
	}
	return nil
}

func anyStrings(v any) ([]string, bool) {
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// jsonObject decodes an optional JSON-object attribute.
func jsonObject(v jsontypes.Normalized) (map[string]any, error) {
	if v.IsNull() || v.IsUnknown() {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(v.ValueString()), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// sameJSON keeps prior's text when it encodes the same object as v.
func sameJSON(prior jsontypes.Normalized, v map[string]any) jsontypes.Normalized {
	if len(v) == 0 {
		if !prior.IsNull() {
			if m, err := jsonObject(prior); err == nil && len(m) == 0 {
				return prior
			}
		}
		return jsontypes.NewNormalizedNull()
	}
	want, err := serveapp.CanonicalValue(v)
	if err != nil {
		return jsontypes.NewNormalizedNull()
	}
	if !prior.IsNull() && !prior.IsUnknown() {
		if have, err := serveapp.Canonical([]byte(prior.ValueString())); err == nil && have == want {
			return prior
		}
	}
	return jsontypes.NewNormalizedValue(want)
}

func stringOrNull(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func int64OrNull(v int64) types.Int64 {
	if v == 0 {
		return types.Int64Null()
	}
	return types.Int64Value(v)
}

func float64OrNull(v float64) types.Float64 {
	if v == 0 {
		return types.Float64Null()
	}
	return types.Float64Value(v)
}

// nullUnknowns sets every unknown value in *model (a struct of attr.Values,
// also inside nested structs, pointers and slices) to the null of its type:
// what the state keeps of a computed value an apply did not learn, since
// Terraform refuses unknown values in the state.
func nullUnknowns(ctx context.Context, model any) {
	nullUnknownsIn(ctx, reflect.ValueOf(model))
}

func nullUnknownsIn(ctx context.Context, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			nullUnknownsIn(ctx, v.Elem())
		}
		return
	case reflect.Slice:
		for i := range v.Len() {
			nullUnknownsIn(ctx, v.Index(i))
		}
		return
	case reflect.Struct:
	default:
		return
	}
	if av, ok := v.Interface().(attr.Value); ok {
		if !av.IsUnknown() || !v.CanSet() {
			return
		}
		t := av.Type(ctx)
		if null, err := t.ValueFromTerraform(ctx, tftypes.NewValue(t.TerraformType(ctx), nil)); err == nil && reflect.TypeOf(null) == v.Type() {
			v.Set(reflect.ValueOf(null))
		}
		return
	}
	for i := range v.NumField() {
		if v.Type().Field(i).IsExported() {
			nullUnknownsIn(ctx, v.Field(i))
		}
	}
}

// stringOr returns v's value, or def when v is null or unknown.
func stringOr(v types.String, def string) string {
	if v.IsNull() || v.IsUnknown() || v.ValueString() == "" {
		return def
	}
	return v.ValueString()
}

func stringList(s []string) types.List {
	vals := make([]attr.Value, len(s))
	for i, v := range s {
		vals[i] = types.StringValue(v)
	}
	return types.ListValueMust(types.StringType, vals)
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = "`" + v + "`"
	}
	return strings.Join(q, ", ")
}

func int64Or(v types.Int64, def int64) int64 {
	if v.IsNull() || v.IsUnknown() {
		return def
	}
	return v.ValueInt64()
}

func float64Or(v types.Float64, def float64) float64 {
	if v.IsNull() || v.IsUnknown() {
		return def
	}
	return v.ValueFloat64()
}
