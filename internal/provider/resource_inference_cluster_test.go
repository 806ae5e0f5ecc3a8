package provider

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/hardware/catalog"
)

const clusterAddr = "rayvllm_inference_cluster.test"

// awsEnv is what the acceptance tests need from moto, made once per test
// (acctest.NewAWS).
type awsEnv struct {
	c       *ec2cluster.Client
	ami     string
	subnet  string
	profile string
	hfParam string
	hfToken string
	// otherSubnet is a default subnet in another AZ (withOtherSubnet).
	otherSubnet string
}

type group struct {
	name, instanceType string
	count              int
	extra              string
}

func (e *awsEnv) config(name string, groups ...group) string {
	var gs strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&gs, `
  worker_group {
    name          = %q
    instance_type = %q
    count         = %d
    %s
  }
`, g.name, g.instanceType, g.count, g.extra)
	}
	return fmt.Sprintf(`
provider "rayvllm" {
  aws {
    default_tags = { owner = "acc-test" }
  }
}

resource "rayvllm_inference_cluster" "test" {
  name                    = %q
  ami_id                  = %q
  subnet_id               = %q
  iam_instance_profile    = %q
  ray_version             = "2.60.0"
  vllm_version            = "0.11.0"
  python_packages         = ["pandas==2.2.3"]
  hf_token_ssm_parameter  = %q
  dashboard_ingress_cidrs = ["203.0.113.0/24", "2001:db8::/64"]
  wait_for_ray            = false
  tags                    = { team = "ml" }

  head {
    instance_type = "m5.xlarge"
  }
%s
}
`, name, e.ami, e.subnet, e.profile, e.hfParam, gs.String())
}

// liveByGroup returns the cluster's live instances by role/group ("head" or the group name).
func (e *awsEnv) liveByGroup(t testing.TB, name string) map[string][]ec2cluster.Instance {
	t.Helper()
	insts, err := e.c.FindInstances(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]ec2cluster.Instance{}
	for _, i := range insts {
		if !i.Live() {
			continue
		}
		k := i.Group
		if i.Role == ec2cluster.RoleHead {
			k = "head"
		}
		out[k] = append(out[k], i)
	}
	return out
}

func (e *awsEnv) checkDestroyed(s *terraform.State) error {
	ctx := context.Background()
	for _, rs := range s.RootModule().Resources {
		if rs.Type != "rayvllm_inference_cluster" {
			continue
		}
		name := rs.Primary.Attributes["name"]
		insts, err := e.c.FindInstances(ctx, name)
		if err != nil {
			return err
		}
		if len(insts) > 0 {
			return fmt.Errorf("cluster %s: %d instances not terminated after destroy", name, len(insts))
		}
		sgs, err := e.c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + ec2cluster.TagCluster), Values: []string{name}}}})
		if err != nil {
			return err
		}
		if len(sgs.SecurityGroups) > 0 {
			return fmt.Errorf("cluster %s: security group %s left after destroy", name, aws.ToString(sgs.SecurityGroups[0].GroupId))
		}
		if _, err := e.c.GetToken(ctx, ec2cluster.TokenParameterName(name)); err == nil {
			return fmt.Errorf("cluster %s: token parameter left after destroy", name)
		}
	}
	return nil
}

func catalogGPU(t *testing.T, instanceType string) catalog.InstanceType {
	t.Helper()
	it, err := catalog.LookupInstance(instanceType)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func round2f(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

func TestAccInferenceCluster_basic(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("acc")
	g5, g6 := catalogGPU(t, "g5.xlarge"), catalogGPU(t, "g6.xlarge")
	g5gpu, _ := catalog.LookupGPU(g5.GPU)
	wantCost := round2f(2*g5.PriceUSDPerHour + g6.PriceUSDPerHour)
	var token string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: e.config(name,
					group{"a10g", "g5.xlarge", 2, ""},
					group{"l4", "g6.xlarge", 1, "root_volume_size_gib = 150"}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("total_gpus"), knownvalue.Int64Exact(int64(2*g5.GPUCount+g6.GPUCount))),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("hourly_cost_usd"), knownvalue.Float64Exact(wantCost)),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("worker_group").AtSliceIndex(0).AtMapKey("gpu_model"), knownvalue.StringExact(g5gpu.Name)),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("worker_group").AtSliceIndex(0).AtMapKey("gpus_per_node"), knownvalue.Int64Exact(int64(g5.GPUCount))),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("worker_group").AtSliceIndex(0).AtMapKey("gpu_memory_gib"), knownvalue.Float64Exact(round2f(g5gpu.MemoryGiB))),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("worker_group").AtSliceIndex(0).AtMapKey("accelerator_type"), knownvalue.StringExact("A10G")),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("worker_group").AtSliceIndex(1).AtMapKey("accelerator_type"), knownvalue.StringExact("L4")),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("worker_group").AtSliceIndex(0).AtMapKey("instance_ids"), knownvalue.ListSizeExact(2)),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("instance_ids"), knownvalue.ListSizeExact(4)),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("auth_token"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("dashboard_url"), knownvalue.StringRegexp(regexp.MustCompile(`^http://[0-9.]+:8265$`))),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("gcs_address"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9.]+:6379$`))),
					statecheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("tags_all"), knownvalue.MapExact(map[string]knownvalue.Check{
						"owner": knownvalue.StringExact("acc-test"), "team": knownvalue.StringExact("ml"),
					})),
				},
				Check: resource.ComposeTestCheckFunc(
					func(s *terraform.State) error {
						token = s.RootModule().Resources[clusterAddr].Primary.Attributes["auth_token"]
						return nil
					},
					e.checkCluster(t, name, map[string]string{"head": "m5.xlarge", "a10g": "g5.xlarge", "l4": "g6.xlarge"}, map[string]int{"head": 1, "a10g": 2, "l4": 1}),
					e.checkSecurity(t, name, map[string]int32{"head": 100, "a10g": 200, "l4": 150}),
					e.checkUserData(t, name, &token),
				),
			},
			{
				ResourceName:                         clusterAddr,
				ImportState:                          true,
				ImportStateId:                        name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				// Not recorded in AWS: plan-time switches and the timeouts block.
				ImportStateVerifyIgnore: []string{"wait_for_ray", "timeouts"},
			},
		},
	})
}

// checkCluster verifies instance types, counts and tags through the EC2 API.
func (e *awsEnv) checkCluster(t *testing.T, name string, types map[string]string, counts map[string]int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		got := e.liveByGroup(t, name)
		for k, want := range counts {
			if len(got[k]) != want {
				return fmt.Errorf("%s: %d live instances, want %d", k, len(got[k]), want)
			}
			for _, i := range got[k] {
				if i.InstanceType != types[k] {
					return fmt.Errorf("%s: instance %s is %s, want %s", k, i.ID, i.InstanceType, types[k])
				}
				want := map[string]string{ec2cluster.TagCluster: name, "team": "ml", "owner": "acc-test"}
				if k == "head" {
					want[ec2cluster.TagRole] = "head"
				} else {
					want[ec2cluster.TagRole], want[ec2cluster.TagGroup] = "worker", k
				}
				for tk, tv := range want {
					if i.Tags[tk] != tv {
						return fmt.Errorf("%s: instance %s tag %s=%q, want %q", k, i.ID, tk, i.Tags[tk], tv)
					}
				}
			}
		}
		if len(got) != len(counts) {
			return fmt.Errorf("live groups %v, want %v", keys(got), keys(counts))
		}
		return nil
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkSecurity verifies IMDSv2, encrypted root volumes of the given sizes,
// and the security group rules.
func (e *awsEnv) checkSecurity(t *testing.T, name string, sizes map[string]int32) resource.TestCheckFunc {
	return e.checkSecurityRules(t, name, sizes, []string{"all from self", "tcp:8265-8265 from 2001:db8::/64", "tcp:8265-8265 from 203.0.113.0/24"})
}

func (e *awsEnv) checkSecurityRules(t *testing.T, name string, sizes map[string]int32, want []string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := t.Context()
		var ids []string
		group := map[string]string{}
		for g, insts := range e.liveByGroup(t, name) {
			for _, i := range insts {
				ids = append(ids, i.ID)
				group[i.ID] = g
			}
		}
		out, err := e.c.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids})
		if err != nil {
			return err
		}
		var sgID string
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				id := aws.ToString(i.InstanceId)
				if i.MetadataOptions == nil || i.MetadataOptions.HttpTokens != ec2types.HttpTokensStateRequired {
					return fmt.Errorf("instance %s does not require IMDSv2 tokens: %+v", id, i.MetadataOptions)
				}
				if len(i.SecurityGroups) != 1 {
					return fmt.Errorf("instance %s has security groups %v, want only the cluster's", id, i.SecurityGroups)
				}
				sgID = aws.ToString(i.SecurityGroups[0].GroupId)
				var vols []string
				for _, b := range i.BlockDeviceMappings {
					vols = append(vols, aws.ToString(b.Ebs.VolumeId))
				}
				vo, err := e.c.EC2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: vols})
				if err != nil {
					return err
				}
				if len(vo.Volumes) != 1 {
					return fmt.Errorf("instance %s has %d volumes, want 1 root volume", id, len(vo.Volumes))
				}
				v := vo.Volumes[0]
				if !aws.ToBool(v.Encrypted) {
					return fmt.Errorf("root volume %s of %s is not encrypted", aws.ToString(v.VolumeId), id)
				}
				if aws.ToInt32(v.Size) != sizes[group[id]] || v.VolumeType != ec2types.VolumeTypeGp3 {
					return fmt.Errorf("root volume of %s (%s) is %d GiB %s, want %d GiB gp3", id, group[id], aws.ToInt32(v.Size), v.VolumeType, sizes[group[id]])
				}
				if tagMapOf(v.Tags)[ec2cluster.TagCluster] != name {
					return fmt.Errorf("root volume of %s is not tagged with the cluster", id)
				}
			}
		}
		sgs, err := e.c.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{sgID}})
		if err != nil {
			return err
		}
		var rules []string
		for _, p := range sgs.SecurityGroups[0].IpPermissions {
			port := fmt.Sprintf("%s:%d-%d", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort))
			if aws.ToString(p.IpProtocol) == "-1" {
				port = "all"
			}
			for _, g := range p.UserIdGroupPairs {
				src := "other-group"
				if aws.ToString(g.GroupId) == sgID {
					src = "self"
				}
				rules = append(rules, port+" from "+src)
			}
			for _, r := range p.IpRanges {
				rules = append(rules, port+" from "+aws.ToString(r.CidrIp))
			}
			for _, r := range p.Ipv6Ranges {
				rules = append(rules, port+" from "+aws.ToString(r.CidrIpv6))
			}
		}
		sort.Strings(rules)
		if !slices.Equal(rules, want) {
			return fmt.Errorf("security group %s ingress %q, want %q", sgID, rules, want)
		}
		return nil
	}
}

func tagMapOf(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// checkUserData verifies that every node's user data pins the versions,
// names the token parameters and holds no secret, and that the Ray token is
// in its SecureString.
func (e *awsEnv) checkUserData(t *testing.T, name string, token *string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := t.Context()
		if len(*token) != 64 {
			return fmt.Errorf("auth_token %d chars, want 64", len(*token))
		}
		for g, insts := range e.liveByGroup(t, name) {
			for _, i := range insts {
				out, err := e.c.EC2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String(i.ID), Attribute: ec2types.InstanceAttributeNameUserData})
				if err != nil {
					return err
				}
				raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.UserData.Value))
				if err != nil {
					return err
				}
				ud := string(raw)
				for _, want := range []string{
					"export RAYVLLM_RAY_VERSION='2.60.0'", "export RAYVLLM_VLLM_VERSION='0.11.0'",
					"export RAYVLLM_PYTHON_PACKAGES='pandas==2.2.3'",
					"export RAYVLLM_RAY_TOKEN_PARAMETER='" + ec2cluster.TokenParameterName(name) + "'",
					"export RAYVLLM_HF_TOKEN_PARAMETER='" + e.hfParam + "'",
					`ray[default,serve]==$RAYVLLM_RAY_VERSION`, `vllm==$RAYVLLM_VLLM_VERSION`,
				} {
					if !strings.Contains(ud, want) {
						return fmt.Errorf("user data of %s (%s) lacks %q", i.ID, g, want)
					}
				}
				if strings.Contains(ud, *token) || strings.Contains(ud, e.hfToken) {
					return fmt.Errorf("user data of %s (%s) contains a secret", i.ID, g)
				}
				if g != "head" {
					if !strings.Contains(ud, "export RAYVLLM_ROLE='worker'") || !strings.Contains(ud, "export RAYVLLM_GROUP='"+g+"'") {
						return fmt.Errorf("user data of worker %s does not name its role and group", i.ID)
					}
				}
			}
		}
		p, err := e.c.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ec2cluster.TokenParameterName(name)), WithDecryption: aws.Bool(true)})
		if err != nil {
			return err
		}
		if p.Parameter.Type != ssmtypes.ParameterTypeSecureString || aws.ToString(p.Parameter.Value) != *token {
			return fmt.Errorf("token parameter is %s and does not hold auth_token", p.Parameter.Type)
		}
		return nil
	}
}

func captureIDs(ids map[string][]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a := s.RootModule().Resources[clusterAddr].Primary.Attributes
		clear(ids)
		ids["head"] = []string{a["head_instance_id"]}
		for i := 0; a[fmt.Sprintf("worker_group.%d.name", i)] != ""; i++ {
			g := a[fmt.Sprintf("worker_group.%d.name", i)]
			for j := 0; a[fmt.Sprintf("worker_group.%d.instance_ids.%d", i, j)] != ""; j++ {
				ids[g] = append(ids[g], a[fmt.Sprintf("worker_group.%d.instance_ids.%d", i, j)])
			}
		}
		return nil
	}
}

func TestAccInferenceCluster_scaleAndReplaceGroup(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("acc")
	before := map[string][]string{}
	after := map[string][]string{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: e.config(name, group{"a10g", "g5.xlarge", 2, ""}, group{"l4", "g6.xlarge", 2, ""}),
				Check:  captureIDs(before),
			},
			{
				// Scale a10g up and l4 down: in place, the surviving workers stay.
				Config: e.config(name, group{"a10g", "g5.xlarge", 3, ""}, group{"l4", "g6.xlarge", 1, ""}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(clusterAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(clusterAddr, tfjsonpath.New("worker_group").AtSliceIndex(0).AtMapKey("instance_ids")),
				}},
				Check: resource.ComposeTestCheckFunc(
					captureIDs(after),
					e.checkCluster(t, name, map[string]string{"head": "m5.xlarge", "a10g": "g5.xlarge", "l4": "g6.xlarge"}, map[string]int{"head": 1, "a10g": 3, "l4": 1}),
					func(*terraform.State) error {
						if after["head"][0] != before["head"][0] {
							return fmt.Errorf("head changed %s -> %s on a scale", before["head"][0], after["head"][0])
						}
						for _, id := range before["a10g"] {
							if !slices.Contains(after["a10g"], id) {
								return fmt.Errorf("a10g worker %s was replaced by a scale-up", id)
							}
						}
						if !slices.Contains(before["l4"], after["l4"][0]) {
							return fmt.Errorf("l4 survivor %s is new; scale-down must keep existing workers", after["l4"][0])
						}
						return nil
					},
				),
			},
			{
				// A new instance type replaces that group only.
				Config: e.config(name, group{"a10g", "g5.xlarge", 3, ""}, group{"l4", "g6e.xlarge", 1, ""}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(clusterAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("worker_group").AtSliceIndex(1).AtMapKey("gpu_model"), knownvalue.StringExact(mustGPU(t, "g6e.xlarge"))),
				}},
				Check: resource.ComposeTestCheckFunc(
					e.checkCluster(t, name, map[string]string{"head": "m5.xlarge", "a10g": "g5.xlarge", "l4": "g6e.xlarge"}, map[string]int{"head": 1, "a10g": 3, "l4": 1}),
					func(s *terraform.State) error {
						now := map[string][]string{}
						if err := captureIDs(now)(s); err != nil {
							return err
						}
						if !slices.Equal(now["a10g"], after["a10g"]) {
							return fmt.Errorf("a10g workers changed %v -> %v when only l4 changed", after["a10g"], now["a10g"])
						}
						if slices.Contains(after["l4"], now["l4"][0]) {
							return fmt.Errorf("l4 worker %s kept across an instance type change", now["l4"][0])
						}
						return nil
					},
				),
			},
			{
				// Remove a group, add another; the dashboard CIDRs change in place.
				Config: strings.Replace(e.config(name, group{"l40s", "g6e.xlarge", 1, ""}), `["203.0.113.0/24", "2001:db8::/64"]`, `["198.51.100.7/32"]`, 1),
				Check: resource.ComposeTestCheckFunc(
					e.checkCluster(t, name, map[string]string{"head": "m5.xlarge", "l40s": "g6e.xlarge"}, map[string]int{"head": 1, "l40s": 1}),
					e.checkSecurityRules(t, name, map[string]int32{"head": 100, "l40s": 200}, []string{"all from self", "tcp:8265-8265 from 198.51.100.7/32"}),
				),
			},
		},
	})
}

func mustGPU(t *testing.T, instanceType string) string {
	g, err := catalog.LookupGPU(catalogGPU(t, instanceType).GPU)
	if err != nil {
		t.Fatal(err)
	}
	return g.Name
}

func TestAccInferenceCluster_drift(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("acc")
	cfg := e.config(name, group{"a10g", "g5.xlarge", 3, ""})
	ctx := t.Context()
	var terminated, stopped string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroyed,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				// Out-of-band: one worker terminated, one stopped.
				Check: func(*terraform.State) error {
					ws := e.liveByGroup(t, name)["a10g"]
					terminated, stopped = ws[0].ID, ws[1].ID
					if _, err := e.c.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{terminated}}); err != nil {
						return err
					}
					_, err := e.c.EC2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{stopped}})
					return err
				},
				ExpectNonEmptyPlan: true,
			},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(clusterAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(clusterAddr, tfjsonpath.New("worker_group").AtSliceIndex(0).AtMapKey("count"), knownvalue.Int64Exact(3)),
				}},
				Check: resource.ComposeTestCheckFunc(
					e.checkCluster(t, name, map[string]string{"head": "m5.xlarge", "a10g": "g5.xlarge"}, map[string]int{"head": 1, "a10g": 3}),
					func(*terraform.State) error {
						insts, err := e.c.FindInstances(ctx, name)
						if err != nil {
							return err
						}
						for _, i := range insts {
							if i.ID == stopped && i.State != "terminated" {
								return fmt.Errorf("stopped worker %s is %s after the fix, want terminated (it no longer counts)", i.ID, i.State)
							}
						}
						return nil
					},
				),
			},
		},
	})
}

func TestAccInferenceCluster_disappears(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("acc")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroyed,
		Steps: []resource.TestStep{{
			Config: e.config(name, group{"a10g", "g5.xlarge", 1, ""}),
			Check: func(s *terraform.State) error {
				a := s.RootModule().Resources[clusterAddr].Primary.Attributes
				return e.c.Destroy(t.Context(), name, a["security_group_id"], a["auth_token_ssm_parameter"])
			},
			ExpectNonEmptyPlan: true,
		}},
	})
}

func TestAccInferenceCluster_refusesExisting(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("acc")
	ctx := t.Context()
	// A stray that carries the cluster tag, e.g. from a lost state file.
	out, err := e.c.EC2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(e.ami), InstanceType: "g5.xlarge", MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(e.subnet),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String(ec2cluster.TagCluster), Value: aws.String(name)}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stray := aws.ToString(out.Instances[0].InstanceId)
	t.Cleanup(func() {
		_ = e.c.Destroy(context.Background(), name, "", "")
	})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      e.config(name, group{"a10g", "g5.xlarge", 1, ""}),
			ExpectError: regexp.MustCompile(`(?s)already exist.*` + stray + `.*terraform import`),
		}},
	})
	insts, err := e.c.FindInstances(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 1 || insts[0].ID != stray {
		t.Fatalf("refused create still launched instances: %v", insts)
	}
}

func TestAccInferenceCluster_planErrors(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("acc")
	base := e.config(name, group{"a10g", "g5.xlarge", 1, ""})
	sub := func(old, repl string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("config lacks %q", old)
		}
		return strings.Replace(base, old, repl, 1)
	}
	steps := []struct {
		config string
		err    string
	}{
		{sub(`"203.0.113.0/24"`, `"0.0.0.0/0"`), `(?s)0\.0\.0\.0/0.*ShadowRay.*allow_public_ray_ports`},
		{sub(`"2001:db8::/64"`, `"::/0"`), `(?s)::/0.*ShadowRay`},
		{sub(`"2.60.0"`, `"2.53.0"`), `(?s)ray_version 2\.53\.0 is below 2\.54\.0`},
		{sub(`"2.60.0"`, `">=2.54"`), `(?s)exact version`},
		{sub(`"g5.xlarge"`, `"m5.large"`), `(?s)Not a GPU instance type from the catalog.*m5\.large`},
		{sub(`hf_token_ssm_parameter  = "`+e.hfParam+`"`, `hf_token_ssm_parameter  = "hf_abcdefghijklmnop"`), `(?s)not a parameter name`},
		{sub("wait_for_ray", "fit_check {\n    model = \"meta-llama/Llama-3.1-70B\"\n  }\n  wait_for_ray"), `(?s)meta-llama/Llama-3.1-70B does not fit on.*a10g.*short per GPU`},
		{sub("wait_for_ray", "fit_check {\n    quantization = \"awq\"\n  }\n  wait_for_ray"), `(?s)Missing fit_check.model`},
		{sub("head {\n    instance_type = \"m5.xlarge\"\n  }", ""), `(?s)head.*must have a configuration value`},
		{sub("head {\n    instance_type = \"m5.xlarge\"\n  }", "head {}"), `(?s)"instance_type" is required`},
		{sub(`count         = 1`, `count         = -1`), `(?s)count.*between 0 and 1000`},
		{sub(`count         = 1`, "count = 1\n    max_workers = 2"), `(?s)Invalid Attribute Combination.*count.*max_workers`},
		{sub(`count         = 1`, "min_workers = 1"), `(?s)(max_workers.*must be specified|Invalid Attribute Combination)`},
		{sub(`count         = 1`, "min_workers = 3\n    max_workers = 2"), `(?s)min_workers 3 is above max_workers 2`},
		{sub(`count         = 1`, "count = 1\n    spot_fallback_to_on_demand = true"), `(?s)spot_fallback_to_on_demand = true needs a spot block and max_workers`},
	}
	var ts []resource.TestStep
	for _, s := range steps {
		ts = append(ts, resource.TestStep{Config: s.config, PlanOnly: true, ExpectError: regexp.MustCompile(strings.ReplaceAll(s.err, " ", `\s+`))})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: ts})
}

// The fit check passes a model that fits, and allow_public_ray_ports turns
// the refusal into a warning (checked in TestPublicPortDiags).
func TestAccInferenceCluster_fitCheckPasses(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("acc")
	cfg := strings.Replace(e.config(name, group{"a10g", "g5.xlarge", 1, ""}), "wait_for_ray",
		"fit_check {\n    model = \"Qwen/Qwen2.5-0.5B\"\n  }\n  allow_public_ray_ports = true\n  wait_for_ray", 1)
	cfg = strings.Replace(cfg, `"203.0.113.0/24"`, `"0.0.0.0/0"`, 1)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: cfg, PlanOnly: true, ExpectNonEmptyPlan: true,
		}},
	})
}

func TestPublicPortDiags(t *testing.T) {
	if d := publicPortDiags([]string{"10.0.0.0/8", "2001:db8::/32"}, false); d.HasError() || d.WarningsCount() > 0 {
		t.Fatalf("private CIDRs: %v", d)
	}
	for _, c := range []string{"0.0.0.0/0", "::/0"} {
		d := publicPortDiags([]string{"10.0.0.0/8", c}, false)
		if !d.HasError() || !strings.Contains(d[0].Detail(), "ShadowRay") || !strings.Contains(d[0].Detail(), "allow_public_ray_ports") {
			t.Fatalf("%s refused? %v", c, d)
		}
		d = publicPortDiags([]string{c}, true)
		if d.HasError() || d.WarningsCount() != 1 || !strings.Contains(d[0].Detail(), "ShadowRay") {
			t.Fatalf("%s allowed: want one ShadowRay warning, got %v", c, d)
		}
	}
}

func TestRayVersionValidator(t *testing.T) {
	for v, ok := range map[string]bool{"2.54.0": true, "2.60.0": true, "3.0.0": true, "2.53.9": false, "1.99.0": false, "2.60": false, "2.60.0rc1": false, ">=2.54.0": false} {
		var resp validator.StringResponse
		rayVersionValidator().ValidateString(t.Context(), validator.StringRequest{Path: path.Root("ray_version"), ConfigValue: types.StringValue(v)}, &resp)
		if resp.Diagnostics.HasError() == ok {
			t.Errorf("ray_version %q: error = %v, want accepted = %v", v, resp.Diagnostics, ok)
		}
	}
}

// Planning needs no AWS at all: no endpoint, credentials or region.
func TestAccInferenceCluster_planWithoutAWS(t *testing.T) {
	unitPreCheck(t)
	for _, k := range []string{"AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_SSM", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	e := &awsEnv{ami: "ami-0123456789abcdef0", subnet: "subnet-0123456789abcdef0", profile: "p", hfParam: "/hf/token"}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: e.config("no-aws", group{"a10g", "g5.xlarge", 2, ""}), PlanOnly: true, ExpectNonEmptyPlan: true,
		}},
	})
}

// The documented example plans (no AWS needed) and passes its fit check.
func TestAccInferenceCluster_examplePlans(t *testing.T) {
	unitPreCheck(t)
	example, err := os.ReadFile("../../examples/resources/rayvllm_inference_cluster/resource.tf")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_VAR_my_cidr", "203.0.113.7/32")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:   string(example),
			PlanOnly: true, ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue("rayvllm_inference_cluster.this", tfjsonpath.New("total_gpus"), knownvalue.Int64Exact(2)), // the autoscaled group's min_workers is 0
			}},
		}},
	})
}

// Every catalog instance type agrees with EC2's DescribeInstanceTypes (moto
// ships AWS's instance type data) on GPU count, EFA support and, within 10%,
// on GPU memory:
// the same cross-check the resource makes at apply.
func TestAccInferenceCluster_catalogMatchesEC2(t *testing.T) {
	t.Parallel()
	e := newAWSEnv(t)
	var names []string
	for _, it := range catalog.Instances() {
		names = append(names, it.Name)
	}
	infos, err := e.c.DescribeInstanceTypes(t.Context(), names)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range catalog.Instances() {
		info, ok := infos[it.Name]
		if !ok {
			t.Errorf("%s: not known to EC2", it.Name)
			continue
		}
		gpu, err := catalog.LookupGPU(it.GPU)
		if err != nil {
			t.Fatal(err)
		}
		if msg := gpuMismatch(info, it.GPUCount, gpu.MemoryGiB); msg != "" {
			t.Errorf("%s: %s", it.Name, msg)
		}
		if info.EFA != it.EFA {
			t.Errorf("%s: the catalog says efa = %v, EC2 DescribeInstanceTypes says EfaSupported = %v", it.Name, it.EFA, info.EFA)
		}
	}
}

// Public ingress on Ray ports added out of band, through the EC2 API (the
// GCS and Ray Client ports, and the dashboard from anywhere), shows as drift
// and the next apply revokes it, leaving exactly the configured rules.
func TestAccInferenceCluster_publicIngressRevoked(t *testing.T) {
	// First: what a test sets up before it pauses for the serial tests meets their sweepers.
	t.Parallel()
	e := newAWSEnv(t)
	name := acctest.RandomWithPrefix("acc")
	cfg := e.config(name, group{"a10g", "g5.xlarge", 1, ""})
	open := func(s *terraform.State) error {
		sg := s.RootModule().Resources[clusterAddr].Primary.Attributes["security_group_id"]
		_, err := e.c.EC2.AuthorizeSecurityGroupIngress(t.Context(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sg), IpPermissions: []ec2types.IpPermission{
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(10001), ToPort: aws.Int32(10001), Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}},
			{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8265), ToPort: aws.Int32(8265), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
		}})
		return err
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroyed,
		Steps: []resource.TestStep{
			{Config: cfg, Check: open, ExpectNonEmptyPlan: true},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(clusterAddr, plancheck.ResourceActionUpdate),
				}},
				Check: e.checkSecurity(t, name, map[string]int32{"head": 100, "a10g": 200}),
			},
			{Config: cfg, PlanOnly: true},
		},
	})
}
