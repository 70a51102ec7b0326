//! `meshtrace-collector`: an OTLP collector for service meshes, configured with the
//! OpenTelemetry Collector's own YAML. See `docs/collector.md` for users' documentation and
//! `docs/ARCHITECTURE.md` for the design.
//!
//! Data path: [`receiver`] → [`pipeline`] ([`processor`]s, fan-out) → [`exporter`]s, as
//! validated OTLP protobuf bytes ([`otlp::Batch`]). Around it: [`config`] loading,
//! the component [`registry`], [`extension`]s and self-[`telemetry`].

pub mod background;
pub mod client;
pub mod component;
pub mod config;
pub mod connector;
pub mod exporter;
pub mod extension;
pub mod grpc_codec;
pub mod net;
pub use meshtrace_otlp as otlp;
pub mod pipeline;
pub mod processor;
pub mod receiver;
pub mod registry;
pub mod telemetry;
pub mod tls;

use otlp::Signal;
use std::sync::Arc;
use std::time::Duration;

/// The signal's name in pipeline ids and metric labels.
pub fn signal_name(s: Signal) -> &'static str {
    match s {
        Signal::Traces => "traces",
        Signal::Metrics => "metrics",
        Signal::Logs => "logs",
    }
}

/// Loads and checks configuration sources (`--config` values) against the built-in registry.
pub fn load_config(sources: &[String]) -> Result<config::Resolved, config::ConfigErrors> {
    let raw = config::load_sources(sources, &config::expand::SystemLookup)?;
    config::resolve(raw, &registry::Registry::builtin())
}

/// Why the collector stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A component failed to build or start.
    #[error(transparent)]
    Component(#[from] component::ComponentError),
    /// The metrics endpoint or a metrics reader could not start.
    #[error("service::telemetry::metrics: {0}")]
    Metrics(String),
    /// A log processor could not start.
    #[error("service::telemetry::logs: {0}")]
    Logs(String),
}

/// Runs the collector until `shutdown` resolves, then shuts down within `deadline`. The log
/// lines `logs` holds (from [`telemetry::logs::init`]) are sent from the start.
pub async fn run(
    cfg: config::Resolved,
    logs: telemetry::logs::LogExport,
    shutdown: impl std::future::Future<Output = ()>,
    deadline: Duration,
) -> Result<(), RunError> {
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let res = &cfg.service.telemetry.resource;
    let name = res
        .get("service.name")
        .cloned()
        .flatten()
        .unwrap_or_else(|| "meshtrace-collector".into());
    let instance = res
        .get("service.instance.id")
        .cloned()
        .flatten()
        .unwrap_or_else(instance_id);
    let telemetry = Arc::new(telemetry::Telemetry::new(&name, &instance));
    let health = Arc::new(extension::health_check::Health::default());
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "Starting meshtrace-collector..."
    );

    let mut metrics_servers = Vec::new();
    for addr in cfg.service.telemetry.metrics_addresses() {
        metrics_servers.push(
            telemetry::server::start(&addr, telemetry.clone())
                .await
                .map_err(RunError::Metrics)?,
        );
    }
    let push_ctx = component::Context {
        id: component::ComponentId::parse("otlp").map_err(RunError::Metrics)?,
        kind: component::Kind::Exporter,
        telemetry: telemetry.clone(),
        health: health.clone(),
        host: Arc::default(),
        topology: Arc::default(),
    };
    let pushers = cfg
        .service
        .telemetry
        .periodic_readers()
        .into_iter()
        .map(|(i, r)| telemetry::push::Pusher::build(r, i, &push_ctx))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RunError::Metrics)?;
    let log_senders = logs
        .0
        .into_iter()
        .enumerate()
        .map(|(i, (shipping, queue))| {
            telemetry::push::LogSender::build(shipping, queue, i, &push_ctx)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(RunError::Logs)?;
    let mut service = pipeline::Service::build(&cfg, &telemetry, &health)?;
    if let Err(e) = service.start().await {
        for mut s in metrics_servers {
            s.shutdown().await;
        }
        return Err(e.into());
    }
    let pushing: Vec<_> = pushers
        .into_iter()
        .map(|p| p.start(telemetry.clone()))
        .chain(log_senders.into_iter().map(|l| l.start(telemetry.clone())))
        .collect();
    shutdown.await;
    service.shutdown(deadline).await;
    // After the pipelines drained: the last push carries the final totals, and the log
    // senders send what is left (the shutdown lines included).
    for p in pushing {
        p.shutdown().await;
    }
    for mut s in metrics_servers {
        s.shutdown().await;
    }
    Ok(())
}

/// A random-enough instance id (the process id and the start time), like a UUID's role.
fn instance_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:08x}-{:016x}", std::process::id(), now.as_nanos() as u64)
}

#[cfg(test)]
mod testutil;
