"""moto's server with one request at a time.

Real DynamoDB applies each request atomically (a conditional write or a TransactWriteItems either
sees another writer's result or is refused). moto's server handles requests on parallel threads
without a lock, so two concurrent conditional writes can both pass their conditions. The store
conformance tests race writers on purpose; serialising requests gives them DynamoDB's semantics.
Usage is moto_server's: `python moto_server_serial.py -H 127.0.0.1 -p PORT`.

moto backs up every table a TransactWriteItems names by deep-copying it, once per item of the
transaction, so a transaction costs time in proportion to the size of the table: a 1,000-user
table made every write of the bridge take moto tens of milliseconds, and the tests measured moto,
not the bridge. Here the transaction keeps the items it touches instead (one request at a time,
nobody else can change them meanwhile) and puts them back if it is cancelled: the same effect.

`GET /_serial/stats` answers what the server has done so far (requests by DynamoDB operation and
the seconds spent on them): tests report what a scenario cost the table.

With `MOTO_IAM_TEMPLATE` set to the SAM template, each Lambda function's requests are checked
against its role's policy there (iam_check.py), and what was refused is in the stats' `denied`.
"""

import copy
import io
import json
import os
import re
import sys
import threading
import time

import moto.dynamodb.models as dynamodb_models
import moto.server as server
from moto.dynamodb.models.table import Table

_one_at_a_time = threading.Lock()
_Dispatcher = server.DomainDispatcherApplication
_stats = {"requests": 0, "busy_seconds": 0.0, "by_operation": {}, "busy_by_operation": {},
          "denied": []}
STATS_PATH = "/_serial/stats"
ACCOUNT = "123456789012"  # moto's default account

_policies = None
if os.environ.get("MOTO_IAM_TEMPLATE"):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import iam_check

    _policies = iam_check.load_policies(os.environ["MOTO_IAM_TEMPLATE"])


def _hash_key_of(region):
    def hash_key(table_name, index_name):
        table = dynamodb_models.dynamodb_backends[ACCOUNT][region].tables.get(table_name)
        if table is None:
            return "pk"  # the service refuses the request itself
        if index_name is None:
            return table.hash_key_attr
        for index in table.indexes + table.global_indexes:
            if index.name == index_name:
                return next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
        return "pk"

    return hash_key


def _iam_denial(environ):
    """The AccessDeniedException for a request its function's role does not allow, else None.
    Reads the body, and puts it back for moto."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    scope = re.search(r"Credential=[^/]+/\d+/([^/]+)/", authorization)
    headers = {"Authorization": authorization, "X-Amz-Target": environ.get("HTTP_X_AMZ_TARGET")}
    region = scope.group(1) if scope else "us-east-1"
    return iam_check.denial(_policies, headers, body, _hash_key_of(region))


class SerialDispatcher(_Dispatcher):
    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == STATS_PATH:
            with _one_at_a_time:
                body = json.dumps(_stats).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2] or "other"
        with _one_at_a_time:
            refused = _iam_denial(environ) if _policies is not None else None
            if refused is not None:
                body, record = refused
                _stats["denied"].append(record)
                print(f"IAM denied: {json.dumps(record)}", file=sys.stderr, flush=True)
                start_response("400 Bad Request", [
                    ("Content-Type", "application/x-amz-json-1.0"),
                    ("x-amzn-ErrorType", "AccessDeniedException")])
                return [body]
            started = time.monotonic()
            # The whole body is produced inside the lock, so the request's effect is atomic.
            body = list(super().__call__(environ, start_response))
            busy = time.monotonic() - started
            _stats["requests"] += 1
            _stats["busy_seconds"] += busy
            _stats["by_operation"][target] = _stats["by_operation"].get(target, 0) + 1
            by_op = _stats["busy_by_operation"]
            by_op[target] = by_op.get(target, 0.0) + busy
            return body


server.DomainDispatcherApplication = SerialDispatcher


class _TablesNotCopied:
    """`copy` for moto's DynamoDB models during a transaction: a table is not copied (the
    transaction's own journal restores what it changed); anything else is."""

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _key_of(backend, op_type, op):
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    if op_type != "Put":
        return op.get("Key")
    attrs = op.get("Item", {})
    key = {table.hash_key_attr: attrs.get(table.hash_key_attr)}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs.get(table.range_key_attr)
    return key


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def _journaled_transact_write_items(self, transact_items):
    journal = []
    for entry in transact_items[:100]:
        try:
            op_type, op = next(iter(entry.items()))
            key = _key_of(self, op_type, op)
            if key is None:
                continue
            current = self.get_item(op["TableName"], key)
        except Exception:  # moto refuses the malformed operation itself, before any effect
            continue
        before = copy.deepcopy(current.to_json()["Attributes"]) if current else None
        journal.append((op["TableName"], key, before))
    dynamodb_models.copy = _TablesNotCopied
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for table_name, key, before in reversed(journal):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before)
        raise
    finally:
        dynamodb_models.copy = copy


dynamodb_models.DynamoDBBackend.transact_write_items = _journaled_transact_write_items

if __name__ == "__main__":
    server.main()
