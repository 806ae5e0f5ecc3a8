package acctest

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	tfacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
)

// AWS is what the acceptance tests need from moto, made once per test with
// names of its own (tests that use it may run in parallel): an AMI, the
// default subnet, an instance profile with the nodes' role, and a Hugging
// Face token in SSM.
type AWS struct {
	Client  *ec2cluster.Client
	AMI     string
	Subnet  string
	Profile string
	HFParam string
	HFToken string
}

// NewAWS makes the fixtures in moto (PreCheck(t, NeedMoto) first).
func NewAWS(t testing.TB) *AWS {
	t.Helper()
	PreCheck(t, NeedMoto)
	ctx := t.Context()
	s := ec2cluster.Settings{EC2Endpoint: os.Getenv("AWS_ENDPOINT_URL_EC2"), SSMEndpoint: os.Getenv("AWS_ENDPOINT_URL_SSM")}
	cfg, err := ec2cluster.LoadConfig(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	e := &AWS{Client: ec2cluster.NewClient(cfg, s)}
	imgs, err := e.Client.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []ec2types.Filter{{Name: aws.String("root-device-type"), Values: []string{"ebs"}}}})
	if err != nil || len(imgs.Images) == 0 {
		t.Fatalf("no AMI in moto: %v", err)
	}
	e.AMI = aws.ToString(imgs.Images[0].ImageId)
	subnets, err := e.Client.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}}})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("no default subnet in moto: %v", err)
	}
	e.Subnet = aws.ToString(subnets.Subnets[0].SubnetId)
	e.Profile = tfacctest.RandomWithPrefix("rayvllm-node")
	iamURL := os.Getenv("RAYVLLM_TEST_MOTO_URL")
	if iamURL == "" {
		iamURL = os.Getenv("AWS_ENDPOINT_URL_EC2")
	}
	ic := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = aws.String(iamURL) })
	if _, err := ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(e.Profile)}); err != nil {
		t.Fatalf("creating instance profile in moto: %v", err)
	}
	// The nodes' role, which an autoscaled cluster's head passes to the
	// workers it launches.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(e.Profile), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatalf("creating the node role in moto: %v", err)
	}
	if _, err := ic.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(e.Profile), RoleName: aws.String(e.Profile)}); err != nil {
		t.Fatalf("adding the node role to its profile in moto: %v", err)
	}
	e.HFParam = "/" + tfacctest.RandomWithPrefix("hf") + "/token"
	e.HFToken = "hf_" + tfacctest.RandString(30)
	if _, err := e.Client.SSM.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(e.HFParam), Value: aws.String(e.HFToken), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatalf("creating HF token parameter in moto: %v", err)
	}
	return e
}
