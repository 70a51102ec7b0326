#!/usr/bin/env bash
# The README's first command, as users run it: scripts/demo.sh must build, start Envoy with the
# filter, the collector and the app, and print what it promises — three traces of two spans,
# the 503 as ERROR on both hops, the probe dropped, the filter's counters from Envoy's /stats.
# Counted as one test; the checks that failed are listed.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
set +e
scripts/demo.sh > "$out" 2>&1
rc=$?
set -e

failed=()
[ "$rc" -eq 0 ] || failed+=("scripts/demo.sh exited $rc")
# expect WHAT COUNT PATTERN: PATTERN (extended regex) matches COUNT lines of the output.
expect() {
    local n
    n="$(grep -cE -- "$3" "$out" || true)"
    [ "$n" = "$2" ] || failed+=("$1: $n lines match /$3/, want $2")
}
expect "spans received" 1 '^Traces the collector received \(6 spans\):$'
expect "traces of two spans" 3 '^trace [0-9a-f]{32} · 2 spans · '
expect "the caller's trace continued" 1 '^trace 4bf92f3577b34da6a3ce929d0e0e4736 · 2 spans'
expect "server spans" 3 '^└─ SERVER  GET '
expect "client spans under them" 3 '^   └─ CLIENT  GET '
expect "the 503 is ERROR on both hops" 2 ' 503 ERROR '
expect "the probe answered" 1 'GET /healthz +-> 200 '
expect "spans exported" 1 '^  wasmcustom\.meshtrace\.spans_exported: 6$'
expect "the probe dropped" 1 '^  wasmcustom\.meshtrace\.spans_filtered: 1$'
expect "no export failure" 1 '^  wasmcustom\.meshtrace\.export_failures: 0$'
expect "access log lines with the trace id" 6 ' access .* trace_id=[0-9a-f]{32}$'

if [ "${#failed[@]}" -eq 0 ]; then
    log "scripts/demo.sh: the traces, counters and access log it promises"
    record_counts 1 0
else
    printf '\033[1;31mdemo:\033[0m %s\n' "${failed[@]}" >&2
    log "scripts/demo.sh printed:"
    cat "$out" >&2
    record_counts 0 1
    exit 1
fi
