package ec2cluster

import (
	"net/url"
	"strings"
	"testing"
)

// InsufficientInstanceCapacity in the first subnet's AZ moves the launch to
// the next subnet, as a new request; an error that is not about the AZ does
// not.
func TestRunMovesToNextAZOnCapacity(t *testing.T) {
	f, c := newFake(t)
	f.handlers["RunInstances"] = func(form url.Values) (int, string) {
		if form.Get("SubnetId") == "subnet-aaaa" {
			return ec2Error(500, "InsufficientInstanceCapacity", "We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested (us-east-1a).")
		}
		return 200, runXML(fakeInstance{"i-1", "pending", "10.0.1.1", ""})
	}
	spec := testSpec()
	spec.SubnetID, spec.SubnetIDs = "subnet-aaaa", []string{"subnet-bbbb", "subnet-cccc"}
	l := launch{role: RoleWorker, group: "g", node: spec.Groups[0].NodeSpec, count: 1}
	insts, err := c.run(t.Context(), spec, "sg-1", "/dev/sda1", l)
	if err != nil || len(insts) != 1 {
		t.Fatalf("insts %v, err %v", insts, err)
	}
	var subnets []string
	for _, r := range f.calls("RunInstances") {
		subnets = append(subnets, r.Get("SubnetId"))
	}
	calls := f.calls("RunInstances")
	if subnets[0] != "subnet-aaaa" || subnets[len(subnets)-1] != "subnet-bbbb" || calls[0].Get("ClientToken") == calls[len(calls)-1].Get("ClientToken") {
		t.Fatalf("launched in subnets %v, want subnet-aaaa then subnet-bbbb with a new ClientToken", subnets)
	}

	f.handlers["RunInstances"] = func(url.Values) (int, string) {
		return ec2Error(400, "InvalidParameterValue", "Invalid value 'x' for instanceType")
	}
	before := len(f.calls("RunInstances"))
	if _, err := c.run(t.Context(), spec, "sg-1", "/dev/sda1", l); err == nil || len(f.calls("RunInstances")) != before+1 {
		t.Fatalf("a non-capacity error moved to another subnet: %v", err)
	}
	f.handlers["RunInstances"] = func(url.Values) (int, string) {
		return ec2Error(500, "InsufficientInstanceCapacity", "no capacity")
	}
	_, err = c.run(t.Context(), spec, "sg-1", "/dev/sda1", l)
	if err == nil || !strings.Contains(err.Error(), "subnet-aaaa") || !strings.Contains(err.Error(), "subnet-cccc") {
		t.Fatalf("no capacity anywhere: %v, want an error naming every subnet tried", err)
	}
}
