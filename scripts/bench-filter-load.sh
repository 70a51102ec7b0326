#!/usr/bin/env bash
# Sustained open-loop load through the real Envoy with the meshtrace filter (figures for
# BENCHMARKS.md, "Filter in Envoy under load"): latency percentiles from the scheduled send
# time, Envoy's CPU per request, the filter's buffer high-water mark and its counters, for
# no filter / propagation only / export to a sink / export to the real collector / export to
# a collector that never answers. Never part of scripts/test.sh: timing is not pass/fail.
#   scripts/bench-filter-load.sh                              2000 req/s for 10 s, every scenario
#   scripts/bench-filter-load.sh --rps 4000 --seconds 30 --scenarios export,blackhole
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
MESHTRACE_WASM="$(build_filter)"
log "building the collector and the load driver (release)"
cargo build --quiet --release -p meshtrace-collector -p meshtrace-e2e --bin meshtrace-collector --bin meshtrace-filter-load
MESHTRACE_COLLECTOR_BIN="$ROOT/target/release/meshtrace-collector"
ENVOY_BIN="$(envoy_bin)"
export MESHTRACE_WASM MESHTRACE_COLLECTOR_BIN ENVOY_BIN
log "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$ROOT/target/release/meshtrace-filter-load" "$@"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
