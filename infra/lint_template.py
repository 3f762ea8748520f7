#!/usr/bin/env python3
"""Transform-then-lint for the SAM template, fully offline.

Plain `cfn-lint template.yaml` validates SAM resources against schemas and misses a bad `!Ref`
inside `Globals` or inside a SAM policy template (tooling.md 3.2). Here the SAM translator expands
the template to plain CloudFormation first (Globals merged into every function, policy templates
expanded into IAM statements), then cfn-lint checks the result, which catches those Refs.

It then checks least privilege on the result (issue 11, item 7): each function's role reads
exactly the secrets that function uses (src/app/role.rs), and grants exactly the DynamoDB actions
on the item types (partition keys, `dynamodb:LeadingKeys`) it touches, nothing unconditioned;
and each function's reserved concurrency is a template parameter; graph-webhook's memory (its
CPU share) is one too, by default at least MIN_DEFAULT_MEMORY_MB.

Usage: lint_template.py [TEMPLATE]   (default: template.yaml next to this folder)
Exit code: 0 clean, 1 findings or a translator error, 2 bad usage.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The translator asks boto3 for the region to fill AWS::Region; no credentials are needed.
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")

from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

PLACEHOLDER_CODE = "s3://placeholder-bucket/presence-bridge.zip"

READ = ("GetItem", "BatchGetItem", "Query")
# Per function: the secret parameters it may read, and its DynamoDB grants as
# {(action, "table" | "due" index): partition keys}. Keys: src/store/dynamodb/items.rs. That the
# code needs no more than this is shown by the tests: their moto applies each function's
# statements to its requests (scripts/iam_check.py); this table keeps the grants from growing
# past what the code needs.
ALL_ITEM_TYPES = {"USERS", "SUBSCRIPTIONS", "ACCOUNTS", "LIFECYCLE", "LINKMARKS", "SWITCHES",
                  "SWYX#*", "STATE#*", "PENDING#*", "SPEAKING#*", "CLAIM#*"}
LEAST_PRIVILEGE = {
    "GraphWebhookFunction": {
        "secrets": {"EncryptionKeySecretArn", "ConnectorSigningSecretArn"},
        "dynamodb": {
            **{(a, "table"): {"SUBSCRIPTIONS", "USERS", "ACCOUNTS", "SWITCHES", "STATE#*",
                              "PENDING#*", "SPEAKING#*"} for a in READ},
            ("PutItem", "table"): {"ACCOUNTS", "LIFECYCLE", "STATE#*", "PENDING#*"},
            ("DeleteItem", "table"): {"PENDING#*"},
        },
    },
    "SwyxWebhookFunction": {
        "secrets": {"GraphClientSecretArn", "ConnectorEventSecretArns"},
        "dynamodb": {
            **{(a, "table"): {"SWITCHES", "SWYX#*", "SPEAKING#*", "CLAIM#*"}
               for a in ("GetItem", "BatchGetItem")},
            ("PutItem", "table"): {"SPEAKING#*", "CLAIM#*"},
            ("DeleteItem", "table"): {"CLAIM#*"},
        },
    },
    "MaintenanceFunction": {
        "secrets": {"ConnectorSigningSecretArn", "GraphClientSecretArn", "TokenKeySecretArn"},
        "dynamodb": {
            **{(a, "table"): ALL_ITEM_TYPES for a in READ},
            ("PutItem", "table"): ALL_ITEM_TYPES - {"LIFECYCLE", "SWITCHES"},
            ("DeleteItem", "table"): ALL_ITEM_TYPES - {"ACCOUNTS", "SWITCHES", "SPEAKING#*"},
            ("Query", "due"): {"PENDING", "SPEAKING"},
        },
    },
}


class StubPolicyLoader:
    """Managed policy names resolve to nothing: the template uses inline statements only, and
    the real loader would call IAM."""

    def load(self):
        return {}


def translate(text):
    template = yaml_parse(text)
    for resource in template.get("Resources", {}).values():
        # `sam build` replaces the local CodeUri with the uploaded artifact; the translator
        # accepts only an S3 location.
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = PLACEHOLDER_CODE
    return transform(template, {}, StubPolicyLoader())


def as_list(value):
    return value if isinstance(value, list) else [value]


def resource_kind(resource):
    """"table" or "due" for the table and its index; what else the resource is, otherwise."""
    if resource == {"Fn::GetAtt": ["Table", "Arn"]}:
        return "table"
    if resource == {"Fn::Sub": "${Table.Arn}/index/due"}:
        return "due"
    return json.dumps(resource)


def grants_of(cfn, function):
    """The secrets (parameter names) and DynamoDB grants of `function`'s role, plus problems
    that no expectation can excuse (unconditioned or wildcard grants)."""
    resources = cfn["Resources"]
    role = resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    secrets, dynamodb, problems = set(), {}, []
    for policy in resources[role]["Properties"].get("Policies", []):
        for st in as_list(policy["PolicyDocument"]["Statement"]):
            actions = as_list(st.get("Action", []))
            for action in actions:
                service, _, name = action.partition(":")
                if "*" in action:
                    problems.append(f"{function}: wildcard action {action}")
                elif action == "secretsmanager:BatchGetSecretValue":
                    # Takes no resource but "*" and returns only what GetSecretValue allows.
                    continue
                elif service == "secretsmanager":
                    for r in as_list(st["Resource"]):
                        secrets.add(r.get("Ref", json.dumps(r)) if isinstance(r, dict) else r)
                elif service == "dynamodb":
                    keys = (st.get("Condition", {}).get("ForAllValues:StringLike", {})
                            .get("dynamodb:LeadingKeys"))
                    if not keys:
                        problems.append(f"{function}: {action} without a dynamodb:LeadingKeys condition")
                        continue
                    for r in as_list(st["Resource"]):
                        dynamodb.setdefault((name, resource_kind(r)), set()).update(as_list(keys))
    return secrets, dynamodb, problems


def least_privilege(cfn):
    """Findings, one line each: what a role grants beyond or short of LEAST_PRIVILEGE, and a
    function whose reserved concurrency is not a parameter."""
    findings = []
    for function, want in LEAST_PRIVILEGE.items():
        if function not in cfn["Resources"]:
            findings.append(f"{function}: missing")
            continue
        secrets, dynamodb, problems = grants_of(cfn, function)
        findings += problems
        for extra in sorted(secrets - want["secrets"]):
            findings.append(f"{function}: may read secret {extra}, which it does not use")
        for missing in sorted(want["secrets"] - secrets):
            findings.append(f"{function}: cannot read secret {missing}, which it uses")
        for grant in sorted(set(dynamodb) | set(want["dynamodb"])):
            have, need = dynamodb.get(grant, set()), want["dynamodb"].get(grant, set())
            if have != need:
                findings.append(
                    f"{function}: dynamodb:{grant[0]} on {grant[1]} for {sorted(have)}, "
                    f"expected {sorted(need)}"
                )
        concurrency = cfn["Resources"][function]["Properties"].get("ReservedConcurrentExecutions")
        if not (isinstance(concurrency, dict) and concurrency.get("Ref") in cfn["Parameters"]):
            findings.append(f"{function}: ReservedConcurrentExecutions is not a template parameter")
    return findings


# The smallest default memory (MB) of a function by its CPU-bound work: Lambda gives CPU in
# proportion to memory, and graph-webhook unwraps one RSA key per notification item (a 1,000-item
# collection takes 3.2 s of a 128 MB function's share, past Graph's 3 s; infra/cpu_share.sh).
MIN_DEFAULT_MEMORY_MB = {"GraphWebhookFunction": 512}


def cpu_share_findings(cfn):
    """Findings for a function whose memory (and so CPU share) is fixed or too small by default."""
    findings = []
    for function, least in MIN_DEFAULT_MEMORY_MB.items():
        memory = cfn["Resources"].get(function, {}).get("Properties", {}).get("MemorySize")
        ref = memory.get("Ref") if isinstance(memory, dict) else None
        if ref not in cfn.get("Parameters", {}):
            findings.append(f"{function}: MemorySize is not a template parameter")
            continue
        default = cfn["Parameters"][ref].get("Default")
        if not isinstance(default, (int, float, str)) or float(default) < least:
            findings.append(f"{function}: MemorySize default {default} MB is under {least} MB "
                            "(its CPU share, see MIN_DEFAULT_MEMORY_MB)")
    return findings


def cfn_lint():
    """cfn-lint of the same venv as this interpreter, else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    found = beside if os.access(beside, os.X_OK) else shutil.which("cfn-lint")
    if not found:
        sys.exit("cfn-lint not found: pip install -r scripts/requirements-test.txt")
    return found


def dashboard_findings(cfn):
    """A dashboard body is a JSON string that CloudFormation passes on unread (cfn-lint does not
    parse it either): after substitution (any `${...}` stands for a plain word) it must be JSON."""
    findings = []
    for name, resource in cfn.get("Resources", {}).items():
        if resource.get("Type") != "AWS::CloudWatch::Dashboard":
            continue
        body = resource.get("Properties", {}).get("DashboardBody")
        if isinstance(body, dict) and "Fn::Sub" in body:
            body = body["Fn::Sub"]
        if not isinstance(body, str):
            findings.append(f"{name}: DashboardBody is not a string or a !Sub of one")
            continue
        try:
            json.loads(re.sub(r"\$\{[^}]+\}", "x", body))
        except json.JSONDecodeError as e:
            findings.append(f"{name}: DashboardBody is not JSON: {e}")
    return findings


def lint(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        cfn = translate(text)
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{path}: SAM translator: {cause.message}")
        return 1
    body_findings = dashboard_findings(cfn)
    for finding in body_findings:
        print(f"{path}: {finding}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "transformed.json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(cfn, f, indent=1)
        result = subprocess.run([cfn_lint(), "--", out], capture_output=True, text=True)
    findings = (result.stdout + result.stderr).replace(out, f"{path} (transformed)")
    if findings.strip():
        print(findings.rstrip())
    privilege = least_privilege(cfn)
    for finding in privilege:
        print(f"{path}: least privilege: {finding}")
    cpu = cpu_share_findings(cfn)
    for finding in cpu:
        print(f"{path}: CPU share: {finding}")
    clean = result.returncode == 0 and not body_findings and not privilege and not cpu
    return 0 if clean else 1


def main(argv):
    if len(argv) > 2:
        print(__doc__)
        return 2
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "template.yaml")
    path = argv[1] if len(argv) == 2 else os.path.normpath(default)
    rc = lint(path)
    if rc == 0:
        print(f"{path}: transformed template is clean")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
