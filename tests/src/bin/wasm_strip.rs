//! `meshtrace-wasm-strip FILE…`: removes the proxy-wasm SDK callbacks the filter does not
//! implement from built filter modules, in place, so that Envoy does not call into the VM for
//! them (`meshtrace_filter::module`). `scripts/lib.sh` `build_filter` runs it after
//! `cargo build`; running it twice is running it once.
//!
//! `meshtrace-wasm-strip --floor-twin FILE`: writes the header-only twin of the floor module
//! FILE beside it (`meshtrace_e2e::wasm::write_floor_twin`; `build_floor` runs it).

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: meshtrace-wasm-strip FILE.wasm… | --floor-twin FILE.wasm";

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let result = match args.first().and_then(|a| a.to_str()) {
        Some("--floor-twin") => match args.get(1..) {
            Some([file]) => meshtrace_e2e::wasm::write_floor_twin(&PathBuf::from(file)).map(drop),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        },
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
        Some(_) => args
            .iter()
            .map(PathBuf::from)
            .try_for_each(|file| meshtrace_e2e::wasm::strip_unused_exports(&file)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meshtrace-wasm-strip: {e}");
            ExitCode::FAILURE
        }
    }
}
