#!/usr/bin/env bash
# The collector's fuzz targets (fuzz/fuzz_targets/collector_*.rs: the config loader and the
# persistent queue's record decoder), a fixed number of iterations each from the committed
# corpus (fuzz/corpus/<target>). They need the collector's whole stack (tokio, tonic, hyper,
# rustls), so they are built in dev mode with 16 codegen units and no sanitizer (the code under
# test has no unsafe): ~5 min from cold on 2 cores, against ~14 min in cargo-fuzz's default
# release mode with one codegen unit. FUZZ_RUNS overrides the count (default 20000).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# cargo-fuzz finds fuzz/Cargo.toml from the repository root.
cd "$ROOT"
ensure_nightly_fuzz
runs="${FUZZ_RUNS:-20000}"
flags=(--dev -s none --codegen-units 16 --features collector)
targets="$(cargo +nightly fuzz list | grep '^collector_' || true)"
[ -n "$targets" ] || die "no collector_* fuzz targets"
cargo +nightly fuzz build "${flags[@]}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
passed=0
for t in $targets; do
    mkdir -p "$scratch/$t" "fuzz/corpus/$t"
    log "fuzz $t: $runs runs"
    cargo +nightly fuzz run "${flags[@]}" "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
        -runs="$runs" -max_total_time=120 -print_final_stats=0 2>&1 | tail -n 3
    passed=$((passed + 1))
done
record_counts "$passed" 0
