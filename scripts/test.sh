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
export MOTO_SERVER="$PWD/$venv/bin/moto_server"
export CARGO_LAMBDA="$PWD/$venv/bin/cargo-lambda"

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

echo "== Lambda binaries (cargo lambda build, x86_64, dev profile) for tests/lambda_runtime.rs"
# Dev profile: the test checks behaviour, and a release build of the SDK stack costs CI minutes.
PATH="$PWD/$venv/bin:$PATH" cargo lambda build --locked --bin graph-webhook --bin swyx-webhook --bin maintenance

echo "== cargo test"
cargo test --locked --workspace --all-targets
