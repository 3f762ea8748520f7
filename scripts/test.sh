#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (a Python venv with moto's
# DynamoDB-compatible server and the OpenAPI validator), then runs formatting, lint and every test.
# The tests start and stop their own local servers (moto, JWKS, connector) on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/openapi-spec-validator" ] \
  || [ ! -x "$venv/bin/cfn-lint" ] || [ ! -x "$venv/bin/cargo-lambda" ]; then
  echo "== installing Python test tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
# moto one request at a time: DynamoDB applies each request atomically, moto's threads do not.
export MOTO_SERVER="$PWD/scripts/moto-server"
export CARGO_LAMBDA="$PWD/$venv/bin/cargo-lambda"

echo "== system packages for the swyx-connector tests (SIPp, slapd, LDAP tools)"
./scripts/install-system-deps.sh
if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

echo "== connector contract (OpenAPI 3.1)"
"$venv/bin/python" infra/check_openapi.py

echo "== SAM template: cfn-lint, then SAM translator + cfn-lint"
"$venv/bin/cfn-lint" template.yaml
"$venv/bin/python" infra/lint_template.py
"$venv/bin/python" infra/test_lint_template.py

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "== tests (cargo nextest: every test target of the workspace; tests/lambda_runtime.rs runs the"
echo "   Lambda binaries built alongside, same profile and target dir, under cargo-lambda's emulator)"
cargo nextest run --locked --workspace --all-targets --no-fail-fast
cargo test --locked --workspace --doc
