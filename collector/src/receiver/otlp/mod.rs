//! `otlp` receiver: OTLP over gRPC (default `localhost:4317`) and HTTP (default
//! `localhost:4318`), for traces, metrics and logs.
//!
//! Requests are validated as bytes by `meshtrace_otlp` and passed down as they arrived: no
//! decode into structs on the way in (JSON is converted to protobuf once).

mod grpc;
mod http;
mod limits;

pub use limits::LimitsConfig;

use crate::component::{
    ComponentError, Context, Receiver, ReceiverConfig, SignalConsumers, Validate,
};
use crate::config::{ConfigError, Value, duration};
use crate::extension::auth::{AuthError, ServerAuthenticator};
use crate::otlp::{Batch, Limits, Signal};
use crate::pipeline::{BoxFuture, ConsumeError};
use crate::telemetry::tracez::Operation;
use crate::telemetry::{Counter, item_word};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// `receivers: otlp:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    /// The protocols to serve; at least one. `grpc:` or `http:` with nothing under it means
    /// "on, with defaults".
    pub protocols: Protocols,
    /// meshtrace only (the Collector has no such setting): per-request limits on attribute
    /// counts, value lengths and nesting depth, enforced while validating each request.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// `protocols:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    /// OTLP/gRPC.
    #[serde(default, deserialize_with = "present")]
    pub grpc: Option<GrpcConfig>,
    /// OTLP/HTTP.
    #[serde(default, deserialize_with = "present")]
    pub http: Option<HttpConfig>,
}

/// A key that is present means `Some`, even when its value is empty.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `auth:` on a server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The authenticator extension's id.
    pub authenticator: String,
}

/// gRPC keepalive settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepaliveConfig {
    /// Server-side pings and connection ages.
    #[serde(default)]
    pub server_parameters: Option<KeepaliveServerParameters>,
    /// Client ping policy; accepted for compatibility (HTTP/2 pings are always allowed).
    #[serde(default)]
    pub enforcement_policy: Option<Value>,
}

/// `keepalive.server_parameters`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepaliveServerParameters {
    /// Accepted for compatibility; idle connections are kept.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub max_connection_idle: Option<Duration>,
    /// Close connections after this age (lets load balancers rebalance).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub max_connection_age: Option<Duration>,
    /// Grace period for in-flight calls after `max_connection_age`.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub max_connection_age_grace: Option<Duration>,
    /// Ping an idle client after this long.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub time: Option<Duration>,
    /// Close the connection when a ping is not answered within this long.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub timeout: Option<Duration>,
}

/// `protocols.grpc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    /// `host:port` to listen on (default `localhost:4317`; `0.0.0.0:4317` to accept from other pods).
    #[serde(default = "default_grpc_endpoint")]
    pub endpoint: String,
    /// `tcp` (the only one supported).
    #[serde(default = "default_transport")]
    pub transport: String,
    /// Largest request accepted, in MiB (default 4; `0` or less also means 4, as in the
    /// Collector).
    #[serde(default = "default_max_recv")]
    pub max_recv_msg_size_mib: i64,
    /// Concurrent streams per connection; 0 = unlimited.
    #[serde(default)]
    pub max_concurrent_streams: u32,
    /// Accepted for compatibility; buffers are sized automatically.
    #[serde(default)]
    pub read_buffer_size: Option<u64>,
    /// Accepted for compatibility; buffers are sized automatically.
    #[serde(default)]
    pub write_buffer_size: Option<u64>,
    /// Keepalive.
    #[serde(default)]
    pub keepalive: Option<KeepaliveConfig>,
    /// Pass gRPC metadata on as client metadata (for `from_context` in the `attributes` and
    /// `resource` processors).
    #[serde(default)]
    pub include_metadata: bool,
    /// Server TLS (none by default: plaintext).
    #[serde(default)]
    pub tls: Option<crate::tls::server::ServerTlsConfig>,
    /// Authentication through an extension.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

/// `protocols.http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `host:port` to listen on (default `localhost:4318`; `0.0.0.0:4318` to accept from other pods).
    #[serde(default = "default_http_endpoint")]
    pub endpoint: String,
    /// Path for traces (default `/v1/traces`).
    #[serde(default = "traces_path")]
    pub traces_url_path: String,
    /// Path for metrics (default `/v1/metrics`).
    #[serde(default = "metrics_path")]
    pub metrics_url_path: String,
    /// Path for logs (default `/v1/logs`).
    #[serde(default = "logs_path")]
    pub logs_url_path: String,
    /// Largest request body, compressed or not, in bytes (default 20 MiB; `0` or less also
    /// means 20 MiB, as in the Collector).
    #[serde(default = "default_max_body")]
    pub max_request_body_size: i64,
    /// Headers added to every response: a map, or a list of `{name, value}`.
    #[serde(default, deserialize_with = "crate::config::maplist::de")]
    pub response_headers: BTreeMap<String, String>,
    /// Pass request headers on as client metadata (for `from_context` in the `attributes`
    /// and `resource` processors).
    #[serde(default)]
    pub include_metadata: bool,
    /// The request encodings accepted besides none (default: all of
    /// [`crate::otlp::encoding::SUPPORTED`]).
    #[serde(default)]
    pub compression_algorithms: Option<Vec<String>>,
    /// The whole request body must arrive within this long, else 408 (default: no limit).
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub read_timeout: Option<Duration>,
    /// HTTP/1 request headers must arrive within this long (default 1m), against slowloris.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub read_header_timeout: Option<Duration>,
    /// Accepted for compatibility.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub write_timeout: Option<Duration>,
    /// Accepted for compatibility.
    #[serde(default, deserialize_with = "duration::de_opt")]
    pub idle_timeout: Option<Duration>,
    /// Browser CORS (see [`cors`](crate::receiver::cors)).
    #[serde(default)]
    pub cors: Option<crate::receiver::cors::CorsConfig>,
    /// Server TLS (none by default: plaintext).
    #[serde(default)]
    pub tls: Option<crate::tls::server::ServerTlsConfig>,
    /// Authentication through an extension.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

fn default_grpc_endpoint() -> String {
    "localhost:4317".into()
}
fn default_http_endpoint() -> String {
    "localhost:4318".into()
}
fn default_transport() -> String {
    "tcp".into()
}
/// The Collector's (gRPC's) default `max_recv_msg_size_mib`.
const DEFAULT_MAX_RECV_MSG_SIZE_MIB: i64 = 4;

fn default_max_recv() -> i64 {
    DEFAULT_MAX_RECV_MSG_SIZE_MIB
}
fn default_max_body() -> i64 {
    crate::net::DEFAULT_MAX_REQUEST_BODY_SIZE
}

impl GrpcConfig {
    /// The largest message accepted, in bytes. Zero or less means gRPC's default of 4 MiB: the
    /// Collector's configgrpc sets the limit only for a positive value (a Go `int` there).
    pub fn max_recv_bytes(&self) -> usize {
        let mib = if self.max_recv_msg_size_mib <= 0 {
            DEFAULT_MAX_RECV_MSG_SIZE_MIB
        } else {
            self.max_recv_msg_size_mib
        };
        usize::try_from(mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }
}

impl HttpConfig {
    /// The largest body accepted, in bytes, compressed or decompressed.
    pub fn max_body_bytes(&self) -> usize {
        crate::net::max_request_body_bytes(self.max_request_body_size)
    }
}
fn traces_path() -> String {
    "/v1/traces".into()
}
fn metrics_path() -> String {
    "/v1/metrics".into()
}
fn logs_path() -> String {
    "/v1/logs".into()
}

/// Normalizes a URL path the way the Collector does (a leading `/` is added) and checks it.
pub fn check_url_path(p: &str) -> Result<String, String> {
    let first_segment = p.split('/').next().unwrap_or("");
    if first_segment.contains(':') {
        return Err(format!(
            "invalid URL path {p:?}: first path segment in URL cannot contain colon"
        ));
    }
    let ok = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c));
    if !ok {
        return Err(format!("invalid URL path {p:?}"));
    }
    Ok(if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    })
}

impl Validate for OtlpReceiverConfig {
    fn validate(&self) -> Vec<ConfigError> {
        let mut e = self.limits.validate();
        let p = &self.protocols;
        if p.grpc.is_none() && p.http.is_none() {
            e.push(
                ConfigError::new("must specify at least one protocol (grpc or http)")
                    .field("protocols"),
            );
        }
        if let Some(g) = &p.grpc {
            if let Err(r) = crate::net::check_endpoint(&g.endpoint) {
                e.push(ConfigError::new(r).field("protocols.grpc.endpoint"));
            }
            if g.transport != "tcp" {
                e.push(
                    ConfigError::new(format!(
                        "unsupported transport {:?} (only tcp)",
                        g.transport
                    ))
                    .field("protocols.grpc.transport"),
                );
            }
            if let Some(t) = &g.tls {
                e.extend(t.validate("protocols.grpc.tls"));
            }
        }
        if let Some(h) = &p.http {
            if let Err(r) = crate::net::check_endpoint(&h.endpoint) {
                e.push(ConfigError::new(r).field("protocols.http.endpoint"));
            }
            for (f, v) in [
                ("traces_url_path", &h.traces_url_path),
                ("metrics_url_path", &h.metrics_url_path),
                ("logs_url_path", &h.logs_url_path),
            ] {
                if let Err(r) = check_url_path(v) {
                    e.push(ConfigError::new(r).field(format!("protocols.http.{f}")));
                }
            }
            if let Some(c) = &h.cors {
                e.extend(c.validate("protocols.http.cors"));
            }
            e.extend(crate::net::check_compression_algorithms(
                h.compression_algorithms.as_deref(),
                "protocols.http.compression_algorithms",
            ));
            if let Some(t) = &h.tls {
                e.extend(t.validate("protocols.http.tls"));
            }
            for k in h.response_headers.keys() {
                if ::http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                    e.push(
                        ConfigError::new(format!("invalid header name {k:?}"))
                            .field("protocols.http.response_headers"),
                    );
                }
            }
        }
        e
    }

    fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(t) = self.protocols.grpc.as_ref().and_then(|g| g.tls.as_ref()) {
            w.extend(t.warnings("protocols.grpc.tls"));
        }
        if let Some(t) = self.protocols.http.as_ref().and_then(|g| g.tls.as_ref()) {
            w.extend(t.warnings("protocols.http.tls"));
        }
        if let Some(c) = self.protocols.http.as_ref().and_then(|g| g.cors.as_ref()) {
            w.extend(c.warnings("protocols.http.cors"));
        }
        w
    }

    fn referenced_extensions(&self) -> Vec<(String, String)> {
        let mut r = Vec::new();
        if let Some(a) = self.protocols.grpc.as_ref().and_then(|g| g.auth.as_ref()) {
            r.push((
                "protocols.grpc.auth.authenticator".into(),
                a.authenticator.clone(),
            ));
        }
        if let Some(a) = self.protocols.http.as_ref().and_then(|g| g.auth.as_ref()) {
            r.push((
                "protocols.http.auth.authenticator".into(),
                a.authenticator.clone(),
            ));
        }
        r
    }
}

impl ReceiverConfig for OtlpReceiverConfig {
    fn build(
        &self,
        ctx: &Context,
        consumers: SignalConsumers,
    ) -> Result<Box<dyn Receiver>, ComponentError> {
        Ok(Box::new(OtlpReceiver {
            cfg: self.clone(),
            ctx: ctx.clone(),
            consumers,
            grpc: None,
            http: None,
        }))
    }
}

/// Accepted/refused counters per signal for one transport.
#[derive(Clone)]
struct TransportMetrics {
    accepted: [Arc<Counter>; 3],
    refused: [Arc<Counter>; 3],
    unauthenticated: Arc<Counter>,
    /// `/debug/tracez` records per signal, when a `zpages` extension runs.
    ops: [Option<Arc<Operation>>; 3],
    transport: &'static str,
}

fn signal_index(s: Signal) -> usize {
    match s {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

impl TransportMetrics {
    fn new(ctx: &Context, transport: &'static str) -> Self {
        let id = ctx.id.to_string();
        let l: &[(&'static str, &str)] = &[("receiver", &id), ("transport", transport)];
        let mk = |kind: &str, help: &'static str| {
            [Signal::Traces, Signal::Metrics, Signal::Logs].map(|s| {
                ctx.telemetry.counter(
                    &format!("otelcol_receiver_{kind}_{}_total", item_word(s)),
                    help,
                    l,
                )
            })
        };
        Self {
            accepted: mk(
                "accepted",
                "Number of items successfully pushed into the pipeline.",
            ),
            refused: mk(
                "refused",
                "Number of items that could not be pushed into the pipeline.",
            ),
            unauthenticated: ctx.telemetry.counter(
                "meshtrace_receiver_unauthenticated_requests_total",
                "Requests refused because they were not authenticated (HTTP 401 / gRPC UNAUTHENTICATED).",
                l,
            ),
            ops: [Signal::Traces, Signal::Metrics, Signal::Logs]
                .map(|s| ctx.telemetry.tracez.operation(&receiver_operation(&id, s))),
            transport,
        }
    }
}

/// The Collector's name for a receiver's operation on one request (its obsreport span).
pub(crate) fn receiver_operation(id: &str, signal: Signal) -> String {
    let what = match signal {
        Signal::Traces => "TraceDataReceived",
        Signal::Metrics => "MetricsReceived",
        Signal::Logs => "LogsReceived",
    };
    format!("receiver/{id}/{what}")
}

/// What both transports share: the consumers, limits, authenticator and counters.
struct Shared {
    consumers: SignalConsumers,
    limits: Limits,
    metrics: TransportMetrics,
    label: String,
    /// Pass request headers / gRPC metadata on as client metadata.
    include_metadata: bool,
    auth: Option<Arc<dyn ServerAuthenticator>>,
}

/// Part of a traces request rejected, the rest accepted: OTLP's `partial_success`.
struct PartialSuccess {
    /// `rejected_spans`.
    rejected: usize,
    /// `error_message`.
    message: String,
}

impl PartialSuccess {
    /// The `ExportTraceServiceResponse` carrying it, encoded.
    fn encode(&self) -> Vec<u8> {
        use crate::otlp::proto::collector::trace::v1::{
            ExportTracePartialSuccess, ExportTraceServiceResponse,
        };
        prost::Message::encode_to_vec(&ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: i64::try_from(self.rejected).unwrap_or(i64::MAX),
                error_message: self.message.clone(),
            }),
        })
    }
}

/// Why a request failed, for either transport to render.
enum RequestError {
    /// Malformed or invalid: 400 / `INVALID_ARGUMENT`.
    Invalid(String),
    /// Downstream refused.
    Consume(ConsumeError),
}

impl Shared {
    /// Checks the request's credentials when the receiver has an authenticator; counts and
    /// logs (at debug, without the credentials) a refusal.
    fn authenticate(
        &self,
        headers: &::http::HeaderMap,
    ) -> Result<crate::extension::auth::AuthData, AuthError> {
        let Some(a) = &self.auth else {
            return Ok(Default::default());
        };
        a.authenticate(headers).inspect_err(|e| {
            self.metrics.unauthenticated.add(1);
            tracing::debug!(component = %self.label, reason = %e, "unauthenticated request refused");
        })
    }

    /// Validates `body` and hands it down; counts the outcome. A traces request whose only
    /// problems are inside some of its spans is accepted without them: the answer is then an
    /// OTLP partial success naming how many were rejected and why.
    async fn export(
        &self,
        signal: Signal,
        body: bytes::Bytes,
    ) -> Result<Option<PartialSuccess>, RequestError> {
        let e = match Batch::new_validated(signal, body.clone(), &self.limits) {
            Ok(batch) => return self.export_batch(batch).await.map(|()| None),
            Err(e) => e,
        };
        let whole = || RequestError::Invalid(e.to_string());
        if signal != Signal::Traces {
            return Err(whole());
        }
        let s = crate::otlp::salvage_traces(&body, &self.limits).map_err(|_| whole())?;
        let Some(first) = s.first.filter(|_| s.kept > 0) else {
            return Err(whole());
        };
        let batch =
            Batch::new_validated(signal, s.bytes.into(), &self.limits).map_err(|_| whole())?;
        if let Some(r) = self.metrics.refused.get(signal_index(signal)) {
            r.add(s.rejected as u64);
        }
        tracing::debug!(component = %self.label, rejected = s.rejected, first = %first, "invalid spans rejected, the rest accepted");
        self.export_batch(batch).await?;
        Ok(Some(PartialSuccess {
            rejected: s.rejected,
            message: format!(
                "{} invalid span(s) rejected, the first: {first}",
                s.rejected
            ),
        }))
    }

    /// Hands an already validated batch down; counts the outcome.
    async fn export_batch(&self, batch: Batch) -> Result<(), RequestError> {
        let signal = batch.signal();
        let n = batch.items() as u64;
        if n == 0 {
            return Ok(());
        }
        let Some(c) = self.consumers.get(signal) else {
            return Err(RequestError::Invalid(format!(
                "no pipeline takes {}",
                crate::signal_name(signal)
            )));
        };
        let i = signal_index(signal);
        let op = self.metrics.ops.get(i).and_then(Option::as_deref);
        let running = op.map(Operation::start);
        let result = c.consume(batch).await;
        if let Some(r) = running {
            r.end(
                n,
                self.metrics.transport,
                result.as_ref().err().map(|e| e as _),
            );
        }
        match result {
            Ok(()) => {
                if let Some(a) = self.metrics.accepted.get(i) {
                    a.add(n);
                }
                Ok(())
            }
            Err(e) => {
                if let Some(r) = self.metrics.refused.get(i) {
                    r.add(n);
                }
                tracing::debug!(component = %self.label, items = n, error = %e, "data refused");
                Err(RequestError::Consume(e))
            }
        }
    }
}

struct OtlpReceiver {
    cfg: OtlpReceiverConfig,
    ctx: Context,
    consumers: SignalConsumers,
    grpc: Option<grpc::GrpcServer>,
    http: Option<crate::net::HttpServer>,
}

impl Receiver for OtlpReceiver {
    fn start(&mut self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let label = self.ctx.label();
            let limits = self.cfg.limits.limits();
            let auth = |a: &Option<AuthConfig>| {
                a.as_ref()
                    .map(|a| self.ctx.host.server_auth(&a.authenticator))
                    .transpose()
                    .map_err(|e| self.ctx.error(e))
            };
            if let Some(g) = &self.cfg.protocols.grpc {
                let shared = Arc::new(Shared {
                    consumers: self.consumers.clone(),
                    limits: limits.clone(),
                    metrics: TransportMetrics::new(&self.ctx, "grpc"),
                    label: label.clone(),
                    include_metadata: g.include_metadata,
                    auth: auth(&g.auth)?,
                });
                self.grpc = Some(
                    grpc::start(&label, g, shared)
                        .await
                        .map_err(|e| self.ctx.error(e))?,
                );
            }
            if let Some(h) = &self.cfg.protocols.http {
                let shared = Arc::new(Shared {
                    consumers: self.consumers.clone(),
                    limits,
                    metrics: TransportMetrics::new(&self.ctx, "http"),
                    label: label.clone(),
                    include_metadata: h.include_metadata,
                    auth: auth(&h.auth)?,
                });
                match http::start(&label, h, shared).await {
                    Ok(s) => self.http = Some(s),
                    Err(e) => {
                        if let Some(mut g) = self.grpc.take() {
                            g.shutdown().await;
                        }
                        return Err(self.ctx.error(e));
                    }
                }
            }
            Ok(())
        })
    }

    fn shutdown(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let g = async {
                if let Some(mut g) = self.grpc.take() {
                    g.shutdown().await;
                }
            };
            let h = async {
                if let Some(mut h) = self.http.take() {
                    h.shutdown().await;
                }
            };
            tokio::join!(g, h);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> OtlpReceiverConfig {
        let v: Value = crate::config::value::from_yaml(y).unwrap();
        crate::registry::parse_typed(&v).unwrap()
    }

    #[test]
    fn empty_protocols_mean_defaults() {
        let c = parse("protocols:\n  grpc:\n  http:\n");
        assert_eq!(c.protocols.grpc.unwrap().endpoint, "localhost:4317");
        let h = c.protocols.http.unwrap();
        assert_eq!(
            (h.endpoint.as_str(), h.traces_url_path.as_str()),
            ("localhost:4318", "/v1/traces")
        );
        let c = parse("protocols:\n  http:\n");
        assert!(c.protocols.grpc.is_none());
    }

    #[test]
    fn size_limits_of_zero_or_less_are_the_defaults() {
        const MIB: usize = 1024 * 1024;
        // (max_recv_msg_size_mib, max_request_body_size) as written → bytes in effect.
        let cases = [
            ("", "", 4 * MIB, 20 * MIB),
            ("0", "0", 4 * MIB, 20 * MIB),
            ("-1", "-1", 4 * MIB, 20 * MIB),
            ("1", "1048576", MIB, MIB),
            ("64", "100", 64 * MIB, 100),
        ];
        for (mib, body, want_recv, want_body) in cases {
            let field = |name: &str, v: &str| {
                if v.is_empty() {
                    String::new()
                } else {
                    format!("    {name}: {v}\n")
                }
            };
            let c = parse(&format!(
                "protocols:\n  grpc:\n{}  http:\n{}",
                field("max_recv_msg_size_mib", mib),
                field("max_request_body_size", body)
            ));
            assert!(c.validate().is_empty(), "{mib}/{body}: {:?}", c.validate());
            let (g, h) = (c.protocols.grpc.unwrap(), c.protocols.http.unwrap());
            assert_eq!(
                (g.max_recv_bytes(), h.max_body_bytes()),
                (want_recv, want_body),
                "max_recv_msg_size_mib {mib:?}, max_request_body_size {body:?}"
            );
        }
    }

    #[test]
    fn url_paths() {
        assert_eq!(check_url_path("traces").unwrap(), "/traces");
        assert_eq!(check_url_path("/v2/metrics").unwrap(), "/v2/metrics");
        assert_eq!(check_url_path("log/ingest").unwrap(), "/log/ingest");
        assert!(check_url_path(":invalid").is_err());
        assert!(check_url_path("/a b").is_err());
    }
}
