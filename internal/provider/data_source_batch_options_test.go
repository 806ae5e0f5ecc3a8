package provider

import (
	"os"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

// The ranking through the CLI, with the documented example as the
// configuration: the options come sorted, feasible first and cheapest
// first, and the ruled-out ones say why. A unit test: no remote system.
func TestAccBatchOptionsDataSource(t *testing.T) {
	t.Parallel()
	unitTestCLI(t)
	example, err := os.ReadFile("../../examples/data-sources/rayvllm_batch_options/data-source.tf")
	if err != nil {
		t.Fatal(err)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: `
data "rayvllm_batch_options" "bad" {
  model              = "meta-llama/Llama-3.1-8B-Instruct"
  num_requests       = 100
  mean_input_tokens  = 100
  mean_output_tokens = 100
  instance_types     = ["g9.huge"]
}`,
				ExpectError: regexp.MustCompile(`(?s)instance_type.*g9.huge`),
			},
			{
				Config: string(example) + `
locals {
  opts = data.rayvllm_batch_options.nightly.options
  n    = length(local.feasible)
}
output "sorted" {
  value = local.n >= 2 && alltrue([for i in range(1, local.n) : local.feasible[i - 1].cost_usd <= local.feasible[i].cost_usd])
}
output "feasible_first" {
  value = alltrue([for i in range(local.n) : local.opts[i].feasible])
}
output "out_with_reason" {
  value = length(local.opts) > local.n && alltrue([for o in local.opts : o.feasible == (o.why == "")])
}
output "within_limits" {
  value = alltrue([for o in local.feasible : o.cost_usd <= 400 && o.hours_to_complete <= 24 && o.cost_usd_low <= o.cost_usd && o.cost_usd <= o.cost_usd_high])
}`,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("sorted", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("feasible_first", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("out_with_reason", knownvalue.Bool(true)),
					statecheck.ExpectKnownOutputValue("within_limits", knownvalue.Bool(true)),
				},
			},
		},
	})
}
