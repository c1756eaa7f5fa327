#!/usr/bin/env bash
# Fuzz smoke test: builds every cargo-fuzz target in fuzz/ and runs each, one at a time, for
# SECONDS seconds (default 30) starting from its committed seeds (fuzz/seeds/<target>); any
# crash, panic, timeout or out-of-memory fails the script. See docs/fuzzing.md.
#
#   scripts/fuzz-smoke.sh [SECONDS]
#
# Needs a nightly toolchain (`cargo +nightly`). Without one it prints "SKIPPED: no nightly
# toolchain" and exits 0, unless REQUIRE_ALL_BACKENDS=1 (as in CI), which makes that a failure.
# Installs cargo-fuzz when missing. Builds and runs under `nice -n ${FUZZ_NICE:-10}`.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS]   (a whole number of seconds per target, default 30)" >&2
  exit 2
fi
niceness="${FUZZ_NICE:-10}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  if [ "${REQUIRE_ALL_BACKENDS:-0}" = 1 ]; then
    echo "FAILED: no nightly toolchain (REQUIRE_ALL_BACKENDS=1); install one with: rustup toolchain install nightly" >&2
    exit 1
  fi
  echo "SKIPPED: no nightly toolchain (install one with: rustup toolchain install nightly)"
  exit 0
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  nice -n "$niceness" cargo install cargo-fuzz --locked
fi

echo "== fuzz: $(cargo +nightly --version), $(cargo fuzz --version)"
mapfile -t targets < <(cargo +nightly fuzz list)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "FAILED: cargo fuzz list found no targets in fuzz/" >&2
  exit 1
fi

echo "== building ${targets[*]}"
nice -n "$niceness" cargo +nightly fuzz build

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
failed=()
for target in "${targets[@]}"; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  if [ -d "fuzz/seeds/$target" ]; then
    cp -f "fuzz/seeds/$target"/* "$corpus"/
  fi
  echo "== $target: ${seconds}s from $(find "$corpus" -type f | wc -l) inputs"
  log="$logs/$target.log"
  # One process (no -jobs/-workers), so its report lands in the log; -timeout: one input may
  # take at most 10 s. A crash writes its input under fuzz/artifacts/<target>/.
  if nice -n "$niceness" cargo +nightly fuzz run "$target" "$corpus" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)"
    echo "   OK: $runs runs; ${done_line:-no DONE line}"
  else
    echo "   FAILED: $target crashed; last lines of its report:" >&2
    tail -n 40 "$log" >&2
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED: ${failed[*]} (crashing inputs are under fuzz/artifacts/; replay with: cargo +nightly fuzz run <target> <file>)" >&2
  exit 1
fi
echo "fuzz smoke: all ${#targets[@]} targets ran ${seconds}s without a crash"
