#!/usr/bin/env bash
# Runs every cargo-fuzz target for a fixed number of iterations from its committed corpus
# (fuzz/corpus/<target>). New inputs go to a scratch dir, so the checkout stays clean.
# FUZZ_RUNS overrides the iteration count (default 20000) for longer local runs.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# cargo-fuzz finds fuzz/Cargo.toml from the repository root.
cd "$ROOT"
ensure_nightly_fuzz
runs="${FUZZ_RUNS:-20000}"
targets="$(cargo +nightly fuzz list | grep -v '^collector_' || true)"
if [ -z "$targets" ]; then
    log "no fuzz targets yet"
    exit 0
fi
cargo +nightly fuzz build
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
passed=0
for t in $targets; do
    # The collector's targets need `--features collector`: 60-fuzz-collector.sh runs them.
    case "$t" in collector_*) continue ;; esac
    mkdir -p "$scratch/$t" "fuzz/corpus/$t"
    log "fuzz $t: $runs runs"
    cargo +nightly fuzz run "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
        -runs="$runs" -max_total_time=120 -print_final_stats=0 2>&1 | tail -n 3
    passed=$((passed + 1))
done
record_counts "$passed" 0
