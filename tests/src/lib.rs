//! Harness for end-to-end tests: free ports, child processes killed on drop, the real Envoy
//! (from `$ENVOY_BIN` or the pinned one in `.venv`), the filter's `.wasm`, the collector, an
//! echo upstream, a small app that calls through the sidecar, a raw HTTP/1.1 client, and the
//! spans the collector received rendered as trees.
//!
//! Everything binds 127.0.0.1 on free ports and cleans up after itself. Failures are errors
//! with context (and the child's log), never skips: a missing Envoy says to run
//! `scripts/setup.sh`.

pub mod app;
pub mod bench;
pub mod client;
pub mod collector;
pub mod echo;
pub mod envoy;
pub mod error;
pub mod mesh;
pub mod ports;
pub mod process;
pub mod traces;
pub mod wasm;

use std::path::PathBuf;

pub use error::{Error, Result};

/// The workspace root (the checkout).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
