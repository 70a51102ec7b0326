#!/usr/bin/env bash
# Every Rust test in the workspace (unit, property, integration and end-to-end) under nextest,
# then doc tests. End-to-end tests find the built .wasm and the pinned Envoy through env vars.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
MESHTRACE_WASM="$(build_filter)"
export MESHTRACE_WASM
export ENVOY_BIN="$(envoy_bin)"
out="$(mktemp)"
set +e
cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
summary="$(grep -E '^ *Summary' "$out" | tail -n1)"
p="$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$summary")"
f="$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$summary")"
echo "${p:-0} ${f:-0}" >> "${STATUS_DIR:-/tmp}/counts"
rm -f "$out"
[ "$rc" -eq 0 ]
cargo test --workspace --doc --quiet
