#!/usr/bin/env python3
"""Transform-then-lint for the SAM template, fully offline.

Plain `cfn-lint template.yaml` validates SAM resources against schemas and misses a bad `!Ref`
inside `Globals` or inside a SAM policy template (tooling.md 3.2). Here the SAM translator expands
the template to plain CloudFormation first (Globals merged into every function, policy templates
expanded into IAM statements), then cfn-lint checks the result, which catches those Refs.

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
    return 0 if result.returncode == 0 and not body_findings else 1


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
