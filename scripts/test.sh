#!/usr/bin/env bash
# Runs every test meshtrace has, installing what they need first (idempotent).
# Stages live in scripts/test.d/, run in name order; any failure stops the run.
#   scripts/test.sh            all stages
#   scripts/test.sh 30 60      only the stages whose names start with 30 or 60
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh" --fuzz

STATUS_DIR="$(mktemp -d)"
export STATUS_DIR
trap 'rm -rf "$STATUS_DIR"' EXIT

start_all=$SECONDS
for stage in "$ROOT"/scripts/test.d/*.sh; do
    name="$(basename "$stage" .sh)"
    if [ $# -gt 0 ]; then
        keep=""
        for want in "$@"; do case "$name" in "$want"*) keep=1 ;; esac; done
        [ -n "$keep" ] || continue
    fi
    log "stage $name"
    t0=$SECONDS
    bash "$stage"
    log "stage $name done in $((SECONDS - t0))s"
done

# Stages append "passed failed" pairs to $STATUS_DIR/counts; one closing line sums them.
passed=0 failed=0
if [ -f "$STATUS_DIR/counts" ]; then
    while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < "$STATUS_DIR/counts"
fi
log "all stages done in $((SECONDS - start_all))s"
echo "meshtrace: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
