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

/// The floor module (`filter-wasm/floor`) and its header-only twin (without the exports Envoy
/// calls at the end of a stream), as `build_floor` in `scripts/lib.sh` makes them:
/// `(full, headers)`. `$MESHTRACE_FLOOR_WASM` when set (the twin beside it, `*-headers.wasm`),
/// else built here on first use.
pub fn floor_wasm() -> Result<(PathBuf, PathBuf)> {
    static BUILT: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_floor().map_err(|e| e.0))
        .clone()
        .map_err(Error)
}

/// The exports the floor's header-only twin goes without.
pub const FLOOR_END_OF_STREAM_EXPORTS: &[&str] = &[
    "proxy_on_log",
    "proxy_on_tick",
    "proxy_on_http_call_response",
];

fn build_floor() -> Result<(PathBuf, PathBuf)> {
    if let Some(path) = std::env::var_os("MESHTRACE_FLOOR_WASM") {
        let wasm = PathBuf::from(path);
        let headers = floor_twin_path(&wasm);
        return match (wasm.is_file(), headers.is_file()) {
            (true, true) => Ok((wasm, headers)),
            _ => Err(Error(format!(
                "MESHTRACE_FLOOR_WASM={}: it and {} must be files (scripts/lib.sh build_floor)",
                wasm.display(),
                headers.display()
            ))),
        };
    }
    let wasm = cargo_build_wasm("meshtrace-wasm-floor", "meshtrace_wasm_floor")?;
    let headers = write_floor_twin(&wasm)?;
    Ok((wasm, headers))
}

/// Where the header-only twin of the floor module at `wasm` lives: beside it,
/// `*-headers.wasm` (what `variant_wasm` in `scripts/lib.sh` expects).
pub fn floor_twin_path(wasm: &std::path::Path) -> PathBuf {
    PathBuf::from(format!(
        "{}-headers.wasm",
        wasm.with_extension("").display()
    ))
}

/// Writes the header-only twin of the floor module at `wasm` ([`floor_twin_path`]): the module
/// without [`FLOOR_END_OF_STREAM_EXPORTS`]. Its path.
pub fn write_floor_twin(wasm: &std::path::Path) -> Result<PathBuf> {
    let headers = floor_twin_path(wasm);
    remove_exports_to(wasm, &headers, FLOOR_END_OF_STREAM_EXPORTS)?;
    Ok(headers)
}

/// Builds `package` for wasm32-wasip1 with the size-tuned profile, into a target dir of its
/// own (the outer `cargo test` may hold the lock on ./target); the module's path.
fn cargo_build_wasm(package: &str, file: &str) -> Result<PathBuf> {
    let root = workspace_root();
    let target_dir = root.join("target").join("e2e-wasm");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "-p",
            package,
            "--target",
            "wasm32-wasip1",
            "--profile",
            "wasm-release",
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .context(format_args!("running cargo build for {package}"))?;
    if !status.success() {
        return Err(Error(format!(
            "building {package} failed ({status}); is the wasm32-wasip1 target installed? \
             Run scripts/setup.sh"
        )));
    }
    let wasm = target_dir.join(format!("wasm32-wasip1/wasm-release/{file}.wasm"));
    if !wasm.is_file() {
        return Err(Error(format!("cargo built nothing at {}", wasm.display())));
    }
    Ok(wasm)
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
    let wasm = cargo_build_wasm("meshtrace-filter", "meshtrace_filter")?;
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

/// Writes the module at `input` without the exports in `names` to `output`. Every name must be
/// exported: a name that is not is a typo, and the variant would measure the wrong module.
fn remove_exports_to(
    input: &std::path::Path,
    output: &std::path::Path,
    names: &[&str],
) -> Result<()> {
    use meshtrace_filter::module::{export_names, remove_exports};
    let module = std::fs::read(input).context(format_args!("reading {}", input.display()))?;
    let exported = export_names(&module).map_err(|e| Error(format!("{}: {e}", input.display())))?;
    if let Some(missing) = names.iter().find(|n| !exported.iter().any(|e| e == *n)) {
        return Err(Error(format!(
            "{}: exports no `{missing}` (it exports {})",
            input.display(),
            exported.join(", ")
        )));
    }
    let stripped =
        remove_exports(&module, names).map_err(|e| Error(format!("{}: {e}", input.display())))?;
    std::fs::write(output, stripped).context(format_args!("writing {}", output.display()))
}
