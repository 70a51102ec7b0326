//! `meshtrace-wasm-strip FILE…`: removes the proxy-wasm SDK callbacks the filter does not
//! implement from built filter modules, in place, so that Envoy does not call into the VM for
//! them (`meshtrace_filter::module`). `scripts/lib.sh` `build_filter` runs it after
//! `cargo build`; running it twice is running it once.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        eprintln!("usage: meshtrace-wasm-strip FILE.wasm…");
        return ExitCode::from(2);
    }
    for file in &files {
        if let Err(e) = meshtrace_e2e::wasm::strip_unused_exports(file) {
            eprintln!("meshtrace-wasm-strip: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
