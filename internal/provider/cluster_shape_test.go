package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// A tag change reaches the nodes Ray's autoscaler launches later only
// through a new autoscaler config (the head's user data): it is part of the
// config's shape; a fixed group's count is not.
func TestAutoscalerShapeHoldsNodeSettings(t *testing.T) {
	base := func() clusterModel {
		return clusterModel{
			TagsAll:     types.MapValueMust(types.StringType, map[string]attr.Value{"team": types.StringValue("ml")}),
			VLLMVersion: types.StringValue("0.11.0"), HFTokenSSMParameter: types.StringNull(),
			WorkerGroups: []groupModel{
				{Name: types.StringValue("fixed"), Count: types.Int64Value(1), MaxWorkers: types.Int64Null()},
				{Name: types.StringValue("l4"), InstanceType: types.StringValue("g6.xlarge"), MinWorkers: types.Int64Value(0), MaxWorkers: types.Int64Value(2)},
			},
		}
	}
	changes := map[string]func(*clusterModel){
		"tag value": func(m *clusterModel) {
			m.TagsAll = types.MapValueMust(types.StringType, map[string]attr.Value{"team": types.StringValue("infra")})
		},
		"vllm version": func(m *clusterModel) { m.VLLMVersion = types.StringValue("0.12.0") },
		"hf parameter": func(m *clusterModel) { m.HFTokenSSMParameter = types.StringValue("/hf") },
		"max workers":  func(m *clusterModel) { m.WorkerGroups[1].MaxWorkers = types.Int64Value(3) },
	}
	for name, change := range changes {
		m := base()
		change(&m)
		if autoscalerShape(m) == autoscalerShape(base()) {
			t.Errorf("%s: a change the autoscaler's nodes carry does not change the config's shape", name)
		}
	}
	m := base()
	m.WorkerGroups[0].Count = types.Int64Value(3)
	if autoscalerShape(m) != autoscalerShape(base()) {
		t.Error("a fixed group's count changes the autoscaler config's shape")
	}
	m.WorkerGroups = m.WorkerGroups[:1]
	m.TagsAll = types.MapNull(types.StringType)
	if autoscalerShape(m) != "" {
		t.Errorf("a cluster without autoscaled groups has the shape %q", autoscalerShape(m))
	}
}
