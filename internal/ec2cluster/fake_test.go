package ec2cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEC2 is an httptest EC2 query-protocol endpoint for the cases moto
// cannot produce: pending instances, eventual consistency, throttling and
// lost responses. Each test scripts the Actions it needs.
type fakeEC2 struct {
	t        *testing.T
	mu       sync.Mutex
	handlers map[string]func(form url.Values) (int, string)
	requests []url.Values
}

func newFake(t *testing.T) (*fakeEC2, *Client) {
	return newFakeWith(t, nil)
}

// newFakeWith is newFake with the settings changed by edit.
func newFakeWith(t *testing.T, edit func(*Settings)) (*fakeEC2, *Client) {
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	f := &fakeEC2{t: t, handlers: map[string]func(url.Values) (int, string){}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	s := Settings{Region: "us-east-1", EC2Endpoint: srv.URL, SSMEndpoint: srv.URL, MaxAttempts: 5, MaxBackoff: 10 * time.Millisecond}
	if edit != nil {
		edit(&s)
	}
	cfg, err := LoadConfig(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(cfg, s)
	c.WaiterMinDelay, c.WaiterMaxDelay, c.PollInterval = 10*time.Millisecond, 20*time.Millisecond, 10*time.Millisecond
	return f, c
}

func (f *fakeEC2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("bad form: %v", err)
	}
	action := r.PostForm.Get("Action")
	if target := r.Header.Get("X-Amz-Target"); target != "" { // SSM's JSON protocol
		action = target[strings.LastIndexByte(target, '.')+1:]
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	}
	f.mu.Lock()
	f.requests = append(f.requests, r.PostForm)
	h := f.handlers[action]
	w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("fake-req-%d", len(f.requests)))
	f.mu.Unlock()
	if h == nil {
		f.t.Errorf("unexpected EC2 action %s", action)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	code, body := h(r.PostForm)
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/xml")
	}
	w.WriteHeader(code)
	_, _ = fmt.Fprint(w, body)
}

func (f *fakeEC2) calls(action string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []url.Values
	for _, r := range f.requests {
		if r.Get("Action") == action {
			out = append(out, r)
		}
	}
	return out
}

func ec2Error(status int, code, msg string) (int, string) {
	return status, fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>req-1</RequestID></Response>`, code, msg)
}

type fakeInstance struct {
	id, state, ip, reason string
}

func (i fakeInstance) xml() string {
	codes := map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
	reason := ""
	if i.reason != "" {
		reason = fmt.Sprintf(`<stateReason><code>Server.InternalError</code><message>%s</message></stateReason>`, i.reason)
	}
	return fmt.Sprintf(`<item><instanceId>%s</instanceId><imageId>ami-12345678</imageId><instanceState><code>%d</code><name>%s</name></instanceState>`+
		`<privateIpAddress>%s</privateIpAddress><instanceType>g5.xlarge</instanceType><launchTime>2025-01-01T00:00:00.000Z</launchTime>%s`+
		`<tagSet><item><key>rayvllm:cluster</key><value>c1</value></item><item><key>rayvllm:role</key><value>worker</value></item><item><key>rayvllm:group</key><value>g</value></item></tagSet></item>`,
		i.id, codes[i.state], i.state, i.ip, reason)
}

func describeXML(insts ...fakeInstance) string {
	var items strings.Builder
	for _, i := range insts {
		items.WriteString(i.xml())
	}
	return `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet>` +
		items.String() + `</instancesSet></item></reservationSet></DescribeInstancesResponse>`
}

func runXML(insts ...fakeInstance) string {
	var items strings.Builder
	for _, i := range insts {
		items.WriteString(i.xml())
	}
	return `<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet>` +
		items.String() + `</instancesSet></RunInstancesResponse>`
}

func testSpec() Spec {
	return Spec{
		Name: "c1", SubnetID: "subnet-12345678", IAMInstanceProfile: "p",
		Head:   NodeSpec{InstanceType: "m5.xlarge", AMI: "ami-12345678", RootVolumeGiB: 100, RootVolumeType: "gp3"},
		Groups: []GroupSpec{{Name: "g", Count: 3, NodeSpec: NodeSpec{InstanceType: "g5.xlarge", AMI: "ami-12345678", RootVolumeGiB: 200, RootVolumeType: "gp3"}}},
		Boot:   BootConfig{Cluster: "c1", RayVersion: "2.60.0", VLLMVersion: "0.29.0", RayTokenParameter: "/rayvllm/c1/ray-auth-token"},
	}
}

// A RunInstances whose response is lost is retried by the SDK with the same
// ClientToken, and EC2's idempotency returns the first launch: no duplicates.
func TestRunRetryIsIdempotent(t *testing.T) {
	f, c := newFake(t)
	launched := map[string][]fakeInstance{} // by ClientToken
	attempt := 0
	f.handlers["RunInstances"] = func(form url.Values) (int, string) {
		attempt++
		tok := form.Get("ClientToken")
		n := form.Get("MaxCount")
		if form.Get("MinCount") != n || n != "3" {
			t.Errorf("MinCount %s MaxCount %s, want both 3", form.Get("MinCount"), n)
		}
		if _, ok := launched[tok]; !ok {
			launched[tok] = []fakeInstance{{"i-1", "pending", "10.0.0.1", ""}, {"i-2", "pending", "10.0.0.2", ""}, {"i-3", "pending", "10.0.0.3", ""}}
		}
		if attempt == 1 {
			return ec2Error(500, "InternalError", "An internal error has occurred")
		}
		return 200, runXML(launched[tok]...)
	}
	insts, err := c.run(t.Context(), testSpec(), "sg-1", "/dev/sda1", launch{role: RoleWorker, group: "g", node: testSpec().Groups[0].NodeSpec, count: 3, userData: "#!/bin/bash"})
	if err != nil {
		t.Fatal(err)
	}
	calls := f.calls("RunInstances")
	if len(calls) != 2 {
		t.Fatalf("%d RunInstances attempts, want 2 (one retry)", len(calls))
	}
	if tok := calls[0].Get("ClientToken"); tok == "" || tok != calls[1].Get("ClientToken") {
		t.Fatalf("ClientToken %q then %q: the retry must reuse the attempt's token", tok, calls[1].Get("ClientToken"))
	}
	if len(launched) != 1 || len(insts) != 3 {
		t.Fatalf("%d launches (%d instances returned), want 1 launch of 3", len(launched), len(insts))
	}
	if calls[0].Get("MetadataOptions.HttpTokens") != "required" || calls[0].Get("BlockDeviceMapping.1.Ebs.Encrypted") != "true" {
		t.Fatalf("RunInstances lacks IMDSv2 or encryption: %v", calls[0])
	}
	// A second, separate launch gets a fresh token.
	if _, err := c.run(t.Context(), testSpec(), "sg-1", "/dev/sda1", launch{role: RoleWorker, group: "g", node: testSpec().Groups[0].NodeSpec, count: 3}); err != nil {
		t.Fatal(err)
	}
	if len(launched) != 2 {
		t.Fatalf("a new launch attempt reused a ClientToken")
	}
}

// RequestLimitExceeded is retried by the standard retryer.
func TestThrottlingIsRetried(t *testing.T) {
	f, c := newFake(t)
	n := 0
	f.handlers["DescribeInstances"] = func(url.Values) (int, string) {
		n++
		if n <= 2 {
			return ec2Error(503, "RequestLimitExceeded", "Request limit exceeded.")
		}
		return 200, describeXML(fakeInstance{"i-1", "running", "10.0.0.1", ""})
	}
	before := CallCounts()["EC2.DescribeInstances"]
	insts, err := c.FindInstances(t.Context(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 1 || n != 3 {
		t.Fatalf("got %d instances after %d attempts, want 1 after 3", len(insts), n)
	}
	if got := CallCounts()["EC2.DescribeInstances"] - before; got != 3 {
		t.Fatalf("call counter saw %d attempts, want 3", got)
	}
}

// Throttling that never stops fails after MaxAttempts with the AWS error.
func TestThrottlingGivesUp(t *testing.T) {
	f, c := newFake(t)
	f.handlers["DescribeInstances"] = func(url.Values) (int, string) {
		return ec2Error(503, "RequestLimitExceeded", "Request limit exceeded.")
	}
	_, err := c.FindInstances(t.Context(), "c1")
	if err == nil || ErrorCode(err) != "RequestLimitExceeded" {
		t.Fatalf("err = %v, want RequestLimitExceeded", err)
	}
	if got := len(f.calls("DescribeInstances")); got != 5 {
		t.Fatalf("%d attempts, want max_attempts = 5", got)
	}
}

// Right after RunInstances, DescribeInstances may not know the IDs yet
// (eventual consistency), then the instances are pending, then running.
func TestWaitRunningNotFoundThenPending(t *testing.T) {
	f, c := newFake(t)
	n := 0
	f.handlers["DescribeInstances"] = func(form url.Values) (int, string) {
		n++
		if form.Get("InstanceId.1") != "i-1" || form.Get("InstanceId.2") != "i-2" {
			t.Errorf("waiter asked for %v", form)
		}
		switch {
		case n <= 2:
			return ec2Error(400, "InvalidInstanceID.NotFound", "The instance IDs 'i-1, i-2' do not exist")
		case n <= 4:
			return 200, describeXML(fakeInstance{"i-1", "pending", "10.0.0.1", ""}, fakeInstance{"i-2", "running", "10.0.0.2", ""})
		default:
			return 200, describeXML(fakeInstance{"i-1", "running", "10.0.0.1", ""}, fakeInstance{"i-2", "running", "10.0.0.2", ""})
		}
	}
	insts, err := c.WaitRunning(t.Context(), []string{"i-1", "i-2"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 || len(insts) != 2 || insts[0].State != "running" || insts[0].PrivateIP != "10.0.0.1" {
		t.Fatalf("after %d polls got %+v", n, insts)
	}
}

// An instance that dies while starting fails the wait with its reason.
func TestWaitRunningFailsOnTermination(t *testing.T) {
	f, c := newFake(t)
	f.handlers["DescribeInstances"] = func(url.Values) (int, string) {
		return 200, describeXML(fakeInstance{"i-1", "terminated", "", "Server.InsufficientInstanceCapacity"})
	}
	_, err := c.WaitRunning(t.Context(), []string{"i-1"})
	if err == nil || !strings.Contains(err.Error(), "i-1=terminated (Server.InsufficientInstanceCapacity)") {
		t.Fatalf("err = %v", err)
	}
}

// The wait gives up at the context deadline (the framework timeout).
func TestWaitRunningHonoursTimeout(t *testing.T) {
	f, c := newFake(t)
	f.handlers["DescribeInstances"] = func(url.Values) (int, string) {
		return 200, describeXML(fakeInstance{"i-1", "pending", "10.0.0.1", ""})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.WaitRunning(ctx, []string{"i-1"})
	if err == nil || !strings.Contains(err.Error(), "i-1=pending") {
		t.Fatalf("err = %v, want a timeout naming the pending instance", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("wait took %s past a 200ms deadline", d)
	}
}

// Terminating instances that are already gone is success; the terminated
// waiter treats unknown IDs as terminated.
func TestTerminateToleratesNotFound(t *testing.T) {
	f, c := newFake(t)
	f.handlers["TerminateInstances"] = func(form url.Values) (int, string) {
		if form.Get("InstanceId.2") != "" || form.Get("InstanceId.1") == "i-gone" {
			return ec2Error(400, "InvalidInstanceID.NotFound", "The instance ID 'i-gone' does not exist")
		}
		return 200, `<TerminateInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><instancesSet><item><instanceId>i-1</instanceId><currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>16</code><name>running</name></previousState></item></instancesSet></TerminateInstancesResponse>`
	}
	if err := c.Terminate(t.Context(), []string{"i-1", "i-gone"}); err != nil {
		t.Fatal(err)
	}
	if got := len(f.calls("TerminateInstances")); got != 3 {
		t.Fatalf("%d TerminateInstances calls, want 3 (batch, then one by one)", got)
	}
	f.handlers["DescribeInstances"] = func(url.Values) (int, string) {
		return ec2Error(400, "InvalidInstanceID.NotFound", "gone")
	}
	if err := c.WaitTerminated(t.Context(), []string{"i-gone"}); err != nil {
		t.Fatalf("WaitTerminated on an unknown ID: %v", err)
	}
}

// The security group delete is retried while ENIs of terminated instances
// still hold it (DependencyViolation); other errors stop at once.
func TestDeleteSecurityGroupRetriesDependencyViolation(t *testing.T) {
	f, c := newFake(t)
	n := 0
	f.handlers["DeleteSecurityGroup"] = func(url.Values) (int, string) {
		n++
		if n <= 3 {
			return ec2Error(400, "DependencyViolation", "resource sg-1 has a dependent object")
		}
		return 200, `<DeleteSecurityGroupResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><return>true</return></DeleteSecurityGroupResponse>`
	}
	if err := c.deleteSecurityGroup(t.Context(), "sg-1"); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("%d attempts, want 4", n)
	}
	f.handlers["DeleteSecurityGroup"] = func(url.Values) (int, string) {
		return ec2Error(400, "UnauthorizedOperation", "You are not authorized")
	}
	n = 0
	err := c.deleteSecurityGroup(t.Context(), "sg-1")
	if err == nil || !strings.Contains(err.Error(), "UnauthorizedOperation") || len(f.calls("DeleteSecurityGroup")) > 6 {
		t.Fatalf("err = %v after %d calls, want an immediate UnauthorizedOperation", err, len(f.calls("DeleteSecurityGroup")))
	}
}

// createFake scripts every call Create makes: nothing tagged yet, a subnet,
// an AMI, the security group, SSM, and RunInstances that starts the head and
// the workers; DescribeInstances by ID reports i-w2 as failed.
func createFake(t *testing.T) (*fakeEC2, *Client, *int) {
	f, c := newFake(t)
	const ns = `xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"`
	ok := func(action string) func(url.Values) (int, string) {
		return func(url.Values) (int, string) {
			return 200, "<" + action + "Response " + ns + "><requestId>r</requestId><return>true</return></" + action + "Response>"
		}
	}
	describes := 0
	f.handlers["DescribeInstances"] = func(form url.Values) (int, string) {
		if form.Get("Filter.1.Name") != "" { // FindInstances: nothing tagged yet
			return 200, `<DescribeInstancesResponse ` + ns + `><requestId>r</requestId><reservationSet/></DescribeInstancesResponse>`
		}
		describes++
		return 200, describeXML(fakeInstance{"i-head", "running", "10.0.0.1", ""}, fakeInstance{"i-w1", "pending", "10.0.0.2", ""},
			fakeInstance{"i-w2", "terminated", "", "Server.InsufficientInstanceCapacity"}, fakeInstance{"i-w3", "pending", "10.0.0.4", ""})
	}
	f.handlers["DescribeSubnets"] = func(url.Values) (int, string) {
		return 200, `<DescribeSubnetsResponse ` + ns + `><requestId>r</requestId><subnetSet><item><subnetId>subnet-12345678</subnetId><vpcId>vpc-1</vpcId></item></subnetSet></DescribeSubnetsResponse>`
	}
	f.handlers["DescribeImages"] = func(url.Values) (int, string) {
		return 200, `<DescribeImagesResponse ` + ns + `><requestId>r</requestId><imagesSet><item><imageId>ami-12345678</imageId><rootDeviceName>/dev/sda1</rootDeviceName></item></imagesSet></DescribeImagesResponse>`
	}
	f.handlers["PutParameter"] = func(url.Values) (int, string) { return 200, `{"Version":1,"Tier":"Standard"}` }
	f.handlers["DescribeSecurityGroups"] = func(form url.Values) (int, string) {
		if form.Get("GroupId.1") == "" {
			return 200, `<DescribeSecurityGroupsResponse ` + ns + `><requestId>r</requestId><securityGroupInfo/></DescribeSecurityGroupsResponse>`
		}
		return 200, `<DescribeSecurityGroupsResponse ` + ns + `><requestId>r</requestId><securityGroupInfo><item><groupId>sg-1</groupId><ipPermissions/></item></securityGroupInfo></DescribeSecurityGroupsResponse>`
	}
	f.handlers["CreateSecurityGroup"] = func(url.Values) (int, string) {
		return 200, `<CreateSecurityGroupResponse ` + ns + `><requestId>r</requestId><return>true</return><groupId>sg-1</groupId></CreateSecurityGroupResponse>`
	}
	f.handlers["AuthorizeSecurityGroupIngress"] = ok("AuthorizeSecurityGroupIngress")
	f.handlers["RunInstances"] = func(form url.Values) (int, string) {
		for k, v := range form {
			if strings.HasPrefix(k, "TagSpecification.1.Tag.") && strings.HasSuffix(k, ".Value") && v[0] == "head" {
				return 200, runXML(fakeInstance{"i-head", "pending", "10.0.0.1", ""})
			}
		}
		return 200, runXML(fakeInstance{"i-w1", "pending", "10.0.0.2", ""}, fakeInstance{"i-w2", "pending", "10.0.0.3", ""}, fakeInstance{"i-w3", "pending", "10.0.0.4", ""})
	}
	return f, c, &describes
}

// Create writes every instance ID into state (save) before it waits, so a
// launch that fails while starting leaves tainted state, not orphans.
func TestCreateSavesIDsBeforeWaiting(t *testing.T) {
	f, c, describes := createFake(t)
	var saved []string
	_, err := c.Create(t.Context(), testSpec(), "tok", func(cl *Cluster) { saved = cl.InstanceIDs() })
	if err == nil || !strings.Contains(err.Error(), "i-w2=terminated (Server.InsufficientInstanceCapacity)") {
		t.Fatalf("err = %v, want the failed wait naming i-w2", err)
	}
	if strings.Join(saved, ",") != "i-head,i-w1,i-w2,i-w3" {
		t.Fatalf("saved %v before the wait failed, want every launched instance", saved)
	}
	if *describes == 0 {
		t.Fatal("Create never waited")
	}
	if runs := f.calls("RunInstances"); len(runs) != 2 || runs[1].Get("MinCount") != "3" || runs[1].Get("MaxCount") != "3" {
		t.Fatalf("want one RunInstances for the head and one for the group with MinCount = MaxCount = 3, got %d calls", len(runs))
	}
	for _, r := range f.calls("RunInstances") {
		ud, err := base64.StdEncoding.DecodeString(r.Get("UserData"))
		if err != nil || !strings.Contains(string(ud), "RAYVLLM_RAY_TOKEN_PARAMETER='/rayvllm/c1/ray-auth-token'") || strings.Contains(string(ud), "tok'") {
			t.Fatalf("user data undecodable, without the token parameter, or carrying the token: %v", err)
		}
	}
}

// A group of zero workers launches nothing (RunInstances refuses MinCount 0).
func TestCreateSkipsEmptyGroups(t *testing.T) {
	f, c, _ := createFake(t)
	f.handlers["DescribeInstances"] = func(form url.Values) (int, string) {
		if form.Get("Filter.1.Name") != "" {
			return 200, `<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet/></DescribeInstancesResponse>`
		}
		return 200, describeXML(fakeInstance{"i-head", "running", "10.0.0.1", ""})
	}
	spec := testSpec()
	spec.Groups[0].Count = 0
	cl, err := c.Create(t.Context(), spec, "tok", func(*Cluster) {})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.calls("RunInstances")); n != 1 || cl.Head == nil || len(cl.InstanceIDs()) != 1 {
		t.Fatalf("%d RunInstances calls, instances %v; want only the head", n, cl.InstanceIDs())
	}
}

// A just-created instance profile is invisible to EC2 for a while; the
// launch retries that error with the same ClientToken.
func TestRunRetriesUnknownInstanceProfile(t *testing.T) {
	f, c := newFake(t)
	n := 0
	f.handlers["RunInstances"] = func(url.Values) (int, string) {
		n++
		if n <= 2 {
			return ec2Error(400, "InvalidParameterValue", "Value (p) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
		}
		return 200, runXML(fakeInstance{"i-1", "pending", "10.0.0.1", ""})
	}
	insts, err := c.run(t.Context(), testSpec(), "sg-1", "/dev/sda1", launch{role: RoleHead, node: testSpec().Head, count: 1})
	if err != nil || len(insts) != 1 {
		t.Fatalf("insts %v, err %v", insts, err)
	}
	calls := f.calls("RunInstances")
	if len(calls) != 3 || calls[0].Get("ClientToken") != calls[2].Get("ClientToken") || calls[0].Get("IamInstanceProfile.Name") != "p" {
		t.Fatalf("%d calls; want 3 with one ClientToken and the profile name", len(calls))
	}
	f.handlers["RunInstances"] = func(url.Values) (int, string) {
		return ec2Error(400, "InvalidParameterValue", "Invalid value 'x' for instanceType")
	}
	if _, err := c.run(t.Context(), testSpec(), "sg-1", "/dev/sda1", launch{role: RoleHead, node: testSpec().Head, count: 1}); err == nil || len(f.calls("RunInstances")) != 4 {
		t.Fatalf("other InvalidParameterValue errors must not be retried: err %v", err)
	}
}
