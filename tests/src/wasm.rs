//! The filter's `.wasm`: `$MESHTRACE_WASM` when set (`scripts/test.sh` builds it once), else
//! built here with the size-tuned profile so that `cargo test` alone works.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::error::{Context, Error, Result};
use crate::workspace_root;

/// Largest `.wasm` we ship: it is loaded into every sidecar.
pub const MAX_WASM_BYTES: u64 = 300 * 1024;

/// The path of the built filter, building it on first use if `$MESHTRACE_WASM` is unset.
pub fn filter_wasm() -> Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| locate_or_build().map_err(|e| e.0))
        .clone()
        .map_err(Error)
}

fn locate_or_build() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MESHTRACE_WASM") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error(format!(
                "MESHTRACE_WASM={} is not a file",
                path.display()
            )))
        };
    }
    let root = workspace_root();
    // A separate target dir: the outer `cargo test` may hold the lock on ./target.
    let target_dir = root.join("target").join("e2e-wasm");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "-p",
            "meshtrace-filter",
            "--target",
            "wasm32-wasip1",
            "--profile",
            "wasm-release",
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .context("running cargo build for the filter")?;
    if !status.success() {
        return Err(Error(format!(
            "building the filter failed ({status}); is the wasm32-wasip1 target installed? \
             Run scripts/setup.sh"
        )));
    }
    let wasm = target_dir.join("wasm32-wasip1/wasm-release/meshtrace_filter.wasm");
    if !wasm.is_file() {
        return Err(Error(format!("cargo built nothing at {}", wasm.display())));
    }
    strip_unused_exports(&wasm)?;
    Ok(wasm)
}

/// Removes the SDK callbacks the filter does not implement from the module at `path`, in
/// place (`meshtrace_filter::module`): what `scripts/lib.sh` `build_filter` ships. Writes a
/// new file and renames it, so a reader never sees half a module.
pub fn strip_unused_exports(path: &std::path::Path) -> Result<()> {
    use meshtrace_filter::module::{UNUSED_EXPORTS, remove_exports};
    let module = std::fs::read(path).context(format_args!("reading {}", path.display()))?;
    let stripped = remove_exports(&module, UNUSED_EXPORTS)
        .map_err(|e| Error(format!("{}: {e}", path.display())))?;
    if stripped == module {
        return Ok(());
    }
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, &stripped).context(format_args!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).context(format_args!("replacing {}", path.display()))?;
    Ok(())
}
