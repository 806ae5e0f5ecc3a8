package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

func TestAccGPUsDataSource(t *testing.T) {
	unitPreCheck(t)
	t.Parallel()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      `data "rayvllm_gpus" "x" { min_gpus = 0 }`,
				ExpectError: regexp.MustCompile(`(?s)min_gpus.*at least 1`),
			},
			{
				Config: `
data "rayvllm_gpus" "big" {
  min_memory_gib = 70
  min_gpus       = 8
  fp8            = true
}
data "rayvllm_gpus" "g5" {
  instance_type_prefix = "g5."
}
output "big_sorted" {
  value = alltrue([for i in range(length(data.rayvllm_gpus.big.instance_types) - 1) :
    data.rayvllm_gpus.big.instance_types[i].price_per_gpu_gib_hour_usd <= data.rayvllm_gpus.big.instance_types[i + 1].price_per_gpu_gib_hour_usd])
}
output "big_all_match" {
  value = alltrue([for it in data.rayvllm_gpus.big.instance_types : it.gpu_memory_gib >= 70 && it.gpu_count >= 8 && it.fp8])
}
output "g5_all_a10g" {
  value = alltrue([for it in data.rayvllm_gpus.g5.instance_types : it.gpu == "A10G" && startswith(it.instance_type, "g5.")])
}
output "big_count" {
  value = length(data.rayvllm_gpus.big.instance_types)
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("big_sorted", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("big_all_match", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("g5_all_a10g", knownvalue.Bool(true)),
					// p5, p5e, p5en at least
					statecheck.ExpectKnownOutputValue("big_count", int64Between(3, 20)),
				},
			},
			{
				Config: `
data "rayvllm_gpus" "cheap" {
  sort_by                = "price_per_hour"
  max_price_per_hour_usd = 2
}
output "cheap_sorted" {
  value = alltrue([for i in range(length(data.rayvllm_gpus.cheap.instance_types) - 1) :
    data.rayvllm_gpus.cheap.instance_types[i].price_per_hour_usd <= data.rayvllm_gpus.cheap.instance_types[i + 1].price_per_hour_usd])
}
output "cheap_capped" {
  value = length(data.rayvllm_gpus.cheap.instance_types) > 3 && alltrue([for it in data.rayvllm_gpus.cheap.instance_types : it.price_per_hour_usd <= 2])
}
output "cheapest" { value = data.rayvllm_gpus.cheap.instance_types[0].instance_type }`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("cheap_sorted", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("cheap_capped", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("cheapest", knownvalue.StringExact("g4dn.xlarge")),
				},
			},
			{
				Config:      `data "rayvllm_gpus" "x" { sort_by = "speed" }`,
				ExpectError: regexp.MustCompile(`(?s)sort_by.*price_per_hour`),
			},
			{
				Config: `
data "rayvllm_gpus" "none" {
  min_memory_gib = 1000
}
output "n" { value = length(data.rayvllm_gpus.none.instance_types) }`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("n", knownvalue.Int64Exact(0)),
				},
			},
		},
	})
}
