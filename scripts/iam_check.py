"""The SAM template's IAM policies, applied by the test moto to each Lambda function's requests.

moto does not evaluate IAM, so a function whose code needs an action or an item type its role
does not grant passes every test here and fails on AWS with AccessDeniedException. With this,
a function started by the tests signs with the access key id of its binary's name
(tests/support/lambda_emulator.rs); its DynamoDB and Secrets Manager requests are checked against
the statements of that function in template.yaml, as IAM evaluates them: the action
(`dynamodb:GetItem`, ...; a transaction needs the action of each of its items), the resource (the
table, or an index of it), and `ForAllValues:StringLike` on `dynamodb:LeadingKeys` (the partition
key of every item the request names). A request no statement allows is answered
AccessDeniedException, as AWS would, and recorded (`GET /_serial/stats`, `denied`). Requests
signed with any other access key id (the tests' own set-up) are not checked.

Secrets are checked by action only: the template names them by parameter, the tests make their
own ARNs (infra/lint_template.py checks which secrets each function may read).
"""

import fnmatch
import json
import re

import yaml

SERVICES = {"DynamoDB_20120810": "dynamodb", "secretsmanager": "secretsmanager"}
# The DynamoDB actions a transaction's items need (IAM checks each item as its own action).
TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


class _TemplateLoader(yaml.SafeLoader):
    """CloudFormation's short forms (`!Ref X`, `!GetAtt A.B`, `!Sub s`) as their long forms."""


def _short_form(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _short_form)


def load_policies(template_path):
    """{binary name: [IAM statements]} of the template's Lambda functions."""
    with open(template_path, encoding="utf-8") as f:
        template = yaml.load(f, Loader=_TemplateLoader)
    policies = {}
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if not binary:
            continue
        statements = []
        for policy in resource.get("Properties", {}).get("Policies", []):
            if isinstance(policy, dict):
                statements.extend(policy.get("Statement", []))
        policies[binary] = statements
    return policies


def _resource_target(resource):
    """What a statement's resource names: "table", "index/NAME", "*", or None (something else)."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict):
        if resource.get("Fn::GetAtt") in ("Table.Arn", ["Table", "Arn"]):
            return "table"
        sub = resource.get("Fn::Sub")
        if isinstance(sub, str) and sub.startswith("${Table.Arn}/index/"):
            return "index/" + sub.rpartition("/index/")[2]
    return None


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _condition_holds(condition, leading_keys):
    for operator, tests in (condition or {}).items():
        for key, patterns in tests.items():
            if operator != "ForAllValues:StringLike" or key != "dynamodb:LeadingKeys":
                return False  # a condition this checker does not know: allow nothing by it
            patterns = _as_list(patterns)
            if not all(any(fnmatch.fnmatchcase(k, p) for p in patterns) for k in leading_keys):
                return False
    return True


def allowed(statements, action, target, leading_keys):
    """Whether an Allow statement grants `action` on `target` ("table", "index/NAME" or None for
    a non-DynamoDB resource) for every one of `leading_keys`."""
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        actions = _as_list(st.get("Action", []))
        service = action.partition(":")[0]
        if action not in actions and f"{service}:*" not in actions:
            continue
        targets = [_resource_target(r) for r in _as_list(st.get("Resource", []))]
        if target is not None and "*" not in targets and target not in targets:
            continue
        if _condition_holds(st.get("Condition"), leading_keys):
            return True
    return False


def access_key_id(authorization):
    match = re.search(r"Credential=([^/,\s]+)/", authorization or "")
    return match.group(1) if match else None


def _partition_key(item, hash_attr):
    value = (item or {}).get(hash_attr, {})
    return value.get("S") if isinstance(value, dict) else None


def _query_partition(body, hash_attr):
    names = body.get("ExpressionAttributeNames", {})
    values = body.get("ExpressionAttributeValues", {})
    for name, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", body.get("KeyConditionExpression", "")):
        if names.get(name, name) == hash_attr:
            return _partition_key({hash_attr: values.get(placeholder)}, hash_attr)
    legacy = body.get("KeyConditions", {}).get(hash_attr, {})
    first = (legacy.get("AttributeValueList") or [{}])[0]
    return first.get("S")


def checks(operation, body, hash_key_of):
    """The (action, target, leading keys) IAM evaluates for one DynamoDB request.
    `hash_key_of(table, index)` names the partition key attribute."""
    table = body.get("TableName")
    if operation in ("GetItem", "DeleteItem", "UpdateItem"):
        return [(operation, "table", [_partition_key(body.get("Key"), hash_key_of(table, None))])]
    if operation == "PutItem":
        return [(operation, "table", [_partition_key(body.get("Item"), hash_key_of(table, None))])]
    if operation == "Query":
        index = body.get("IndexName")
        target = f"index/{index}" if index else "table"
        return [(operation, target, [_query_partition(body, hash_key_of(table, index))])]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        keys = []
        for name, request in body.get("RequestItems", {}).items():
            attr = hash_key_of(name, None)
            if operation == "BatchGetItem":
                keys += [_partition_key(k, attr) for k in request.get("Keys", [])]
            else:
                for w in request:
                    item = w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {}).get("Key")
                    keys.append(_partition_key(item, attr))
        return [(operation, "table", keys)]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        out = []
        for entry in body.get("TransactItems", []):
            kind, op = next(iter(entry.items()))
            attr = hash_key_of(op.get("TableName"), None)
            item = op.get("Item") if kind == "Put" else op.get("Key")
            out.append((TRANSACT_ITEM_ACTIONS.get(kind, kind), "table", [_partition_key(item, attr)]))
        return out
    return [(operation, "table", [])]


def denial(policies, headers, body_bytes, hash_key_of):
    """None if the request may go on; else (JSON body of an AccessDeniedException, the record)."""
    function = access_key_id(headers.get("Authorization"))
    if function not in policies:
        return None
    prefix, _, operation = (headers.get("X-Amz-Target") or "").partition(".")
    service = SERVICES.get(prefix)
    if service is None:
        return None  # not a JSON-protocol AWS request this checker knows
    try:
        body = json.loads(body_bytes or b"{}")
    except ValueError:
        return None  # malformed: the service itself refuses it
    if service == "dynamodb":
        wanted = checks(operation, body, hash_key_of)
    else:
        wanted = [(operation, None, [])]
    for action, target, keys in wanted:
        full = f"{service}:{action}"
        keys = [k if k is not None else "" for k in keys]
        if not allowed(policies[function], full, target, keys):
            record = {"function": function, "action": full, "table": body.get("TableName"),
                      "target": target, "leading_keys": keys}
            message = (f"User: arn:aws:sts::123456789012:assumed-role/{function}-role/{function}"
                       f" is not authorized to perform: {full} on resource: {target}"
                       f" (leading keys {keys}) because no identity-based policy allows it")
            return json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException",
                               "message": message}).encode(), record
    return None
