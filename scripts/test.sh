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
  # A venv left half-made by an interrupted run is rebuilt, not reused. If ensurepip fails (it
  # needs disk space and a complete Python install), pip is installed by the system's pip instead.
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    echo "python3 -m venv failed; free space here: $(df -h . | tail -1)" >&2
    echo "retrying without ensurepip" >&2
    rm -rf "$venv"
    python3 -m venv --without-pip "$venv"
    python3 -m pip --python "$venv/bin/python" install --quiet --disable-pip-version-check pip
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
# moto one request at a time: DynamoDB applies each request atomically, moto's threads do not.
export MOTO_SERVER="$PWD/scripts/moto-server"
export CARGO_LAMBDA="$PWD/$venv/bin/cargo-lambda"

echo "== system packages for the tests (SIPp, slapd, LDAP tools; Chromium and chromedriver)"
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

# The Lambda functions as `sam build` packages them for x86_64 (release profile, `panic=abort`);
# the Lambda tests below run these very files. cargo-lambda links with the Zig installed beside
# it in the venv.
echo "== Lambda functions as shipped (cargo lambda build --release)"
PATH="$PWD/$venv/bin:$PATH" "$CARGO_LAMBDA" lambda build --release --locked \
  --bin graph-webhook --bin swyx-webhook --bin maintenance
export LAMBDA_BUILD_DIR="$PWD/target/lambda"

# Lint and build in one pass: clippy-driver wraps rustc for the workspace's own crates (what
# `cargo clippy` does, but with code generation), so the dependency tree is compiled once instead
# of twice (a check build for clippy, a real one for the tests). Same targets as
# `cargo clippy --workspace --all-targets -- -D warnings`: libraries and their unit tests, binaries,
# integration tests, benches (the binaries have no tests of their own: `test = false`).
echo "== clippy (-D warnings) and tests (cargo nextest: unit tests, each crate's one integration-test"
echo "   binary, benches in test mode; tests/lambda_runtime.rs runs the Lambda functions built"
echo "   above under cargo-lambda's emulator)"
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo nextest run --locked --workspace --tests --benches --no-fail-fast
cargo test --locked --workspace --doc

# After the ordinary tests, so they always run: every fuzz target built and run briefly on its
# committed corpus (nightly, cargo-fuzz; see scripts/fuzz-smoke.sh).
echo "== fuzz smoke (cargo fuzz, each target on its corpus)"
./scripts/fuzz-smoke.sh
