package provider

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/faultproxy"
)

// The capacity settings plan without AWS when they are consistent, and each
// inconsistency fails the plan with an error that names the attribute.
func TestAccInferenceCluster_capacityPlan(t *testing.T) {
	unitPreCheck(t)
	for _, k := range []string{"AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_SSM", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	e := &awsEnv{ami: "ami-0123456789abcdef0", subnet: "subnet-0123456789abcdef0", profile: "p", hfParam: "/hf/token"}
	cfg := func(instanceType, extra string) string {
		return e.config("cap", group{"g", instanceType, 2, extra})
	}
	ok := []string{
		cfg("g6e.xlarge", `fallback_instance_types = ["g6e.2xlarge", "g6e.4xlarge"]`),
		cfg("p5.48xlarge", "placement_group = \"pg-train\"\n    efa = true\n    capacity_reservation {\n      id = \"cr-0123456789abcdef0\"\n      market_type = \"capacity-block\"\n    }"),
		cfg("g5.12xlarge", "capacity_reservation {\n      resource_group_arn = \"arn:aws:resource-groups:us-east-1:123456789012:group/gpus\"\n      fallback_to_on_demand = true\n    }"),
	}
	// Three autoscaled groups with many packages: the head's user data
	// carries each group's worker script, and apply would refuse it before
	// launching anything (over EC2's 16,384 bytes); plan refuses it now.
	autoscaled := func(pkgs int) string {
		c := strings.Replace(e.config("cap", group{"a", "g5.xlarge", 1, ""}, group{"b", "g6e.xlarge", 1, ""}, group{"c", "g6.xlarge", 1, ""}),
			"count         = 1", "min_workers   = 0\n    max_workers   = 2", 3)
		var p []string
		for i := range pkgs {
			p = append(p, fmt.Sprintf("%q", fmt.Sprintf("rayvllm-test-pkg-%04d==1.%d.%d", i, i%7, i%13)))
		}
		return strings.Replace(c, `python_packages         = ["pandas==2.2.3"]`, "python_packages = ["+strings.Join(p, ", ")+"]", 1)
	}
	ok = append(ok, autoscaled(50))
	var steps []resource.TestStep
	for _, c := range ok {
		steps = append(steps, resource.TestStep{Config: c, PlanOnly: true, ExpectNonEmptyPlan: true})
	}
	bad := []struct{ config, err string }{
		{cfg("g6e.xlarge", `fallback_instance_types = ["g6e.12xlarge"]`), `fallback_instance_types\[0\].*g6e\.12xlarge has 4 × L40S, but instance_type g6e\.xlarge has 1 × L40S`},
		{cfg("g6e.xlarge", `fallback_instance_types = ["m5.large"]`), `fallback_instance_types\[0\].*unknown EC2 instance type "m5\.large"`},
		{cfg("g6e.xlarge", `fallback_instance_types = ["g6e.xlarge"]`), `fallback_instance_types\[0\] is instance_type g6e\.xlarge`},
		{cfg("g5.xlarge", "placement_group = \"pg\"\n    efa = true"), `efa = true, but instance_type g5\.xlarge does not support EFA \(catalog attribute efa = false.*g5\.12xlarge`},
		{cfg("g5.48xlarge", "efa = true"), `efa needs placement_group`},
		{cfg("g5.48xlarge", "placement_group = \"pg\"\n    efa = true\n    fallback_instance_types = [\"g5.48xlarge\"]"), `fallback_instance_types\[0\] is instance_type`},
		{cfg("g5.xlarge", "capacity_reservation {\n      fallback_to_on_demand = true\n    }"), `exactly one of id and resource_group_arn`},
		{cfg("g5.xlarge", "capacity_reservation {\n      id = \"cr-0123456789abcdef0\"\n      resource_group_arn = \"arn:aws:resource-groups:us-east-1:123456789012:group/gpus\"\n    }"), `exactly one of id and resource_group_arn`},
		{cfg("g5.xlarge", "capacity_reservation {\n      resource_group_arn = \"arn:aws:resource-groups:us-east-1:123456789012:group/gpus\"\n      market_type = \"capacity-block\"\n    }"), `Capacity Block needs its id`},
		{cfg("g5.xlarge", "capacity_reservation {\n      id = \"cr-0123456789abcdef0\"\n    }\n    spot {}"), `capacity_reservation with spot`},
		{cfg("g5.xlarge", "capacity_reservation {\n      id = \"r-123\"\n    }"), `capacity reservation ID like cr-0123456789abcdef0`},
		{cfg("g5.xlarge", "capacity_reservation {\n      id = \"cr-0123456789abcdef0\"\n      market_type = \"spot\"\n    }"), `market_type.*capacity-block`},
	}
	bad = append(bad, struct{ config, err string }{autoscaled(800), `User data over EC2's limit.*python_packages.*head user data is \d+ bytes gzip-compressed, over EC2's 16384-byte limit`})
	for _, b := range bad {
		steps = append(steps, resource.TestStep{Config: b.config, PlanOnly: true, ExpectError: regexp.MustCompile("(?s)" + strings.ReplaceAll(b.err, " ", `\s+`))})
	}
	resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}

// TestAccInferenceCluster_capacityFallbacks: the fault proxy between the
// provider and moto refuses every g5.xlarge launch and every launch into
// reservation cr-0aaaaaaaaaaaaaaaa with InsufficientInstanceCapacity, and
// marks (with a 1 ms latency fault) the launches into cr-0bbbbbbbbbbbbbbbb.
// The a10g group comes up on its fallback type, the l4 group on demand after
// its reservation refused, and the l40s group in its reservation, which
// moto serves (moto does not record the target on the instance; the order
// of the requests is TestRunFallsBackAcrossTypesAndReservation's).
func TestAccInferenceCluster_capacityFallbacks(t *testing.T) {
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("cap")
	refuse := func(body string) faultproxy.Rule {
		return faultproxy.Rule{Match: `^EC2\.RunInstances$`, Body: body, Kinds: []faultproxy.Kind{faultproxy.InsufficientCapacity}, Rate: 1}
	}
	run := &faultRun{}
	proxy := newFaultProxy(t, os.Getenv("AWS_ENDPOINT_URL_EC2"), 1, run,
		refuse(`InstanceType=g5\.xlarge&`), refuse(`CapacityReservationId=cr-0aaaaaaaaaaaaaaaa`),
		faultproxy.Rule{Match: `^EC2\.RunInstances$`, Body: `CapacityReservationId=cr-0bbbbbbbbbbbbbbbb`, Kinds: []faultproxy.Kind{faultproxy.Latency}, Rate: 1, Latency: time.Millisecond})
	cfg := e.config(name,
		group{"a10g", "g5.xlarge", 1, `fallback_instance_types = ["g5.2xlarge"]`},
		group{"l4", "g6.xlarge", 1, "capacity_reservation {\n      id                    = \"cr-0aaaaaaaaaaaaaaaa\"\n      fallback_to_on_demand = true\n    }"},
		group{"l40s", "g6e.xlarge", 1, "capacity_reservation {\n      id = \"cr-0bbbbbbbbbbbbbbbb\"\n    }"},
	)
	var first string
	cfg = strings.Replace(cfg, `default_tags = { owner = "acc-test" }`, fmt.Sprintf("default_tags = { owner = \"acc-test\" }\n    max_backoff_seconds = 1\n    endpoints {\n      ec2 = %[1]q\n      ssm = %[1]q\n    }", proxy.URL), 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroyed,
		Steps: []resource.TestStep{{
			Config: cfg,
			Check: func(*terraform.State) error {
				live := e.liveByGroup(t, name)
				if len(live["a10g"]) != 1 || live["a10g"][0].InstanceType != "g5.2xlarge" {
					return fmt.Errorf("a10g: %+v, want one g5.2xlarge (g5.xlarge refused)", live["a10g"])
				}
				if len(live["l4"]) != 1 || len(live["l40s"]) != 1 {
					return fmt.Errorf("l4 %d and l40s %d instances, want 1 each", len(live["l4"]), len(live["l40s"]))
				}
				if n := proxy.Counts()[faultproxy.InsufficientCapacity]; n < 2 {
					return fmt.Errorf("the proxy refused %d launches, want the g5.xlarge and the reservation ones (%s)", n, proxy.Summary())
				}
				if n := proxy.Counts()[faultproxy.Latency]; n != 1 {
					return fmt.Errorf("%d launches into reservation cr-0bbbbbbbbbbbbbbbb, want 1 (%s)", n, proxy.Summary())
				}
				t.Logf("fault proxy: %s", proxy.Summary())
				first = live["a10g"][0].ID
				return nil
			},
		}, {
			// Scaling up keeps the worker of the fallback type.
			Config: strings.Replace(cfg, "count         = 1\n    fallback_instance_types", "count         = 2\n    fallback_instance_types", 1),
			Check: func(*terraform.State) error {
				live := e.liveByGroup(t, name)
				kept := slices.ContainsFunc(live["a10g"], func(i ec2cluster.Instance) bool { return i.ID == first })
				if len(live["a10g"]) != 2 || !kept || live["a10g"][0].InstanceType != "g5.2xlarge" || live["a10g"][1].InstanceType != "g5.2xlarge" {
					return fmt.Errorf("a10g after scaling to 2: %+v, want %s kept and a second g5.2xlarge", live["a10g"], first)
				}
				return nil
			},
		}},
	})
}

// TestAccInferenceCluster_importCapacity: an autoscaled group's capacity
// settings live in the head's autoscaler config, import reads them back,
// and changing one replaces the cluster (the config is in the head's user
// data).
func TestAccInferenceCluster_importCapacity(t *testing.T) {
	e := newAWSEnv(t).withOtherSubnet(t)
	name := acctest.RandomWithPrefix("acc")
	capGroup := `
  worker_group {
    name                    = "l40s"
    instance_type           = "g6e.12xlarge"
    fallback_instance_types = ["g6e.24xlarge"]
    min_workers             = 0
    max_workers             = 2
    placement_group         = "pg-train"
    efa                     = true
    capacity_reservation {
      id                    = "cr-0123456789abcdef0"
      market_type           = "capacity-block"
      fallback_to_on_demand = true
    }
  }
}
`
	// autoscaledMotoConfig's with the spot group replaced (two autoscaled
	// groups' user data do not fit in the head's).
	base := e.autoscaledMotoConfig(name)
	cfg := base[:strings.Index(base, "  worker_group {\n    name                       = \"l4\"")] + capGroup
	changed := strings.Replace(cfg, `fallback_to_on_demand = true`, `fallback_to_on_demand = false`, 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkAllGone(t, name),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(clusterAddr, "worker_group.1.capacity_reservation.market_type", "capacity-block"),
					resource.TestCheckResourceAttr(clusterAddr, "worker_group.1.fallback_instance_types.0", "g6e.24xlarge"),
				),
			},
			{
				ResourceName:                         clusterAddr,
				ImportState:                          true,
				ImportStateId:                        name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				ImportStateVerifyIgnore:              []string{"wait_for_ray", "timeouts"},
			},
			{
				Config: changed, PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(clusterAddr, plancheck.ResourceActionReplace),
				}},
			},
		},
	})
}
