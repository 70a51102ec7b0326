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

/// The module Envoy loads exports the callbacks the filter implements and none of the SDK's
/// others: Envoy calls into the VM for every callback a module exports (response headers,
/// each body chunk), so an unused one costs every request.
#[test]
fn the_filter_exports_only_the_callbacks_it_implements() {
    use meshtrace_filter::module::{UNUSED_EXPORTS, export_names};
    let wasm = filter_wasm().unwrap_or_else(|e| panic!("{e}"));
    let names = export_names(&std::fs::read(&wasm).unwrap()).unwrap();
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "_initialize",
            "memory",
            "proxy_abi_version_0_2_1",
            "proxy_on_configure",
            "proxy_on_context_create",
            "proxy_on_delete",
            "proxy_on_done",
            "proxy_on_http_call_response",
            "proxy_on_log",
            "proxy_on_memory_allocate",
            "proxy_on_request_headers",
            "proxy_on_tick",
            "proxy_on_vm_start",
        ],
        "{}: unused callbacks left, or a callback the filter needs removed ({UNUSED_EXPORTS:?})",
        wasm.display()
    );
}
