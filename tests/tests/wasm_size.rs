//! The filter ships inside every sidecar: its size is a feature, checked here.

// Test code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use meshtrace_e2e::wasm::{MAX_WASM_BYTES, filter_wasm};

#[test]
fn filter_wasm_stays_under_300_kib() {
    let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::metadata(&wasm).unwrap().len();
    println!(
        "{}: {bytes} bytes ({:.1} KiB)",
        wasm.display(),
        bytes as f64 / 1024.0
    );
    assert!(
        bytes <= MAX_WASM_BYTES,
        "{} is {bytes} bytes, over the {MAX_WASM_BYTES}-byte budget",
        wasm.display()
    );
    // A release build: no debug sections left (the wasm-release profile strips them).
    let module = std::fs::read(&wasm).unwrap();
    assert!(
        !module
            .windows(b".debug_info".len())
            .any(|w| w == b".debug_info"),
        "debug info in {}: not built with --profile wasm-release?",
        wasm.display()
    );
}
