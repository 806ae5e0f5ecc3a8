package provider

// Import, read and destroy of clusters against moto: nothing the cluster
// made is forgotten (issue 23).

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
)

func motoURL() string {
	if u := os.Getenv("RAYVLLM_TEST_MOTO_URL"); u != "" {
		return u
	}
	return os.Getenv("AWS_ENDPOINT_URL_EC2")
}

// autoscaledMotoConfig is config with a fixed group and an autoscaled spot
// group with the on-demand fallback; the head's role goes to moto's IAM.
func (e *awsEnv) autoscaledMotoConfig(name string) string {
	cfg := e.config(name, group{"a10g", "g5.xlarge", 1, ""})
	cfg = strings.Replace(cfg, "  aws {\n", fmt.Sprintf("  aws {\n    endpoints {\n      iam = %q\n    }\n", motoURL()), 1)
	cfg = strings.Replace(cfg, "  head {\n", fmt.Sprintf("  idle_timeout_minutes = 2\n  subnet_ids           = [%q]\n\n  head {\n", e.otherSubnet), 1)
	i := strings.LastIndex(cfg, "}")
	return cfg[:i] + `
  worker_group {
    name                       = "l4"
    instance_type              = "g6.xlarge"
    min_workers                = 0
    max_workers                = 2
    spot_fallback_to_on_demand = true
    spot {}
  }
}
`
}

// withOtherSubnet sets e.otherSubnet to a default subnet in another AZ.
func (e *awsEnv) withOtherSubnet(t *testing.T) *awsEnv {
	out, err := e.c.EC2.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range out.Subnets {
		if id := aws.ToString(sn.SubnetId); id != e.subnet {
			e.otherSubnet = id
			return e
		}
	}
	t.Fatal("moto has one default subnet")
	return e
}

func (e *awsEnv) iam(t *testing.T) *iam.Client {
	s := ec2cluster.Settings{EC2Endpoint: os.Getenv("AWS_ENDPOINT_URL_EC2"), SSMEndpoint: os.Getenv("AWS_ENDPOINT_URL_SSM")}
	cfg, err := ec2cluster.LoadConfig(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(motoURL()) })
}

// checkAllGone is checkDestroyed plus the head's IAM role and profile.
func (e *awsEnv) checkAllGone(t *testing.T, name string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if err := e.checkDestroyed(s); err != nil {
			return err
		}
		ic := e.iam(t)
		if _, err := ic.GetRole(t.Context(), &iam.GetRoleInput{RoleName: aws.String(ec2cluster.HeadRoleName(name))}); err == nil {
			return fmt.Errorf("cluster %s: the head's IAM role left after destroy", name)
		}
		if _, err := ic.GetInstanceProfile(t.Context(), &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(ec2cluster.HeadRoleName(name))}); err == nil {
			return fmt.Errorf("cluster %s: the head's instance profile left after destroy", name)
		}
		return nil
	}
}

// TestAccInferenceCluster_importAutoscaled: import recovers the autoscaled
// group from the head's autoscaler config, the nodes' instance profile (not
// the head's), and the head's role and profile, so that destroy deletes
// them; a token the user gave write-only stays out of the imported state.
func TestAccInferenceCluster_importAutoscaled(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t).withOtherSubnet(t)
	name := acctest.RandomWithPrefix("acc")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkAllGone(t, name),
		Steps: []resource.TestStep{
			{
				Config: e.autoscaledMotoConfig(name),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrSet(clusterAddr, "head_iam_role_arn"),
					resource.TestCheckResourceAttr(clusterAddr, "iam_instance_profile", e.profile),
					resource.TestCheckResourceAttr(clusterAddr, "subnet_ids.0", e.otherSubnet),
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
				// As if the cluster had been made with auth_token_wo.
				PreConfig: func() {
					_, err := e.c.SSM.AddTagsToResource(t.Context(), &ssm.AddTagsToResourceInput{
						ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(ec2cluster.TokenParameterName(name)),
						Tags: []ssmtypes.Tag{{Key: aws.String(ec2cluster.TagTokenSource), Value: aws.String(ec2cluster.TokenWriteOnly)}},
					})
					if err != nil {
						t.Fatal(err)
					}
				},
				ResourceName:  clusterAddr,
				ImportState:   true,
				ImportStateId: name,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					a := states[0].Attributes
					if a["auth_token"] != "" {
						return fmt.Errorf("import copied the write-only token into state")
					}
					if a["head_iam_role_arn"] == "" || a["iam_instance_profile"] != e.profile {
						return fmt.Errorf("imported head_iam_role_arn %q, iam_instance_profile %q (want the role, %s)", a["head_iam_role_arn"], a["iam_instance_profile"], e.profile)
					}
					return nil
				},
			},
		},
	})
}

// TestAccInferenceCluster_noInstancesLeft: with every instance terminated
// out of band, the cluster stays in state for its security group, token
// parameter and head role; the plan replaces it, and destroy leaves nothing.
func TestAccInferenceCluster_noInstancesLeft(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t).withOtherSubnet(t)
	name := acctest.RandomWithPrefix("acc")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkAllGone(t, name),
		Steps: []resource.TestStep{
			{Config: e.autoscaledMotoConfig(name)},
			{
				PreConfig: func() {
					insts, err := e.c.FindInstances(t.Context(), name)
					if err != nil {
						t.Fatal(err)
					}
					var ids []string
					for _, i := range insts {
						ids = append(ids, i.ID)
					}
					if err := e.c.Terminate(t.Context(), ids); err != nil {
						t.Fatal(err)
					}
					if err := e.c.WaitTerminated(t.Context(), ids); err != nil {
						t.Fatal(err)
					}
				},
				Config: e.autoscaledMotoConfig(name),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(clusterAddr, plancheck.ResourceActionReplace)},
				},
			},
		},
	})
}
