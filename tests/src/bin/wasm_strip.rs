//! `meshtrace-wasm-strip FILE…`: removes the proxy-wasm SDK callbacks the filter does not
//! implement from built filter modules, in place, so that Envoy does not call into the VM for
//! them (`meshtrace_filter::module`). `scripts/lib.sh` `build_filter` runs it after
//! `cargo build`; running it twice is running it once.
//!
//! `meshtrace-wasm-strip --remove NAME[,NAME…] IN OUT`: writes IN without the named exports to
//! OUT (`build_floor` derives the header-only floor module from the full one this way).

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str =
    "usage: meshtrace-wasm-strip FILE.wasm… | --remove NAME[,NAME…] IN.wasm OUT.wasm";

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let result = match args.first().and_then(|a| a.to_str()) {
        Some("--remove") => match args.get(1..) {
            Some([names, input, output]) => {
                let names: Vec<&str> = names.to_str().unwrap_or_default().split(',').collect();
                meshtrace_e2e::wasm::remove_exports_to(
                    &PathBuf::from(input),
                    &PathBuf::from(output),
                    &names,
                )
            }
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
