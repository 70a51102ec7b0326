#!/usr/bin/env bash
# The main job: builds the filter and the collector, starts the pinned Envoy with the shipped
# envoy/filter-demo.yaml (a sidecar: the filter on its inbound and outbound listeners, v8
# runtime) around a small app and an upstream, sends traffic, and prints the traces the
# collector received — one tree per trace with kinds, durations and statuses — plus the
# filter's counters from Envoy's /stats and the access log with trace ids.
# Installs what it needs first (idempotent); stops everything it started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_wasm_target
ensure_venv
log "building the filter (wasm32-wasip1, wasm-release)"
MESHTRACE_WASM="$(build_filter)"
log "building the collector"
cargo build --quiet -p meshtrace-collector
MESHTRACE_COLLECTOR_BIN="$ROOT/target/debug/meshtrace-collector"
ENVOY_BIN="$(envoy_bin)"
export MESHTRACE_WASM MESHTRACE_COLLECTOR_BIN ENVOY_BIN
log "building the demo driver"
cargo build --quiet -p meshtrace-e2e --bin meshtrace-demo
exec "$ROOT/target/debug/meshtrace-demo"
