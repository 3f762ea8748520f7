#!/usr/bin/env bash
# Fuzz smoke: builds every cargo-fuzz target (nightly) and runs each briefly on its committed
# corpus (fuzz/corpus/TARGET), so the targets keep building and a crash the corpus reproduces
# fails the test command. New inputs go to a scratch directory, not into the checkout.
# FUZZ_SMOKE_SECS sets the seconds per target (default 10). Longer runs: README, "Fuzzing".
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SMOKE_SECS:-10}"

# The workspace build's settings are not the fuzz build's: the stable clippy-driver must not wrap
# nightly rustc, and the fuzz crate has its target dir of its own.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS CARGO_TARGET_DIR

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "== installing the nightly toolchain (cargo fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

# No sanitizer: our code and the Rust dependencies are safe Rust, and the C in the tree (aws-lc,
# SQLite) is compiled by cc without cargo-fuzz's flags either way, so AddressSanitizer would only
# double the build and slow every run. Panics and failed assertions abort as crashes all the same.
build=(--sanitizer none --codegen-units 16 --target-dir fuzz/target)
started=$(date +%s)
echo "== fuzz targets: build (nightly)"
cargo +nightly fuzz build "${build[@]}"
echo "   built in $(( $(date +%s) - started )) s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for target in $(cargo +nightly fuzz list); do
  echo "== fuzz smoke: $target (${secs} s)"
  mkdir -p "$scratch/$target"
  # One process, one job: the machine is shared. The first corpus directory takes new inputs.
  if ! cargo +nightly fuzz run "${build[@]}" "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      > "$scratch/$target.log" 2>&1; then
    failed+=("$target")
    # The panic's message comes well before libFuzzer's closing 40 lines: show both.
    grep -m1 -A4 'panicked at' "$scratch/$target.log" || true
    tail -n 40 "$scratch/$target.log"
  fi
  grep -E '^stat::number_of_executed_units|^Done ' "$scratch/$target.log" || true
done
echo "   fuzz smoke took $(( $(date +%s) - started )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz smoke FAILED: ${failed[*]} (reproducers under fuzz/artifacts/)" >&2
  exit 1
fi
