package ec2cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

type logLine struct {
	msg    string
	fields map[string]any
}

type logCapture struct {
	mu    sync.Mutex
	lines []logLine
}

func (l *logCapture) log(_ context.Context, msg string, fields map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, logLine{msg, fields})
}

func (l *logCapture) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s strings.Builder
	for _, ln := range l.lines {
		f, _ := json.Marshal(ln.fields)
		fmt.Fprintf(&s, "%s %s\n", ln.msg, f)
	}
	return s.String()
}

func (l *logCapture) op(t *testing.T, op string) logLine {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.lines {
		if ln.fields["aws.operation"] == op {
			return ln
		}
	}
	t.Fatalf("no log line for %s", op)
	return logLine{}
}

// One DEBUG line per call: a throttled DescribeInstances shows the attempts
// the retryer made and the last request id; a failed call shows the AWS
// error code.
func TestCallLogRetriesAndErrors(t *testing.T) {
	logs := &logCapture{}
	f, c := newFakeWith(t, func(s *Settings) { s.Log = logs.log })
	n := 0
	f.handlers["DescribeInstances"] = func(url.Values) (int, string) {
		n++
		if n <= 2 {
			return ec2Error(503, "RequestLimitExceeded", "Request limit exceeded.")
		}
		return 200, describeXML(fakeInstance{"i-1", "running", "10.0.0.1", ""})
	}
	f.handlers["TerminateInstances"] = func(url.Values) (int, string) {
		return ec2Error(400, "UnauthorizedOperation", "You are not authorized to perform this operation.")
	}
	if _, err := c.FindInstances(t.Context(), "c1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.EC2.TerminateInstances(t.Context(), &ec2.TerminateInstancesInput{InstanceIds: []string{"i-1"}})
	if ErrorCode(err) != "UnauthorizedOperation" {
		t.Fatalf("err = %v", err)
	}

	d := logs.op(t, "DescribeInstances")
	if d.msg != "AWS API call" || d.fields["aws.service"] != "EC2" || d.fields["aws.attempts"] != 3 || d.fields["aws.retry_count"] != 2 ||
		d.fields["aws.request_id"] != "fake-req-3" || d.fields["aws.http_status"] != 200 || d.fields["aws.region"] != "us-east-1" {
		t.Errorf("DescribeInstances line: %s %v", d.msg, d.fields)
	}
	if _, ok := d.fields["aws.latency_ms"].(int64); !ok {
		t.Errorf("no latency: %v", d.fields)
	}
	if !strings.Contains(d.fields["aws.response"].(string), `"InstanceId":"i-1"`) || !strings.Contains(d.fields["aws.request"].(string), "rayvllm:cluster") {
		t.Errorf("request/response not shown: %v", d.fields)
	}
	term := logs.op(t, "TerminateInstances")
	if term.msg != "AWS API call failed" || term.fields["aws.error_code"] != "UnauthorizedOperation" || term.fields["aws.http_status"] != 400 ||
		term.fields["aws.attempts"] != 1 || term.fields["aws.request_id"] != "fake-req-4" {
		t.Errorf("TerminateInstances line: %s %v", term.msg, term.fields)
	}
}

// User data and SSM parameter values (the Ray token) never reach the log,
// neither from the request nor from the response; EC2 tag values do.
func TestCallLogRedactsSecrets(t *testing.T) {
	const userData, token = "#!/bin/bash\necho USERDATA-SECRET", "ray-token-SECRET-0123456789"
	logs := &logCapture{}
	f, c := newFakeWith(t, func(s *Settings) { s.Log = logs.log })
	f.handlers["RunInstances"] = func(url.Values) (int, string) {
		return 200, runXML(fakeInstance{"i-9", "pending", "10.0.0.9", ""})
	}
	f.handlers["DescribeInstanceAttribute"] = func(url.Values) (int, string) {
		return 200, `<DescribeInstanceAttributeResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><instanceId>i-9</instanceId><userData><value>` +
			"VVNFUkRBVEEtU0VDUkVU" + `</value></userData></DescribeInstanceAttributeResponse>`
	}
	f.handlers["PutParameter"] = func(url.Values) (int, string) { return 200, `{"Version":1,"Tier":"Standard"}` }
	f.handlers["GetParameter"] = func(url.Values) (int, string) {
		return 200, `{"Parameter":{"Name":"/rayvllm/c1/ray-auth-token","Type":"SecureString","Value":"` + token + `","Version":1}}`
	}
	_, err := c.EC2.RunInstances(t.Context(), &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), UserData: aws.String(userData),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: aws.String("rayvllm:cluster"), Value: aws.String("c1-visible")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EC2.DescribeInstanceAttribute(t.Context(), &ec2.DescribeInstanceAttributeInput{InstanceId: aws.String("i-9"), Attribute: ec2types.InstanceAttributeNameUserData}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutToken(t.Context(), "/rayvllm/c1/ray-auth-token", token, map[string]string{TagCluster: "c1"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetToken(t.Context(), "/rayvllm/c1/ray-auth-token")
	if err != nil || got != token {
		t.Fatalf("GetToken = %q, %v", got, err)
	}
	all := logs.all()
	for _, secret := range []string{"USERDATA-SECRET", "VVNFUkRBVEEtU0VDUkVU", token} {
		if strings.Contains(all, secret) {
			t.Errorf("the log holds %q:\n%s", secret, all)
		}
	}
	for _, op := range []string{"RunInstances", "DescribeInstanceAttribute", "PutParameter", "GetParameter"} {
		if !strings.Contains(fmt.Sprint(logs.op(t, op).fields), redacted) {
			t.Errorf("%s: nothing marked %s: %v", op, redacted, logs.op(t, op).fields)
		}
	}
	if !strings.Contains(all, "c1-visible") || !strings.Contains(all, "/rayvllm/c1/ray-auth-token") {
		t.Errorf("what is not secret should show (tag value, parameter name):\n%s", all)
	}
}

// Without a LogFunc nothing is added to the stack.
func TestWithCallLogNil(t *testing.T) {
	cfg := aws.Config{}
	if got := WithCallLog(cfg, nil); len(got.APIOptions) != 0 {
		t.Fatalf("APIOptions = %d", len(got.APIOptions))
	}
}
