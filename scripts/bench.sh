#!/usr/bin/env bash
# Criterion benchmarks. Figures, machine state and the exact commands go to BENCHMARKS.md.
# Never part of scripts/test.sh: timing is not a pass/fail criterion.
#   scripts/bench.sh              every benchmark in the workspace
#   scripts/bench.sh filter otlp  only those crates' (meshtrace-filter, meshtrace-otlp)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if [ $# -eq 0 ]; then
    cargo bench --workspace
else
    for crate in "$@"; do cargo bench -p "meshtrace-$crate"; done
fi
