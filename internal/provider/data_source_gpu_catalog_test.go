package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

// rayvllm_gpu_catalog lists every catalog GPU with its specs, so that the
// names gpu accepts are an output and not only part of an error message.
func TestAccGPUCatalogDataSource(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	gpus := catalog.GPUs()
	h100, _ := catalog.LookupGPU("H100-80GB-SXM")
	idx := -1
	for i, g := range gpus {
		if g.Name == h100.Name {
			idx = i
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
data "rayvllm_gpu_catalog" "all" {}
output "names" { value = [for g in data.rayvllm_gpu_catalog.all.gpus : g.name] }`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.rayvllm_gpu_catalog.all", tfjsonpath.New("gpus"), knownvalue.ListSizeExact(len(gpus))),
				statecheck.ExpectKnownValue("data.rayvllm_gpu_catalog.all", tfjsonpath.New("gpus").AtSliceIndex(idx).AtMapKey("name"), knownvalue.StringExact("H100-80GB-SXM")),
				statecheck.ExpectKnownValue("data.rayvllm_gpu_catalog.all", tfjsonpath.New("gpus").AtSliceIndex(idx).AtMapKey("memory_gib"), knownvalue.Float64Exact(h100.MemoryGiB)),
				statecheck.ExpectKnownValue("data.rayvllm_gpu_catalog.all", tfjsonpath.New("gpus").AtSliceIndex(idx).AtMapKey("fp8"), knownvalue.Bool(true)),
				statecheck.ExpectKnownValue("data.rayvllm_gpu_catalog.all", tfjsonpath.New("gpus").AtSliceIndex(idx).AtMapKey("memory_bandwidth_gbps"), knownvalue.Float64Exact(h100.BandwidthGBps)),
			},
		}},
	})
}
