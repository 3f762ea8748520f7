#!/usr/bin/env python3
"""Proves the transform-then-lint step (lint_template.py) is worth having: the real template
passes, and copies with a bad `!Ref` where plain cfn-lint does not look (Globals, a SAM policy
template) fail, as do copies that grant more than a function uses (a secret, an action, an item
type, an unconditioned table), fix a reserved concurrency, or leave graph-webhook the CPU share
of 128 MB. Prints `N passed, N failed`; exit code 1 if any failed."""
import contextlib
import io
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lint_template  # noqa: E402

TEMPLATE = os.path.normpath(os.path.join(HERE, "..", "template.yaml"))
GLOBAL_REF = "        TABLE_NAME: !Ref Table\n"
POLICIES = "      Policies:\n        - Statement:\n"


def lint_text(text):
    """Exit code of the step, and its first finding (the full output is long)."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
        path = f.name
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            rc = lint_template.lint(path)
    finally:
        os.unlink(path)
    first = next((line for line in out.getvalue().splitlines() if line.strip()), "")
    return rc, first[:160]


def main():
    with open(TEMPLATE, encoding="utf-8") as f:
        good = f.read()
    assert GLOBAL_REF in good and POLICIES in good, "template layout changed: update this test"
    cases = [
        ("the real template is clean", good, 0),
        (
            "a bad !Ref in Globals fails",
            good.replace(GLOBAL_REF, "        TABLE_NAME: !Ref NoSuchTable\n"),
            1,
        ),
        (
            "a bad !Ref in a SAM policy template fails",
            good.replace(
                POLICIES,
                "      Policies:\n        - DynamoDBReadPolicy:\n            TableName: !Ref NoSuchTable\n        - Statement:\n",
                1,
            ),
            1,
        ),
        (
            "a dashboard body that is not JSON fails",
            good.replace('"widgets": [', '"widgets": [,', 1),
            1,
        ),
        (
            "an unknown runtime fails",
            good.replace("Runtime: provided.al2023", "Runtime: provided.al2099"),
            1,
        ),
        (
            "swyx-webhook reading the notification key fails",
            good.replace(
                "              Resource: !Ref GraphClientSecretArn\n",
                "              Resource: [!Ref GraphClientSecretArn, !Ref EncryptionKeySecretArn]\n",
                1,
            ),
            1,
        ),
        (
            "an UpdateItem grant fails",
            good.replace("Action: [dynamodb:PutItem]", "Action: [dynamodb:PutItem, dynamodb:UpdateItem]", 1),
            1,
        ),
        (
            "another item type fails",
            good.replace('dynamodb:LeadingKeys: ["SPEAKING#*", "CLAIM#*"]',
                         'dynamodb:LeadingKeys: ["SPEAKING#*", "CLAIM#*", "STATE#*"]', 1),
            1,
        ),
        (
            "a grant without a LeadingKeys condition fails",
            good.replace(
                "              Condition:\n                ForAllValues:StringLike:\n"
                '                  dynamodb:LeadingKeys: ["PENDING#*"]\n',
                "",
                1,
            ),
            1,
        ),
        (
            "a fixed reserved concurrency fails",
            good.replace(
                "ReservedConcurrentExecutions: !Ref SwyxWebhookReservedConcurrency",
                "ReservedConcurrentExecutions: 5",
            ),
            1,
        ),
        (
            "graph-webhook on the default 128 MB fails",
            good.replace("      MemorySize: !Ref GraphWebhookMemorySize\n", ""),
            1,
        ),
        (
            "graph-webhook's memory defaulting to 128 MB fails",
            good.replace("    Default: 1024\n    MinValue: 128\n", "    Default: 128\n    MinValue: 128\n"),
            1,
        ),
    ]
    passed = failed = 0
    for name, text, want in cases:
        got, finding = lint_text(text)
        if got == want:
            passed += 1
            print(f"ok   {name}" + (f"  [{finding}]" if want else ""))
        else:
            failed += 1
            print(f"FAIL {name}: exit {got}, expected {want}: {finding}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
