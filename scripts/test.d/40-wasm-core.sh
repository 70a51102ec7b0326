#!/usr/bin/env bash
# The filter's host-agnostic core tests, compiled to wasm32-wasip1 and run under Node.js's
# WASI (scripts/wasm-test-runner.mjs): what ships is what was tested.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
ensure_wasm_target
ensure_node
export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $ROOT/scripts/wasm-test-runner.mjs"
out="$(mktemp)"
set +e
cargo test -p meshtrace-filter --target wasm32-wasip1 --lib 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
# libtest's closing line; a trap (panics abort on wasm32) leaves none: count it as a failure.
read -r p f < <(awk '/^test result:/ {
    for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
} END { print p + 0, f + 0 }' "$out")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
    log "the wasm test binary trapped (a panic aborts on wasm32); again without capture, for the message:"
    cargo test -p meshtrace-filter --target wasm32-wasip1 --lib -- --nocapture --test-threads=1 2>&1 \
        | grep -v ' \.\.\. ok$' | grep -E -B2 -A3 'panicked|RuntimeError' | head -n 40 || true
fi
record_counts "$p" "$f"
rm -f "$out"
[ "$rc" -eq 0 ]
