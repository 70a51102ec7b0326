#!/usr/bin/env bash
# Formatting and clippy, for the host and for the filter's wasm32-wasip1 target.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy -p meshtrace-filter -p meshtrace-wasm-floor --target wasm32-wasip1 --quiet -- -D warnings
# Module docs are the reference for each component: a broken or private link is a defect.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
