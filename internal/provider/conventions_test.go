package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// The job deleted on the Ray head outside Terraform: refresh drops it and
// the plan creates it again.
func TestAccBatchJob_disappears(t *testing.T) {
	testAccPreCheck(t, needRay)
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             batchJobGone(t),
		Steps: []resource.TestStep{{
			Config: `resource "rayvllm_batch_job" "test" {
  entrypoint = "echo tfacc-disappears"
  metadata   = { test = "tfacc" }
}`,
			Check: func(s *terraform.State) error {
				id := s.RootModule().Resources["rayvllm_batch_job.test"].Primary.Attributes["submission_id"]
				return batchJobRay(t).RemoveJob(context.Background(), id, time.Second)
			},
			ExpectNonEmptyPlan: true,
		}},
	})
}

// The Serve application deleted outside Terraform: the plan creates it again.
func TestAccVLLMWorker_disappears(t *testing.T) {
	e := testAccServe(t)
	name := "tfacc-gone-" + acctest.RandString(6)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             func(*terraform.State) error { return e.gone(name)() },
		Steps: []resource.TestStep{{
			Config: e.fixtureWorker("test", name, `  deployments = [{ name = "Fixture", num_replicas = 1, num_cpus = 0.05 }]`),
			Check: func(*terraform.State) error {
				ctx := context.Background()
				if _, err := e.client.RemoveServeApplication(ctx, name); err != nil {
					return err
				}
				return retry.Until(ctx, time.Minute, time.Second, func(context.Context) (bool, error) { return e.gone(name)() == nil, nil })
			},
			ExpectNonEmptyPlan: true,
		}},
	})
}

// One rule for dashboard_url in the job and the worker: the same address
// spelled with a trailing slash is an in-place change, never a replacement.
func TestAccDashboardURL_spellingDoesNotReplace(t *testing.T) {
	e := testAccServe(t)
	name := "tfacc-url-" + acctest.RandString(6)
	addr := strings.TrimRight(os.Getenv("RAY_ADDRESS"), "/")
	config := func(url string) string {
		return fmt.Sprintf(`
resource "rayvllm_batch_job" "test" {
  dashboard_url = %[1]q
  entrypoint    = "echo tfacc-url"
}
`, url) + strings.Replace(e.fixtureWorker("test", name, `  deployments = [{ name = "Fixture", num_replicas = 1, num_cpus = 0.05 }]`),
			"  name ", fmt.Sprintf("  dashboard_url = %q\n  name ", url), 1)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if err := batchJobGone(t)(s); err != nil {
				return err
			}
			return e.gone(name)()
		},
		Steps: []resource.TestStep{
			{Config: config(addr)},
			{
				Config: config(addr + "/"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("rayvllm_batch_job.test", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("rayvllm_vllm_worker.test", plancheck.ResourceActionUpdate),
				}},
			},
		},
	})
}

// timeouts moved from a block to a nested attribute in rayvllm_batch_job and
// rayvllm_inference_cluster: both store the same object, so a state written
// with the block still decodes, without a state upgrader.
func TestTimeoutsStateFromBlock(t *testing.T) {
	ctx := context.Background()
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	for typ, state := range map[string]string{
		"rayvllm_batch_job":         `{"id":"rayvllm-0123456789ab-01234567","entrypoint":"echo hi","timeouts":{"create":"2h","delete":null}}`,
		"rayvllm_inference_cluster": `{"id":"c1","name":"c1","timeouts":{"create":"45m","update":null,"delete":"20m"}}`,
	} {
		resp, err := srv.UpgradeResourceState(ctx, &tfprotov6.UpgradeResourceStateRequest{TypeName: typ, Version: 0, RawState: &tfprotov6.RawState{JSON: []byte(state)}})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range resp.Diagnostics {
			t.Errorf("%s: %s: %s", typ, d.Summary, d.Detail)
		}
		if resp.UpgradedState == nil {
			t.Fatalf("%s: no upgraded state", typ)
		}
		schemaResp, _ := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
		v, err := resp.UpgradedState.Unmarshal(schemaResp.ResourceSchemas[typ].ValueType())
		if err != nil {
			t.Fatal(err)
		}
		var attrs map[string]tftypes.Value
		if err := v.As(&attrs); err != nil {
			t.Fatal(err)
		}
		var to map[string]tftypes.Value
		var create string
		if err := attrs["timeouts"].As(&to); err != nil || to["create"].As(&create) != nil || create == "" {
			t.Errorf("%s: timeouts after the upgrade: %v (%v)", typ, attrs["timeouts"], err)
		}
		if schemaResp.ResourceSchemas[typ].Version != 0 {
			t.Errorf("%s: schema version %d; the changelog says it is unchanged", typ, schemaResp.ResourceSchemas[typ].Version)
		}
	}
}
