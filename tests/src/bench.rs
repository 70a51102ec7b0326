//! The Envoy variants of the benchmarks as `envoy_config` in `scripts/lib.sh` renders them, so
//! that tests run exactly what `scripts/bench.sh envoy` and `scripts/envoy-instructions.sh` run.

use std::path::Path;
use std::process::{Command, Output};

use crate::error::{Context, Result};
use crate::wasm::floor_wasm;
use crate::workspace_root;

/// The ports a rendered variant points at.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// Envoy's listener.
    pub listen: u16,
    /// The upstream app.
    pub app: u16,
    /// The sink's OTLP/gRPC port (the native tracer's).
    pub sink_grpc: u16,
    /// The sink's OTLP/HTTP port (the filter's and the floor module's).
    pub sink_http: u16,
}

/// `envoy_config VARIANT …` with `$WASM` the filter at `wasm` and `$FLOOR_WASM` the floor
/// module: what the shell printed, whether it rendered or refused the variant.
pub fn render_variant(variant: &str, wasm: &Path, ports: Ports) -> Result<Output> {
    let (floor, _) = floor_wasm()?;
    Command::new("bash")
        .current_dir(workspace_root())
        .args([
            "-c",
            r#"source scripts/lib.sh && WASM="$1" FLOOR_WASM="$2" && envoy_config "$3" "$4" "$5" "127.0.0.1:$6" "127.0.0.1:$7""#,
            "render",
        ])
        .arg(wasm)
        .arg(floor)
        .arg(variant)
        .args([ports.listen, ports.app, ports.sink_grpc, ports.sink_http].map(|p| p.to_string()))
        .output()
        .context(format_args!("running envoy_config {variant}"))
}
