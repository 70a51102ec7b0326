#!/usr/bin/env bash
# The main job, today: builds the filter, starts the pinned Envoy with it (the shipped
# envoy/filter-demo.yaml, v8 runtime) in front of a local echo upstream, sends a few requests
# (valid traceparent, none, invalid, future version, B3) and shows what the upstream received.
# Installs what it needs first (idempotent); stops everything it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_wasm_target
ensure_venv
log "building the filter (wasm32-wasip1, wasm-release)"
MESHTRACE_WASM="$(build_filter)"
ENVOY_BIN="$(envoy_bin)"
export MESHTRACE_WASM ENVOY_BIN
log "building the demo driver"
cargo build --quiet -p meshtrace-e2e --bin meshtrace-demo
exec "$ROOT/target/debug/meshtrace-demo"
