package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
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
	for _, b := range bad {
		steps = append(steps, resource.TestStep{Config: b.config, PlanOnly: true, ExpectError: regexp.MustCompile("(?s)" + strings.ReplaceAll(b.err, " ", `\s+`))})
	}
	resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}
