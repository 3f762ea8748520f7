#!/usr/bin/env python3
"""Validates infra/connector-openapi.yaml: OpenAPI 3.1 conformance (openapi-spec-validator) and
every example in it against its own schema (jsonschema, draft 2020-12), so the published
examples cannot drift from the schemas.

Set up once:  python3 -m venv /tmp/oa && /tmp/oa/bin/pip install openapi-spec-validator
Run:          /tmp/oa/bin/python infra/check_openapi.py [path/to/connector-openapi.yaml]
"""
import pathlib
import sys

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

HERE = pathlib.Path(__file__).resolve().parent
METHODS = {"get", "put", "post", "patch", "delete"}


def media_examples(where, media):
    if "example" in media:
        yield where, media["example"]
    for name, ex in (media.get("examples") or {}).items():
        yield f"{where} example {name!r}", ex["value"]


def examples(doc):
    """(where, schema, example) for every request and response example of every operation."""
    sections = [("paths", doc.get("paths") or {}), ("webhooks", doc.get("webhooks") or {})]
    for section, items in sections:
        for route, item in items.items():
            for method, op in item.items():
                if method not in METHODS:
                    continue
                bodies = [("request", op.get("requestBody") or {})]
                bodies += [(f"response {code}", r) for code, r in (op.get("responses") or {}).items()]
                for label, body in bodies:
                    for ctype, media in (body.get("content") or {}).items():
                        where = f"{section} {method.upper()} {route} {label} {ctype}"
                        for w, ex in media_examples(where, media):
                            yield w, media["schema"], ex


def main():
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "connector-openapi.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    validate(doc)  # raises with the offending location on any violation
    if not str(doc.get("openapi", "")).startswith("3.1"):
        sys.exit(f"{path}: expected OpenAPI 3.1, found {doc.get('openapi')!r}")
    failures, count = [], 0
    for where, schema, example in examples(doc):
        count += 1
        # The whole document is the root resource, so "#/components/..." refs resolve.
        root = {**doc, **schema}
        for err in Draft202012Validator(root, format_checker=FormatChecker()).iter_errors(example):
            failures.append(f"{where}: {err.message}")
    if count == 0:
        failures.append("no examples found to check")
    for f in failures:
        print("FAIL", f)
    print(f"{path.name}: OpenAPI {doc['openapi']} valid; {count} examples checked, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
