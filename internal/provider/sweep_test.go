package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2cluster"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/kuberay"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/ray"
	"github.com/rayvllm/terraform-provider-rayvllm/internal/retry"
)

// Sweepers remove what a failed or interrupted acceptance test left behind
// on the test services: go test ./internal/provider -v -sweep=us-east-1, or
// make sweep (TestMain hands -sweep to resource.TestMain). They refuse real
// AWS and any Ray head but the loopback one of .ci/services.sh.
func init() {
	resource.AddTestSweepers("rayvllm_inference_cluster", &resource.Sweeper{Name: "rayvllm_inference_cluster", F: sweepClusters})
	resource.AddTestSweepers("rayvllm_batch_job", &resource.Sweeper{Name: "rayvllm_batch_job", F: sweepJobs})
	resource.AddTestSweepers("rayvllm_vllm_worker", &resource.Sweeper{Name: "rayvllm_vllm_worker", F: sweepApps})
	resource.AddTestSweepers("rayvllm_kuberay_cluster", &resource.Sweeper{Name: "rayvllm_kuberay_cluster", F: sweepKubeRayClusters})
}

// sweepKubeRayClusters deletes the RayClusters (and token Secrets) that the
// tests' clusters left on a loopback API server (KUBE_CONFIG_PATH).
func sweepKubeRayClusters(string) error {
	c, err := (&ProviderData{Kube: kuberay.Config{}.FromEnv()}).kubeClient()
	if err != nil {
		return err
	}
	if !loopback(c.Host()) {
		return fmt.Errorf("API server %q: the sweeper only cleans a Kubernetes box on loopback", c.Host())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ids, err := c.Managed(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		ns, name, _ := strings.Cut(id, "/")
		if sweepable(name) {
			fmt.Printf("sweeping RayCluster %s\n", id)
			errs = append(errs, c.Delete(ctx, ns, name), c.WaitGone(ctx, ns, name), c.DeleteSecret(ctx, ns, name+"-ray-token"))
		}
	}
	return errors.Join(errs...)
}

// sweepPrefixes are the names the acceptance tests give what they create.
var sweepPrefixes = []string{"acc-", "tfacc-"}

func sweepable(name string) bool {
	for _, p := range sweepPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// sweepClusters destroys the moto clusters named like the tests' (acc-...).
func sweepClusters(region string) error {
	ep := os.Getenv("AWS_ENDPOINT_URL_EC2")
	if ep == "" || !loopback(ep) {
		return fmt.Errorf("AWS_ENDPOINT_URL_EC2 = %q: the sweeper only cleans moto on loopback (source .tmp/services.env)", ep)
	}
	ctx := context.Background()
	// moto serves IAM on the EC2 endpoint's port.
	s := ec2cluster.Settings{Region: region, EC2Endpoint: ep, SSMEndpoint: os.Getenv("AWS_ENDPOINT_URL_SSM"), IAMEndpoint: ep}
	cfg, err := ec2cluster.LoadConfig(ctx, s)
	if err != nil {
		return err
	}
	c := ec2cluster.NewClient(cfg, s)
	names, err := c.ClusterNames(ctx)
	if err != nil {
		return err
	}
	// Clusters whose instances and security group are gone may still have
	// their token parameter and head role.
	left, err := c.LeftoverClusterNames(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range slices.Compact(slices.Sorted(slices.Values(append(names, left...)))) {
		if sweepable(n) {
			fmt.Printf("sweeping cluster %s\n", n)
			errs = append(errs, c.Destroy(ctx, n, "", ""), c.DeleteHeadRole(ctx, n))
		}
	}
	return errors.Join(errs...)
}

// sweepRay connects to the loopback Ray head of .ci/services.sh.
func sweepRay() (*ray.Client, error) {
	addr := os.Getenv("RAY_ADDRESS")
	if addr == "" || !loopback(addr) {
		return nil, fmt.Errorf("RAY_ADDRESS = %q: the sweeper only cleans a Ray head on loopback (source .tmp/services.env)", addr)
	}
	return ray.New(ray.Config{Address: addr, Token: os.Getenv("RAY_AUTH_TOKEN")})
}

// sweepJobs removes the jobs this provider submitted to the test head. Their
// submission IDs are hashes, so the provider's managed-by mark is what
// tells them apart, and the loopback check what keeps real clusters out.
func sweepJobs(string) error {
	c, err := sweepRay()
	if err != nil {
		return err
	}
	ctx := context.Background()
	jobs, err := c.ListJobs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, j := range jobs {
		if j.SubmissionID == nil || j.Metadata[metadataPrefix+"managed-by"] != "terraform-provider-rayvllm" {
			continue
		}
		fmt.Printf("sweeping Ray job %s (%s)\n", *j.SubmissionID, j.Status)
		errs = append(errs, c.RemoveJob(ctx, *j.SubmissionID, time.Second))
	}
	return errors.Join(errs...)
}

// sweepApps removes the Serve applications named like the tests' (tfacc-...).
func sweepApps(string) error {
	c, err := sweepRay()
	if err != nil {
		return err
	}
	ctx := context.Background()
	inst, err := c.ServeInstance(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for name := range inst.Applications {
		if sweepable(name) {
			fmt.Printf("sweeping Serve application %s\n", name)
			_, err := c.RemoveServeApplication(ctx, name)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func loopback(addr string) bool {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
}

// TestAccSweepers leaves a cluster in moto, a job and a Serve application
// on the Ray head, as an interrupted test would, runs the sweepers and
// checks that those are gone and that what the tests did not create is
// still there. It is not parallel: the job sweeper takes every job of the
// provider, and the parallel tests wait until the sequential ones are done.
func TestAccSweepers(t *testing.T) {
	e := newAWSEnv(t)
	serve := testAccServe(t)
	ctx := t.Context()
	sfx := acctest.RandString(6)

	cluster := "acc-sweep-" + sfx
	if _, err := e.c.EC2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(e.ami), InstanceType: "g5.xlarge", MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(e.subnet),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String(ec2cluster.TagCluster), Value: aws.String(cluster)}}}},
	}); err != nil {
		t.Fatal(err)
	}
	keepCluster := "prod-sweep-" + sfx
	if _, err := e.c.EC2.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(e.ami), InstanceType: "g5.xlarge", MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(e.subnet),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String(ec2cluster.TagCluster), Value: aws.String(keepCluster)}}}},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.c.Destroy(context.Background(), keepCluster, "", "") })

	job, keepJob := "tfacc-sweep-"+sfx, "keep-sweep-"+sfx
	for id, meta := range map[string]map[string]string{job: {metadataPrefix + "managed-by": "terraform-provider-rayvllm"}, keepJob: {"team": "other"}} {
		if _, err := serve.client.SubmitJob(ctx, ray.JobSubmitRequest{Entrypoint: "sleep 300", SubmissionID: id, Metadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = serve.client.RemoveJob(context.Background(), keepJob, time.Second) })

	app, keepApp := "tfacc-sweep-"+sfx, "keep-sweep-"+sfx
	serve.unmanagedApp(t, app)
	keepAppIntact := serve.unmanagedApp(t, keepApp)

	for name, sweep := range map[string]func(string) error{"clusters": sweepClusters, "jobs": sweepJobs, "apps": sweepApps} {
		if err := sweep("us-east-1"); err != nil {
			t.Fatalf("sweeping %s: %v", name, err)
		}
	}

	if insts, err := e.c.FindInstances(ctx, cluster); err != nil || len(insts) != 0 {
		t.Errorf("cluster %s: %d instances left (%v)", cluster, len(insts), err)
	}
	if insts, err := e.c.FindInstances(ctx, keepCluster); err != nil || len(insts) != 1 {
		t.Errorf("cluster %s, not the tests': want its instance kept, got %d (%v)", keepCluster, len(insts), err)
	}
	if _, err := serve.client.GetJob(ctx, job); !retry.IsNotFound(err) {
		t.Errorf("job %s: want it removed, got %v", job, err)
	}
	if j, err := serve.client.GetJob(ctx, keepJob); err != nil || j.Status.Terminal() {
		t.Errorf("job %s, not the provider's: want it running, got %v", keepJob, err)
	}
	if err := retry.Until(ctx, time.Minute, time.Second, func(context.Context) (bool, error) { return serve.gone(app)() == nil, nil }); err != nil {
		t.Errorf("application %s: %v", app, err)
	}
	if err := keepAppIntact(); err != nil {
		t.Error(err)
	}
}
