package ec2cluster

import (
	"encoding/json"
	"strings"
	"testing"
)

// The head's policy lets Ray's autoscaler launch, tag and terminate only
// instances that carry the cluster's tag, pass only the nodes' role, and
// fits IAM's inline policy limit.
func TestHeadPolicy(t *testing.T) {
	spec := autoscaledSpec()
	raw, err := HeadPolicy(spec, "sg-0123456789abcdef0", "arn:aws:iam::123456789012:role/rayvllm-node")
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > 10240 {
		t.Errorf("policy is %d characters, over IAM's 10240 for an inline role policy", len(raw))
	}
	var doc struct {
		Statement []struct {
			Sid       string
			Action    []string
			Resource  any
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	byAction := map[string][]int{}
	for i, s := range doc.Statement {
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s grants the wildcard action %s", s.Sid, a)
			}
			byAction[a] = append(byAction[a], i)
		}
	}
	for _, i := range byAction["ec2:TerminateInstances"] {
		if doc.Statement[i].Condition["StringEquals"]["ec2:ResourceTag/"+TagCluster] != "c1" {
			t.Errorf("TerminateInstances without the cluster tag condition: %+v", doc.Statement[i])
		}
	}
	launchesTagged := false
	for _, i := range byAction["ec2:RunInstances"] {
		s := doc.Statement[i]
		res, _ := json.Marshal(s.Resource)
		if strings.HasSuffix(string(res), `:instance/*"`) {
			c := s.Condition["StringEquals"]
			launchesTagged = c["aws:RequestTag/"+TagCluster] == "c1"
			if types, _ := json.Marshal(c["ec2:InstanceType"]); string(types) != `["g5.xlarge","g6.xlarge"]` {
				t.Errorf("RunInstances on instance types %s, want the autoscaled groups' [g5.xlarge g6.xlarge]", types)
			}
			if c["ec2:MetadataHttpTokens"] != "required" {
				t.Errorf("RunInstances without IMDSv2 required: %+v", s)
			}
		}
		if strings.HasSuffix(string(res), `:volume/*"`) && s.Condition["Bool"]["ec2:Encrypted"] != "true" {
			t.Errorf("RunInstances of unencrypted volumes: %+v", s)
		}
		if strings.Contains(string(res), ":image/") && string(res) != `["arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0"]` {
			t.Errorf("RunInstances from images %s, want the cluster's one AMI", res)
		}
		if strings.Contains(string(res), "subnet/") && !strings.Contains(string(res), "subnet/"+spec.SubnetID+`"`) {
			t.Errorf("RunInstances in other subnets: %s", res)
		}
	}
	if !launchesTagged {
		t.Error("RunInstances on instances is not conditioned on the cluster tag at launch")
	}
	for _, i := range byAction["ec2:CreateTags"] {
		c := doc.Statement[i].Condition["StringEquals"]
		if c["ec2:CreateAction"] != "RunInstances" && c["ec2:ResourceTag/"+TagCluster] != "c1" {
			t.Errorf("CreateTags on instances that are neither being launched nor the cluster's: %+v", doc.Statement[i])
		}
		// After launch only Ray's tags: the cluster tag cannot be changed.
		if c["ec2:CreateAction"] == nil {
			if keys, _ := json.Marshal(doc.Statement[i].Condition["ForAllValues:StringLike"]["aws:TagKeys"]); string(keys) != `["ray-*"]` {
				t.Errorf("CreateTags on the cluster's instances with tag keys %s, want only Ray's [ray-*]", keys)
			}
		}
	}
	if p := byAction["iam:PassRole"]; len(p) != 1 || doc.Statement[p[0]].Resource != "arn:aws:iam::123456789012:role/rayvllm-node" {
		t.Errorf("PassRole statements %v, want one on the nodes' role", p)
	}
	if got := partition("cn-north-1") + partition("us-gov-west-1") + partition("eu-west-1"); got != "aws-cnaws-us-govaws" {
		t.Errorf("partitions %s", got)
	}
}
