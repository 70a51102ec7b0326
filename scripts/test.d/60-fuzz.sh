#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets: every parser, the collector's config loader
# and queue record decoder) for a fixed number of iterations from its committed corpus
# (fuzz/corpus/<target>). New inputs go to a scratch dir, so the checkout stays clean.
#
# One build for all targets: optimised, 16 codegen units, no sanitizer (`-s none`; the
# workspace denies `unsafe_code`, so ASan would only watch dependencies), with the `collector`
# feature. On 2 cores that is one ~6 min build instead of an ASan release build of the parsers
# plus a separate dev build of the collector stack (~15 min together). For ASan, run a target
# by hand: `cargo +nightly fuzz run <target>` (fuzz/README.md).
# FUZZ_RUNS overrides the iteration count (default 20000) for longer local runs; a target that
# has not finished after FUZZ_SECONDS (default 120) stops there and says how far it got.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# cargo-fuzz finds fuzz/Cargo.toml from the repository root.
cd "$ROOT"
ensure_nightly_fuzz
runs="${FUZZ_RUNS:-20000}"
secs="${FUZZ_SECONDS:-120}"
flags=(-s none --codegen-units 16 --features collector)
targets="$(cargo +nightly fuzz list)"
[ -n "$targets" ] || die "no fuzz targets in fuzz/fuzz_targets"
cargo +nightly fuzz build "${flags[@]}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
passed=0
for t in $targets; do
    mkdir -p "$scratch/$t" "fuzz/corpus/$t"
    log "fuzz $t: $runs runs"
    cargo +nightly fuzz run "${flags[@]}" "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
        -runs="$runs" -max_total_time="$secs" -print_final_stats=0 2>&1 | tail -n 3
    passed=$((passed + 1))
done
record_counts "$passed" 0
