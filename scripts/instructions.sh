#!/usr/bin/env bash
# Instructions per span of a collector pipeline, counted by callgrind (deterministic on a
# shared VM, unlike time): scripts/instructions.sh filter|attributes|seed|validate [SPANS] [N]
# Builds the example, runs it with N requests (default 200) and with 0, prints the difference
# per span. Needs valgrind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
which=${1:?usage: scripts/instructions.sh filter|attributes|seed|validate [SPANS] [N]}
spans=${2:-10}
n=${3:-200}
command -v valgrind > /dev/null || die "valgrind is not installed (apt-get install valgrind)"
cargo build --release --quiet -p meshtrace-collector --example processor_instructions
bin=target/release/examples/processor_instructions
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$which" "$1" "$spans" 2>&1 |
        awk '/Collected/ { print $4 }'
}
base=$(count 0)
total=$(count "$n")
echo "$which, $spans spans/request: $(((total - base) / (n * spans))) instructions per span"
