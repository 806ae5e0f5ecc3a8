package ec2box_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/rayvllm/terraform-provider-rayvllm/internal/ec2box"
)

// probe is user data that checks the instance's view of the box: IMDSv2,
// SSM through the instance role, a private /etc, and serves on its IP.
const probe = `#!/bin/bash
set -eu
tok=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
md() { curl -fsS -H "X-aws-ec2-metadata-token: $tok" "http://169.254.169.254/latest/meta-data/$1"; }
echo "id=$(md instance-id) ip=$(md local-ipv4) region=$(md placement/region) tag=$(md tags/instance/probe)"
echo "without-token=$(curl -s -o /dev/null -w '%{http_code}' http://169.254.169.254/latest/meta-data/instance-id)"
echo "ssm=$(/opt/rayvllm/venv/bin/python -c 'import boto3,sys; print(boto3.client("ssm", region_name="us-east-1").get_parameter(Name=sys.argv[1], WithDecryption=True)["Parameter"]["Value"])' "$PROBE_PARAM")"
useradd --system ec2boxprobe && echo "user=$(id -un ec2boxprobe)"
if pip download ray==0.0.0 -d /tmp/x >/dev/null 2>&1; then echo pip=online; else echo pip=offline; fi
mkdir -p /tmp/www && echo hello-from-$(md instance-id) > /tmp/www/index.html
cat >/etc/systemd/system/probe.service <<UNIT
[Service]
ExecStart=/opt/rayvllm/venv/bin/python -m http.server 18080 --bind $(md local-ipv4) --directory /tmp/www
Restart=on-failure
UNIT
systemctl enable --now probe.service
`

func TestBox_instanceLifecycle(t *testing.T) {
	venv, _ := filepath.Abs("../../.venv")
	box := ec2box.New(t, venv, ec2box.Options{ShutdownGrace: 2 * time.Second})
	ctx := t.Context()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"), config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")))
	if err != nil {
		t.Fatal(err)
	}
	moto := os.Getenv("RAYVLLM_TEST_MOTO_URL")
	// The code under test talks to the box's EC2 endpoint.
	ec := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(box.EC2URL()) })
	sc := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(moto) })
	param := "/ec2box/" + strings.ReplaceAll(t.Name(), "/", "-") + fmt.Sprint(time.Now().UnixNano())
	if _, err := sc.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(param), Value: aws.String("s3cr3t-value"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	imgs, err := ec.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(imgs.Images) == 0 {
		t.Fatalf("no AMI in moto: %v", err)
	}
	ud := "#!/bin/bash\nexport PROBE_PARAM=" + param + "\n" + probe
	run, err := ec.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: imgs.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(box.SubnetID()), UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(ud))),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("probe"), Value: aws.String("yes")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id, ip := aws.ToString(run.Instances[0].InstanceId), aws.ToString(run.Instances[0].PrivateIpAddress)
	t.Cleanup(func() {
		_, _ = ec.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	})
	body := waitHTTP(t, "http://"+ip+":18080/", 60*time.Second)
	if body != "hello-from-"+id+"\n" {
		t.Errorf("the instance served %q", body)
	}
	out, err := ec.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(out.Output))
	console := string(raw)
	for _, want := range []string{
		fmt.Sprintf("id=%s ip=%s region=us-east-1 tag=yes", id, ip),
		"without-token=401", "ssm=s3cr3t-value", "user=ec2boxprobe", "pip=offline",
	} {
		if !strings.Contains(console, want) {
			t.Errorf("console lacks %q:\n%s", want, console)
		}
	}
	if err := exec.Command("id", "ec2boxprobe").Run(); err == nil {
		t.Errorf("the instance's useradd changed the host's /etc/passwd")
	}
	if len(box.Hosts()) != 1 || box.Processes() == 0 {
		t.Errorf("hosts %v, %d processes; want the one instance with its server", box.Hosts(), box.Processes())
	}

	// Stopped out of band: shut down. Started again: it reboots from its
	// disk, where the enabled unit brings the server back.
	if _, err := ec.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, box, ip, "stopped")
	if _, err := ec.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console of %s:\n%s", id, box.Console(id))
		}
	})
	if body := waitHTTP(t, "http://"+ip+":18080/", 60*time.Second); body != "hello-from-"+id+"\n" {
		t.Errorf("after the restart the instance served %q", body)
	}

	if _, err := ec.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, box, ip, "terminated")
}

// waitGone waits until the box has no namespace and ip does not answer.
func waitGone(t *testing.T, box *ec2box.Box, ip, why string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && len(box.Namespaces()) > 0 {
		time.Sleep(200 * time.Millisecond)
	}
	if ns := box.Namespaces(); len(ns) > 0 {
		t.Fatalf("namespaces %v left after the instance was %s", ns, why)
	}
	if _, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ip + ":18080/"); err == nil {
		t.Errorf("the %s instance still answers", why)
	}
}

func waitHTTP(t *testing.T, url string, timeout time.Duration) string {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			b := new(strings.Builder)
			_, _ = fmt.Fprint(b, "")
			buf := make([]byte, 4096)
			n, _ := resp.Body.Read(buf)
			_ = resp.Body.Close()
			return string(buf[:n])
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s did not answer in %s: %v", url, timeout, last)
	return ""
}

// TestSweep_removesCrashedRuns leaves what a killed test process would (a
// namespace with a process, a veth, a bridge and a work directory owned by
// a PID that is gone) and checks that Sweep removes it all, while a live
// run's namespace stays.
func TestSweep_removesCrashedRuns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	work := filepath.Join("/var/tmp", "ec2box-sweep-test-"+fmt.Sprint(os.Getpid()))
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	mk := func(run, owner string) string {
		if err := os.MkdirAll(filepath.Join(work, run), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, run, "owner"), []byte(owner), 0o600); err != nil {
			t.Fatal(err)
		}
		ns := "ebx-" + run + "-i-sweeptest"
		for _, args := range [][]string{
			{"netns", "add", ns},
			{"link", "add", "ebx" + run + "br", "type", "bridge"},
			{"link", "add", "ebx" + run + "h1", "type", "veth", "peer", "name", "ebx" + run + "p1"},
			{"link", "set", "ebx" + run + "p1", "netns", ns},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v %s", args, err, out)
			}
		}
		t.Cleanup(func() {
			_ = exec.Command("ip", "link", "del", "ebx"+run+"br").Run()
			_ = exec.Command("ip", "link", "del", "ebx"+run+"h1").Run()
			_ = exec.Command("ip", "netns", "del", ns).Run()
		})
		return ns
	}
	// A PID that is not running: the test's own with a wrong start time.
	deadNS := mk("dead", fmt.Sprintf("%d 1\n", os.Getpid()))
	stat, _ := os.ReadFile("/proc/self/stat")
	f := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+1:])
	liveNS := mk("live", fmt.Sprintf("%d %s\n", os.Getpid(), f[19]))
	sleeper := exec.Command("ip", "netns", "exec", deadNS, "sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleeper.Wait() }()

	if err := ec2box.Sweep(work); err != nil {
		t.Fatal(err)
	}
	select {
	case werr := <-done:
		t.Logf("the crashed run's process ended: %v", werr)
	case <-time.After(10 * time.Second):
		t.Errorf("the crashed run's process survived the sweep")
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if exists("/run/netns/"+deadNS) || exists(filepath.Join(work, "dead")) || exists("/sys/class/net/ebxdeadbr") || exists("/sys/class/net/ebxdeadh1") {
		t.Errorf("the sweep left the crashed run's namespace, work dir or links")
	}
	if !exists("/run/netns/"+liveNS) || !exists("/sys/class/net/ebxlivebr") {
		t.Errorf("the sweep removed a live run's namespace or bridge")
	}
}
