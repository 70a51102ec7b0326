#!/usr/bin/env bash
# Every Rust test in the workspace (unit, property, integration and end-to-end) under nextest,
# then doc tests. End-to-end tests find the built .wasm and the pinned Envoy through env vars.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
MESHTRACE_WASM="$(build_filter)"
MESHTRACE_FLOOR_WASM="$(build_floor)"
export MESHTRACE_WASM MESHTRACE_FLOOR_WASM
export ENVOY_BIN="$(envoy_bin)"
out="$(mktemp)"
set +e
cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
summary="$(grep -E '^ *Summary' "$out" | tail -n1)"
p="$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$summary")"
f="$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$summary")"
record_counts "${p:-0}" "${f:-0}"
rm -f "$out"
[ "$rc" -eq 0 ]
cargo test --workspace --doc --quiet
