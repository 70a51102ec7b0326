//! The real collector (`meshtrace-collector`) as a child process: an OTLP/HTTP receiver on a
//! free port and a `file` exporter writing OTLP/JSON lines into a scratch directory, which
//! [`Collector::spans`] reads back.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::error::{Context, Error, Result};
use crate::process::{ChildGuard, TempDir};
use crate::traces::FlatSpan;
use crate::workspace_root;

const STARTUP: Duration = Duration::from_secs(60);

/// The collector binary: `$MESHTRACE_COLLECTOR_BIN`; else the one cargo built next to this
/// test (`cargo test --workspace` builds it); else built into `target/e2e-collector`.
pub fn collector_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MESHTRACE_COLLECTOR_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error(format!(
                "MESHTRACE_COLLECTOR_BIN={} is not a file",
                path.display()
            )))
        };
    }
    // target/<profile>/deps/<test> -> target/<profile>/meshtrace-collector
    if let Ok(exe) = std::env::current_exe()
        && let Some(profile_dir) = exe.parent().and_then(Path::parent)
    {
        let sibling = profile_dir.join("meshtrace-collector");
        if sibling.is_file() {
            return Ok(sibling);
        }
    }
    let root = workspace_root();
    let target_dir = root.join("target").join("e2e-collector");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "-p",
            "meshtrace-collector",
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .context("running cargo build for the collector")?;
    let bin = target_dir.join("debug/meshtrace-collector");
    if status.success() && bin.is_file() {
        Ok(bin)
    } else {
        Err(Error(format!("building the collector failed ({status})")))
    }
}

/// A running collector; killed on drop.
pub struct Collector {
    child: ChildGuard,
    dir: TempDir,
    http_port: u16,
    grpc_port: u16,
}

impl Collector {
    /// Starts the collector: OTLP/HTTP on `127.0.0.1:<port>` (0: a free one) and OTLP/gRPC on
    /// a free port (for Envoy's native tracer), into the file exporter.
    pub fn start(port: u16) -> Result<Self> {
        let bin = collector_binary()?;
        let dir = TempDir::new("collector")?;
        // The spans also feed the span-to-metrics connectors, flushed often, and a
        // tail-sampling pipeline keeping the traces with an error, as a gateway collector
        // behind a mesh would run them.
        let config = format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:{port}\n      grpc:\n        endpoint: 127.0.0.1:0\n\
             processors:\n  tail_sampling:\n    decision_wait: 1h\n    decision_wait_after_root_received: 300ms\n    policies: [{{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}]\n\
             exporters:\n  file:\n    path: {}\n  file/metrics:\n    path: {}\n  file/kept:\n    path: {}\n\
             connectors:\n  spanmetrics:\n    metrics_flush_interval: 200ms\n    dimensions: [{{name: http.response.status_code}}]\n\
             \x20 servicegraph:\n    metrics_flush_interval: 200ms\n    store: {{ttl: 300ms}}\n    store_expiration_loop: 100ms\n\
             \x20   virtual_node_peer_attributes: [peer.service, server.address]\n\
             service:\n  telemetry:\n    logs:\n      level: info\n      encoding: json\n    metrics:\n      address: 127.0.0.1:0\n\
             \x20 pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file, spanmetrics, servicegraph]\n\
             \x20   traces/kept:\n      receivers: [otlp]\n      processors: [tail_sampling]\n      exporters: [file/kept]\n\
             \x20   metrics:\n      receivers: [spanmetrics, servicegraph]\n      exporters: [file/metrics]\n",
            dir.path().join("spans.jsonl").display(),
            dir.path().join("metrics.jsonl").display(),
            dir.path().join("kept.jsonl").display()
        );
        let config_path = dir.path().join("collector.yaml");
        std::fs::write(&config_path, config).context("writing the collector config")?;
        let mut command = Command::new(bin);
        command
            .arg(format!("--config={}", config_path.display()))
            .env_remove("KUBERNETES_SERVICE_HOST");
        let mut child = ChildGuard::spawn("collector", command, &dir.path().join("collector.log"))?;
        let deadline = Instant::now() + STARTUP;
        let (http_port, grpc_port) = loop {
            child.ensure_running()?;
            let log = child.log();
            if let (Some(http), Some(grpc)) = (
                listening_port(&log, "OTLP/HTTP receiver listening"),
                listening_port(&log, "OTLP/gRPC receiver listening"),
            ) {
                break (http, grpc);
            }
            if Instant::now() > deadline {
                return Err(Error(format!(
                    "the collector reported no OTLP/HTTP and gRPC addresses in {STARTUP:?}; log:\n{}",
                    child.log_tail(30)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Ok(Collector {
            child,
            dir,
            http_port,
            grpc_port,
        })
    }

    /// The OTLP/HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The OTLP/gRPC port.
    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    /// Every export request written so far.
    pub fn requests(&self) -> Result<Vec<ExportTraceServiceRequest>> {
        self.read_requests("spans.jsonl")
    }

    /// The spans the tail-sampling pipeline kept (the traces with an error span).
    pub fn kept_spans(&self) -> Result<Vec<FlatSpan>> {
        Ok(FlatSpan::from_requests(&self.read_requests("kept.jsonl")?))
    }

    fn read_requests(&self, file: &str) -> Result<Vec<ExportTraceServiceRequest>> {
        let path = self.dir.path().join(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error(format!("reading {}: {e}", path.display()))),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| Error(format!("file exporter line {l}: {e}")))
            })
            .collect()
    }

    /// Every span received so far, with its resource.
    pub fn spans(&self) -> Result<Vec<FlatSpan>> {
        Ok(FlatSpan::from_requests(&self.requests()?))
    }

    /// Waits until `done(spans)` holds; returns the spans then, or fails after `timeout`.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        done: impl Fn(&[FlatSpan]) -> bool,
    ) -> Result<Vec<FlatSpan>> {
        let deadline = Instant::now() + timeout;
        loop {
            self.child.ensure_running()?;
            let spans = self.spans()?;
            if done(&spans) {
                return Ok(spans);
            }
            if Instant::now() > deadline {
                return Err(Error(format!(
                    "the collector did not receive the expected spans in {timeout:?}; got {}:\n{}",
                    spans.len(),
                    crate::traces::render(&spans)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The latest metrics request the span-to-metrics connectors wrote (they report
    /// cumulative totals, so the latest holds everything), as OTLP JSON.
    pub fn latest_metrics(&self) -> Result<Option<serde_json::Value>> {
        let path = self.dir.path().join("metrics.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error(format!("reading {}: {e}", path.display()))),
        };
        // Each connector writes its own requests: keep the last of each, merged.
        let mut latest: Vec<serde_json::Value> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| Error(format!("metrics file line {line}: {e}")))?;
            let scope = |v: &serde_json::Value| {
                v.pointer("/resourceMetrics/0/scopeMetrics/0/scope/name")
                    .cloned()
            };
            latest.retain(|l| scope(l) != scope(&v));
            latest.push(v);
        }
        let merged: Vec<serde_json::Value> = latest
            .into_iter()
            .flat_map(|v| {
                v.get("resourceMetrics")
                    .and_then(serde_json::Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        Ok((!merged.is_empty()).then(|| serde_json::json!({ "resourceMetrics": merged })))
    }

    /// The collector's log.
    pub fn log(&self) -> String {
        self.child.log()
    }
}

/// The port in the JSON log line whose message contains `what` (`fields.address`).
fn listening_port(log: &str, what: &str) -> Option<u16> {
    log.lines().find_map(|line| {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let fields = v.get("fields")?;
        let message = fields.get("message")?.as_str()?;
        if !message.contains(what) {
            return None;
        }
        let address = fields.get("address")?.as_str()?;
        address.rsplit(':').next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_receiver_port_in_the_json_log() {
        let log = r#"{"level":"INFO","fields":{"message":"health check listening","address":"127.0.0.1:1"}}
not json
{"level":"INFO","fields":{"message":"OTLP/HTTP receiver listening","component":"receivers::otlp","endpoint":"127.0.0.1:0","address":"127.0.0.1:40123"}}"#;
        assert_eq!(
            listening_port(log, "OTLP/HTTP receiver listening"),
            Some(40123)
        );
        assert_eq!(listening_port(log, "health check"), Some(1));
        assert_eq!(
            listening_port("nothing", "OTLP/HTTP receiver listening"),
            None
        );
    }
}
