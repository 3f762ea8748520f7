#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need (a Python venv with moto's
# DynamoDB-compatible server and the OpenAPI validator), then runs formatting, lint and every test.
# The tests start and stop their own local servers (moto, JWKS, connector) on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  echo "== installing Python test tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
export MOTO_SERVER="$PWD/$venv/bin/moto_server"

echo "== connector contract (OpenAPI 3.1)"
"$venv/bin/python" infra/check_openapi.py

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --locked --workspace --all-targets
