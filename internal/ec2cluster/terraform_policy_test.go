package ec2cluster

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	sdkCall   = regexp.MustCompile(`\bc\.(EC2|SSM|IAM)\.([A-Z]\w+)\(`)
	sdkPager  = regexp.MustCompile(`\b(ec2|ssm|iam)\.New(\w+)Paginator\(c\.`)
	sdkWaiter = regexp.MustCompile(`\bec2\.NewInstance\w+Waiter\(c\.EC2`)
)

// impliedActions are what a call needs beyond its own action, because of an
// input field this package sets (the field must appear in the source).
var impliedActions = []struct{ call, field, action, source string }{
	{"ec2:RunInstances", "TagSpecifications", "ec2:CreateTags", "EC2 User Guide, Grant permission to tag resources during creation"},
	{"ec2:CreateSecurityGroup", "TagSpecifications", "ec2:CreateTags", "EC2 User Guide, Grant permission to tag resources during creation"},
	{"ec2:RunInstances", "IamInstanceProfile", "iam:PassRole", "IAM User Guide, Using an IAM role to grant permissions to applications on EC2"},
	{"iam:CreateRole", "Tags: tags", "iam:TagRole", "IAM API Reference, CreateRole: Tags"},
	{"iam:CreateInstanceProfile", "Tags: tags", "iam:TagInstanceProfile", "IAM API Reference, CreateInstanceProfile: Tags"},
	{"ssm:PutParameter", "Tags:", "ssm:AddTagsToResource", "Systems Manager API Reference, PutParameter: Tags"},
}

// calledActions scans this package's sources for the AWS calls it makes, as
// IAM actions, with the implied ones.
func calledActions(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	called := map[string]string{} // action -> file
	var all strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		all.WriteString(src)
		for _, m := range sdkCall.FindAllStringSubmatch(src, -1) {
			called[strings.ToLower(m[1])+":"+m[2]] = f
		}
		for _, m := range sdkPager.FindAllStringSubmatch(src, -1) {
			called[m[1]+":"+m[2]] = f
		}
		if sdkWaiter.MatchString(src) {
			called["ec2:DescribeInstances"] = f
		}
	}
	for _, im := range impliedActions {
		if _, ok := called[im.call]; ok && strings.Contains(all.String(), im.field) {
			called[im.action] = "implied by " + im.call + " (" + im.source + ")"
		}
	}
	return called
}

// policyResources maps each action of a policy to its resource patterns.
func policyResources(t *testing.T, policy string) map[string][]string {
	t.Helper()
	var doc struct{ Statement []policyStatement }
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			out[a] = append(out[a], s.resources()...)
		}
	}
	return out
}

func globMatches(pattern, arn string) bool {
	return regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$").MatchString(arn)
}

// coverageProblems: a called action the policy lacks, a granted action
// nothing calls, or a cluster-named resource outside the action's patterns.
func coverageProblems(called map[string]string, granted map[string][]string) []string {
	var problems []string
	for a, where := range called {
		if _, ok := granted[a]; !ok {
			problems = append(problems, a+" ("+where+") is not granted")
		}
	}
	for a := range granted {
		if _, ok := called[a]; !ok {
			problems = append(problems, a+" is granted but nothing calls it")
		}
	}
	const cluster = "team-a"
	named := map[string]string{
		"iam:CreateRole":              "arn:aws:iam::123456789012:role/" + HeadRoleName(cluster),
		"iam:CreateInstanceProfile":   "arn:aws:iam::123456789012:instance-profile/" + HeadRoleName(cluster),
		"iam:CreateServiceLinkedRole": "arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/" + SpotServiceLinkedRole,
		"ssm:PutParameter":            "arn:aws:ssm:us-east-1:123456789012:parameter" + TokenParameterName(cluster),
	}
	for a, arn := range named {
		if !slices.ContainsFunc(granted[a], func(p string) bool { return globMatches(p, arn) }) {
			problems = append(problems, a+" does not cover "+arn)
		}
	}
	slices.Sort(problems)
	return problems
}

// The Terraform identity's policy grants exactly what this package calls
// (and what those calls imply), on the resources it names, and is valid
// against AWS's Service Authorization data.
func TestTerraformPolicyCoversEveryCall(t *testing.T) {
	called := calledActions(t)
	for _, want := range []string{"ec2:RunInstances", "iam:CreateRole", "ssm:PutParameter", "ec2:DescribeInstances", "iam:ListRoles", "iam:TagRole"} {
		if _, ok := called[want]; !ok {
			t.Fatalf("the source scan misses %s: %v", want, called)
		}
	}
	for _, p := range coverageProblems(called, policyResources(t, TerraformPolicy)) {
		t.Error(p)
	}
	for _, p := range authorizationProblems(loadServiceAuthorization(t), TerraformPolicy, true) {
		t.Error(p)
	}

	// The check refuses the mistakes it is for.
	for name, m := range map[string]struct{ from, to, want string }{
		"tag at create missing": {`"iam:TagRole",`, ``, "iam:TagRole (implied by iam:CreateRole"},
		"excess action":         {`"ec2:DescribeVolumes",`, `"ec2:DescribeVolumes", "ec2:DescribeVpcs",`, "ec2:DescribeVpcs is granted but nothing calls it"},
		"role name outside":     {`"Resource": "arn:aws:iam::*:role/rayvllm-*"`, `"Resource": "arn:aws:iam::*:role/ray-*"`, "iam:CreateRole does not cover"},
	} {
		bad := strings.Replace(TerraformPolicy, m.from, m.to, 1)
		if bad == TerraformPolicy {
			t.Fatalf("%s: %s is not in the policy", name, m.from)
		}
		if got := strings.Join(coverageProblems(called, policyResources(t, bad)), "\n"); !strings.Contains(got, m.want) {
			t.Errorf("%s: the check found %q, want %q", name, got, m.want)
		}
	}
}
